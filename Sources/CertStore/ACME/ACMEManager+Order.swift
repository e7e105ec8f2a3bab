import Foundation

extension ACMEManager {
    /// What to order.
    public struct OrderRequest: Sendable {
        /// The names (the first becomes the subject's CN).
        public var dnsNames: [String]
        public var keySpec: KeySpec = .default
        public var challenge: ChallengeMethod = .standalone(port: 80)
        /// Bound once the certificate is in `My`, as `enable` binds them.
        public var services: [ExchangeService] = []
        /// The default-SMTP question's answer when `services` has SMTP and another certificate is the default.
        public var overwriteDefault = false
        public var friendlyName: String?
        /// The certificate of `My` this order replaces (`--replaces`, `acme renew`): the pending request remembers
        /// it, so completing the issued certificate hands over from it (``Handover``: bindings, the default SMTP
        /// role, dependencies and connectors move, the old certificate is archived); acme.json links the two.
        public var renews: Thumbprint?

        public init(dnsNames: [String]) { self.dnsNames = dnsNames }
    }

    /// What `order` did: each store operation's outcome, in order (run their hooks, report their consequences).
    public struct OrderResult: Sendable {
        public let thumbprint: Thumbprint
        public let dnsNames: [String]
        public let notAfter: Date?
        /// The pending request the order was finalized with (consumed by the completion).
        public let request: OperationOutcome<Enrollment.RequestResult>
        /// The completion into `My` (the chain's CA certificates into `CA`).
        public let completion: OperationOutcome<ImportResult>
        /// The handover from the replaced certificate (`renews`), done under the completion's lock; refused
        /// handovers say why and give the command that forces them.
        public var handover: ImportResult.CompletedRenewal? { completion.value.renewals.first }
        /// The binding, when services were named.
        public let binding: OperationOutcome<BindingManager.EnableResult>?
        /// Responses that could not be withdrawn afterwards (a webroot file, a DNS record): warnings.
        public let cleanupProblems: [String]
        /// How many `badNonce` refusals were retried.
        public let badNonceRetries: Int
    }

    /// Orders a certificate (newOrder → authorizations → challenges → finalize → download, RFC 8555 §7.4) and
    /// completes it into `My`, then binds `services`; the certificate is recorded in acme.json with what renewing
    /// it needs. The key is generated in the store as a pending request before the order is placed; when the order
    /// fails at any step, that request and its key go to the trash and nothing else in the store changes.
    public func order(_ request: OrderRequest, now: Date = Date()) throws -> OrderResult {
        guard !request.dnsNames.isEmpty else {
            throw CertStoreError.usage("an ACME order needs at least one --dns-name")
        }
        var subject = Enrollment.Subject(subject: "CN=\(request.dnsNames[0])", dnsNames: request.dnsNames)
        subject.keySpec = request.keySpec
        subject.friendlyName = request.friendlyName
        try subject.check()
        if case .standalone = request.challenge, request.dnsNames.contains(where: { $0.hasPrefix("*.") }) {
            throw CertStoreError.usage("a wildcard name can only be proven with dns-01", hint: "use --dns-01-hook CMD")
        }
        let (account, signer, client) = try session()
        let directory = try client.directory()

        // RFC 9773 §5: tell a server that has renewalInfo which certificate the order replaces.
        var replacesIdentifier: String? = nil
        if directory.renewalInfo != nil, let old = request.renews,
           let certificate = try store.entry(old, in: store.path(of: .my))?.loadCertificate(), let aki = certificate.authorityKeyIdentifier {
            replacesIdentifier = RenewalSchedule.certificateIdentifier(authorityKeyIdentifier: aki, serialNumber: certificate.serialNumberOctets)
        }
        let pending = try makeRequest(subject, renewing: request.renews, now: now)
        let requestPath = store.path(of: .request)
        let chainPEM: String
        var cleanupProblems: [String] = []
        do {
            (chainPEM, cleanupProblems) = try obtainChain(pending.value, request: request, account: account, signer: signer,
                                                          client: client, directory: directory, replaces: replacesIdentifier)
        } catch {
            // Nothing reached My: the pending request and its key go to the trash (restorable, never lost).
            _ = try? Remover(store: store).remove(pending.value.thumbprint, in: requestPath, deleteKey: true, force: true,
                                                  dryRun: false, now: now)
            throw error
        }

        // What follows is judged at the time of issuance, not of the order's start: the CA's notBefore may be later
        // than `now` (Pebble does not backdate), and a binding must not call the new certificate "not yet valid".
        let issuedNow = max(now, Date())
        // The chain, completed into My by complete's own code (the key paired by public key, CA certificates into CA).
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("certstore-acme-\(getpid())-\(UUID().uuidString)")
        try FileSystem.ensureDirectory(scratch, mode: 0o700)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let chainFile = scratch.appendingPathComponent("chain.pem")
        try FileSystem.writeAtomically(Array(chainPEM.utf8), to: chainFile, mode: 0o600)
        let leaf = try Self.leaf(of: chainPEM)
        var options = Importer.Options()
        options.target = store.path(of: .my)
        options.completing = true
        options.now = issuedNow
        let completion = try Importer(store: store).importFiles([chainFile.path], options: options)
        if let failure = completion.value.failures.first { throw CertStoreError(failure.kind, failure.message) }

        let managed = ACMEManagedCertificate(thumbprint: leaf.thumbprint, account: account.url, server: account.server,
                                             dnsNames: pending.value.dnsNames, keySpec: request.keySpec, challenge: request.challenge,
                                             services: request.services, issuedAt: issuedNow, revokedAt: nil,
                                             renewedBy: nil, renews: request.renews)
        _ = try store.perform(now: issuedNow, changed: { _ in false }) {
            var registry = try store.read(ACMERegistry.self)
            registry.certificates.removeAll { $0.thumbprint == managed.thumbprint }
            registry.certificates.append(managed)
            if let old = request.renews, let index = registry.certificates.firstIndex(where: { $0.thumbprint == old }) {
                registry.certificates[index].renewedBy = managed.thumbprint
            }
            try store.write(registry)
        }
        var binding: OperationOutcome<BindingManager.EnableResult>? = nil
        if !request.services.isEmpty {
            binding = try BindingManager(store: store).enable(leaf.thumbprint, services: request.services,
                                                              answer: request.overwriteDefault ? .overwrite : .keep, now: issuedNow)
        }
        return OrderResult(thumbprint: leaf.thumbprint, dnsNames: pending.value.dnsNames, notAfter: leaf.properties().notAfter,
                           request: pending, completion: completion, binding: binding, cleanupProblems: cleanupProblems,
                           badNonceRetries: client.badNonceRetries)
    }

    /// The pending request the order is finalized with: `request`'s, or — replacing a certificate — one that
    /// remembers it (``StoreProperties/renews``), with its friendly name unless another was chosen.
    private func makeRequest(_ subject: Enrollment.Subject, renewing old: Thumbprint?, now: Date) throws -> OperationOutcome<Enrollment.RequestResult> {
        guard let old else { return try Enrollment(store: store).request(subject, now: now) }
        let my = store.path(of: .my)
        let current = try store.requireEntry(old, in: my)
        let (name, dnsNames) = try subject.resolved()
        let key = try PrivateKey.generate(subject.keySpec)
        var properties = StoreProperties(friendlyName: subject.friendlyName ?? current.storeProperties.friendlyName, archived: false,
                                         exportable: current.storeProperties.exportable, importedAt: now,
                                         source: "certstore acme order --replaces \(old)")
        properties.renews = old
        return try Enrollment(store: store).request(name: name, dnsNames: dnsNames, keySpec: subject.keySpec, key: key, keyIsStored: false,
                                                    properties: properties, file: nil, now: now, check: {
            guard try store.entry(old, in: my) != nil else {
                throw CertStoreError.notFound("the certificate with thumbprint \(old) was removed meanwhile")
            }
        })
    }

    /// The issued chain's first certificate (the end entity).
    static func leaf(of chainPEM: String) throws -> Certificate {
        guard let block = PEMBlock.all(in: Array(chainPEM.utf8)).first(where: { $0.label == "CERTIFICATE" }) else {
            throw CertStoreError.badData("the ACME server's certificate download holds no certificate")
        }
        return try Certificate(der: block.der)
    }

    /// The protocol part of an order: newOrder, every authorization's challenge, finalize with the pending request's
    /// CSR, and the PEM chain. Publishes and withdraws the challenge responses.
    private func obtainChain(_ pending: Enrollment.RequestResult, request: OrderRequest, account: ACMEAccount, signer: JWSSigner,
                             client: ACMEClient, directory: ACME.Directory, replaces: String?) throws -> (String, [String]) {
        let kid = JWSSigner.KeyReference.kid(account.url)
        let payload = try JSONEncoder().encode(ACME.NewOrderRequest(identifiers: pending.dnsNames.map(ACME.Identifier.dns), replaces: replaces))
        let created = try client.post(directory.newOrder, payload: payload, signer: signer, key: kid)
        guard let orderURL = created.location else { throw CertStoreError.badData("the ACME server's newOrder answer has no Location") }
        var order = try client.decode(ACME.Order.self, created, what: "order")

        let responder = ChallengeResponder(request.challenge)
        var cleanupProblems: [String] = []
        do {
            try responder.start()
            var toValidate: [(authorization: String, challenge: ACME.Challenge, name: String)] = []
            for url in order.authorizations {
                let authorization = try client.decode(ACME.Authorization.self,
                                                      try client.post(url, payload: nil, signer: signer, key: kid), what: "authorization")
                if authorization.status == "valid" { continue }  // proven recently; the server reuses it
                guard authorization.status == "pending" else {
                    throw CertStoreError(.refused, "the authorization for \(authorization.identifier.value) is \(authorization.status)")
                }
                let type = request.challenge.challengeType
                guard let challenge = authorization.challenges.first(where: { $0.type == type }), let token = challenge.token else {
                    throw CertStoreError(.refused, "the ACME server offers no \(type) challenge for \(authorization.identifier.value) (offered: \(authorization.challenges.map(\.type).joined(separator: ", ")))")
                }
                // RFC 8555 §8.3: a token is base64url (at least 128 bits). It becomes a file name in a webroot and a URL
                // path: anything else (a "../" from a hostile server) is refused before it touches the disk.
                guard token.count >= 22, token.utf8.allSatisfy(Self.isBase64URLByte) else {
                    throw CertStoreError.badData("the ACME server sent the challenge token \(token.debugDescription), which is not base64url (RFC 8555 §8.3)")
                }
                let name = (authorization.wildcard == true ? "*." : "") + authorization.identifier.value
                try responder.publish(name: name, token: token, keyAuthorization: signer.keyAuthorization(token: token),
                                      dnsValue: signer.dnsValue(token: token))
                toValidate.append((url, challenge, name))
            }
            // Tell the server to validate (an empty object, §7.5.1), then wait for each authorization to settle.
            for item in toValidate {
                _ = try client.post(item.challenge.url, payload: Data("{}".utf8), signer: signer, key: kid)
            }
            for item in toValidate {
                let settled = try client.poll(item.authorization, ACME.Authorization.self, signer: signer, account: account.url,
                                              what: "validation of \(item.name)") { $0.status != "pending" && $0.status != "processing" }
                guard settled.status == "valid" else {
                    let problem = settled.challenges.first(where: { $0.type == item.challenge.type })?.error
                    throw CertStoreError(.refused, "the ACME server could not validate \(item.name) by \(item.challenge.type): \(problem.map { "\($0)" } ?? settled.status)",
                                         hint: Self.challengeHint(request.challenge))
                }
            }
        } catch {
            cleanupProblems += responder.finish()
            throw error
        }
        cleanupProblems += responder.finish()

        order = try client.poll(orderURL, ACME.Order.self, signer: signer, account: account.url, what: "order") { $0.status != "pending" }
        guard order.status == "ready" || order.status == "valid" || order.status == "processing" else {
            throw CertStoreError(.refused, "the order is \(order.status)\(order.error.map { ": \($0)" } ?? "")")
        }
        if order.status == "ready" {
            let finalize = try JSONEncoder().encode(ACME.FinalizeRequest(csr: Base64URL.encode(pending.request.der)))
            _ = try client.post(order.finalize, payload: finalize, signer: signer, key: kid)
        }
        order = try client.poll(orderURL, ACME.Order.self, signer: signer, account: account.url, what: "issuance") {
            $0.status != "ready" && $0.status != "processing"
        }
        guard order.status == "valid", let certificateURL = order.certificate else {
            throw CertStoreError(.refused, "the ACME server did not issue the certificate: the order is \(order.status)\(order.error.map { ": \($0)" } ?? "")")
        }
        let download = try client.post(certificateURL, payload: nil, signer: signer, key: kid, accept: "application/pem-certificate-chain")
        let pem = String(decoding: download.body, as: UTF8.self)
        guard pem.contains("-----BEGIN CERTIFICATE-----") else {
            throw CertStoreError.badData("the ACME server's certificate download is not a PEM chain (application/pem-certificate-chain)")
        }
        return (pem, cleanupProblems)
    }

    /// A-Z, a-z, 0-9, "-" and "_".
    static func isBase64URLByte(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x5F
    }

    static func challengeHint(_ method: ChallengeMethod) -> String {
        switch method {
        case .standalone(let port): "the CA must reach this machine on port \(port) under each name (DNS and firewall)"
        case .webroot(let directory): "the web server answering on port 80 for each name must serve \(directory)/.well-known/acme-challenge/"
        case .dnsHook: "the hook must publish the TXT record where the CA's resolvers see it"
        }
    }
}
