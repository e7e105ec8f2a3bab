import Foundation

/// `enable` and `disable`: binding services to certificates in `My`, with Exchange's validation and its
/// default-SMTP-certificate question.
public struct BindingManager: Sendable {
    /// Exchange's confirmation, verbatim, with both certificates and their expiry.
    public struct OverwriteQuestion: Sendable {
        public let current: Thumbprint
        public let currentNotAfter: Date?
        public let replacement: Thumbprint
        public let replacementNotAfter: Date?

        public var text: String {
            func expiry(_ date: Date?) -> String { date.map { $0.formatted(.iso8601) } ?? "unknown" }
            return """
                Confirm
                Overwrite the existing default SMTP certificate?

                Current certificate: '\(current)' (expires \(expiry(currentNotAfter)))
                Replace it with certificate: '\(replacement)' (expires \(expiry(replacementNotAfter)))
                """
        }
    }

    /// How the overwrite question is answered.
    public enum OverwriteAnswer: Sendable {
        case overwrite
        case keep
        /// Ask; nil means no answer could be had (no terminal, nothing piped).
        case ask(@Sendable (OverwriteQuestion) -> Bool?)
    }

    public struct EnableResult: Sendable {
        public let thumbprint: Thumbprint
        public let newlyBound: [ExchangeService]
        public let alreadyBound: [ExchangeService]
        /// The default SMTP certificate before and after.
        public let previousDefault: Thumbprint?
        public let newDefault: Thumbprint?
        public let warnings: [String]
        public var defaultChanged: Bool { previousDefault != newDefault }
    }

    public struct DisableResult: Sendable {
        public let thumbprint: Thumbprint
        public let unbound: [ExchangeService]
        public let previousDefault: Thumbprint?
        public let newDefault: Thumbprint?
        public let warnings: [String]
    }

    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    public var personal: StorePath { store.path(of: .my) }

    public func bindings() throws -> ServiceBindings { try store.read(ServiceBindings.self) }

    /// Binds `services` to a certificate of `My`: one operation (see `OperationOutcome`). The default-SMTP
    /// question is asked before the lock is taken (an open prompt must not block other writers), and the
    /// answer is re-checked under it.
    ///
    /// After Exchange's checks, the TLS stack decides (``TLSUsabilityJudge``): a certificate OpenSSL refuses to
    /// serve at `securityLevel` (the system's when nil) — a key too small, a SHA-1 signature, a key usage that
    /// rules out a TLS server — is refused, with the reason and the level.
    public func enable(_ thumbprint: Thumbprint, services: [ExchangeService], answer: OverwriteAnswer,
                       serviceUser: String? = nil, securityLevel: Int? = nil, now: Date = Date()) throws -> OperationOutcome<EnableResult> {
        try Self.checkServiceUser(serviceUser)
        let entry = try store.requireEntry(thumbprint, in: personal)
        let tls = TLSUsabilityJudge(store: store, securityLevel: securityLevel).verdict(for: entry)
        let prepared = try prepare(entry, tls: tls, services: services, answer: answer, serviceUser: serviceUser, now: now)
        return try store.perform(now: now) {
            guard try store.entry(thumbprint, in: personal) != nil else {
                throw CertStoreError.notFound("the certificate with thumbprint \(thumbprint) was removed meanwhile")
            }
            return try bind(prepared)
        }
    }

    /// What `enable` checked and asked before taking the lock, applied under it by `bind`.
    struct PreparedBinding: Sendable {
        let thumbprint: Thumbprint
        let services: [ExchangeService]
        /// The answer to the default-SMTP question (false when it was not asked).
        let overwrite: Bool
        /// The default SMTP certificate the question was asked about, re-checked under the lock.
        let askedDefault: Thumbprint?
        let serviceUser: String?
        let warnings: [String]
    }

    static func checkServiceUser(_ serviceUser: String?) throws {
        if let serviceUser, !serviceUser.isEmpty, ServiceFiles.account(serviceUser) == nil {
            throw CertStoreError(.usage, "there is no account \"\(serviceUser)\" on this machine",
                                 hint: "name the account the daemon runs as (postfix, dovecot, www-data)")
        }
    }

    /// Exchange's checks, the TLS stack's verdict `tls`, the warnings, and the default-SMTP question: everything
    /// `enable` does before the lock, for `entry` (in the store, or about to be written by the same operation:
    /// `request --self-signed --services`). Throws the refusal; asks the question when `answer` says so.
    func prepare(_ entry: StoreEntry, tls: TLSUsability, services: [ExchangeService], answer: OverwriteAnswer,
                 serviceUser: String?, now: Date) throws -> PreparedBinding {
        let validity = ExchangeCertificateValidity.evaluate(entry)
        guard validity == .valid else { throw validity.error(thumbprint: entry.thumbprint) }
        if let problem = tls.problem {
            throw CertStoreError(.refused,
                "The certificate with thumbprint \(entry.thumbprint) cannot serve TLS on this machine: \(problem) (OpenSSL security level \(tls.securityLevel)\(tls.detail.map { ": \($0)" } ?? ""))",
                hint: "a daemon using this certificate would fail to start TLS; bind a certificate the TLS stack accepts (`certstore list --property Thumbprint,Subject,TlsUsable,TlsProblem`), or pass --security-level N if the daemons are configured to run at a lower level")
        }
        let warnings = Self.warnings(for: entry, services: services, now: now)

        // Ask before taking the lock (an open prompt must not block other writers), then re-check under it.
        let before = try bindings()
        var overwrite = false
        var asked: Thumbprint? = nil
        if services.contains(.smtp), let current = before.defaultSmtpCertificate, current != entry.thumbprint {
            switch answer {
            case .overwrite: overwrite = true
            case .keep: overwrite = false
            case .ask(let ask):
                let currentEntry = try? store.entry(current, in: personal)
                let question = OverwriteQuestion(current: current, currentNotAfter: currentEntry?.properties.notAfter,
                                                 replacement: entry.thumbprint, replacementNotAfter: entry.properties.notAfter)
                guard let reply = ask(question) else {
                    throw CertStoreError(.usage, "no answer to \"Overwrite the existing default SMTP certificate?\": nothing was changed",
                                         hint: "answer on a terminal or on standard input, or pass --overwrite-default (Yes) or --keep-default (No)")
                }
                overwrite = reply
            }
            asked = current
        }
        return PreparedBinding(thumbprint: entry.thumbprint, services: services, overwrite: overwrite, askedDefault: asked,
                               serviceUser: serviceUser, warnings: warnings)
    }

    /// Writes the bindings `prepared` describes. The caller holds the lock, inside `perform`.
    func bind(_ prepared: PreparedBinding) throws -> EnableResult {
        var bindings = try store.read(ServiceBindings.self)
        if let asked = prepared.askedDefault, bindings.defaultSmtpCertificate != asked {
            // A refusal (2), not "store busy" (75): the store was free, the answer no longer fits it.
            throw CertStoreError(.refused, "the default SMTP certificate changed while the question was open; nothing was changed",
                                 hint: "run the command again")
        }
        let thumbprint = prepared.thumbprint
        let services = prepared.services
        let previousDefault = bindings.defaultSmtpCertificate
        var newly: [ExchangeService] = []
        var already: [ExchangeService] = []
        for service in services {
            if bindings.thumbprints(for: service).contains(thumbprint) { already.append(service) } else { newly.append(service) }
            bindings.bind(thumbprint, to: service)
        }
        if services.contains(.smtp) && (bindings.defaultSmtpCertificate == nil || prepared.overwrite) {
            bindings.defaultSmtpCertificate = thumbprint
        }
        if let serviceUser = prepared.serviceUser {
            // An empty name clears the account: the key file goes back to the store's owner.
            for service in services { bindings.serviceUsers[service] = serviceUser.isEmpty ? nil : serviceUser }
        }
        try store.write(bindings)
        return EnableResult(thumbprint: thumbprint, newlyBound: newly, alreadyBound: already,
                            previousDefault: previousDefault, newDefault: bindings.defaultSmtpCertificate, warnings: prepared.warnings)
    }

    /// Unbinds `services` (all of the certificate's when nil). The default SMTP certificate is not left
    /// unset while other SMTP certificates exist, unless `newDefault` names which becomes default.
    /// One operation (see `OperationOutcome`); a refusal changes nothing and brings nothing in line.
    public func disable(_ thumbprint: Thumbprint, services: [ExchangeService]?, newDefault: Thumbprint?,
                        now: Date = Date()) throws -> OperationOutcome<DisableResult> {
        try store.perform(now: now) {
            var bindings = try store.read(ServiceBindings.self)
            let bound = bindings.services(of: thumbprint)
            guard !bound.isEmpty else {
                if try store.entry(thumbprint, in: personal) == nil {
                    throw CertStoreError.notFound("the certificate with thumbprint \(thumbprint) is not bound and not in \(personal)")
                }
                throw CertStoreError.notFound("the certificate with thumbprint \(thumbprint) is not bound to any service",
                                              hint: "`certstore bindings` shows what is bound")
            }
            let targets = (services ?? Array(bound)).filter(bound.contains).sorted()
            guard !targets.isEmpty else {
                throw CertStoreError.notFound("the certificate with thumbprint \(thumbprint) is not bound to \(services!.map(\.rawValue).joined(separator: ","))",
                                              hint: "it is bound to \(bound.sorted().map(\.rawValue).joined(separator: ","))")
            }
            var warnings: [String] = []
            let previousDefault = bindings.defaultSmtpCertificate
            if targets.contains(.smtp) && bindings.defaultSmtpCertificate == thumbprint {
                let others = bindings.thumbprints(for: .smtp).filter { $0 != thumbprint }
                if let newDefault {
                    guard others.contains(newDefault) else {
                        throw CertStoreError(.refused, "\(newDefault) is not bound to SMTP, so it cannot become the default SMTP certificate",
                                             hint: "bind it first: certstore enable \(newDefault) --services SMTP")
                    }
                    bindings.defaultSmtpCertificate = newDefault
                } else if !others.isEmpty {
                    throw CertStoreError(.refused, "\(thumbprint) is the default SMTP certificate; unbinding it would leave SMTP without a default while \(others.count) other SMTP certificate(s) are bound",
                                         hint: "say which becomes the default: --new-default \(others[0])")
                } else {
                    bindings.defaultSmtpCertificate = nil
                    warnings.append("SMTP has no certificate now: STARTTLS and outbound TLS will have nothing to present")
                }
            }
            for service in targets { bindings.unbind(thumbprint, from: service) }
            try store.write(bindings)
            return DisableResult(thumbprint: thumbprint, unbound: targets, previousDefault: previousDefault,
                                 newDefault: bindings.defaultSmtpCertificate, warnings: warnings)
        }
    }

    /// What Exchange warns about but does not refuse: expiry, self-signed, wildcard names on POP/IMAP.
    static func warnings(for entry: StoreEntry, services: [ExchangeService], now: Date) -> [String] {
        let p = entry.properties
        var warnings: [String] = []
        if let notAfter = p.notAfter, notAfter < now {
            warnings.append("the certificate expired on \(notAfter.formatted(.iso8601)); clients will reject it")
        } else if let notBefore = p.notBefore, notBefore > now {
            warnings.append("the certificate is not valid before \(notBefore.formatted(.iso8601))")
        }
        if p.isSelfSigned { warnings.append("the certificate is self-signed: external servers and clients will not trust it") }
        if services.contains(where: { $0 == .pop || $0 == .imap }), p.subject.commonName?.hasPrefix("*") == true {
            warnings.append("This certificate with thumbprint \(entry.thumbprint) and subject '\(p.subject.commonName!)' cannot used for POP/IMAP SSL/TLS connections because the subject is not a Fully Qualified Domain Name (FQDN).")
        }
        return warnings
    }
}
