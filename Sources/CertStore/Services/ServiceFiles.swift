import Foundation

/// The files a Linux daemon reads for a bound service, kept in step with the bindings:
///
/// ```
/// <location>/Services/<SERVICE>/current -> v<stamp>-<thumbprint8>   (a symbolic link, switched atomically)
/// <location>/Services/<SERVICE>/v…/cert.pem, chain.pem, fullchain.pem, privkey.pem, thumbprint
/// ```
///
/// Files are judged by content: what `cert.pem`, `chain.pem`, `fullchain.pem`, `privkey.pem` (bytes, owner,
/// mode) and `thumbprint` should hold is compared with what the live version holds, so a chain certificate
/// imported later, a changed key or a mode drift each bring a new version. A new version directory is
/// written and flushed, then one `rename` of a symbolic link switches the service over, so a daemon
/// reloading at any moment reads a complete, matching certificate and key.
///
/// Each send connector has files of its own too (`Services/Connectors/<slug>/`, same versions and switch), holding
/// the certificate its TLSCertificateName resolves to, for postfix's per-connector transport: `smtp-client.pem`
/// (key first, then the chain: `smtp_tls_chain_files`) and `tls-policy` (a regexp table for
/// `smtp_tls_policy_maps`). When the connector would fail on Exchange (NoCredentials, UnknownCredentials,
/// TlsCertificateNotFound, an invalid name), its version says so in a way postfix fails on the same way:
/// `smtp-client.pem` holds the certificate without a key (postfix: "key not first … disabling TLS support")
/// and `tls-policy` requires TLS, so mail defers ("TLS is required, but our TLS engine is unavailable") —
/// never another certificate silently, never mail in clear.
///
/// **No version holding the only copy of a private key is ever deleted**: when the store's key file is
/// gone, the live version stays as it is (the daemon keeps working, `audit` names the file and the command
/// that re-imports it), and pruning keeps such versions.
public struct ServiceFiles: Sendable {
    /// What changed for one service.
    public struct Change: Sendable, Equatable {
        /// The service (`SMTP` for a send connector's files).
        public let service: ExchangeService
        /// The send connector whose files these are (nil for a bindable service's).
        public var connector: String? = nil
        public let oldThumbprint: Thumbprint?
        public let newThumbprint: Thumbprint?
        /// The `current` link the daemon reads.
        public let directory: String
        /// What differed: `new certificate`, `chain.pem`, `privkey.pem owner or mode`, `withdrawn`, ...
        public let reasons: [String]

        /// For a send connector's files that now make outbound TLS fail as Exchange would: the verdict
        /// (`NoCredentials`, `UnknownCredentials`, ...). Nil otherwise.
        public var refusal: String? = nil

        /// `SMTP`, or `send connector "NAME"`.
        public var label: String { connector.map { "send connector \"\($0)\"" } ?? service.rawValue }
    }

    /// What a service's files should be, against what they are.
    public struct Plan: Sendable {
        public enum Action: Sendable, Equatable {
            /// The live files hold exactly what they should.
            case inLine
            /// A new version is written and switched to, for these reasons.
            case deploy(reasons: [String])
            /// Nothing usable is bound: the `current` link goes (versions holding the only copy of a key stay).
            case withdraw
            /// Nothing usable is bound, but the live version holds the only copy of the key of a certificate
            /// still bound to the service: it is kept as it is, so the daemon keeps working.
            case keepOnlyKeyCopy(keyFile: String)
            /// No binding and no files: nothing to do.
            case nothing
        }

        public let service: ExchangeService
        /// The certificate the service should present.
        public let chosen: StoreEntry?
        /// The thumbprint the live files hold.
        public let deployed: Thumbprint?
        public let action: Action
        /// The send connector these files are for (nil: a bindable service), and its verdict.
        public var connector: String? = nil
        public var verdict: ConnectorVerdict? = nil
        /// The connector's folder name (its slug) when the connector itself is gone.
        var folderName: String? = nil
    }

    /// The bytes and ownership a version is made of.
    struct Contents: Equatable {
        /// The certificate the version is for; nil for a connector's version that makes outbound TLS fail.
        var thumbprint: Thumbprint?
        /// What its `thumbprint` file says: the thumbprint, or `none`.
        var thumbprintText: String { thumbprint?.value ?? "none" }
        var cert: [UInt8]
        var chain: [UInt8]
        var key: [UInt8]
        var keyOwner: uid_t
        var keyGroup: gid_t?
        var keyMode: mode_t
        var fullchain: [UInt8] { cert + chain }
        /// False for a connector's refusing version: no `privkey.pem`.
        var hasKey = true
        /// A connector's other files: `smtp-client.pem` (holds the key when there is one), `tls-policy`, `status`.
        var extras: [String: [UInt8]] = [:]
    }

    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    public var directory: URL { store.directory.appendingPathComponent("Services", isDirectory: true) }

    public func currentLink(_ service: ExchangeService) -> URL {
        folder(service).appendingPathComponent("current")
    }

    func folder(_ service: ExchangeService) -> URL {
        directory.appendingPathComponent(service.rawValue, isDirectory: true)
    }

    /// `Services/Connectors`: one folder per send connector, named by its slug.
    public var connectorsDirectory: URL { directory.appendingPathComponent("Connectors", isDirectory: true) }

    /// The `current` link of a send connector's files (what its postfix transport reads).
    public func currentLink(connector: SendConnector) -> URL {
        connectorFolder(connector.slug).appendingPathComponent("current")
    }

    func connectorFolder(_ slug: String) -> URL { connectorsDirectory.appendingPathComponent(slug, isDirectory: true) }

    /// Where a plan's files live.
    func folder(of plan: Plan) -> URL {
        if let name = plan.folderName { return connectorFolder(name) }
        if let connector = plan.connector { return connectorFolder(SendConnector(name: connector).slug) }
        return folder(plan.service)
    }

    /// The certificate each bindable service presents now, among those bound to it with a usable key, ranked
    /// by: trusted CA-issued (chain to Root, not self-signed); then time-valid; then, for SMTP, being the
    /// default SMTP certificate; then the newest NotBefore — Exchange's STARTTLS preference.
    public static func choose(_ service: ExchangeService, bindings: ServiceBindings, resolver: ConnectorResolver) -> StoreEntry? {
        let bound = bindings.thumbprints(for: service)
        let candidates = resolver.personal.filter { bound.contains($0.thumbprint) && ExchangeCertificateValidity.evaluate($0) == .valid }
        func rank(_ entry: StoreEntry) -> (Int, Int, Int, Date) {
            let chain = resolver.chainResult(for: entry)
            let trusted = chain.outcome == .valid && !entry.properties.isSelfSigned ? 1 : 0
            let timeValid = entry.properties.isTimeValid(at: resolver.now) ? 1 : 0
            let isDefault = service == .smtp && bindings.defaultSmtpCertificate == entry.thumbprint ? 1 : 0
            return (trusted, timeValid, isDefault, entry.properties.notBefore ?? .distantPast)
        }
        return candidates.max { a, b in
            let (x, y) = (rank(a), rank(b))
            return (x.0, x.1, x.2) != (y.0, y.1, y.2) ? (x.0, x.1, x.2) < (y.0, y.1, y.2) : x.3 < y.3
        }
    }

    /// The thumbprint a service's files hold now (nil when it has none).
    public func deployedThumbprint(_ service: ExchangeService) -> Thumbprint? { deployedThumbprint(in: folder(service)) }

    func deployedThumbprint(in folder: URL) -> Thumbprint? {
        guard let version = liveVersion(in: folder) else { return nil }
        return Self.thumbprint(in: folder.appendingPathComponent(version))
    }

    /// What a version's `thumbprint` file says: one thumbprint as certstore writes it, or `none` (a connector's
    /// version that makes outbound TLS fail) or anything else — nil.
    static func thumbprint(in version: URL) -> Thumbprint? { thumbprintText(in: version).flatMap(Thumbprint.init(canonical:)) }

    /// The text of a version's `thumbprint` file (nil when it has none).
    static func thumbprintText(in version: URL) -> String? {
        guard let bytes = try? FileSystem.read(version.appendingPathComponent("thumbprint"), limit: 100) else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The version `current` points at: a plain name inside the service's folder, never a path elsewhere.
    func liveVersion(_ service: ExchangeService) -> String? { liveVersion(in: folder(service)) }

    func liveVersion(in folder: URL) -> String? {
        guard let target = Self.linkTarget(folder.appendingPathComponent("current")), Self.isVersionName(target) else { return nil }
        return target
    }

    /// `v<stamp>Z-<8 hex>[-n]`: the only names certstore gives versions (and so the only ones it removes).
    static func isVersionName(_ name: String) -> Bool {
        guard name.hasPrefix("v"), !name.contains("/"), name != "v" else { return false }
        return name.dropFirst().allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }

    // MARK: planning (shared by every operation and by audit)

    /// What each bindable service's files should become, judged by content. `resolver` must know every
    /// certificate bound to a service (a resolver over all of `My`, or over the bound ones).
    public func plan(bindings: ServiceBindings, resolver: ConnectorResolver, now: Date = Date()) throws -> [Plan] {
        try ExchangeService.bindable.map { try plan($0, bindings: bindings, resolver: resolver, now: now) }
    }

    func plan(_ service: ExchangeService, bindings: ServiceBindings, resolver: ConnectorResolver, now: Date) throws -> Plan {
        let chosen = Self.choose(service, bindings: bindings, resolver: resolver)
        let live = liveVersion(service)
        let deployed = deployedThumbprint(service)
        guard let chosen else {
            guard live != nil || FileSystem.exists(currentLink(service)) else { return Plan(service: service, chosen: nil, deployed: nil, action: .nothing) }
            // The store lost the key of a certificate still bound here: the live files are the only copy. Keep them.
            if let live, let deployed, bindings.thumbprints(for: service).contains(deployed),
               onlyKeyCopy(in: folder(service).appendingPathComponent(live)) {
                return Plan(service: service, chosen: nil, deployed: deployed,
                            action: .keepOnlyKeyCopy(keyFile: folder(service).appendingPathComponent(live).appendingPathComponent("privkey.pem").path))
            }
            return Plan(service: service, chosen: nil, deployed: deployed, action: .withdraw)
        }
        let user = bindings.serviceUsers[service]
        let desired = try contents(of: chosen, service: service, user: user)
        guard let live else {
            return Plan(service: service, chosen: chosen, deployed: nil, action: .deploy(reasons: ["new certificate"]))
        }
        let reasons = differences(desired, in: folder(service).appendingPathComponent(live))
        return Plan(service: service, chosen: chosen, deployed: deployed, action: reasons.isEmpty ? .inLine : .deploy(reasons: reasons))
    }

    /// What each send connector's files should become: the certificate its TLSCertificateName (or FQDN) resolves
    /// to — resolved as everywhere else, keyless twin trap included — or a version that makes postfix fail as
    /// Exchange does; and the files of connectors that are gone withdrawn.
    public func planConnectors(_ connectors: [SendConnector], bindings: ServiceBindings, resolver: ConnectorResolver) throws -> [Plan] {
        var plans: [Plan] = []
        for connector in connectors {
            let folder = connectorFolder(connector.slug)
            let selection = resolver.resolve(connector)
            let verdict = ConnectorVerdict(connector: connector, selection: selection, bindings: bindings)
            let live = liveVersion(in: folder)
            let deployed = deployedThumbprint(in: folder)
            func plan(_ action: Plan.Action) -> Plan {
                Plan(service: .smtp, chosen: selection.chosen, deployed: deployed, action: action, connector: connector.name, verdict: verdict)
            }
            guard let desired = try connectorContents(connector, selection: selection, verdict: verdict) else {
                plans.append(plan(live != nil || FileSystem.exists(folder.appendingPathComponent("current")) ? .withdraw : .nothing))
                continue
            }
            guard let live else {
                plans.append(plan(.deploy(reasons: [verdict.outcome == .works ? "new certificate" : verdict.outcome.rawValue])))
                continue
            }
            let reasons = differences(desired, in: folder.appendingPathComponent(live))
            plans.append(plan(reasons.isEmpty ? .inLine : .deploy(reasons: reasons)))
        }
        let slugs = Set(connectors.map(\.slug))
        for name in ((try? FileSystem.list(connectorsDirectory)) ?? []).sorted() where !slugs.contains(name) && !name.hasPrefix(".") {
            let folder = connectorFolder(name)
            var info = stat()
            guard lstat(folder.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR,
                  liveVersion(in: folder) != nil || FileSystem.exists(folder.appendingPathComponent("current")) else { continue }
            plans.append(Plan(service: .smtp, chosen: nil, deployed: deployedThumbprint(in: folder), action: .withdraw,
                              connector: name, verdict: nil, folderName: name))
        }
        return plans
    }

    /// What a connector's version must hold (nil: nothing to present, as Exchange presents nothing).
    func connectorContents(_ connector: SendConnector, selection: CertificateSelection, verdict: ConnectorVerdict) throws -> Contents? {
        let outcome = verdict.outcome
        if outcome == .noCertificate { return nil }
        // A certificate the TLS stack refuses (a key too small for the security level, say) would make postfix
        // disable TLS and, at level `may`, send in clear: it gets the refusing version too.
        let refusedByStack = outcome == .works ? selection.chosen.flatMap { TLSUsabilityJudge(store: store).verdict(for: $0).problem } : nil
        if outcome == .works, refusedByStack == nil, let chosen = selection.chosen {
            var contents = try self.contents(of: chosen, service: .smtp, user: nil)
            contents.extras = [
                "smtp-client.pem": contents.key + contents.fullchain,
                "tls-policy": Array("# \(connector.name): \(outcome.rawValue) (\(chosen.thumbprint)); no override, the transport's own level applies\n".utf8),
                "status": Array("\(outcome.rawValue)\n".utf8),
            ]
            return contents
        }
        // Exchange fails this connector's outbound TLS: postfix must fail too, and defer rather than send in clear.
        let certificate = try selection.chosen.map { try $0.loadCertificate() }
        let chain = try selection.chosen.map { entry in
            try Exporter(store: store).chain(for: entry).filter { !$0.properties.isSelfSigned }.map { try $0.loadCertificate() }
        } ?? []
        let cert = Array((certificate?.pem ?? "").utf8)
        let chainBytes = Array(chain.map(\.pem).joined().utf8)
        let why = refusedByStack.map { "the TLS stack refuses \(selection.chosen?.thumbprint.value ?? "its certificate"): \($0)" } ?? verdict.summary
        let label = refusedByStack == nil ? outcome.rawValue : "TlsUnusable"
        return Contents(thumbprint: selection.chosen?.thumbprint, cert: cert, chain: chainBytes, key: [],
                        keyOwner: geteuid(), keyGroup: nil, keyMode: 0o600, hasKey: false, extras: [
                            // No key: postfix's smtp client refuses the file ("key not first") and disables TLS.
                            "smtp-client.pem": cert + chainBytes,
                            "tls-policy": Array("# \(connector.name): \(label): \(why)\n# certstore makes postfix require TLS here, so mail defers as on Exchange instead of leaving in clear.\n/^/ encrypt\n".utf8),
                            "status": Array("\(label): \(why)\n".utf8),
                        ])
    }

    /// What a version for `entry` must hold.
    func contents(of entry: StoreEntry, service: ExchangeService, user: String?) throws -> Contents {
        guard let key = try store.privateKey(for: entry) else {
            throw CertStoreError(.refused, "\(entry.thumbprint) has no usable private key to deploy for \(service.rawValue)")
        }
        let certificate = try entry.loadCertificate()
        let chain = try Exporter(store: store).chain(for: entry).filter { !$0.properties.isSelfSigned }.map { try $0.loadCertificate() }
        var owner = geteuid(), group: gid_t? = nil, mode: mode_t = 0o600
        if let user {
            guard let account = Self.account(user) else {
                throw CertStoreError(.usage, "there is no account \"\(user)\" on this machine", hint: "create it, or bind without --service-user")
            }
            // Root's file (certstore's account's), readable by the daemon's group: the daemon can read it, never
            // change its mode or hand it on (an account that owns its key can make it 0644).
            (owner, group, mode) = (geteuid(), account.gid, 0o440)
        }
        return Contents(thumbprint: entry.thumbprint, cert: Array(certificate.pem.utf8), chain: Array(chain.map(\.pem).joined().utf8),
                        key: try key.pkcs8PEM(), keyOwner: owner, keyGroup: group, keyMode: mode)
    }

    /// Which files of `version` differ from `desired` (empty: in line).
    private func differences(_ desired: Contents, in version: URL) -> [String] {
        func bytes(_ name: String) -> [UInt8]? { try? FileSystem.read(version.appendingPathComponent(name), limit: 1 << 20) }
        var reasons: [String] = []
        if Self.thumbprintText(in: version) != desired.thumbprintText { return ["new certificate"] }
        if bytes("cert.pem") != desired.cert { reasons.append("cert.pem") }
        if bytes("chain.pem") != desired.chain { reasons.append("chain.pem") }
        if bytes("fullchain.pem") != desired.fullchain { reasons.append("fullchain.pem") }
        for (name, content) in desired.extras.sorted(by: { $0.key < $1.key }) {
            if var present = bytes(name) {
                if present != content { reasons.append(name) }
                wipe(&present)
            } else {
                reasons.append(name)
            }
        }
        guard desired.hasKey else {
            if FileSystem.exists(version.appendingPathComponent("privkey.pem")) { reasons.append("privkey.pem") }
            return reasons
        }
        if var key = bytes("privkey.pem") {
            if key != desired.key { reasons.append("privkey.pem") }
            wipe(&key)
        } else {
            reasons.append("privkey.pem")
        }
        var info = stat()
        let keyPath = version.appendingPathComponent("privkey.pem").path
        if lstat(keyPath, &info) != 0 || (info.st_mode & S_IFMT) != S_IFREG || info.st_uid != desired.keyOwner
            || (desired.keyGroup != nil && info.st_gid != desired.keyGroup!) || info.st_mode & 0o777 != desired.keyMode {
            if !reasons.contains("privkey.pem") { reasons.append("privkey.pem owner or mode") }
        }
        return reasons
    }

    // MARK: bringing files in line (inside an operation's lock)

    /// `certstore deploy`: brings every service's files in line now, as one operation (see
    /// `OperationOutcome`); changes nothing, and lists no hook, when all is in line.
    public func deploy(now: Date = Date()) throws -> OperationOutcome<Bool> {
        try store.perform(now: now) { true }
    }

    /// Carries out `plans`. The caller holds the writer lock (see `StoreLocation.perform`). A failure
    /// leaves the live files as they were and no half-written version behind.
    func apply(_ plans: [Plan], bindings: ServiceBindings, connectors: [SendConnector] = [], resolver: ConnectorResolver? = nil,
               now: Date) throws -> [Change] {
        var changes: [Change] = []
        for plan in plans {
            if let name = plan.connector {
                let folder = self.folder(of: plan)
                switch plan.action {
                case .inLine, .nothing, .keepOnlyKeyCopy:
                    continue
                case .deploy(let reasons):
                    guard let connector = connectors.first(where: { $0.name == name }), let resolver else { continue }
                    let selection = resolver.resolve(connector)
                    guard var desired = try connectorContents(connector, selection: selection,
                                                              verdict: ConnectorVerdict(connector: connector, selection: selection, bindings: bindings)) else { continue }
                    defer { wipe(&desired.key); if desired.hasKey { desired.extras["smtp-client.pem"] = nil } }
                    try deploy(desired, folder: folder, user: nil, now: now)
                    var change = Change(service: .smtp, connector: name, oldThumbprint: plan.deployed,
                                        newThumbprint: desired.hasKey ? desired.thumbprint : nil,
                                        directory: folder.appendingPathComponent("current").path, reasons: reasons)
                    if !desired.hasKey {
                        // The status file's first word: NoCredentials, UnknownCredentials, ..., TlsUnusable.
                        let status = String(decoding: desired.extras["status"] ?? [], as: UTF8.self)
                        change.refusal = status.split(separator: ":").first.map(String.init) ?? "refused"
                    }
                    changes.append(change)
                case .withdraw:
                    try withdraw(folder: folder)
                    changes.append(Change(service: .smtp, connector: name, oldThumbprint: plan.deployed, newThumbprint: nil,
                                          directory: folder.appendingPathComponent("current").path,
                                          reasons: [plan.folderName != nil ? "withdrawn: the connector is gone" : "withdrawn: nothing to present"]))
                }
                continue
            }
            switch plan.action {
            case .inLine, .nothing, .keepOnlyKeyCopy:
                continue
            case .deploy(let reasons):
                guard let chosen = plan.chosen else { continue }
                let user = bindings.serviceUsers[plan.service]
                var desired = try contents(of: chosen, service: plan.service, user: user)
                defer { wipe(&desired.key) }
                try deploy(desired, folder: folder(plan.service), user: user, now: now)
                changes.append(Change(service: plan.service, oldThumbprint: plan.deployed, newThumbprint: chosen.thumbprint,
                                      directory: currentLink(plan.service).path, reasons: reasons))
            case .withdraw:
                try withdraw(folder: folder(plan.service))
                changes.append(Change(service: plan.service, oldThumbprint: plan.deployed, newThumbprint: nil,
                                      directory: currentLink(plan.service).path, reasons: ["withdrawn: no bound certificate with a usable key"]))
            }
        }
        return changes
    }

    private func deploy(_ desired: Contents, folder: URL, user: String?, now: Date) throws {
        try FileSystem.ensureDirectory(directory, mode: 0o755)
        if folder.deletingLastPathComponent().standardizedFileURL == connectorsDirectory.standardizedFileURL {
            try FileSystem.ensureDirectory(connectorsDirectory, mode: 0o755)
        }
        try FileSystem.ensureDirectory(folder, mode: 0o755)
        let stamp = now.compactStamp
        var name = "v\(stamp)Z-\(desired.thumbprint?.shortForm ?? "none")"
        var suffix = 1
        while FileSystem.exists(folder.appendingPathComponent(name)) { suffix += 1; name = "v\(stamp)Z-\(desired.thumbprint?.shortForm ?? "none")-\(suffix)" }
        let version = folder.appendingPathComponent(name, isDirectory: true)
        try FileSystem.ensureDirectory(version, mode: 0o755)
        var switched = false
        // A version that was never switched to is removed again: it only holds copies of what the store holds.
        defer { if !switched { removeVersion(name, in: folder) } }
        try FileSystem.writeAtomically(desired.cert, to: version.appendingPathComponent("cert.pem"), mode: 0o644)
        try FileSystem.writeAtomically(desired.chain, to: version.appendingPathComponent("chain.pem"), mode: 0o644)
        try FileSystem.writeAtomically(desired.fullchain, to: version.appendingPathComponent("fullchain.pem"), mode: 0o644)
        try FileSystem.writeAtomically(Array((desired.thumbprintText + "\n").utf8), to: version.appendingPathComponent("thumbprint"), mode: 0o644)
        for (name, content) in desired.extras.sorted(by: { $0.key < $1.key }) {
            // smtp-client.pem holds the key when there is one: as private as privkey.pem.
            try FileSystem.writeAtomically(content, to: version.appendingPathComponent(name), mode: name == "smtp-client.pem" && desired.hasKey ? 0o600 : 0o644)
        }
        let keyURL = version.appendingPathComponent("privkey.pem")
        if !desired.hasKey {
            // A connector's refusing version: no key file at all.
        } else if let user, let group = desired.keyGroup {
            let temp = try FileSystem.writeTemporary(desired.key, beside: keyURL, mode: desired.keyMode, sync: true)
            guard chown(temp.path, desired.keyOwner, group) == 0, chmod(temp.path, desired.keyMode) == 0 else {
                let code = errno
                unlink(temp.path)
                throw FileSystem.posixError("give \(user) the key file", keyURL, code)
            }
            guard rename(temp.path, keyURL.path) == 0 else { throw FileSystem.posixError("rename into place", keyURL, errno) }
            try FileSystem.syncDirectory(version)
        } else {
            try FileSystem.writeAtomically(desired.key, to: keyURL, mode: 0o600)
        }
        let previous = liveVersion(in: folder)
        try switchLink(folder: folder, to: name)
        switched = true
        try prune(folder: folder, keep: [name, previous].compactMap { $0 })
        if let previous, previous != name, desired.hasKey { try tightenKey(folder: folder, version: previous, desired: desired) }
    }

    /// Gives the kept previous version's key the owner and mode a new one gets (it may have been deployed
    /// under other rules, or loosened since): opened relative to the service folder, never through a link.
    private func tightenKey(folder: URL, version: String, desired: Contents) throws {
        let folderFD = open(folder.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folderFD >= 0 else { return }
        defer { close(folderFD) }
        let versionFD = openat(folderFD, version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard versionFD >= 0 else { return }
        defer { close(versionFD) }
        let keyFD = openat(versionFD, "privkey.pem", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard keyFD >= 0 else { return }
        defer { close(keyFD) }
        var info = stat()
        guard fstat(keyFD, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return }
        let url = folder.appendingPathComponent(version).appendingPathComponent("privkey.pem")
        guard fchown(keyFD, desired.keyOwner, desired.keyGroup ?? getegid()) == 0, fchmod(keyFD, desired.keyMode) == 0 else {
            throw FileSystem.posixError("tighten", url, errno)
        }
    }

    private func withdraw(folder: URL) throws {
        let current = folder.appendingPathComponent("current")
        if FileSystem.exists(current) { try FileSystem.remove(current) }
        try prune(folder: folder, keep: [])
    }

    /// `current.new -> name`, then rename over `current`: the switch is one atomic rename.
    private func switchLink(folder: URL, to name: String) throws {
        let temp = folder.appendingPathComponent(".current.new-\(getpid())")
        unlink(temp.path)
        guard symlink(name, temp.path) == 0 else { throw FileSystem.posixError("create the link", temp, errno) }
        guard rename(temp.path, folder.appendingPathComponent("current").path) == 0 else {
            let code = errno
            unlink(temp.path)
            throw FileSystem.posixError("switch", folder.appendingPathComponent("current"), code)
        }
        try FileSystem.syncDirectory(folder)
    }

    /// Where a `current` link points (the version name), if it is one.
    static func linkTarget(_ link: URL) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let length = readlink(link.path, &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Keeps the live version and the one that was live just before (a daemon may still be reading it), and
    /// every version holding the only copy of a private key; removes the other versions.
    ///
    /// Only what certstore made is removed, and never through a link: only version names, only real directories
    /// owned by root (or certstore's account), their files unlinked relative to the directory opened with
    /// `O_NOFOLLOW`. A planted link `v… -> /some/dir` is left alone, so it can never make root delete what it
    /// points at; a `Services` tree someone else can write is refused.
    private func prune(folder: URL, keep: [String]) throws {
        try DirectoryTrust.require(directory)
        if folder.deletingLastPathComponent().standardizedFileURL == connectorsDirectory.standardizedFileURL {
            try DirectoryTrust.require(connectorsDirectory)
        }
        try DirectoryTrust.require(folder)
        let keepSet = Set(keep)
        for version in try FileSystem.list(folder).sorted() where Self.isVersionName(version) && !keepSet.contains(version) {
            let url = folder.appendingPathComponent(version)
            var info = stat()
            guard lstat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == 0 || info.st_uid == geteuid() else { continue }
            if onlyKeyCopy(in: url) { continue }
            removeVersion(version, in: folder)
        }
        try FileSystem.syncDirectory(folder)
    }

    /// Removes one version directory: its regular files, relative to the directory opened without following
    /// links, then the directory itself.
    private func removeVersion(_ name: String, in folder: URL) {
        let parent = open(folder.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard parent >= 0 else { return }
        defer { close(parent) }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        for file in FileSystem.names(inDirectory: fd) {
            var info = stat()
            guard fstatat(fd, file, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) != S_IFDIR else { continue }
            unlinkat(fd, file, 0)
        }
        close(fd)
        unlinkat(parent, name, AT_REMOVEDIR)
    }

    /// Whether `version/privkey.pem` holds a private key the store's `Keys/` no longer has: then it is the
    /// only copy, and nothing may delete it. A file that is there but cannot be read as a key counts too
    /// (what cannot be judged is not deleted).
    func onlyKeyCopy(in version: URL) -> Bool {
        let url = version.appendingPathComponent("privkey.pem")
        guard FileSystem.exists(url) else { return false }
        guard var bytes = try? FileSystem.read(url, limit: 1 << 20) else { return true }
        defer { wipe(&bytes) }
        guard let key = try? PrivateKey(storedKey: bytes, limits: store.limits) else { return true }
        let identifier = key.publicKeyIdentifier
        guard var stored = try? FileSystem.read(store.keyURL(identifier), limit: 1 << 20) else { return true }
        defer { wipe(&stored) }
        guard let storedKey = try? PrivateKey(storedKey: stored, limits: store.limits) else { return true }
        return storedKey.publicKeyIdentifier != identifier
    }

    /// Versions of every service that hold the only copy of a private key: (service, the key file).
    public func onlyKeyCopies() -> [(service: ExchangeService, keyFile: String)] {
        ExchangeService.bindable.flatMap { service -> [(service: ExchangeService, keyFile: String)] in
            let folder = self.folder(service)
            return ((try? FileSystem.list(folder)) ?? []).sorted().compactMap { name in
                let url = folder.appendingPathComponent(name)
                var info = stat()
                guard Self.isVersionName(name), lstat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR,
                      onlyKeyCopy(in: url) else { return nil }
                return (service, url.appendingPathComponent("privkey.pem").path)
            }
        }
    }

    /// Every version's `privkey.pem` of `service` (the live one and those kept for daemons still reading them)
    /// that someone other than certstore's account and the service's group could read or change: with `user`,
    /// anything beyond 0440 with that account's group (or the 0400 owned by it that older versions made);
    /// without, anything beyond 0600. Links and foreign-owned version directories are reported too.
    public func exposedKeys(_ service: ExchangeService, user: String?) -> [(path: String, problem: String)] {
        let folder = directory.appendingPathComponent(service.rawValue, isDirectory: true)
        let account = user.flatMap(Self.account)
        var found: [(String, String)] = []
        for version in ((try? FileSystem.list(folder)) ?? []).filter({ $0.hasPrefix("v") }).sorted() {
            let versionURL = folder.appendingPathComponent(version)
            var info = stat()
            guard lstat(versionURL.path, &info) == 0 else { continue }
            if let problem = DirectoryTrust.problem(versionURL.path, info) { found.append((versionURL.path, problem)); continue }
            let key = versionURL.appendingPathComponent("privkey.pem").path
            guard lstat(key, &info) == 0 else { continue }
            let mode = info.st_mode & 0o7777
            let text = String(mode, radix: 8)
            if (info.st_mode & S_IFMT) != S_IFREG { found.append((key, "\(key) is not a regular file")); continue }
            if mode & 0o007 != 0 { found.append((key, "\(key) is readable or writable by every user (mode \(text))")); continue }
            if mode & 0o222 != 0 && info.st_uid != geteuid() && info.st_uid != 0 { found.append((key, "\(key) can be changed by uid \(info.st_uid) (mode \(text))")); continue }
            if mode & 0o070 != 0 {
                if account == nil || info.st_gid != account!.gid || mode & 0o020 != 0 {
                    found.append((key, "\(key) is open to group \(info.st_gid) (mode \(text))"))
                    continue
                }
            }
            let owners: [uid_t] = [0, geteuid()] + (account.map { [$0.uid] } ?? [])
            if !owners.contains(info.st_uid) { found.append((key, "\(key) belongs to uid \(info.st_uid)")) }
        }
        return found
    }

    static func account(_ name: String) -> (uid: uid_t, gid: gid_t)? {
        guard let entry = getpwnam(name) else { return nil }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }
}
