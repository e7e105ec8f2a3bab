import Foundation

/// `renew THUMBPRINT`: Exchange's `Get-ExchangeCertificate -Thumbprint X | New-ExchangeCertificate [-GenerateRequest]`.
///
/// A self-signed certificate is renewed at once: a new self-signed certificate with the same subject, DNS names
/// and key type (or the same key) goes into `My`, and the old one hands over to it (``Handover``) under the
/// same lock. A CA-issued certificate gets a pending request in `REQUEST` with the same subject, DNS names and
/// key type (or the same key, `reuseKey`) that remembers what it renews (``StoreProperties/renews``):
/// completing it (`complete`, or `import` of the issued certificate) hands over from the renewed certificate.
public struct Renewal: Sendable {
    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    /// How to renew.
    public struct Options: Sendable {
        /// Keep the certificate's key (certbot's `--reuse-key`, certreq's `UseExistingKeySet`).
        public var reuseKey = false
        /// Another key type than the certificate's.
        public var keySpec: KeySpec?
        /// Where a request is written besides being returned (CA-issued certificates).
        public var file: Enrollment.RequestFile?
        /// Hand over from a self-signed certificate despite the handover's obstacles.
        public var force = false
        /// The OpenSSL security level the renewed certificate must be served at (nil: the system's).
        public var securityLevel: Int?
        public var now = Date()
        public init() {}
    }

    /// A self-signed certificate renewed and handed over.
    public struct SelfSignedRenewal: Sendable {
        public let thumbprint: Thumbprint
        public let subject: String
        public let dnsNames: [String]
        public let keySpec: KeySpec
        public let notAfter: Date?
        public let handover: Handover.Plan
    }

    /// What `renew` did: exactly one of `selfSigned` and `request` is set.
    public struct Result: Sendable {
        /// The certificate renewed.
        public let renewed: Thumbprint
        public let selfSigned: SelfSignedRenewal?
        /// The pending request (CA-issued certificates): give it to the CA, complete what it issues.
        public let request: Enrollment.RequestResult?
    }

    /// Renews `thumbprint` (in `My`): one operation (see `OperationOutcome`).
    public func renew(_ thumbprint: Thumbprint, options: Options = Options()) throws -> OperationOutcome<Result> {
        if options.reuseKey && options.keySpec != nil {
            throw CertStoreError.usage("--reuse-key keeps the certificate's key; --key-type makes a new one", hint: "give one of them")
        }
        if let file = options.file { try Enrollment.checkRequestFile(file.path) }
        let my = store.path(of: .my)
        let old = try store.requireEntry(thumbprint, in: my)
        let p = old.properties
        guard !p.isCertificateAuthority else {
            throw CertStoreError(.refused, "\(thumbprint) is a CA certificate; renew renews the certificates services present",
                                 hint: "renew a CA certificate with the CA's own tools")
        }
        var dnsNames: [String] = p.subjectAlternativeNames.compactMap { if case .dns(let name) = $0 { name } else { nil } }
        if dnsNames.isEmpty { dnsNames = p.dnsNameList }
        let key: PrivateKey
        let spec: KeySpec
        if options.reuseKey {
            guard let stored = try store.privateKey(for: old) else {
                throw CertStoreError(.refused, "\(thumbprint) has no usable private key to reuse (\(old.keyStatus.rawValue))",
                                     hint: "leave out --reuse-key: the renewal gets a new key made in the store")
            }
            key = stored
            spec = Self.keySpec(of: p) ?? .default
        } else {
            guard let chosen = options.keySpec ?? Self.keySpec(of: p) else {
                throw CertStoreError.usage("the key of \(thumbprint) (\(p.keyAlgorithm) \(p.publicKeySize) bits) is not one renew makes",
                                           hint: "choose one: --key-type " + KeySpec.allCases.map(\.rawValue).joined(separator: "|"))
            }
            spec = chosen
            key = try PrivateKey.generate(spec)
        }
        var properties = StoreProperties(friendlyName: old.storeProperties.friendlyName, archived: false,
                                         exportable: old.storeProperties.exportable, importedAt: options.now, source: "certstore renew \(thumbprint)")
        if p.isSelfSigned {
            return try renewSelfSigned(old, dnsNames: dnsNames, key: key, spec: spec, properties: properties, options: options)
        }
        properties.renews = thumbprint
        let requests = store.path(of: .request)
        let outcome = try Enrollment(store: store).request(
            name: p.subject, dnsNames: dnsNames, keySpec: spec, key: key, keyIsStored: options.reuseKey,
            properties: properties, file: options.file, now: options.now,
            check: {
                if let pending = try store.entries(in: requests).entries.first(where: { $0.storeProperties.renews == thumbprint }) {
                    throw CertStoreError(.refused, "the pending request \(pending.thumbprint) renews \(thumbprint) already",
                                         hint: "give its request to the CA and `certstore complete` what it issues; or cancel it with `certstore remove \(pending.thumbprint) --store \(requests)` and renew again")
                }
                guard try store.entry(thumbprint, in: my) != nil else {
                    throw CertStoreError.notFound("the certificate with thumbprint \(thumbprint) was removed meanwhile")
                }
            })
        return OperationOutcome(value: Result(renewed: thumbprint, selfSigned: nil, request: outcome.value),
                                serviceChanges: outcome.serviceChanges, serviceFailure: outcome.serviceFailure,
                                connectorChanges: outcome.connectorChanges, hooks: outcome.hooks)
    }

    /// The new self-signed certificate is judged before the lock (TLS stack, handover obstacles under it), then
    /// written and handed over to under the same lock.
    private func renewSelfSigned(_ old: StoreEntry, dnsNames: [String], key: PrivateKey, spec: KeySpec, properties: StoreProperties,
                                 options: Options) throws -> OperationOutcome<Result> {
        let now = options.now
        // Never valid for less than the old one: a renewal that expires earlier would be refused.
        let notAfter = max(now.addingTimeInterval(Enrollment.selfSignedValidity), old.properties.notAfter ?? now)
        let certificate = try Certificate.selfSigned(subject: old.properties.subject, dnsNames: dnsNames, key: key,
                                                     notBefore: now, notAfter: notAfter)
        let my = store.path(of: .my)
        let new = StoreEntry(store: my, properties: certificate.properties(), storeProperties: properties, keyStatus: .present,
                             source: CertificateSource(parsed: certificate, folder: store.directory(of: my).path))
        let tls = TLSServerCheck.evaluate(certificate: certificate, key: key, chain: [], securityLevel: options.securityLevel)
        let handover = Handover(store: store, securityLevel: options.securityLevel)
        return try store.perform(now: now) {
            let current = try store.requireEntry(old.thumbprint, in: my)
            let plan = try handover.plan(from: current, to: new, newTLS: tls, options: Handover.Options(force: options.force, now: now))
            try Handover.refuseIfBlocked(plan)
            let batch = WriteBatch(anchor: store.directory)
            if !options.reuseKey { try store.writeKey(key, batch: batch) }
            try store.writeCertificate(certificate, properties: properties, in: my, batch: batch)
            try batch.commit()
            try handover.commit(plan, old: current, new: new)
            return Result(renewed: old.thumbprint,
                          selfSigned: SelfSignedRenewal(thumbprint: certificate.thumbprint, subject: new.properties.subjectString,
                                                        dnsNames: dnsNames, keySpec: spec, notAfter: new.properties.notAfter, handover: plan),
                          request: nil)
        }
    }

    /// The key type a certificate's key is, when it is one `request` makes.
    static func keySpec(of properties: CertificateProperties) -> KeySpec? {
        switch (properties.keyAlgorithm.uppercased(), properties.publicKeySize) {
        case ("RSA", 2048): .rsa2048
        case ("RSA", 3072): .rsa3072
        case ("RSA", 4096): .rsa4096
        case ("EC", 256): .ecP256
        case ("EC", 384): .ecP384
        default: nil
        }
    }
}
