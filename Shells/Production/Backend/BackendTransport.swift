// The interface between the orchestrator's decisions and a model server: one inference attempt goes out, one
// result comes back on the same reactor. Triton (KServe v2 over HTTP/1.1) and the built-in reference backend
// both sit behind it, so every timeout, retry and breaker decision stays in the core.

import PlatformCore
import PlatformWire

/// How an attempt ended, as the shell saw it.
public enum BackendResult: Sendable {
    /// The backend answered 200 with this KServe v2 response body.
    case answered([UInt8])
    /// The attempt failed; the failure is classified for the retry policy.
    case failed(RetryPolicy.Failure, detail: String)
}

/// One attempt: which backend, which call, and the KServe v2 request body to send.
public struct BackendAttempt: Sendable {
    public var call: CallID
    public var backend: BackendID
    public var model: String
    public var version: Int
    public var body: [UInt8]
    /// The W3C trace context to send downstream (as `traceparent`), if the request carries one.
    public var trace: TraceContext?
    public init(call: CallID, backend: BackendID, model: String, version: Int, body: [UInt8], trace: TraceContext?) {
        self.call = call
        self.backend = backend
        self.model = model
        self.version = version
        self.body = body
        self.trace = trace
    }
}

/// Told how each attempt ended (the node host).
public protocol BackendTransportDelegate: AnyObject {
    func attemptFinished(_ call: CallID, _ result: BackendResult)
}

/// Sends attempts to model servers. Lives on one reactor; the delegate hears of every attempt on that reactor's
/// thread, exactly once (a late answer after the orchestrator gave up is still delivered; the core ignores it).
public protocol BackendTransport: AnyObject {
    var delegate: BackendTransportDelegate? { get set }
    func send(_ attempt: BackendAttempt)
    /// The core stopped waiting for `call` (its attempt timed out); the transport may drop the work.
    func abandon(_ call: CallID)
}
