// Recording hooks: every input a host feeds its machines, with the `now` it was fed at, and the actions each input
// produced, so a run can be replayed and checked against what it did (see Recording/TraceRecorder.swift).

import PlatformCore

/// Takes a host's inputs in the order they were handled, each with the actions it produced (called on the host's
/// reactor thread, so an implementation must not block or take a lock per input). One call per input, typed by
/// machine, so the hot path neither wraps the input in a `TraceInput` nor makes a second call for its actions.
public protocol InputRecorder: AnyObject {
    func record(_ input: Gateway.Input, now: Instant, acted actions: [Gateway.Action])
    func record(_ input: Router.Input, now: Instant, acted actions: [Router.Action])
    func record(_ input: Orchestrator.Input, now: Instant, acted actions: [Orchestrator.Action])
}
