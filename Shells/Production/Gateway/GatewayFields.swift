// The request header fields the gateway reads, found in one pass over the headers: a request is otherwise
// scanned once per field it might carry (credential, request id, timeout, sticky key, trace context).

import PlatformWire

struct GatewayFields {
    /// The request's header list (shared storage, not copied) and where in it each field was found: copying or
    /// dropping the fields is then one reference count, not one per value.
    let headers: [(name: String, value: String)]
    private var authorizationAt: Int32 = -1
    private var apiKeyAt: Int32 = -1
    private var requestIDAt: Int32 = -1
    private var timeoutMsAt: Int32 = -1
    private var stickyKeyAt: Int32 = -1
    private var traceparentAt: Int32 = -1

    var authorization: String? { value(at: authorizationAt) }
    var apiKey: String? { value(at: apiKeyAt) }
    var requestID: String? { value(at: requestIDAt) }
    var timeoutMs: String? { value(at: timeoutMsAt) }
    var stickyKey: String? { value(at: stickyKeyAt) }
    var traceparent: String? { value(at: traceparentAt) }

    private func value(at slot: Int32) -> String? { slot < 0 ? nil : headers[Int(slot)].value }

    /// The first value of each field, as `HTTPFields.header(_:)` would give it (names compared without case).
    init(_ request: HTTPRequest) {
        headers = request.headers
        // Only the names are read; a value is looked at when it is asked for.
        for index in headers.indices {
            let slot = Int32(truncatingIfNeeded: index)
            switch headers[index].name.utf8.count {
            case 13 where authorizationAt < 0 && Self.named(headers[index].name, "authorization"):
                authorizationAt = slot
            case 9 where apiKeyAt < 0 && Self.named(headers[index].name, "x-api-key"): apiKeyAt = slot
            case 12:
                if requestIDAt < 0 && Self.named(headers[index].name, "x-request-id") {
                    requestIDAt = slot
                } else if stickyKeyAt < 0 && Self.named(headers[index].name, "x-sticky-key") {
                    stickyKeyAt = slot
                }
            case 20 where timeoutMsAt < 0 && Self.named(headers[index].name, "x-request-timeout-ms"):
                timeoutMsAt = slot
            case 11 where traceparentAt < 0 && Self.named(headers[index].name, "traceparent"):
                traceparentAt = slot
            default: break
            }
        }
    }

    /// The credential of `Authorization: Bearer …` (scheme compared without case) or `X-API-Key`, else "". An
    /// Authorization field of another scheme gives "" even when X-API-Key is present.
    var credential: String {
        guard var authorization else { return apiKey ?? "" }
        let token: Range<Int>? = authorization.withUTF8 { bytes in
            guard bytes.count > 7 else { return nil }
            let scheme: StaticString = "bearer "
            let expected = scheme.utf8Start
            for index in 0..<7 where bytes[index] | 0x20 != expected[index] { return nil }
            var start = 7
            var end = bytes.count
            while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
            while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
            return start..<end
        }
        guard let token else { return "" }
        // A slice of a String is known to be valid UTF-8: copied, not decoded again.
        let utf8 = authorization.utf8
        return String(
            authorization[
                utf8.index(
                    utf8.startIndex, offsetBy: token.lowerBound)..<utf8.index(
                        utf8.startIndex, offsetBy: token.upperBound)])
    }

    /// Whether a field name (a token, as the parser checked) equals `lowercase` without regard to ASCII case. OR-ing
    /// 0x20 folds letters to lower case; of the other bytes in these names, only '-' could fold onto from CR, which
    /// no token contains.
    static func named(_ name: String, _ lowercase: StaticString) -> Bool {
        let expected = lowercase.utf8Start
        let count = lowercase.utf8CodeUnitCount
        let equal = name.utf8.withContiguousStorageIfAvailable { bytes in
            guard bytes.count == count else { return false }
            for index in 0..<count where bytes[index] | 0x20 != expected[index] { return false }
            return true
        }
        if let equal { return equal }
        // Not contiguous (a bridged string): compared byte by byte.
        guard name.utf8.count == count else { return false }
        for (index, byte) in name.utf8.enumerated() where byte | 0x20 != expected[index] { return false }
        return true
    }
}
