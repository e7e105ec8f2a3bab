import Foundation

/// `certstore acme`: an RFC 8555 client on top of the store's own lifecycle. An order's key is made in the store
/// as `request` makes it (a pending request in `REQUEST`), the CA signs that request's CSR, and the chain is
/// completed into `My` by `complete`'s code (the key paired by public key, the CA certificates into `CA`); a
/// failed order takes the pending request — and its key — to the trash, so `My`, the bindings and the service
/// files are as they were.
public struct ACMEManager: Sendable {
    public let store: StoreLocation
    /// How long an order may wait for the server in all (validation, issuance).
    public var pollTimeout: TimeInterval = 120

    public init(store: StoreLocation) { self.store = store }

    // MARK: account

    /// What `register` did.
    public struct RegisterResult: Sendable {
        public let account: ACMEAccount
        /// The account key's file (0600).
        public let keyFile: String
        /// The JWK thumbprint of the account key (RFC 7638), which key authorizations end with.
        public let keyThumbprint: String
    }

    /// The location's account, or nil when none is registered.
    public func account() throws -> ACMEAccount? { try store.read(ACMERegistry.self).account }

    /// The ACME-managed certificates (what `acme renew` will renew).
    public func managedCertificates() throws -> [ACMEManagedCertificate] { try store.read(ACMERegistry.self).certificates }

    /// The account key's RFC 7638 thumbprint.
    public func accountKeyThumbprint() throws -> String { try JWSSigner(key: try readAccountKey()).jwk.thumbprint }

    /// Registers an account (newAccount, RFC 8555 §7.3) with a new ES256 key: one operation. The key is made and the
    /// server asked before the lock is taken; under it, the key (0600) and `acme.json` are written. Refused when the
    /// location already has an account, and without `agreeToTerms` when the server has terms of service.
    public func register(server: String, email: String?, agreeToTerms: Bool, caBundle: String?, now: Date = Date()) throws -> OperationOutcome<RegisterResult> {
        if let existing = try account() {
            throw CertStoreError(.refused, "this location already has an ACME account at \(existing.server) (\(existing.url))",
                                 hint: "`certstore acme account` shows it; one account per location")
        }
        var contact: [String] = []
        if let email {
            guard email.contains("@"), !email.contains(where: { $0 == "," || $0.isWhitespace }) else {
                throw CertStoreError.usage("\"\(email)\" is not an e-mail address", hint: "--email admin@example.org")
            }
            contact = ["mailto:\(email)"]
        }
        let bundle = caBundle.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let client = try ACMEClient(directoryURL: server, caBundle: bundle, pollTimeout: pollTimeout)
        let directory = try client.directory()
        if directory.meta?.termsOfService != nil && !agreeToTerms {
            throw CertStoreError.usage("the ACME server has terms of service (\(directory.meta?.termsOfService ?? "")) and --agree-tos was not given",
                                       hint: "read them, then add --agree-tos")
        }
        let key = try PrivateKey.generateP256()
        let signer = try JWSSigner(key: key)
        let payload = try JSONEncoder().encode(ACME.NewAccountRequest(termsOfServiceAgreed: agreeToTerms, contact: contact.isEmpty ? nil : contact,
                                                                       onlyReturnExisting: nil))
        let response = try client.post(directory.newAccount, payload: payload, signer: signer, key: .jwk)
        guard let url = response.location else { throw CertStoreError.badData("the ACME server's newAccount answer has no Location (the account URL)") }
        let status = try client.decode(ACME.Account.self, response, what: "account").status
        guard status == "valid" else { throw CertStoreError(.refused, "the ACME server made the account \(status), not valid") }
        let account = ACMEAccount(server: server, url: url, contact: contact, caBundle: bundle,
                                  termsOfService: directory.meta?.termsOfService, createdAt: now)
        return try store.perform(now: now) {
            var registry = try store.read(ACMERegistry.self)
            if let existing = registry.account {
                throw CertStoreError(.refused, "another command registered an ACME account meanwhile (\(existing.url)); nothing was changed")
            }
            try FileSystem.ensureDirectory(store.acmeDirectory, mode: 0o700)
            var pem = try key.pkcs8PEM()
            defer { wipe(&pem) }
            try FileSystem.writeAtomically(pem, to: store.acmeAccountKeyURL, mode: 0o600)
            registry.account = account
            try store.write(registry)
            return RegisterResult(account: account, keyFile: store.acmeAccountKeyURL.path, keyThumbprint: signer.jwk.thumbprint)
        }
    }

    func readAccountKey() throws -> PrivateKey {
        let url = store.acmeAccountKeyURL
        guard FileSystem.exists(url) else {
            throw CertStoreError.notFound("the ACME account key \(url.path) is missing", hint: "register again on a new location, or restore the file")
        }
        return try PrivateKey(bytes: try FileSystem.read(url, limit: 1 << 20), password: nil)
    }

    /// The account, its key and a client for its server; `notFound` when there is no account.
    func session() throws -> (account: ACMEAccount, signer: JWSSigner, client: ACMEClient) {
        guard let account = try account() else {
            throw CertStoreError.notFound("this location has no ACME account", hint: "certstore acme register --server URL --agree-tos")
        }
        let signer = try JWSSigner(key: try readAccountKey())
        return (account, signer, try ACMEClient(directoryURL: account.server, caBundle: account.caBundle, pollTimeout: pollTimeout))
    }

    // MARK: revoke

    /// RFC 5280 revocation reasons ACME accepts (§7.6).
    public enum RevocationReason: Int, Sendable, CaseIterable {
        case unspecified = 0, keyCompromise = 1, affiliationChanged = 3, superseded = 4, cessationOfOperation = 5

        /// `keyCompromise`, `key-compromise`, `superseded`, ... or the number.
        public init(parsing text: String) throws {
            let folded = text.lowercased().replacingOccurrences(of: "-", with: "")
            if let number = Int(text), let reason = RevocationReason(rawValue: number) { self = reason; return }
            guard let reason = Self.allCases.first(where: { "\($0)".lowercased() == folded }) else {
                throw CertStoreError.usage("unknown revocation reason \"\(text)\"",
                                           hint: "use one of " + Self.allCases.map { "\($0)" }.joined(separator: ", "))
            }
            self = reason
        }
    }

    /// What `revoke` did.
    public struct RevokeResult: Sendable {
        public let thumbprint: Thumbprint
        public let reason: RevocationReason?
        /// Whether acme.json knew the certificate (it is then marked revoked there).
        public let wasManaged: Bool
    }

    /// Revokes a certificate of `My` (revokeCert, §7.6) with the account key: one operation. The store keeps the
    /// certificate (remove it with `certstore remove`); acme.json marks it revoked, so `acme renew` leaves it alone.
    public func revoke(_ thumbprint: Thumbprint, reason: RevocationReason?, now: Date = Date()) throws -> OperationOutcome<RevokeResult> {
        let entry = try store.requireEntry(thumbprint, in: store.path(of: .my))
        let certificate = try entry.loadCertificate()
        let (account, signer, client) = try session()
        let payload = try JSONEncoder().encode(ACME.RevokeRequest(certificate: Base64URL.encode(certificate.der), reason: reason?.rawValue))
        _ = try client.post(try client.directory().revokeCert, payload: payload, signer: signer, key: .kid(account.url))
        return try store.perform(now: now) {
            var registry = try store.read(ACMERegistry.self)
            var managed = false
            if let index = registry.certificates.firstIndex(where: { $0.thumbprint == thumbprint }) {
                registry.certificates[index].revokedAt = now
                try store.write(registry)
                managed = true
            }
            return RevokeResult(thumbprint: thumbprint, reason: reason, wasManaged: managed)
        }
    }
}
