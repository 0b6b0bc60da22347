// Authentication by static API key, shared by the gateway's synchronous and batch sides: one
// lookup from credential to key, and one rule for what 401 and 403 mean.

/// The gateway's static API keys, indexed by credential.
public struct APIKeyTable: Sendable {
    /// The result of checking a credential.
    public enum Authorization: Sendable, Equatable {
        /// A known key allowed to call inference, by index in the key list (the tenant).
        case allowed(keyIndex: Int)
        /// Unknown credential (401) or a key without the infer scope (403).
        case refused(ErrorKind)
    }

    let indexByCredential: [String: Int]
    /// Per key, whether it may call inference (kept apart so no key record is copied per request).
    let mayInfer: [Bool]

    public init(_ keys: [Gateway.APIKey]) {
        var index: [String: Int] = [:]
        for (position, key) in keys.enumerated() { index[key.credential] = position }
        indexByCredential = index
        mayInfer = keys.map(\.mayInfer)
    }

    /// Which key a credential is, and whether it may call inference.
    public func authorize(_ credential: String) -> Authorization {
        guard let keyIndex = indexByCredential[credential] else { return .refused(.unauthorized) }
        return mayInfer[keyIndex] ? .allowed(keyIndex: keyIndex) : .refused(.forbidden)
    }
}
