// The one rule every shell host keeps: a machine sees its inputs one at a time, in arrival order. An input that
// arises while another is being handled (a synchronous store answer, a refused connection, one node's message to
// another on the same reactor) waits its turn instead of re-entering the machine mid-step.

/// A queue of inputs drained by whoever fed the first of them.
final class SerialInputs<Input> {
    /// Optional so that each input is moved out when its turn comes (`take()`), not copied and destroyed later.
    private var pending: [Input?] = []
    private var draining = false

    /// True while `feed` is handing inputs over (an input fed now waits its turn).
    var isDraining: Bool { draining }

    /// Queues `input` behind the drain under way (call only while `isDraining`).
    func enqueue(_ input: consuming Input) {
        precondition(draining, "SerialInputs.enqueue outside a drain: the input would never be handled")
        pending.append(consume input)
    }

    /// Queues `input`; unless a drain is already under way further up the stack, hands it and everything queued
    /// meanwhile to `handle`, in order. The first input is handed over directly (most inputs arrive with nothing
    /// queued): only inputs arising while one is handled are stored. Inputs are moved, never copied, on the way.
    func feed(_ input: consuming Input, handle: (consuming Input) -> Void) {
        guard !draining else { return pending.append(consume input) }
        draining = true
        handle(consume input)
        if !pending.isEmpty {
            var position = 0
            while position < pending.count {
                let next = pending[position].take()!
                position += 1
                handle(consume next)
            }
            pending.removeAll(keepingCapacity: true)
        }
        draining = false
    }
}
