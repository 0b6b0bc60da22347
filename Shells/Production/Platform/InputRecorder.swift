// Recording hooks: every input a host feeds its machines, with the `now` it was fed at, and the actions each input
// produced, so a run can be replayed and checked against what it did (see Recording/TraceRecorder.swift).

import PlatformCore
import PlatformWire

/// One machine input as a host fed it (the trace format's own enum, so recording needs no conversion).
public typealias RecordedInput = TraceInput

/// Takes a host's inputs in the order they were handled, each followed by the actions it produced (called on the
/// host's reactor thread, so an implementation must not block or take a lock per input).
public protocol InputRecorder: AnyObject {
    func record(_ input: RecordedInput, now: Instant)
    /// The gateway's actions for the input just recorded.
    func acted(_ actions: [Gateway.Action])
    /// The router's actions for the input just recorded.
    func acted(_ actions: [Router.Action])
    /// The orchestrator's actions for the input just recorded.
    func acted(_ actions: [Orchestrator.Action])
}
