import Foundation

/// `audit`: checks a whole location before mail stops — connectors, the default SMTP certificate, bound
/// certificates, chains, keyless leftovers, orphan keys, dependencies and the files themselves.
public struct Auditor: Sendable {
    public struct Thresholds: Sendable {
        /// Fewer days left than this on a bound certificate: WARNING (HealthChecker: 60).
        public var warningDays: Int = 60
        /// Fewer days left than this: CRITICAL (HealthChecker: 30).
        public var criticalDays: Int = 30
        /// A pending request in `REQUEST` older than this many days: WARNING (`--stale-request-days`).
        public var staleRequestDays: Int = 30
        public init() {}
    }

    public let store: StoreLocation
    public var thresholds = Thresholds()
    public var now = Date()
    /// How fix commands start (`certstore`; the CLI adds `--root DIR` when the root was named), so every
    /// suggested command acts on the store that was audited when pasted.
    public var commandPrefix = "certstore"
    /// The OpenSSL security level the daemons run at, for judging whether the TLS stack serves a certificate
    /// (``TLSUsabilityJudge``); nil means the system's.
    public var securityLevel: Int? = nil
    /// Live endpoints to connect to (`audit --probe`): what each presents is compared with what its service is
    /// bound to. Nil: the wire is not looked at.
    public var probeTargets: [Prober.Target]? = nil
    /// The deadline of each probe, in seconds.
    public var probeTimeout: Double = 10

    public init(store: StoreLocation) { self.store = store }

    public func run() throws -> AuditReport {
        var report = AuditReport(location: store.location, checkedAt: now, findings: [], certificates: [], connectors: [])
        var directory = stat()
        guard stat(store.directory.path, &directory) == 0 else {
            report.findings.append(Finding(.unknown, check: "location-missing", object: store.directory.path,
                                           title: "no store location at \(store.directory.path)",
                                           detail: "nothing can be audited: the location directory does not exist or cannot be read; point --root (or CERTSTORE_ROOT) at the store root"))
            return report
        }
        // A location someone else can write is not read at all: what it holds could have been planted.
        let trust = store.trustFindings()
        report.findings += trust.store + trust.index
        if !trust.store.isEmpty {
            report.findings.sort { $0.severity != $1.severity ? $0.severity > $1.severity : $0.object < $1.object }
            return report
        }
        let my = store.path(of: .my)
        var problems: [StoreProblem] = []
        var stores: [StoreName: [StoreEntry]] = [:]
        for name in StoreName.allCases {
            let (entries, found) = try store.entries(in: my.sibling(name))
            stores[name] = entries
            problems += found
        }
        let personal = stores[.my] ?? []
        let resolver = ConnectorResolver(personal: personal, roots: (stores[.root] ?? []).compactMap { try? $0.loadCertificate() },
                                         intermediates: (stores[.ca] ?? []).compactMap { try? $0.loadCertificate() }, now: now)
        var bindings = ServiceBindings()
        var connectors = SendConnectors()
        var dependencies = Dependencies()
        readDocument(&bindings, into: &report)
        readDocument(&connectors, into: &report)
        readDocument(&dependencies, into: &report)

        let context = Context(personal: personal, all: stores.values.flatMap { $0 }, bindings: bindings, resolver: resolver,
                              thresholds: thresholds, now: now, tls: TLSUsabilityJudge(store: store, securityLevel: securityLevel))
        var checkedExpiry = Set<Thumbprint>()
        checkConnectors(connectors, context: context, checkedExpiry: &checkedExpiry, report: &report)
        checkDefaultSmtp(context: context, connectorsExist: !connectors.sendConnectors.isEmpty, report: &report)
        checkBound(context: context, checkedExpiry: &checkedExpiry, report: &report)
        checkKeyless(connectors: connectors, dependencies: dependencies, context: context, report: &report)
        checkKeylessImports(connectors: connectors, dependencies: dependencies, context: context, report: &report)
        checkPendingRequests(stores[.request] ?? [], context: context, report: &report)
        checkUnbound(connectors: connectors, dependencies: dependencies, context: context, report: &report)
        checkDependencies(dependencies, context: context, report: &report)
        checkFiles(problems: problems, context: context, report: &report)
        checkServiceFiles(context: context, report: &report)
        checkConnectorFiles(connectors, context: context, report: &report)
        checkLifecycle(connectors: connectors, context: context, report: &report)
        if let probeTargets { checkProbes(probeTargets, context: context, report: &report) }

        for entry in stores.values.flatMap({ $0 }) {
            report.certificates.append(.init(store: entry.store, thumbprint: entry.thumbprint,
                                             subject: entry.properties.subjectString, notAfter: entry.properties.notAfter,
                                             hasPrivateKey: entry.hasPrivateKey,
                                             services: bindings.services(of: entry.thumbprint).sorted().map(\.rawValue),
                                             isDefaultSmtpCertificate: entry.store.name == .my && bindings.defaultSmtpCertificate == entry.thumbprint))
        }
        report.certificates.sort { ($0.store.description, $0.thumbprint) < ($1.store.description, $1.thumbprint) }
        if commandPrefix != "certstore" {
            report.findings = report.findings.map { finding in
                Finding(finding.severity, check: finding.check, object: finding.object, title: finding.title, detail: finding.detail,
                        fix: finding.fix.map { $0.hasPrefix("certstore ") ? commandPrefix + $0.dropFirst("certstore".count) : $0 })
            }
        }
        report.findings.sort { $0.severity != $1.severity ? $0.severity > $1.severity : $0.object < $1.object }
        return report
    }

    struct Context {
        let personal: [StoreEntry]
        let all: [StoreEntry]
        let bindings: ServiceBindings
        let resolver: ConnectorResolver
        let thresholds: Thresholds
        let now: Date
        let tls: TLSUsabilityJudge

        /// Whether the TLS stack serves it (asked last in candidate filters: it costs a handshake).
        func servesTLS(_ entry: StoreEntry) -> Bool { tls.verdict(for: entry).isUsable }

        func entry(_ thumbprint: Thumbprint) -> StoreEntry? { personal.first { $0.thumbprint == thumbprint } }

        /// A certificate of `My` that can serve SMTP now (usable key, valid for Exchange, time-valid): bound to
        /// SMTP first, then the newest.
        func smtpCandidate(excluding excluded: Thumbprint? = nil) -> StoreEntry? {
            let usable = personal.filter {
                $0.thumbprint != excluded && $0.hasPrivateKey && ExchangeCertificateValidity.evaluate($0) == .valid && $0.properties.isTimeValid(at: now)
                    && servesTLS($0)
            }
            let smtp = Set(bindings.thumbprints(for: .smtp))
            return usable.max { a, b in
                let (x, y) = (smtp.contains(a.thumbprint) ? 1 : 0, smtp.contains(b.thumbprint) ? 1 : 0)
                return x != y ? x < y : (a.properties.notBefore ?? .distantPast) < (b.properties.notBefore ?? .distantPast)
            }
        }

        /// The renewal of `entry` already in `My`: same subject and issuer, a usable key, time-valid, valid for
        /// Exchange, expiring later. The newest such.
        func renewal(of entry: StoreEntry) -> StoreEntry? {
            let subject = DistinguishedName.normalize(entry.properties.subjectString), issuer = DistinguishedName.normalize(entry.properties.issuerString)
            return personal.filter {
                $0.thumbprint != entry.thumbprint && !$0.storeProperties.archived && $0.hasPrivateKey && $0.properties.isTimeValid(at: now)
                    && ExchangeCertificateValidity.evaluate($0) == .valid
                    && DistinguishedName.normalize($0.properties.subjectString) == subject && DistinguishedName.normalize($0.properties.issuerString) == issuer
                    && ($0.properties.notAfter ?? .distantPast) > (entry.properties.notAfter ?? .distantPast)
                    && servesTLS($0)
            }.max { ($0.properties.notAfter ?? .distantPast) < ($1.properties.notAfter ?? .distantPast) }
        }

        /// `enable` for SMTP with the right answer to the default question: keep a default that works; take
        /// over one that has no usable key or is gone; none needed when there is no default yet.
        func enableForSMTP(_ entry: StoreEntry) -> String {
            guard let current = bindings.defaultSmtpCertificate, current != entry.thumbprint else {
                return "certstore enable \(entry.thumbprint) --services SMTP"
            }
            let works = self.entry(current).map { $0.hasPrivateKey && $0.properties.isTimeValid(at: now) } ?? false
            return "certstore enable \(entry.thumbprint) --services SMTP " + (works ? "--keep-default" : "--overwrite-default")
        }

        /// The commands by which `renewal` takes every binding of `entry` over: the same services (and the
        /// default SMTP role when `entry` had it), then `entry` is unbound. Empty when `entry` is bound to nothing.
        func takeOver(from entry: StoreEntry, by renewal: StoreEntry) -> [String] {
            let services = bindings.services(of: entry.thumbprint).sorted()
            guard !services.isEmpty else { return [] }
            if Auditor.coversNames(of: entry, renewal) { return ["certstore handover \(entry.thumbprint) \(renewal.thumbprint)"] }
            let list = services.map(\.rawValue).joined(separator: ",")
            var commands: [String]
            if services.contains(.smtp) {
                let isDefault = bindings.defaultSmtpCertificate == entry.thumbprint
                commands = ["certstore enable \(renewal.thumbprint) --services \(list) " + (isDefault ? "--overwrite-default" : enableForSMTP(renewal).hasSuffix("--overwrite-default") ? "--overwrite-default" : "--keep-default")]
            } else {
                commands = ["certstore enable \(renewal.thumbprint) --services \(list)"]
            }
            commands.append("certstore disable \(entry.thumbprint)")
            return commands
        }
        func name(_ entry: StoreEntry) -> String { "\(entry.thumbprint) (\(entry.properties.subjectString))" }
    }

    /// The newest trash entry of a certificate, when it is there to restore.
    private func trashID(of thumbprint: Thumbprint) -> String? {
        Trash(store: store).readableEntries { $0.contains("Z-\(thumbprint.shortForm)") }
            .filter { $0.thumbprint == thumbprint }.max { ($0.removedAt, $0.id) < ($1.removedAt, $1.id) }?.id
    }

    private func readDocument<D: LocationDocument>(_ document: inout D, into report: inout AuditReport) {
        do {
            document = try store.read(D.self)
        } catch let error as CertStoreError {
            report.findings.append(Finding(.critical, check: "document-unreadable", object: D.fileName, title: "\(D.fileName) cannot be read",
                                           detail: error.message + "; restore \(store.documentURL(D.self).path) from a backup"))
        } catch {
            report.findings.append(Finding(.critical, check: "document-unreadable", object: D.fileName, title: "\(D.fileName) cannot be read", detail: "\(error)"))
        }
    }

    // MARK: connectors

    private func checkConnectors(_ connectors: SendConnectors, context: Context, checkedExpiry: inout Set<Thumbprint>, report: inout AuditReport) {
        for connector in connectors.sendConnectors {
            let object = "connector:\(connector.name)"
            let selection = context.resolver.resolve(connector)
            // The one verdict `connector resolve` and every operation's report use too.
            let verdict = ConnectorVerdict(connector: connector, selection: selection, bindings: context.bindings)
            report.connectors.append(.init(name: connector.name, status: selection.status, thumbprint: selection.chosen?.thumbprint,
                                           usable: verdict.works, keylessTwin: selection.hasKeylessTwin, outcome: verdict.outcome))
            let label = "send connector \"\(connector.name)\""
            let setName = "certstore connector set \(ShellQuote.quote(connector.name))"
            let keyed = selection.twins.filter(\.hasPrivateKey)
            // Certificates in My that would do: a usable key, enabled for SMTP (newest first).
            let smtpReady = context.personal.filter { $0.hasPrivateKey && context.bindings.thumbprints(for: .smtp).contains($0.thumbprint) }
                .sorted { ($0.properties.notBefore ?? .distantPast) > ($1.properties.notBefore ?? .distantPast) }
            switch verdict.outcome {
            case .syntaxInvalid:
                report.findings.append(Finding(.critical, check: "connector-syntax-invalid", object: object,
                    title: "\(label): TlsCertificateNameSyntaxInvalid",
                    detail: "\(selection.syntaxError ?? "invalid TLSCertificateName"); outbound TLS has no certificate to present",
                    fix: smtpReady.first.map { ["\(setName) --from-certificate \($0.thumbprint)"] } ?? ["\(setName) --clear-tls-certificate-name"]))
                continue
            case .notFound:
                let near = selection.steps.map { "\($0.entry.thumbprint): \($0.verdict)" }.joined(separator: "; ")
                report.findings.append(Finding(.critical, check: "connector-certificate-not-found", object: object,
                    title: "\(label): TlsCertificateNotFound — the configured TLSCertificateName was not found",
                    detail: "no valid certificate in My matches \(connector.tlsCertificateName ?? "?"); mail that requires TLS will queue" + (near.isEmpty ? "" : " (\(near))")
                        + (smtpReady.isEmpty ? "; no certificate with a key is enabled for SMTP either: import the renewed PKCS#12 and enable it for SMTP" : ""),
                    fix: smtpReady.first.map { ["\(setName) --from-certificate \($0.thumbprint)"] } ?? []))
                continue
            case .noCertificate:
                report.findings.append(Finding(.warning, check: "connector-no-certificate", object: object,
                    title: "\(label): no certificate for its FQDN",
                    detail: "without a TLSCertificateName the connector looks for a certificate with a key for \(connector.fqdn ?? context.resolver.hostName); none qualifies, so it presents none",
                    fix: smtpReady.first.map { ["\(setName) --from-certificate \($0.thumbprint)"] } ?? []))
                continue
            case .noCredentials:
                guard let chosen = selection.chosen else { continue }
                var fix: [String] = []
                if let twin = keyed.first {
                    // The twin is enabled first, so no moment passes with nothing usable; then the keyless one
                    // goes (its bindings move to the twin first, or remove would refuse).
                    if context.bindings.services(of: chosen.thumbprint).isEmpty {
                        if !context.bindings.thumbprints(for: .smtp).contains(twin.thumbprint) { fix.append(context.enableForSMTP(twin)) }
                    } else {
                        fix += context.takeOver(from: chosen, by: twin)
                    }
                    fix.append("certstore remove \(chosen.thumbprint)")
                }
                report.findings.append(Finding(.critical, check: "connector-keyless-certificate", object: object,
                    title: "\(label): outbound TLS will fail with NoCredentials (KB 4495258)",
                    detail: "its TLSCertificateName resolves to \(context.name(chosen)), which has no usable private key (\(chosen.keyStatus.rawValue))"
                        + (keyed.isEmpty ? "; no twin with a key is in the store: import the renewed certificate with its key (a PKCS#12), or the lost key file, and the connector picks it up" : "; its renewed twin \(keyed[0].thumbprint) has one and takes over once the keyless certificate is removed"),
                    fix: fix))
                continue
            case .unknownCredentials, .works:
                break
            }
            guard let chosen = selection.chosen else { continue }
            if selection.hasKeylessTwin {
                let keyless = selection.twins.filter { !$0.hasPrivateKey }
                report.findings.append(Finding(.warning, check: "connector-keyless-twin", object: object,
                    title: "\(label): a keyless twin makes the choice ambiguous",
                    detail: "\(keyless.map(\.thumbprint.value).joined(separator: ", ")) share\(keyless.count == 1 ? "s" : "") issuer and subject with the chosen \(chosen.thumbprint) but \(keyless.count == 1 ? "has" : "have") no private key; which one Exchange-style selection takes depends on store order",
                    fix: keyless.map { "certstore remove \($0.thumbprint)" }))
            }
            if verdict.outcome == .unknownCredentials {
                report.findings.append(Finding(.critical, check: "connector-certificate-not-smtp", object: object,
                    title: "\(label): outbound TLS will fail with UnknownCredentials (KB 4051498)",
                    detail: "it resolves to \(context.name(chosen)), which has a key but is not enabled for SMTP",
                    fix: [context.enableForSMTP(chosen)]))
            }
            if chosen.properties.isSelfSigned {
                report.findings.append(Finding(.warning, check: "connector-self-signed", object: object,
                    title: "\(label) presents a self-signed certificate",
                    detail: "\(context.name(chosen)) is self-signed; receiving servers that validate certificates (Office 365, DANE, MTA-STS) reject it",
                    fix: []))
            }
            checkExpiry(chosen, role: label, context: context, checked: &checkedExpiry, report: &report)
            let tls = context.tls.verdict(for: chosen)
            if let problem = tls.problem {
                let fix = context.renewal(of: chosen).map { renewal in
                    context.bindings.thumbprints(for: .smtp).contains(renewal.thumbprint) ? [] : [context.enableForSMTP(renewal)]
                } ?? []
                report.findings.append(Finding(.critical, check: "connector-tls-unusable", object: object,
                    title: "\(label): outbound TLS fails — the TLS stack refuses its certificate",
                    detail: "it resolves to \(context.name(chosen)): \(problem) (OpenSSL security level \(tls.securityLevel)\(tls.detail.map { ": \($0)" } ?? ""))"
                        + (fix.isEmpty ? "; import a certificate the stack accepts (RSA ≥ 2048 bits or ECDSA, SHA-256) and point the connector at it" : ""),
                    fix: fix))
            } else if verdict.severity == .ok {
                report.findings.append(Finding(.ok, check: "connector-ok", object: object, title: "\(label) presents \(chosen.thumbprint)",
                                               detail: "TlsCertificateMatch; the certificate has a usable private key"))
            }
        }
    }

    // MARK: default SMTP certificate and bound certificates

    private func checkDefaultSmtp(context: Context, connectorsExist: Bool, report: inout AuditReport) {
        guard let thumbprint = context.bindings.defaultSmtpCertificate else {
            if connectorsExist || !context.bindings.thumbprints(for: .smtp).isEmpty {
                report.findings.append(Finding(.warning, check: "default-smtp-missing", object: "location",
                    title: "No Internal Transport Certificate found. This may cause several problems.",
                    detail: "no default SMTP certificate is set: STARTTLS and anonymous TLS between servers have nothing to present",
                    fix: context.smtpCandidate().map { ["certstore enable \($0.thumbprint) --services SMTP --overwrite-default"] } ?? []))
            }
            return
        }
        guard let entry = context.entry(thumbprint) else {
            report.findings.append(Finding(.critical, check: "default-smtp-not-in-store", object: thumbprint.value,
                title: "the default SMTP certificate \(thumbprint) is not in LocalMachine/My",
                detail: "transport cannot load its internal certificate (Exchange event 12013)",
                fix: trashID(of: thumbprint).map { ["certstore restore \($0)"] }
                    ?? context.smtpCandidate(excluding: thumbprint).map { ["certstore enable \($0.thumbprint) --services SMTP --overwrite-default"] } ?? []))
            return
        }
        if !entry.hasPrivateKey {
            report.findings.append(Finding(.critical, check: "default-smtp-keyless", object: thumbprint.value,
                title: "the default SMTP certificate has no usable private key",
                detail: "\(context.name(entry)): \(entry.keyStatus.rawValue)" + (context.renewal(of: entry) == nil ? "; import its key (certstore import KEYFILE re-links it) or the renewed PKCS#12" : ""),
                fix: context.renewal(of: entry).map { context.takeOver(from: entry, by: $0) } ?? []))
        }
        if entry.hasPrivateKey, entry.properties.isTimeValid(at: context.now) {
            report.findings.append(Finding(.ok, check: "default-smtp-ok", object: thumbprint.value,
                title: "the default SMTP certificate \(thumbprint) has a usable key and is time-valid",
                detail: context.name(entry)))
        }
        if let notAfter = entry.properties.notAfter, notAfter < context.now {
            report.findings.append(Finding(.critical, check: "default-smtp-expired", object: thumbprint.value,
                title: "Internal Transport Certificate has expired",
                detail: "\(context.name(entry)) expired on \(notAfter.formatted(.iso8601))" + (context.renewal(of: entry) == nil ? "; import the renewed certificate with its key (a PKCS#12) and enable it for SMTP" : ""),
                fix: context.renewal(of: entry).map { context.takeOver(from: entry, by: $0) } ?? []))
        }
    }

    private func checkBound(context: Context, checkedExpiry: inout Set<Thumbprint>, report: inout AuditReport) {
        for thumbprint in context.bindings.allBoundThumbprints.sorted() {
            let findingsBefore = report.findings.count
            defer {
                // Nothing wrong with it: say what was checked and passed.
                if report.findings.count == findingsBefore, let entry = context.entry(thumbprint) {
                    let services = context.bindings.services(of: thumbprint).sorted().map(\.rawValue).joined(separator: ", ")
                    report.findings.append(Finding(.ok, check: "bound-ok", object: thumbprint.value,
                        title: "\(services): \(thumbprint) is usable",
                        detail: "\(context.name(entry)): usable private key, time-valid until \(entry.properties.notAfter?.formatted(.iso8601) ?? "?"), Server Authentication, chain builds, OpenSSL serves it at security level \(context.tls.effectiveSecurityLevel)"))
                }
            }
            let services = context.bindings.services(of: thumbprint).sorted().map(\.rawValue).joined(separator: ", ")
            let role = "bound to \(services)"
            guard let entry = context.entry(thumbprint) else {
                report.findings.append(Finding(.critical, check: "bound-not-in-store", object: thumbprint.value,
                    title: "'\(thumbprint)' Doesn't exist on the server and this will cause problems.",
                    detail: "it is \(role) but not in LocalMachine/My",
                    fix: trashID(of: thumbprint).map { ["certstore restore \($0)"] } ?? (thumbprint == context.bindings.defaultSmtpCertificate ? [] : ["certstore disable \(thumbprint)"])))
                continue
            }
            let p = entry.properties
            switch entry.keyStatus {
            case .present: break
            case .missing:
                report.findings.append(Finding(.critical, check: "bound-keyless", object: thumbprint.value,
                    title: "a certificate \(role) has no private key (PrivateKeyMissing)",
                    detail: "\(context.name(entry)): the services cannot complete a TLS handshake with it" + (context.renewal(of: entry) == nil ? "; import its key (certstore import KEYFILE re-links it) or the renewed PKCS#12" : ""),
                    fix: context.renewal(of: entry).map { context.takeOver(from: entry, by: $0) } ?? []))
            case .unreadable, .mismatched, .inconsistent:
                report.findings.append(Finding(.critical, check: "bound-key-unusable", object: thumbprint.value,
                    title: "a certificate \(role) has an unusable private key (\(entry.keyStatus.rawValue))",
                    detail: "\(context.name(entry)): its key file \(store.keyURL(p.publicKeyIdentifier).path) cannot be used; importing the right key re-links it",
                    fix: context.renewal(of: entry).map { context.takeOver(from: entry, by: $0) } ?? []))
            }
            checkExpiry(entry, role: role, context: context, checked: &checkedExpiry, report: &report)
            if let notBefore = p.notBefore, notBefore > context.now {
                report.findings.append(Finding(.critical, check: "bound-not-yet-valid", object: thumbprint.value,
                    title: "a certificate \(role) is not valid yet", detail: "\(context.name(entry)) is valid from \(notBefore.formatted(.iso8601))"))
            }
            if !p.allowsServerAuthentication {
                report.findings.append(Finding(.warning, check: "bound-no-server-auth", object: thumbprint.value,
                    title: "a certificate \(role) lacks Server Authentication in its Enhanced Key Usage",
                    detail: "\(context.name(entry)): TLS clients that check EKU reject it; bind a certificate issued for Server Authentication instead"))
            }
            // What the TLS stack itself refuses is CRITICAL; HealthChecker's recommendations stay warnings for what
            // it still serves.
            let tls = entry.hasPrivateKey ? context.tls.verdict(for: entry) : nil
            if let tls, let problem = tls.problem {
                report.findings.append(Finding(.critical, check: "bound-tls-unusable", object: thumbprint.value,
                    title: "a certificate \(role) cannot serve TLS: the TLS stack refuses it",
                    detail: "\(context.name(entry)): \(problem) (OpenSSL security level \(tls.securityLevel)\(tls.detail.map { ": \($0)" } ?? "")); the daemon fails to start TLS with it"
                        + (context.renewal(of: entry) == nil ? "; import a certificate the stack accepts (RSA ≥ 2048 bits or ECDSA, SHA-256) and bind it" : ""),
                    fix: context.renewal(of: entry).map { context.takeOver(from: entry, by: $0) } ?? []))
            }
            let refusedByStack = tls?.isUsable == false
            if !refusedByStack, ["RSA", "RSA-PSS", "DSA"].contains(p.keyAlgorithm.uppercased()) && p.publicKeySize < 2048 {
                report.findings.append(Finding(.warning, check: "bound-small-key", object: thumbprint.value,
                    title: "It's recommended to use a key size of at least 2048 bit",
                    detail: "\(context.name(entry)) is \(role) with a \(p.publicKeySize)-bit \(p.keyAlgorithm) key"))
            }
            if !refusedByStack, let hash = p.signatureHash, ["sha1", "md5", "md2", "md4"].contains(hash) {
                report.findings.append(Finding(.warning, check: "bound-weak-signature", object: thumbprint.value,
                    title: "It's recommended to use a hash algorithm from the SHA-2 family",
                    detail: "\(context.name(entry)) is \(role) and signed with \(p.signatureAlgorithm)"))
            }
            let chain = context.resolver.chainResult(for: entry)
            if !p.isSelfSigned, chain.outcome == .untrusted || chain.outcome == .invalid {
                report.findings.append(Finding(.warning, check: "bound-chain", object: thumbprint.value,
                    title: "the chain of a certificate \(role) does not build from LocalMachine/CA and Root",
                    detail: "\(context.name(entry)): \(chain.errorText); import its issuing CA certificate (it goes to LocalMachine/CA) and, if the root is missing, the root with --store LocalMachine/Root"))
            }
        }
    }

    private func checkExpiry(_ entry: StoreEntry, role: String, context: Context, checked: inout Set<Thumbprint>, report: inout AuditReport) {
        guard checked.insert(entry.thumbprint).inserted, let notAfter = entry.properties.notAfter else { return }
        let days = Int((notAfter.timeIntervalSince(context.now) / 86_400).rounded(.down))
        // The renewal already in the store takes over; without one, the detail says what to bring.
        let renewal = context.renewal(of: entry)
        let renew = renewal.map { context.takeOver(from: entry, by: $0) } ?? renewFix(for: entry)
        let bring = renewal == nil ? renewNote(for: entry) : "; its renewal \(renewal!.thumbprint) is in the store"
        if notAfter < context.now {
            report.findings.append(Finding(.critical, check: "certificate-expired", object: entry.thumbprint.value,
                title: "'\(entry.thumbprint)' Has expired and will cause problems.",
                detail: "\(context.name(entry)), \(role), expired on \(notAfter.formatted(.iso8601))" + bring, fix: renew))
        } else if days < context.thresholds.criticalDays {
            report.findings.append(Finding(.critical, check: "certificate-expiring", object: entry.thumbprint.value,
                title: "a certificate \(role) expires in \(days) day\(days == 1 ? "" : "s")",
                detail: "\(context.name(entry)) expires on \(notAfter.formatted(.iso8601)) (CRITICAL under \(context.thresholds.criticalDays) days)" + bring, fix: renew))
        } else if days < context.thresholds.warningDays {
            report.findings.append(Finding(.warning, check: "certificate-expiring", object: entry.thumbprint.value,
                title: "a certificate \(role) expires in \(days) days",
                detail: "\(context.name(entry)) expires on \(notAfter.formatted(.iso8601)) (WARNING under \(context.thresholds.warningDays) days)" + bring, fix: renew))
        }
    }

    // MARK: leftovers, dependencies, files

    private func checkKeyless(connectors: SendConnectors, dependencies: Dependencies, context: Context, report: inout AuditReport) {
        let used = context.bindings.allBoundThumbprints.union(dependencies.dependencies.compactMap(\.thumbprint))
            .union(connectors.sendConnectors.compactMap { context.resolver.resolve($0).chosen?.thumbprint })
        // Those imported keyless on purpose are CRITICAL instead (`checkKeylessImports`).
        for entry in context.personal where entry.keyStatus == .missing && !used.contains(entry.thumbprint) && !Self.isKeylessImport(entry, now: context.now) {
            report.findings.append(Finding(.warning, check: "keyless-unused", object: entry.thumbprint.value,
                title: "a keyless certificate nothing uses is in LocalMachine/My",
                detail: "\(context.name(entry)) has no private key; a connector whose name matches it could pick it (the KB 4495258 trap)",
                fix: ["certstore prune --keyless"]))
        }
        let identifiers = Set(context.all.map(\.properties.publicKeyIdentifier))
        for name in (try? FileSystem.list(store.keysDirectory)) ?? [] where name.hasSuffix(".key") {
            let identifier = String(name.dropLast(4))
            if !identifiers.contains(identifier) {
                let path = store.keysDirectory.appendingPathComponent(name).path
                report.findings.append(Finding(.warning, check: "orphan-key", object: path,
                    title: "a private key belongs to no certificate in the store",
                    detail: "\(path) is a secret no certificate uses (left behind by a removal?); import its certificate if it is coming back, otherwise shred it"))
            }
        }
    }

    /// Every other certificate of `My` with a key, by role: nothing binds it, no connector resolves to it, no
    /// dependency names it — so what is wrong with it is a WARNING (it is not serving yet, but it is what an admin
    /// would bind next): expired, expiring within the critical window, or refused by the TLS stack.
    private func checkUnbound(connectors: SendConnectors, dependencies: Dependencies, context: Context, report: inout AuditReport) {
        let used = context.bindings.allBoundThumbprints.union(dependencies.dependencies.compactMap(\.thumbprint))
            .union(connectors.sendConnectors.compactMap { context.resolver.resolve($0).chosen?.thumbprint })
        for entry in context.personal where entry.hasPrivateKey && !used.contains(entry.thumbprint) && !entry.properties.isCertificateAuthority
            && !entry.storeProperties.archived {
            let p = entry.properties
            if let notAfter = p.notAfter, notAfter < context.now {
                report.findings.append(Finding(.warning, check: "unbound-expired", object: entry.thumbprint.value,
                    title: "an unbound certificate with a key has expired",
                    detail: "\(context.name(entry)) expired on \(notAfter.formatted(.iso8601)); nothing uses it, but binding it would fail clients",
                    fix: ["certstore remove \(entry.thumbprint)"]))
                continue
            }
            if let notAfter = p.notAfter {
                let days = Int((notAfter.timeIntervalSince(context.now) / 86_400).rounded(.down))
                if days < context.thresholds.criticalDays {
                    report.findings.append(Finding(.warning, check: "unbound-expiring", object: entry.thumbprint.value,
                        title: "an unbound certificate with a key expires in \(days) day\(days == 1 ? "" : "s")",
                        detail: "\(context.name(entry)) expires on \(notAfter.formatted(.iso8601)); nothing uses it yet — renew it before binding it"))
                }
            }
            guard ExchangeCertificateValidity.evaluate(entry) == .valid else { continue }
            let tls = context.tls.verdict(for: entry)
            if let problem = tls.problem {
                report.findings.append(Finding(.warning, check: "unbound-tls-unusable", object: entry.thumbprint.value,
                    title: "an unbound certificate cannot serve TLS on this machine",
                    detail: "\(context.name(entry)): \(problem) (OpenSSL security level \(tls.securityLevel)); enable would refuse it"))
            }
        }
    }

    /// Connects to each live endpoint and compares what it presents with what its service is bound to: the
    /// reload that never happened (certbot users' most common complaint) is CRITICAL, as is a presented
    /// certificate that expires sooner than the bound one or soon.
    private func checkProbes(_ targets: [Prober.Target], context: Context, report: inout AuditReport) {
        var prober = Prober(store: store)
        prober.timeout = probeTimeout
        prober.now = now
        let files = ServiceFiles(store: store)
        for target in targets {
            let object = "probe:\(target)"
            let result: Prober.Result
            do {
                result = try prober.probe(target)
            } catch let error as CertStoreError {
                report.findings.append(Finding(.critical, check: "probe-failed", object: object,
                    title: "\(target) could not be probed: the live service did not complete TLS",
                    detail: "\(error.message); clients cannot use \(target.service.rawValue) there either"))
                continue
            } catch {
                report.findings.append(Finding(.critical, check: "probe-failed", object: object, title: "\(target) could not be probed", detail: "\(error)"))
                continue
            }
            let presented = result.leaf
            guard let bound = files.deployedThumbprint(target.service) else {
                report.findings.append(Finding(.warning, check: "probe-unbound", object: object,
                    title: "\(target) presents \(presented.thumbprint), but certstore deploys nothing for \(target.service.rawValue)",
                    detail: "bind the certificate the service should present: certstore enable THUMBPRINT --services \(target.service.rawValue)"))
                continue
            }
            let boundEntry = context.entry(bound)
            if presented.thumbprint != bound {
                let sooner = (presented.notAfter ?? .distantPast) < (boundEntry?.properties.notAfter ?? .distantPast)
                report.findings.append(Finding(.critical, check: "probe-stale", object: object,
                    title: "\(target) presents \(presented.thumbprint), not the bound \(bound): the daemon was not reloaded",
                    detail: "the live service still serves \(presented.subject.windowsString)" + (presented.notAfter.map { " (expires \($0.formatted(.iso8601)))" } ?? "")
                        + (sooner ? ", which expires sooner than the bound certificate" : "")
                        + "; reload the daemon that serves \(target.service.rawValue), and add a reload hook to \(DeployHooks(store: store).directory.path) (examples in dist/hooks/) so the next change takes effect by itself"))
                continue
            }
            if let notAfter = presented.notAfter, notAfter.timeIntervalSince(now) < Double(thresholds.criticalDays) * 86_400 {
                report.findings.append(Finding(.critical, check: "probe-expiring", object: object,
                    title: "\(target) presents a certificate that " + (notAfter < now ? "has expired" : "expires on \(notAfter.formatted(.iso8601))"),
                    detail: "it is the bound \(bound), and it is what clients see now; renew it"))
                continue
            }
            report.findings.append(Finding(.ok, check: "probe-ok", object: object,
                title: "\(target) presents the bound \(bound)",
                detail: "read over \(result.handshake.protocolVersion) (\(result.handshake.cipher))"))
        }
    }

    private func checkDependencies(_ dependencies: Dependencies, context: Context, report: inout AuditReport) {
        for dependency in dependencies.dependencies {
            if let thumbprint = dependency.thumbprint, !context.all.contains(where: { $0.thumbprint == thumbprint }) {
                report.findings.append(Finding(.warning, check: "dependency-missing-certificate", object: thumbprint.value,
                    title: "\"\(dependency.application)\" depends on a certificate that is not in the store",
                    detail: "\(thumbprint) is registered as used by \"\(dependency.application)\" but is in no store of \(store.location)",
                    fix: trashID(of: thumbprint).map { ["certstore restore \($0)"] } ?? ["certstore dependency remove \(ShellQuote.quote(dependency.application)) \(thumbprint)"]))
            }
            if let text = dependency.tlsCertificateName, let name = try? TLSCertificateName(parsing: text) {
                let selection = context.resolver.resolve(name: name)
                if !selection.isUsable {
                    report.findings.append(Finding(.critical, check: "dependency-unusable", object: "dependency:\(dependency.application)",
                        title: "\"\(dependency.application)\" names a certificate that has no usable key",
                        detail: selection.chosen.map { "\(text) resolves to \(context.name($0)) (\($0.keyStatus.rawValue))" } ?? "\(text) resolves to nothing",
                        fix: selection.twins.contains(where: \.hasPrivateKey) ? selection.twins.filter { !$0.hasPrivateKey }.map { "certstore remove \($0.thumbprint)" } : []))
                }
            }
        }
    }

    /// The files daemons read must hold what the bindings say (judged by content, as every operation judges
    /// them), readable by the service's account; a version holding the only copy of a key is named.
    private func checkServiceFiles(context: Context, report: inout AuditReport) {
        let files = ServiceFiles(store: store)
        for service in ExchangeService.bindable {
            let object = "service:\(service.rawValue)"
            let plan: ServiceFiles.Plan
            do {
                plan = try files.plan(service, bindings: context.bindings, resolver: context.resolver, now: now)
            } catch let error as CertStoreError {
                report.findings.append(Finding(.critical, check: "service-files-unbuildable", object: object,
                    title: "\(service.rawValue)'s files cannot be built from the store", detail: error.message, fix: ["certstore deploy"]))
                continue
            } catch {
                continue
            }
            let user = context.bindings.serviceUsers[service]
            for (path, problem) in files.exposedKeys(service, user: user) {
                report.findings.append(Finding(.critical, check: "service-key-exposed", object: path,
                    title: "a deployed \(service.rawValue) private key is open to other users",
                    detail: "\(problem); anyone who can read it can impersonate this server; deploy tightens the live and the kept version",
                    fix: ["certstore deploy"]))
            }
            if let user, plan.deployed != nil, let problem = Self.unreadableKey(files.currentLink(service).appendingPathComponent("privkey.pem").path, user: user) {
                report.findings.append(Finding(.critical, check: "service-key-unreadable", object: object,
                    title: "\(service.rawValue)'s account \(user) cannot read its private key (UnknownCredentials, KB 4051498)",
                    detail: problem, fix: ["certstore deploy"]))
                continue
            }
            switch plan.action {
            case .deploy(let reasons):
                let what = reasons == ["new certificate"]
                    ? "hold \(plan.deployed?.value ?? "nothing"), but its binding says \(plan.chosen?.thumbprint.value ?? "nothing")"
                    : "differ from what the store holds for \(plan.chosen?.thumbprint.value ?? "?") (\(reasons.joined(separator: ", ")))"
                report.findings.append(Finding(.warning, check: "service-files-stale", object: object,
                    title: "\(service.rawValue)'s files \(what)",
                    detail: "the daemon reads \(files.currentLink(service).path); bring it in line (and run the deploy hooks)",
                    fix: ["certstore deploy"]))
                continue
            case .withdraw:
                report.findings.append(Finding(.warning, check: "service-files-stale", object: object,
                    title: "\(service.rawValue)'s files hold \(plan.deployed?.value ?? "a certificate"), but nothing usable is bound to \(service.rawValue)",
                    detail: "the daemon reads \(files.currentLink(service).path); bring it in line (and run the deploy hooks)",
                    fix: ["certstore deploy"]))
                continue
            case .keepOnlyKeyCopy(let keyFile):
                report.findings.append(Finding(.critical, check: "service-key-only-copy", object: object,
                    title: "\(service.rawValue) still works, but only because its files hold the last copy of the private key of \(plan.deployed?.value ?? "its certificate")",
                    detail: "the store has lost that key (the certificate is keyless in LocalMachine/My); \(keyFile) is the only copy left, and certstore keeps it; re-import it so the store has the key again",
                    fix: ["certstore import \(keyFile)"]))
                continue
            case .inLine:
                report.findings.append(Finding(.ok, check: "service-files-ok", object: object,
                    title: "\(service.rawValue)'s files hold \(plan.deployed?.value ?? "?"), as the bindings say",
                    detail: "\(files.currentLink(service).path): certificate, chain and key as the store holds them, key file owner and mode as they should be"))
            case .nothing:
                break
            }
        }
        let live = Set(ExchangeService.bindable.compactMap { service in files.liveVersion(service).map { files.folder(service).appendingPathComponent($0).appendingPathComponent("privkey.pem").path } })
        for copy in files.onlyKeyCopies() where !live.contains(copy.keyFile) {
            report.findings.append(Finding(.warning, check: "service-key-only-copy", object: copy.keyFile,
                title: "an old \(copy.service.rawValue) version holds the only copy of a private key",
                detail: "\(copy.keyFile) holds a key the store no longer has; certstore keeps that version until the key is back in the store",
                fix: ["certstore import \(copy.keyFile)"]))
        }
    }

    /// Each send connector's own files (what its postfix transport reads) against what it resolves to now.
    private func checkConnectorFiles(_ connectors: SendConnectors, context: Context, report: inout AuditReport) {
        let files = ServiceFiles(store: store)
        guard !connectors.sendConnectors.isEmpty || FileSystem.exists(files.connectorsDirectory) else { return }
        let plans: [ServiceFiles.Plan]
        do {
            plans = try files.planConnectors(connectors.sendConnectors, bindings: context.bindings, resolver: context.resolver)
        } catch let error as CertStoreError {
            report.findings.append(Finding(.critical, check: "connector-files-unbuildable", object: "Services/Connectors",
                title: "the send connectors' files cannot be built from the store", detail: error.message, fix: ["certstore deploy"]))
            return
        } catch {
            return
        }
        for plan in plans {
            let name = plan.connector ?? "?"
            let object = "connector-files:\(name)"
            let link = files.folder(of: plan).appendingPathComponent("current").path
            switch plan.action {
            case .deploy(let reasons):
                report.findings.append(Finding(.warning, check: "connector-files-stale", object: object,
                    title: "send connector \"\(name)\"'s files do not hold what it resolves to (\(reasons.joined(separator: ", ")))",
                    detail: "its postfix transport reads \(link); it should present \(plan.verdict.map { $0.summary } ?? "?"); bring it in line (and run the deploy hooks)",
                    fix: ["certstore deploy"]))
            case .withdraw:
                report.findings.append(Finding(.warning, check: "connector-files-stale", object: object,
                    title: "send connector \"\(name)\"'s files are still there, but it " + (plan.verdict == nil ? "is gone" : "has nothing to present"),
                    detail: "\(link); bring it in line (and run the deploy hooks)", fix: ["certstore deploy"]))
            case .inLine:
                report.findings.append(Finding(.ok, check: "connector-files-ok", object: object,
                    title: "send connector \"\(name)\"'s files are in line: it " + (plan.verdict.map { $0.summary } ?? "?"),
                    detail: "\(link): what its postfix transport presents" + (plan.verdict?.works == false ? " — a version that makes outbound TLS fail and mail defer, as on Exchange" : "")))
            case .nothing, .keepOnlyKeyCopy:
                break
            }
        }
    }

    /// Why `user` cannot read `key`, or nil when it can.
    static func unreadableKey(_ key: String, user: String) -> String? {
        guard let account = ServiceFiles.account(user) else { return "there is no account \(user) on this machine" }
        var info = stat()
        guard stat(key, &info) == 0 else { return "\(key) cannot be found" }
        let readable = (info.st_uid == account.uid && info.st_mode & 0o400 != 0) || (info.st_gid == account.gid && info.st_mode & 0o040 != 0)
            || info.st_mode & 0o004 != 0
        return readable ? nil : "\(key) is not readable by \(user)"
    }

    private func checkFiles(problems: [StoreProblem], context: Context, report: inout AuditReport) {
        let findingsBefore = report.findings.count
        defer {
            if report.findings.count == findingsBefore {
                report.findings.append(Finding(.ok, check: "store-files-ok", object: "location",
                    title: "\(context.all.count) certificate file\(context.all.count == 1 ? "" : "s") read, key files and directory private",
                    detail: "every certificate file parses and is named by its SHA-1; no leftover temporary file; the key directory is 700 and its keys 600"))
            }
        }
        for problem in problems {
            report.findings.append(Finding(.critical, check: "store-file-unreadable", object: problem.path,
                title: "a certificate file cannot be read", detail: problem.message,
                fix: ["certstore check"]))
        }
        var folders = [store.directory, store.keysDirectory]
        folders += StoreName.allCases.map { store.directory.appendingPathComponent($0.rawValue) }
        // Debris of interrupted writes is one finding, however many files a killed bulk import left.
        var leftovers: [String] = []
        for folder in folders {
            for name in ((try? FileSystem.list(folder)) ?? []).sorted() where name.hasPrefix(".") && name.contains(".tmp-") {
                leftovers.append(folder.appendingPathComponent(name).path)
            }
        }
        if !leftovers.isEmpty {
            let shown = leftovers.prefix(3).joined(separator: ", ") + (leftovers.count > 3 ? " and \(leftovers.count - 3) more" : "")
            report.findings.append(Finding(.warning, check: "leftover-temporary-file", object: leftovers.count == 1 ? leftovers[0] : store.directory.path,
                title: leftovers.count == 1 ? "a temporary file was left by an interrupted write" : "\(leftovers.count) temporary files were left by interrupted writes",
                detail: "\(shown): debris from writes that never completed (some may hold private keys); the store itself is consistent",
                fix: ["certstore check --repair"]))
        }
        var info = stat()
        if stat(store.keysDirectory.path, &info) == 0, info.st_mode & 0o077 != 0 {
            report.findings.append(Finding(.critical, check: "key-directory-permissions", object: store.keysDirectory.path,
                title: "the key directory is open to other users",
                detail: "\(store.keysDirectory.path) has mode \(String(info.st_mode & 0o777, radix: 8)); it must be 700",
                fix: ["certstore check --repair"]))
        }
        for name in (try? FileSystem.list(store.keysDirectory)) ?? [] where name.hasSuffix(".key") {
            let path = store.keysDirectory.appendingPathComponent(name).path
            if lstat(path, &info) == 0, info.st_mode & 0o077 != 0 {
                report.findings.append(Finding(.critical, check: "key-file-permissions", object: path,
                    title: "a private key file is readable by other users",
                    detail: "\(path) has mode \(String(info.st_mode & 0o777, radix: 8)); it must be 600",
                    fix: ["certstore check --repair"]))
            }
        }
    }

    // MARK: lifecycle (renew, handover)

    /// `renewal` covers every DNS name of `entry`, as `handover` requires.
    static func coversNames(of entry: StoreEntry, _ renewal: StoreEntry) -> Bool {
        let offered = renewal.properties.dnsNameList
        return entry.properties.dnsNameList.allSatisfy {
            ConnectorResolver.matches($0, names: offered, wildcard: false) || ConnectorResolver.matches($0, names: offered, wildcard: true)
        }
    }

    /// The pending request (`renew`) that renews `thumbprint`, if one is under way.
    private func pendingRenewal(of thumbprint: Thumbprint) -> StoreEntry? {
        (try? store.entries(in: store.path(of: .request)).entries)?.first { $0.storeProperties.renews == thumbprint }
    }

    /// The fix for a certificate running out with no renewal in the store: `renew`, unless a renewal is under way.
    private func renewFix(for entry: StoreEntry) -> [String] {
        pendingRenewal(of: entry.thumbprint) == nil ? ["certstore renew \(entry.thumbprint)"] : []
    }

    /// What the detail says about renewing a certificate that has no renewal in the store.
    private func renewNote(for entry: StoreEntry) -> String {
        if let pending = pendingRenewal(of: entry.thumbprint) {
            return "; the pending request \(pending.thumbprint) renews it: give it to the CA and `certstore complete` what it issues (it hands over automatically)"
        }
        return "; renew it (`certstore renew` makes a self-signed renewal at once, or a request for the CA that hands over when completed), or import the renewed certificate with its key (a PKCS#12) and hand over"
    }

    /// Certificates in use (bound, or presented by a send connector) whose renewal is in the store but has not
    /// taken over (CRITICAL when the old one is keyless or within the critical window, else WARNING: fix
    /// `handover OLD NEW`), and archived certificates still bound (CRITICAL: hidden from listings and connector
    /// resolution, still presented by the services).
    private func checkLifecycle(connectors: SendConnectors, context: Context, report: inout AuditReport) {
        var roles: [Thumbprint: [String]] = [:]
        for thumbprint in context.bindings.allBoundThumbprints {
            roles[thumbprint, default: []].append("bound to " + context.bindings.services(of: thumbprint).sorted().map(\.rawValue).joined(separator: ", "))
        }
        for connector in connectors.sendConnectors {
            let selection = context.resolver.resolve(connector)
            // A connector that fails (NoCredentials on a keyless twin, say) has its own CRITICAL finding, whose fix
            // already brings the renewal in: a second finding for the same certificate would double the plan.
            guard let chosen = selection.chosen,
                  ConnectorVerdict(connector: connector, selection: selection, bindings: context.bindings).outcome == .works else { continue }
            roles[chosen.thumbprint, default: []].append("presented by send connector \"\(connector.name)\"")
        }
        for (thumbprint, uses) in roles.sorted(by: { $0.key < $1.key }) {
            guard let entry = context.entry(thumbprint) else { continue }
            let role = uses.joined(separator: " and ")
            if entry.storeProperties.archived {
                let successor = entry.storeProperties.supersededBy.flatMap { context.entry($0) }.flatMap { $0.storeProperties.archived ? nil : $0 }
                report.findings.append(Finding(.critical, check: "archived-in-use", object: thumbprint.value,
                    title: "an archived certificate is still \(role)",
                    detail: "\(context.name(entry)) is archived" + (entry.storeProperties.supersededBy.map { " (handed over to \($0))" } ?? "")
                        + ": hidden from list, the Exchange view and connector resolution, yet the services still present it"
                        + (successor == nil ? "; bind the certificate that replaces it (certstore enable NEW --services …)" : ""),
                    fix: successor.map { ["certstore handover \(thumbprint) \($0.thumbprint)"] } ?? []))
                continue
            }
            guard let renewal = context.renewal(of: entry) else { continue }
            let days = entry.properties.notAfter.map { Int(($0.timeIntervalSince(context.now) / 86_400).rounded(.down)) }
            let urgent = !entry.hasPrivateKey || (days ?? 0) < context.thresholds.criticalDays
            let covers = Self.coversNames(of: entry, renewal)
            report.findings.append(Finding(urgent ? .critical : .warning, check: "renewal-not-handed-over", object: thumbprint.value,
                title: "a renewed certificate is in the store, but the old one is still \(role)",
                detail: "\(context.name(entry)) " + (entry.hasPrivateKey ? "expires " + (entry.properties.notAfter.map { "on \($0.formatted(.iso8601))" } ?? "at an unknown date") + (days.map { " (\($0) day\($0 == 1 ? "" : "s") left)" } ?? "") : "has no usable private key (\(entry.keyStatus.rawValue))")
                    + "; its renewal \(renewal.thumbprint) has a usable key and expires later"
                    + (covers ? ": hand over, and the old one is archived" : ", but does not cover all of \(entry.properties.dnsNameList.joined(separator: ", ")): check the names, then hand over with --force"),
                fix: covers ? ["certstore handover \(thumbprint) \(renewal.thumbprint)"] : []))
        }
    }
}
