// The request header fields the gateway reads, found in one pass over the headers: a request is otherwise
// scanned once per field it might carry (credential, request id, timeout, sticky key, trace context).

import PlatformWire

struct GatewayFields {
    var authorization: String?
    var apiKey: String?
    var requestID: String?
    var timeoutMs: String?
    var stickyKey: String?
    var traceparent: String?

    /// The first value of each field, as `HTTPFields.header(_:)` would give it (names compared without case).
    init(_ request: HTTPRequest) {
        for (name, value) in request.headers {
            switch name.utf8.count {
            case 13 where authorization == nil && Self.named(name, "authorization"): authorization = value
            case 9 where apiKey == nil && Self.named(name, "x-api-key"): apiKey = value
            case 12:
                if requestID == nil && Self.named(name, "x-request-id") {
                    requestID = value
                } else if stickyKey == nil && Self.named(name, "x-sticky-key") {
                    stickyKey = value
                }
            case 20 where timeoutMs == nil && Self.named(name, "x-request-timeout-ms"): timeoutMs = value
            case 11 where traceparent == nil && Self.named(name, "traceparent"): traceparent = value
            default: break
            }
        }
    }

    /// The credential of `Authorization: Bearer …` (scheme compared without case) or `X-API-Key`, else "". An
    /// Authorization field of another scheme gives "" even when X-API-Key is present.
    var credential: String {
        guard var authorization else { return apiKey ?? "" }
        return authorization.withUTF8 { bytes in
            guard bytes.count > 7 else { return "" }
            let scheme = "bearer "
            for (index, expected) in scheme.utf8.enumerated() where bytes[index] | 0x20 != expected { return "" }
            var start = 7
            var end = bytes.count
            while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
            while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        }
    }

    /// Whether a field name (a token, as the parser checked) equals `lowercase` without regard to ASCII case. OR-ing
    /// 0x20 folds letters to lower case; of the other bytes in these names, only '-' could fold onto from CR, which
    /// no token contains.
    static func named(_ name: String, _ lowercase: StaticString) -> Bool {
        var name = name
        return name.withUTF8 { bytes in
            guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
            let expected = lowercase.utf8Start
            for index in 0..<bytes.count where bytes[index] | 0x20 != expected[index] { return false }
            return true
        }
    }
}
