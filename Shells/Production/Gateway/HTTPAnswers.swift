// Building the gateway's HTTP answers: JSON bodies, the two error shapes (the seed API's object and the Open
// Inference Protocol's string), Retry-After in whole seconds, and the request id echoed on every answer.

import PlatformCore
import PlatformWire

enum HTTPAnswers {
    static let jsonType = ("Content-Type", "application/json")

    static func json(
        _ status: Int, _ value: JSONValue, requestID: String, extra: [(name: String, value: String)] = [],
        close: Bool = false
    ) -> HTTPResponse {
        json(status, bytes: value.serializedBytes(), requestID: requestID, extra: extra, close: close)
    }

    static func json(
        _ status: Int, bytes: [UInt8], requestID: String, extra: [(name: String, value: String)] = [],
        close: Bool = false
    ) -> HTTPResponse {
        var headers: [(name: String, value: String)] = [jsonType, ("X-Request-ID", requestID)]
        headers.append(contentsOf: extra)
        return HTTPResponse(status: status, headers: headers, body: bytes, closeConnection: close)
    }

    /// A JSON answer with the request id and, when the request is traced, its `traceparent`: the shape of every
    /// successful inference, built without intermediate header lists.
    static func json(_ status: Int, bytes: [UInt8], requestID: String, trace: TraceContext?) -> HTTPResponse {
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(2)
        headers.append(jsonType)
        headers.append(("X-Request-ID", requestID))
        return HTTPResponse(status: status, headers: headers, body: bytes, trace: trace)
    }

    /// The seed API's error body: `{"error": {"code", "message", "field"?}}`.
    static func seedError(
        _ kind: ErrorKind, message: String, field: String? = nil, retryAfter: Duration = .zero, requestID: String
    ) -> HTTPResponse {
        var error: [(String, JSONValue)] = [("code", .string(kind.name)), ("message", .string(message))]
        if let field, !field.isEmpty { error.append(("field", .string(field))) }
        return json(
            kind.httpStatus, .object([("error", .object(error))]), requestID: requestID,
            extra: retryAfterHeader(kind, retryAfter))
    }

    /// The Open Inference Protocol's error body: `{"error": "<message>"}`.
    static func kserveError(
        _ kind: ErrorKind, message: String, retryAfter: Duration = .zero, requestID: String
    ) -> HTTPResponse {
        json(
            kind.httpStatus, .object([("error", .string(message))]), requestID: requestID,
            extra: retryAfterHeader(kind, retryAfter))
    }

    /// 429 and 503 carry Retry-After: whole seconds, rounded up, at least 1.
    static func retryAfterHeader(_ kind: ErrorKind, _ retryAfter: Duration) -> [(name: String, value: String)] {
        guard kind == .rateLimited || kind == .unavailable else { return [] }
        let nanoseconds = max(retryAfter.nanoseconds, 1)
        let seconds = (nanoseconds + 999_999_999) / 1_000_000_000
        return [("Retry-After", String(seconds))]
    }

    /// What each refusal says; a 401 says nothing more (no hint which part of a credential failed).
    static func message(for kind: ErrorKind) -> String {
        switch kind {
        case .badRequest: "the request names a model or version that does not exist or takes no traffic"
        case .unauthorized: "unauthorized"
        case .forbidden: "the credential may not do this"
        case .rateLimited: "rate limit exceeded"
        case .unavailable: "no backend can take the request now"
        case .timeout: "the request's deadline passed before an answer"
        case .notFound: "not found"
        case .conflict: "conflict"
        }
    }
}
