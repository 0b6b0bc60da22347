// Recording hooks: every input a host feeds its machines, with the `now` it was fed at, so a run can be replayed.

import PlatformCore

/// One machine input as a host fed it.
public enum RecordedInput: Sendable {
    case gateway(Gateway.Input)
    case router(Router.Input)
    case orchestrator(Orchestrator.Input)
}

/// Takes a host's inputs in the order they were handled (called on the host's reactor thread).
public protocol InputRecorder: AnyObject {
    func record(_ input: RecordedInput, now: Instant)
}
