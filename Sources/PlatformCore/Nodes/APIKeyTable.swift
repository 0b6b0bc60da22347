// Authentication by static API key, shared by the gateway's synchronous and batch sides: one
// lookup from credential to key, and one rule for what 401 and 403 mean.

/// The gateway's static API keys, indexed by credential.
public struct APIKeyTable: Sendable {
    /// The result of checking a credential.
    public enum Authorization: Sendable, Equatable {
        /// A known key allowed to call inference, by index in the key list (the tenant); a stored key with a
        /// rate limit of its own carries it, and is limited by it instead of by the tenant's bucket.
        case allowed(keyIndex: Int, ownLimit: KeyLimit? = nil)
        /// Unknown credential (401) or a key without the infer scope (403).
        case refused(ErrorKind)
    }

    let indexByCredential: [String: Int]
    /// The credentials by key index, searched directly while there are few: comparing a presented credential
    /// with a handful of stored ones costs less than hashing it.
    let credentials: [String]
    /// Per key, whether it may call inference (kept apart so no key record is copied per request).
    let mayInfer: [Bool]

    /// Up to this many keys the credentials are compared one by one instead of looked up by hash.
    static let scanCountMax = 8

    public init(_ keys: [Gateway.APIKey]) {
        var index: [String: Int] = [:]
        for (position, key) in keys.enumerated() { index[key.credential] = position }
        indexByCredential = index
        credentials = keys.map(\.credential)
        mayInfer = keys.map(\.mayInfer)
    }

    /// Which key a credential is, and whether it may call inference.
    public func authorize(_ credential: String) -> Authorization {
        guard let keyIndex = keyIndex(of: credential) else { return .refused(.unauthorized) }
        return mayInfer[keyIndex] ? .allowed(keyIndex: keyIndex) : .refused(.forbidden)
    }

    /// The index of the key with this credential; the last one when several share it, as the dictionary keeps.
    func keyIndex(of credential: String) -> Int? {
        guard credentials.count <= APIKeyTable.scanCountMax else { return indexByCredential[credential] }
        var position = credentials.count - 1
        while position >= 0 {
            if credentials[position] == credential { return position }
            position -= 1
        }
        return nil
    }
}
