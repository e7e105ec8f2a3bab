import Foundation

/// `audit`: checks a whole location before mail stops — connectors, the default SMTP certificate, bound
/// certificates, chains, keyless leftovers, orphan keys, dependencies and the files themselves.
public struct Auditor: Sendable {
    public struct Thresholds: Sendable {
        /// Fewer days left than this on a bound certificate: WARNING (HealthChecker: 60).
        public var warningDays: Int = 60
        /// Fewer days left than this: CRITICAL (HealthChecker: 30).
        public var criticalDays: Int = 30
        public init() {}
    }

    public let store: CertificateStore
    public var thresholds = Thresholds()
    public var now = Date()

    public init(store: CertificateStore) { self.store = store }

    public func run() throws -> AuditReport {
        var report = AuditReport(location: store.location, checkedAt: now, findings: [], certificates: [], connectors: [])
        var directory = stat()
        guard stat(store.directory.path, &directory) == 0 else {
            report.findings.append(Finding(.unknown, check: "location-missing", object: store.directory.path,
                                           title: "no store location at \(store.directory.path)",
                                           detail: "nothing can be audited: the location directory does not exist or cannot be read",
                                           fix: ["certstore --root DIR audit   (point at the right store root)"]))
            return report
        }
        // A location someone else can write is not read at all: what it holds could have been planted.
        let trust = store.trustFindings()
        report.findings += trust.store + trust.index
        if !trust.store.isEmpty {
            report.findings.sort { $0.severity != $1.severity ? $0.severity > $1.severity : $0.object < $1.object }
            return report
        }
        let my = StorePath(trustedLocation: store.location, store: "My")
        var problems: [StoreProblem] = []
        var stores: [String: [StoreEntry]] = [:]
        for name in StorePath.stores {
            let (entries, found) = try store.entries(in: my.sibling(name))
            stores[name] = entries
            problems += found
        }
        let personal = stores["My"] ?? []
        let resolver = ConnectorResolver(personal: personal, roots: (stores["Root"] ?? []).compactMap { try? $0.loadCertificate() },
                                         intermediates: (stores["CA"] ?? []).compactMap { try? $0.loadCertificate() }, now: now)
        var bindings = ServiceBindings()
        var connectors = SendConnectors()
        var dependencies = Dependencies()
        readDocument(&bindings, into: &report)
        readDocument(&connectors, into: &report)
        readDocument(&dependencies, into: &report)

        let context = Context(personal: personal, all: stores.values.flatMap { $0 }, bindings: bindings, resolver: resolver,
                              thresholds: thresholds, now: now)
        var checkedExpiry = Set<String>()
        checkConnectors(connectors, context: context, checkedExpiry: &checkedExpiry, report: &report)
        checkDefaultSmtp(context: context, connectorsExist: !connectors.sendConnectors.isEmpty, report: &report)
        checkBound(context: context, checkedExpiry: &checkedExpiry, report: &report)
        checkKeyless(connectors: connectors, dependencies: dependencies, context: context, report: &report)
        checkDependencies(dependencies, context: context, report: &report)
        checkFiles(problems: problems, context: context, report: &report)
        checkServiceFiles(context: context, report: &report)

        for entry in stores.values.flatMap({ $0 }) {
            report.certificates.append(.init(store: entry.store.description, thumbprint: entry.thumbprint,
                                             subject: entry.properties.subjectString, notAfter: entry.properties.notAfter,
                                             hasPrivateKey: entry.hasPrivateKey,
                                             services: bindings.services(of: entry.thumbprint).sorted().map(\.rawValue),
                                             isDefaultSmtpCertificate: entry.store.store == "My" && bindings.defaultSmtpCertificate == entry.thumbprint))
        }
        report.certificates.sort { ($0.store, $0.thumbprint) < ($1.store, $1.thumbprint) }
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

        func entry(_ thumbprint: String) -> StoreEntry? { personal.first { $0.thumbprint == thumbprint } }
        func name(_ entry: StoreEntry) -> String { "\(entry.thumbprint) (\(entry.properties.subjectString))" }
    }

    private func readDocument<D: LocationDocument>(_ document: inout D, into report: inout AuditReport) {
        do {
            document = try store.read(D.self)
        } catch let error as CertStoreError {
            report.findings.append(Finding(.critical, check: "document-unreadable", object: D.fileName, title: "\(D.fileName) cannot be read",
                                           detail: error.message, fix: ["restore \(store.documentURL(D.self).path) from a backup"]))
        } catch {
            report.findings.append(Finding(.critical, check: "document-unreadable", object: D.fileName, title: "\(D.fileName) cannot be read", detail: "\(error)"))
        }
    }

    // MARK: connectors

    private func checkConnectors(_ connectors: SendConnectors, context: Context, checkedExpiry: inout Set<String>, report: inout AuditReport) {
        for connector in connectors.sendConnectors {
            let object = "connector:\(connector.name)"
            let selection = context.resolver.resolve(connector)
            report.connectors.append(.init(name: connector.name, status: selection.status, thumbprint: selection.chosen?.thumbprint,
                                           usable: selection.isUsable, keylessTwin: selection.hasKeylessTwin))
            let label = "send connector \"\(connector.name)\""
            switch selection.status {
            case .syntaxInvalid:
                report.findings.append(Finding(.critical, check: "connector-syntax-invalid", object: object,
                    title: "\(label): TlsCertificateNameSyntaxInvalid",
                    detail: "\(selection.syntaxError ?? "invalid TLSCertificateName"); outbound TLS has no certificate to present",
                    fix: ["certstore connector set \(ShellQuote.quote(connector.name)) --from-certificate THUMBPRINT"]))
                continue
            case .notFound where connector.tlsCertificateName != nil:
                let near = selection.steps.map { "\($0.entry.thumbprint): \($0.verdict)" }.joined(separator: "; ")
                report.findings.append(Finding(.critical, check: "connector-certificate-not-found", object: object,
                    title: "\(label): TlsCertificateNotFound — the configured TLSCertificateName was not found",
                    detail: "no valid certificate in My matches \(connector.tlsCertificateName!); mail that requires TLS will queue" + (near.isEmpty ? "" : " (\(near))"),
                    fix: ["certstore import RENEWED.pfx --password-file PASSWORD_FILE",
                          "certstore connector set \(ShellQuote.quote(connector.name)) --from-certificate THUMBPRINT"]))
                continue
            case .notFound, .empty:
                guard selection.chosen == nil else { break }
                report.findings.append(Finding(.warning, check: "connector-no-certificate", object: object,
                    title: "\(label): no certificate for its FQDN",
                    detail: "without a TLSCertificateName the connector looks for a certificate with a key for \(connector.fqdn ?? context.resolver.hostName); none qualifies, so it presents none",
                    fix: ["certstore connector set \(ShellQuote.quote(connector.name)) --from-certificate THUMBPRINT"]))
                continue
            default:
                break
            }
            guard let chosen = selection.chosen else { continue }
            let keyed = selection.twins.filter(\.hasPrivateKey)
            if !chosen.hasPrivateKey {
                var fix: [String] = []
                if let twin = keyed.first {
                    fix.append("certstore remove \(chosen.thumbprint)")
                    if !context.bindings.thumbprints(for: .smtp).contains(twin.thumbprint) {
                        fix.append("certstore enable \(twin.thumbprint) --services SMTP --keep-default")
                    }
                } else {
                    fix += ["certstore import RENEWED.pfx --password-file PASSWORD_FILE   (or the lost key: certstore import KEY.pem)",
                            "certstore remove \(chosen.thumbprint)"]
                }
                report.findings.append(Finding(.critical, check: "connector-keyless-certificate", object: object,
                    title: "\(label): outbound TLS will fail with NoCredentials (KB 4495258)",
                    detail: "its TLSCertificateName resolves to \(context.name(chosen)), which has no usable private key (\(chosen.keyStatus.rawValue))"
                        + (keyed.isEmpty ? "" : "; its renewed twin \(keyed[0].thumbprint) has one and takes over once the keyless certificate is removed"),
                    fix: fix))
                continue
            }
            if selection.hasKeylessTwin {
                let keyless = selection.twins.filter { !$0.hasPrivateKey }
                report.findings.append(Finding(.warning, check: "connector-keyless-twin", object: object,
                    title: "\(label): a keyless twin makes the choice ambiguous",
                    detail: "\(keyless.map(\.thumbprint).joined(separator: ", ")) share\(keyless.count == 1 ? "s" : "") issuer and subject with the chosen \(chosen.thumbprint) but \(keyless.count == 1 ? "has" : "have") no private key; which one Exchange-style selection takes depends on store order",
                    fix: keyless.map { "certstore remove \($0.thumbprint)" }))
            }
            if !context.bindings.thumbprints(for: .smtp).contains(chosen.thumbprint) {
                report.findings.append(Finding(.critical, check: "connector-certificate-not-smtp", object: object,
                    title: "\(label): outbound TLS will fail with UnknownCredentials (KB 4051498)",
                    detail: "it resolves to \(context.name(chosen)), which has a key but is not enabled for SMTP",
                    fix: ["certstore enable \(chosen.thumbprint) --services SMTP --keep-default"]))
            }
            if chosen.properties.isSelfSigned {
                report.findings.append(Finding(.warning, check: "connector-self-signed", object: object,
                    title: "\(label) presents a self-signed certificate",
                    detail: "\(context.name(chosen)) is self-signed; receiving servers that validate certificates (Office 365, DANE, MTA-STS) reject it",
                    fix: ["certstore import CA-ISSUED.pfx --password-file PASSWORD_FILE", "certstore connector set \(ShellQuote.quote(connector.name)) --from-certificate THUMBPRINT"]))
            }
            checkExpiry(chosen, role: label, context: context, checked: &checkedExpiry, report: &report)
            if selection.isUsable && !selection.hasKeylessTwin {
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
                    fix: ["certstore enable THUMBPRINT --services SMTP --overwrite-default"]))
            }
            return
        }
        guard let entry = context.entry(thumbprint) else {
            report.findings.append(Finding(.critical, check: "default-smtp-not-in-store", object: thumbprint,
                title: "the default SMTP certificate \(thumbprint) is not in LocalMachine/My",
                detail: "transport cannot load its internal certificate (Exchange event 12013)",
                fix: ["certstore restore \(thumbprint)   (if it is in the trash)", "certstore enable THUMBPRINT --services SMTP --overwrite-default"]))
            return
        }
        if !entry.hasPrivateKey {
            report.findings.append(Finding(.critical, check: "default-smtp-keyless", object: thumbprint,
                title: "the default SMTP certificate has no usable private key",
                detail: "\(context.name(entry)): \(entry.keyStatus.rawValue)", fix: ["certstore import KEY.pem", "certstore enable THUMBPRINT --services SMTP --overwrite-default"]))
        }
        if let notAfter = entry.properties.notAfter, notAfter < context.now {
            report.findings.append(Finding(.critical, check: "default-smtp-expired", object: thumbprint,
                title: "Internal Transport Certificate has expired",
                detail: "\(context.name(entry)) expired on \(notAfter.formatted(.iso8601))",
                fix: ["certstore import RENEWED.pfx --password-file PASSWORD_FILE", "certstore enable THUMBPRINT --services SMTP --overwrite-default"]))
        }
    }

    private func checkBound(context: Context, checkedExpiry: inout Set<String>, report: inout AuditReport) {
        for thumbprint in context.bindings.allBoundThumbprints.sorted() {
            let services = context.bindings.services(of: thumbprint).sorted().map(\.rawValue).joined(separator: ", ")
            let role = "bound to \(services)"
            guard let entry = context.entry(thumbprint) else {
                report.findings.append(Finding(.critical, check: "bound-not-in-store", object: thumbprint,
                    title: "'\(thumbprint)' Doesn't exist on the server and this will cause problems.",
                    detail: "it is \(role) but not in LocalMachine/My",
                    fix: ["certstore restore \(thumbprint)   (if it is in the trash)", "certstore disable \(thumbprint)"]))
                continue
            }
            let p = entry.properties
            switch entry.keyStatus {
            case .present: break
            case .missing:
                report.findings.append(Finding(.critical, check: "bound-keyless", object: thumbprint,
                    title: "a certificate \(role) has no private key (PrivateKeyMissing)",
                    detail: "\(context.name(entry)): the services cannot complete a TLS handshake with it",
                    fix: ["certstore import KEY.pem   (or the .pfx)", "certstore disable \(thumbprint)"]))
            case .unreadable, .mismatched, .inconsistent:
                report.findings.append(Finding(.critical, check: "bound-key-unusable", object: thumbprint,
                    title: "a certificate \(role) has an unusable private key (\(entry.keyStatus.rawValue))",
                    detail: "\(context.name(entry)): its key file \(store.keyURL(p.publicKeyIdentifier).path) cannot be used",
                    fix: ["certstore import KEY.pem   (the right key re-links it)"]))
            }
            checkExpiry(entry, role: role, context: context, checked: &checkedExpiry, report: &report)
            if let notBefore = p.notBefore, notBefore > context.now {
                report.findings.append(Finding(.critical, check: "bound-not-yet-valid", object: thumbprint,
                    title: "a certificate \(role) is not valid yet", detail: "\(context.name(entry)) is valid from \(notBefore.formatted(.iso8601))"))
            }
            if !p.allowsServerAuthentication {
                report.findings.append(Finding(.warning, check: "bound-no-server-auth", object: thumbprint,
                    title: "a certificate \(role) lacks Server Authentication in its Enhanced Key Usage",
                    detail: "\(context.name(entry)): TLS clients that check EKU reject it", fix: ["certstore disable \(thumbprint)"]))
            }
            if ["RSA", "RSA-PSS", "DSA"].contains(p.keyAlgorithm.uppercased()) && p.publicKeySize < 2048 {
                report.findings.append(Finding(.warning, check: "bound-small-key", object: thumbprint,
                    title: "It's recommended to use a key size of at least 2048 bit",
                    detail: "\(context.name(entry)) is \(role) with a \(p.publicKeySize)-bit \(p.keyAlgorithm) key"))
            }
            if let hash = p.signatureHash, ["sha1", "md5", "md2", "md4"].contains(hash) {
                report.findings.append(Finding(.warning, check: "bound-weak-signature", object: thumbprint,
                    title: "It's recommended to use a hash algorithm from the SHA-2 family",
                    detail: "\(context.name(entry)) is \(role) and signed with \(p.signatureAlgorithm)"))
            }
            let chain = context.resolver.chainResult(for: entry)
            if !p.isSelfSigned, chain.outcome == .untrusted || chain.outcome == .invalid {
                report.findings.append(Finding(.warning, check: "bound-chain", object: thumbprint,
                    title: "the chain of a certificate \(role) does not build from LocalMachine/CA and Root",
                    detail: "\(context.name(entry)): \(chain.errorText)",
                    fix: ["certstore import ISSUER.pem --store LocalMachine/CA   (intermediate)", "certstore import ROOT.pem --store LocalMachine/Root"]))
            }
        }
    }

    private func checkExpiry(_ entry: StoreEntry, role: String, context: Context, checked: inout Set<String>, report: inout AuditReport) {
        guard checked.insert(entry.thumbprint).inserted, let notAfter = entry.properties.notAfter else { return }
        let days = Int((notAfter.timeIntervalSince(context.now) / 86_400).rounded(.down))
        let renew = ["certstore import RENEWED.pfx --password-file PASSWORD_FILE", "certstore enable NEW_THUMBPRINT --services SMTP --keep-default"]
        if notAfter < context.now {
            report.findings.append(Finding(.critical, check: "certificate-expired", object: entry.thumbprint,
                title: "'\(entry.thumbprint)' Has expired and will cause problems.",
                detail: "\(context.name(entry)), \(role), expired on \(notAfter.formatted(.iso8601))", fix: renew))
        } else if days < context.thresholds.criticalDays {
            report.findings.append(Finding(.critical, check: "certificate-expiring", object: entry.thumbprint,
                title: "a certificate \(role) expires in \(days) day\(days == 1 ? "" : "s")",
                detail: "\(context.name(entry)) expires on \(notAfter.formatted(.iso8601)) (CRITICAL under \(context.thresholds.criticalDays) days)", fix: renew))
        } else if days < context.thresholds.warningDays {
            report.findings.append(Finding(.warning, check: "certificate-expiring", object: entry.thumbprint,
                title: "a certificate \(role) expires in \(days) days",
                detail: "\(context.name(entry)) expires on \(notAfter.formatted(.iso8601)) (WARNING under \(context.thresholds.warningDays) days)", fix: renew))
        }
    }

    // MARK: leftovers, dependencies, files

    private func checkKeyless(connectors: SendConnectors, dependencies: Dependencies, context: Context, report: inout AuditReport) {
        let used = context.bindings.allBoundThumbprints.union(dependencies.dependencies.compactMap(\.thumbprint))
            .union(connectors.sendConnectors.compactMap { context.resolver.resolve($0).chosen?.thumbprint })
        for entry in context.personal where entry.keyStatus == .missing && !used.contains(entry.thumbprint) {
            report.findings.append(Finding(.warning, check: "keyless-unused", object: entry.thumbprint,
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
                    detail: "\(path) is a secret no certificate uses (left behind by a removal?)",
                    fix: ["certstore import CERTIFICATE.pem   (if its certificate is coming back; otherwise: shred -u \(ShellQuote.quote(path)))"]))
            }
        }
    }

    private func checkDependencies(_ dependencies: Dependencies, context: Context, report: inout AuditReport) {
        for dependency in dependencies.dependencies {
            if let thumbprint = dependency.thumbprint, !context.all.contains(where: { $0.thumbprint == thumbprint }) {
                report.findings.append(Finding(.warning, check: "dependency-missing-certificate", object: thumbprint,
                    title: "\"\(dependency.application)\" depends on a certificate that is not in the store",
                    detail: "\(thumbprint) is registered as used by \"\(dependency.application)\" but is in no store of \(store.location)",
                    fix: ["certstore restore \(thumbprint)   (if it is in the trash)", "certstore dependency remove \(ShellQuote.quote(dependency.application)) \(thumbprint)"]))
            }
            if let text = dependency.tlsCertificateName, let name = try? TLSCertificateName(parsing: text) {
                let selection = context.resolver.resolve(name: name)
                if !selection.isUsable {
                    report.findings.append(Finding(.critical, check: "dependency-unusable", object: "dependency:\(dependency.application)",
                        title: "\"\(dependency.application)\" names a certificate that has no usable key",
                        detail: selection.chosen.map { "\(text) resolves to \(context.name($0)) (\($0.keyStatus.rawValue))" } ?? "\(text) resolves to nothing",
                        fix: selection.twins.filter { !$0.hasPrivateKey }.map { "certstore remove \($0.thumbprint)" }))
                }
            }
        }
    }

    /// The files daemons read must hold what the bindings say, readable by the service's account.
    private func checkServiceFiles(context: Context, report: inout AuditReport) {
        let files = ServiceFiles(store: store)
        for service in ExchangeService.bindable {
            let chosen = ServiceFiles.choose(service, bindings: context.bindings, resolver: context.resolver)
            let deployed = files.deployedThumbprint(service)
            let object = "service:\(service.rawValue)"
            if let chosen, deployed != chosen.thumbprint {
                report.findings.append(Finding(.warning, check: "service-files-stale", object: object,
                    title: "\(service.rawValue)'s files hold \(deployed ?? "nothing"), but its binding says \(chosen.thumbprint)",
                    detail: "the daemon reads \(files.currentLink(service).path); bring it in line (and run the deploy hooks)",
                    fix: ["certstore deploy"]))
                continue
            }
            for (path, problem) in files.exposedKeys(service, user: context.bindings.serviceUsers?[service.rawValue]) {
                report.findings.append(Finding(.critical, check: "service-key-exposed", object: path,
                    title: "a deployed \(service.rawValue) private key is open to other users",
                    detail: "\(problem); anyone who can read it can impersonate this server",
                    fix: ["certstore deploy   (tightens the live and the kept version)", "certstore check"]))
            }
            guard deployed != nil, let user = context.bindings.serviceUsers?[service.rawValue] else { continue }
            let key = files.currentLink(service).appendingPathComponent("privkey.pem").path
            var info = stat()
            let account = ServiceFiles.account(user)
            let readable = account.map { account in
                stat(key, &info) == 0 && ((info.st_uid == account.uid && info.st_mode & 0o400 != 0)
                    || (info.st_gid == account.gid && info.st_mode & 0o040 != 0))
            } ?? false
            if !readable {
                report.findings.append(Finding(.critical, check: "service-key-unreadable", object: object,
                    title: "\(service.rawValue)'s account \(user) cannot read its private key (UnknownCredentials, KB 4051498)",
                    detail: account == nil ? "there is no account \(user) on this machine" : "\(key) is not readable by \(user)",
                    fix: ["certstore deploy"]))
            }
        }
    }

    private func checkFiles(problems: [StoreProblem], context: Context, report: inout AuditReport) {
        for problem in problems {
            report.findings.append(Finding(.critical, check: "store-file-unreadable", object: problem.path,
                title: "a certificate file cannot be read", detail: problem.message,
                fix: ["certstore check"]))
        }
        var folders = [store.directory, store.keysDirectory]
        folders += StorePath.stores.map { store.directory.appendingPathComponent($0) }
        for folder in folders {
            for name in (try? FileSystem.list(folder)) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
                let path = folder.appendingPathComponent(name).path
                report.findings.append(Finding(.warning, check: "leftover-temporary-file", object: path,
                    title: "a temporary file was left by an interrupted write",
                    detail: "\(path) is debris from a write that never completed; the store itself is consistent",
                    fix: ["certstore check --repair"]))
            }
        }
        var info = stat()
        if stat(store.keysDirectory.path, &info) == 0, info.st_mode & 0o077 != 0 {
            report.findings.append(Finding(.critical, check: "key-directory-permissions", object: store.keysDirectory.path,
                title: "the key directory is open to other users",
                detail: "\(store.keysDirectory.path) has mode \(String(info.st_mode & 0o777, radix: 8)); it must be 700",
                fix: ["certstore check --repair   (chmod 700)"]))
        }
        for name in (try? FileSystem.list(store.keysDirectory)) ?? [] where name.hasSuffix(".key") {
            let path = store.keysDirectory.appendingPathComponent(name).path
            if lstat(path, &info) == 0, info.st_mode & 0o077 != 0 {
                report.findings.append(Finding(.critical, check: "key-file-permissions", object: path,
                    title: "a private key file is readable by other users",
                    detail: "\(path) has mode \(String(info.st_mode & 0o777, radix: 8)); it must be 600",
                    fix: ["certstore check --repair   (chmod 600)"]))
            }
        }
    }
}
