// JSON and query strings of the metadata API beyond what `RegistryJSON` covers: the registry listing's query
// parameters and page, and the API-key admin bodies. As there, decoding checks structure and types and names
// the offending field; the rules on values (name lengths, limits, lifecycle) stay in the core. Unknown members
// and unknown query parameters are refused, so a misspelling fails loudly instead of being ignored.

import PlatformCore

/// The registry listing: `GET /v1/models?…` in, `{"items": […], "next": …}` out.
public enum RegistryListJSON {
    /// The query parameters a listing accepts.
    static let parameters = ["namePrefix", "state", "label", "after", "limit"]

    /// The query of `GET /v1/models`: the text after `?` (empty for none). Values are percent-decoded.
    public static func decodeQuery(_ text: Substring) throws(RegistryFieldError) -> RegistryQuery {
        var query = RegistryQuery()
        var seen: [String] = []
        for piece in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecoded(parts[0]) else {
                throw RegistryFieldError(field: String(parts[0]), reason: "has a malformed percent escape")
            }
            guard parameters.contains(name) else {
                let known = parameters.joined(separator: ", ")
                throw RegistryFieldError(
                    field: name, reason: "is not a known query parameter; expected one of \(known)")
            }
            if seen.contains(name) { throw RegistryFieldError(field: name, reason: "is given more than once") }
            seen.append(name)
            guard let value = percentDecoded(parts.count == 2 ? parts[1] : "") else {
                throw RegistryFieldError(field: name, reason: "has a malformed percent escape")
            }
            try apply(name, value, to: &query)
        }
        return query
    }

    static func apply(_ name: String, _ value: String, to query: inout RegistryQuery) throws(RegistryFieldError) {
        switch name {
        case "namePrefix":
            query.namePrefix = value
        case "state":
            query.state = try RegistryJSON.decodeState(.string(value), path: "state")
        case "label":
            guard let separator = value.firstIndex(of: "=") else {
                throw RegistryFieldError(field: "label", reason: "must be key=value; got \"\(value)\"")
            }
            let key = String(value[..<separator])
            query.label = Label(key: key, value: String(value[value.index(after: separator)...]))
        case "after":
            guard let cursor = decodeCursor(value) else {
                let reason = "must be a cursor <name>@<version> as returned in next; got \"\(value)\""
                throw RegistryFieldError(field: "after", reason: reason)
            }
            query.after = cursor
        default:  // "limit": the registry checks the range, so the message is the same wherever it is refused.
            guard let limit = Int(value) else {
                throw RegistryFieldError(field: "limit", reason: "must be an integer; got \"\(value)\"")
            }
            query.limit = limit
        }
    }

    /// `<name>@<version>`; names cannot contain `@`, so the last one separates.
    public static func decodeCursor(_ text: String) -> RegistryCursor? {
        guard let separator = text.lastIndex(of: "@"), let version = Int(text[text.index(after: separator)...]),
            version >= 1, separator != text.startIndex
        else { return nil }
        return RegistryCursor(name: String(text[..<separator]), version: version)
    }

    /// A page as the API returns it; `next` is null when nothing more matches.
    public static func encodePage(_ records: [ModelVersionRecord], next: RegistryCursor?) -> JSONValue {
        .object([
            ("items", .array(records.map(RegistryJSON.encode))),
            ("next", next.map { .string($0.description) } ?? .null),
        ])
    }

    /// `%XX` escapes decoded to bytes, which must then be UTF-8; nil for a broken escape or invalid UTF-8. A `+`
    /// stays a `+`: no registry value needs a space, and a label value can carry one as `%20`.
    public static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A decoded `POST /v1/admin/keys` body.
public struct APIKeyCreateBody: Sendable, Hashable {
    public var name: String
    public var scopes: Scopes
    public var requestsPerMinute: Int64?
}

/// The API-key admin bodies. The secret appears only in the `credential` of a create or rotate answer.
public enum APIKeyJSON {
    /// The longest grace period a rotation may ask for: a year. Longer ones are refused rather than kept, since a
    /// replaced key that works for years is a revocation forgotten.
    public static let graceSecondsMax: Int64 = 366 * 24 * 3_600

    /// `{"name", "scopes", "requestsPerMinute"?}`; at least one scope.
    public static func decodeCreate(_ body: JSONValue) throws(RegistryFieldError) -> APIKeyCreateBody {
        let members = try JSONFields.object(body, path: "")
        try JSONFields.refuseUnknown(members, allowed: ["name", "scopes", "requestsPerMinute"], path: "")
        guard let name = try JSONFields.string(body["name"], path: "name") else { throw RegistryJSON.missing("name") }
        guard let elements = try JSONFields.array(body["scopes"], path: "scopes") else {
            throw RegistryJSON.missing("scopes")
        }
        let known = Scopes.named.map(\.name).joined(separator: ", ")
        if elements.isEmpty {
            throw RegistryFieldError(field: "scopes", reason: "must name at least one of \(known)")
        }
        var names: [String] = []
        for (index, element) in elements.enumerated() {
            guard case .string(let scope) = element else {
                throw RegistryFieldError(field: "scopes", reason: "element \(index) must be a string")
            }
            names.append(scope)
        }
        var unknown: String?
        guard let scopes = Scopes.parse(names, unknown: &unknown) else {
            throw RegistryFieldError(field: "scopes", reason: "unknown scope \"\(unknown ?? "")\"; expected \(known)")
        }
        let limit = try JSONFields.integer(body["requestsPerMinute"], path: "requestsPerMinute")
        return APIKeyCreateBody(name: name, scopes: scopes, requestsPerMinute: limit.map(Int64.init))
    }

    /// `{"graceSeconds": n}`: the seconds the replaced key keeps working, 0 to `graceSecondsMax`.
    public static func decodeRotate(_ body: JSONValue) throws(RegistryFieldError) -> Int64 {
        let members = try JSONFields.object(body, path: "")
        try JSONFields.refuseUnknown(members, allowed: ["graceSeconds"], path: "")
        guard let seconds = try JSONFields.integer(body["graceSeconds"], path: "graceSeconds") else {
            throw RegistryJSON.missing("graceSeconds")
        }
        guard seconds >= 0 && Int64(seconds) <= graceSecondsMax else {
            let reason = "must be between 0 and \(graceSecondsMax) (a year); got \(seconds)"
            throw RegistryFieldError(field: "graceSeconds", reason: reason)
        }
        return Int64(seconds)
    }

    /// A key as the API shows it, `tenant` being the owning tenant's name. Never its secret, salt or digest.
    public static func encode(_ view: APIKeyView, tenant: String) -> JSONValue {
        func milliseconds(_ instant: Instant?) -> JSONValue {
            instant.map { .number(Double($0.nanoseconds / 1_000_000), isInteger: true) } ?? .null
        }
        return .object([
            ("keyID", .string(view.keyID)),
            ("tenant", .string(tenant)),
            ("name", .string(view.name)),
            ("scopes", .array(view.scopes.names.map { .string($0) })),
            ("createdAtMs", milliseconds(view.createdAt)),
            ("expiresAtMs", milliseconds(view.expiresAt)),
            ("revokedAtMs", milliseconds(view.revokedAt)),
            ("rotatedTo", view.rotatedTo.map { .string($0) } ?? .null),
            ("requestsPerMinute", view.requestsPerMinute.map { .number(Double($0), isInteger: true) } ?? .null),
        ])
    }

    /// A created key with its one-time credential.
    public static func encodeCreated(_ view: APIKeyView, tenant: String, credential: String) -> JSONValue {
        guard case .object(var members) = encode(view, tenant: tenant) else { return .null }
        members.append(("credential", .string(credential)))
        return .object(members)
    }

    /// A rotation: the replaced key, its successor, and the successor's one-time credential.
    public static func encodeRotated(
        old: APIKeyView, new: APIKeyView, tenant: String, credential: String
    ) -> JSONValue {
        .object([
            ("old", encode(old, tenant: tenant)), ("new", encode(new, tenant: tenant)),
            ("credential", .string(credential)),
        ])
    }

    /// The tenant's keys, in the order given (the store's key-id order).
    public static func encodeList(_ views: [APIKeyView], tenant: String) -> JSONValue {
        .object([("items", .array(views.map { encode($0, tenant: tenant) }))])
    }

    /// The core reports a refused key command as `"<field>: <reason>"`; this splits it so the answer can name the
    /// field the client sent (`grace` is the API's `graceSeconds`).
    public static func fieldError(fromStoreMessage message: String) -> RegistryFieldError {
        guard let colon = message.firstIndex(of: ":") else { return RegistryFieldError(field: "", reason: message) }
        let field = String(message[..<colon])
        let reason = message[message.index(after: colon)...].drop { $0 == " " }
        return RegistryFieldError(field: field == "grace" ? "graceSeconds" : field, reason: String(reason))
    }
}
