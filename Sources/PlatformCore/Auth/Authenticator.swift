// One answer to "who is this, and may they do this?", shared by the gateway's synchronous and batch
// sides: a stored API key (`aip_…`, checked against the gateway's replica of the key store), a bearer
// token (three dot-separated parts, checked by the shell's token authenticator), or a static key from
// the configuration. Every refusal of a credential is a 401 with no detail; a valid credential without
// the scope the call needs is a 403.

/// Where credentials other than the static keys are checked: a replica of the key store with the digest its
/// secrets are stored under, and the shell's bearer-token check. Absent parts accept nothing.
public struct CredentialSources: Sendable {
    public var apiKeys: APIKeyStore?
    public var secretDigest: (any SecretDigest)?
    public var bearer: (any BearerAuthenticator)?

    public init(
        apiKeys: APIKeyStore? = nil, secretDigest: (any SecretDigest)? = nil, bearer: (any BearerAuthenticator)? = nil
    ) {
        self.apiKeys = apiKeys
        self.secretDigest = secretDigest
        self.bearer = bearer
    }
}

/// Authenticates credentials and checks scopes; takes key-store and signing-key changes as they come.
public struct Authenticator: Sendable {
    /// The tenants' limit entries and static credentials; a stored key's or a token's tenant names one.
    let keys: [Gateway.APIKey]
    let keyTable: APIKeyTable
    var apiKeys: APIKeyStore?
    let secretDigest: (any SecretDigest)?
    var bearer: (any BearerAuthenticator)?
    /// The last credential the static keys answered (when `hasRemembered`), and their answer: the static keys never
    /// change and a credential the static keys answered goes to them again until the other sources change, so a
    /// repeat of it (the common case: one client, one key) is answered by one comparison instead of a lookup.
    /// Whether stored keys can be checked (a replica and its digest; fixed at creation) and whether a token check is
    /// set, kept apart so a static key's check copies neither existential.
    let checksStoredKeys: Bool
    var checksTokens: Bool
    var rememberedCredential = ""
    var rememberedAnswer = APIKeyTable.Authorization.refused(.unauthorized)
    var hasRemembered = false

    public init(keys: [Gateway.APIKey], sources: CredentialSources = CredentialSources()) {
        self.keys = keys
        keyTable = APIKeyTable(keys)
        apiKeys = sources.apiKeys
        secretDigest = sources.secretDigest
        bearer = sources.bearer
        checksStoredKeys = sources.apiKeys != nil && sources.secretDigest != nil
        checksTokens = sources.bearer != nil
    }

    /// Stored API keys changed (created, revoked, rotated): the replica takes them.
    public mutating func apiKeysChanged(_ entries: [APIKeyEntry]) {
        for entry in entries { apiKeys?.upsert(entry) }
        forget()
    }

    /// The token signing keys changed: tokens are checked by this authenticator from now on.
    public mutating func bearerKeysChanged(_ authenticator: any BearerAuthenticator) {
        bearer = authenticator
        checksTokens = true
        forget()
    }

    mutating func forget() {
        hasRemembered = false
        rememberedCredential = ""
    }

    /// The same answer as `authorize`, remembering the last credential the static keys answered.
    public mutating func authorizeRemembering(_ credential: String, scope: Scopes, now: Instant)
        -> APIKeyTable.Authorization
    {
        if hasRemembered && rememberedCredential == credential { return rememberedAnswer }
        if let answer = authorizeStoredOrToken(credential, scope: scope, now: now) { return answer }
        let answer = keyTable.authorize(credential)
        rememberedCredential = credential
        rememberedAnswer = answer
        hasRemembered = true
        return answer
    }

    /// Which tenant (index into `keys`) a credential speaks for, if it may make a call needing `scope`.
    public func authorize(_ credential: String, scope: Scopes, now: Instant) -> APIKeyTable.Authorization {
        if let answer = authorizeStoredOrToken(credential, scope: scope, now: now) { return answer }
        return keyTable.authorize(credential)
    }

    /// The answer of the key store or the token check when the credential is theirs, else nil (a static key).
    func authorizeStoredOrToken(_ credential: String, scope: Scopes, now: Instant) -> APIKeyTable.Authorization? {
        if checksStoredKeys, credential.hasUTF8Prefix(APIKeyStore.credentialPrefix), let apiKeys,
            let secretDigest
        {
            guard case .valid(let principal) = apiKeys.authenticate(credential, now: now, digest: secretDigest),
                principal.tenant >= 0, principal.tenant < keys.count
            else { return .refused(.unauthorized) }
            guard principal.scopes.contains(scope) else { return .refused(.forbidden) }
            // An authenticated key's id is 8 to 32 of `[a-z0-9]` and its rate at least one, so the limit is made.
            let ownLimit = principal.requestsPerMinute.flatMap {
                KeyLimit(keyID: principal.subject, requestsPerMinute: $0)
            }
            return .allowed(keyIndex: principal.tenant, ownLimit: ownLimit)
        }
        if checksTokens, Authenticator.looksLikeToken(credential), let bearer {
            guard case .accepted(let principal) = bearer.authenticate(bearer: credential, now: now),
                let tenant = keys.firstIndex(where: { $0.name == principal.tenant })
            else { return .refused(.unauthorized) }
            let needed = scope.names
            return needed.allSatisfy { principal.has(scope: $0) } ? .allowed(keyIndex: tenant) : .refused(.forbidden)
        }
        return nil
    }

    /// A compact JWS has exactly two dots.
    static func looksLikeToken(_ credential: String) -> Bool {
        var dots = 0
        for byte in credential.utf8 where byte == 0x2E { dots += 1 }
        return dots == 2
    }
}
