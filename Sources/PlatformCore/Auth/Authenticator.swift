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

    public init(keys: [Gateway.APIKey], sources: CredentialSources = CredentialSources()) {
        self.keys = keys
        keyTable = APIKeyTable(keys)
        apiKeys = sources.apiKeys
        secretDigest = sources.secretDigest
        bearer = sources.bearer
    }

    /// Stored API keys changed (created, revoked, rotated): the replica takes them.
    public mutating func apiKeysChanged(_ entries: [APIKeyEntry]) {
        for entry in entries { apiKeys?.upsert(entry) }
    }

    /// The token signing keys changed: tokens are checked by this authenticator from now on.
    public mutating func bearerKeysChanged(_ authenticator: any BearerAuthenticator) {
        bearer = authenticator
    }

    /// Which tenant (index into `keys`) a credential speaks for, if it may make a call needing `scope`.
    public func authorize(_ credential: String, scope: Scopes, now: Instant) -> APIKeyTable.Authorization {
        if let apiKeys, let secretDigest, credential.hasUTF8Prefix(APIKeyStore.credentialPrefix) {
            guard case .valid(let principal) = apiKeys.authenticate(credential, now: now, digest: secretDigest),
                principal.tenant >= 0, principal.tenant < keys.count
            else { return .refused(.unauthorized) }
            return principal.scopes.contains(scope) ? .allowed(keyIndex: principal.tenant) : .refused(.forbidden)
        }
        if let bearer, Authenticator.looksLikeToken(credential) {
            guard case .accepted(let principal) = bearer.authenticate(bearer: credential, now: now),
                let tenant = keys.firstIndex(where: { $0.name == principal.tenant })
            else { return .refused(.unauthorized) }
            let needed = scope.names
            return needed.allSatisfy { principal.has(scope: $0) } ? .allowed(keyIndex: tenant) : .refused(.forbidden)
        }
        return keyTable.authorize(credential)
    }

    /// A compact JWS has exactly two dots.
    static func looksLikeToken(_ credential: String) -> Bool {
        var dots = 0
        for byte in credential.utf8 where byte == 0x2E { dots += 1 }
        return dots == 2
    }
}
