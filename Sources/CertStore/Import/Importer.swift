import Foundation

/// Imports certificate and key files into a store location.
///
/// Every file is parsed before the lock is taken; then, under the writer lock, each certificate is placed
/// (with a key → the target store; a CA certificate without a key → `CA` when the target is `My`; anything
/// else → the target store) and each key is paired with its certificate by public key. By default one bad
/// file stops the whole import before anything is written, so the store is left exactly as it was.
///
/// A certificate imported into `My` whose public key is a pending request's (`REQUEST`, made by `request`)
/// completes that request: it joins the request's key, takes the friendly name and exportability chosen at
/// request time, and the request goes to the trash (`certstore complete` is this, requiring that every
/// end-entity certificate completes a request).
///
/// **No keyless end-entity certificate enters `My` by accident**: a file with an end-entity certificate that would
/// land in `My` without a key (none in the call, none in the store, no pending request) — the KB 4495258
/// certificate, made by completing a request on another machine — is refused (`refused`, exit 2) with where the
/// key is and what to bring, unless `allowKeyless`. CA certificates, and imports into `CA` or `Root`, are not
/// affected.
public struct Importer: Sendable {
    public struct Options: Sendable {
        public var target: StorePath = .personal
        public var friendlyName: String?
        public var exportable = false
        /// The password given up front (nil: none given; the empty password is still tried).
        public var password: Password?
        /// Asked for a file's password when it needs one and none was given (a terminal prompt); nil: never ask.
        public var askPassword: (@Sendable (_ file: String) -> Password?)?
        /// Import the good files and report the bad ones instead of importing nothing.
        public var skipInvalid = false
        /// Recorded on certificates imported into `Root`: what `RootCAType` the Exchange view reports.
        public var rootCAType: ExchangeCertificate.RootCAType?
        public var now = Date()
        /// Called as files are read: (files done, files in all). The CLI draws a progress bar from it.
        public var progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
        /// Stops the import at the next file, before anything is committed (the CLI cancels it on SIGINT and
        /// SIGTERM): every staged temporary file is removed and nothing is imported. Once the staged files are
        /// being renamed into place, the import finishes.
        public var cancellation: Cancellation?
        /// `complete`: every end-entity certificate of the files must complete a pending request (or already be in
        /// `My` with its key, as after an interrupted completion); otherwise nothing is imported (refused).
        public var completing = false
        /// Import end-entity certificates into `My` even when the store has no key for them (Windows' import does):
        /// each is reported as a warning, and `audit` reports it.
        public var allowKeyless = false
        /// A renewal that arrives from outside (a certbot lineage): each end-entity certificate imported into `My`
        /// with its key takes over from the bound certificates it renews — those whose DNS names it covers and
        /// that expire before it — through ``Handover``, under the import's lock.
        public var handOverRenewed = false

        public init() {}
    }

    public let store: StoreLocation

    public init(store: StoreLocation) { self.store = store }

    /// Imports `paths`: one operation (see `OperationOutcome`). Every file is parsed before the lock is taken;
    /// when nothing is committed (a bad file without `skipInvalid`), nothing follows from it either.
    public func importFiles(_ paths: [String], options: Options) throws -> OperationOutcome<ImportResult> {
        if let name = options.friendlyName { _ = try StoreProperties.validateFriendlyName(name) }
        guard options.target.location == store.location else {
            throw CertStoreError.usage("the target store \(options.target) is not in this store's location (\(store.location))")
        }
        if options.rootCAType != nil && options.target.name != .root {
            throw CertStoreError.usage("--root-ca-type applies to imports into LocalMachine/Root", hint: "add --store LocalMachine/Root")
        }
        if options.target.name == .request {
            throw CertStoreError.usage("\(options.target) holds the pending requests `certstore request` makes; nothing is imported into it",
                                       hint: "import the issued certificate into \(options.target.sibling(.my)) (the default): it completes its request")
        }
        if options.completing && options.target.name != .my {
            throw CertStoreError.usage("a request is completed into \(options.target.sibling(.my)), not \(options.target)",
                                       hint: "leave out --store")
        }
        var result = ImportResult()
        var parsed: [(path: String, file: CredentialFile)] = []
        let files = try Self.expandDirectories(paths)
        for (index, path) in files.enumerated() {
            try options.cancellation?.check("nothing was imported; the store is unchanged (\(index) of \(files.count) files read)")
            options.progress?(index, files.count)
            do {
                parsed.append((path, try parse(path, options: options)))
            } catch let error as CertStoreError {
                result.failures.append(.init(file: path, error: error))
            }
        }
        options.progress?(files.count, files.count)
        // Nothing to write: do not even take the lock (a failed import leaves no trace, not even .lock).
        if parsed.isEmpty || (!result.failures.isEmpty && !options.skipInvalid) { return .unchanged(result) }
        // A certificate and its key may come in different files of one call (certbot's cert.pem + privkey.pem).
        var batch = Batch()
        for (_, file) in parsed {
            for item in file.keys { batch.keys[item.value.publicKeyIdentifier] = item.value }
            for item in file.certificates {
                batch.certificateKeyIDs.insert(item.value.publicKeyIdentifier)
                batch.certificates.append(item.value)
            }
        }
        // The key of a certificate that inherits its DSA parameters has another identifier than the certificate.
        for certificate in batch.certificates where certificate.inheritsDSAParameters {
            for (identifier, key) in batch.keys where certificate.matches(key) { batch.certificateKeyIDs.insert(identifier) }
        }
        return try store.perform(now: options.now, changed: { $0.committed }) {
            let pending = options.target.name == .my ? try pendingRequests() : [:]
            if options.completing { try requireCompletion(parsed, pending: pending, options: options) }
            var plans: [(path: String, plan: Plan)] = []
            for (path, file) in parsed {
                do {
                    plans.append((path, try plan(file, batch: batch, pending: pending, options: options, warnings: &result.warnings, path: path)))
                } catch let error as CertStoreError {
                    result.failures.append(.init(file: path, error: error))
                }
            }
            if !result.failures.isEmpty && !options.skipInvalid { return result }
            // All files of the call become durable together: a few flushes instead of several per file.
            let batch = WriteBatch(anchor: store.directory)
            var state = ApplyState()
            for (index, (path, plan)) in plans.enumerated() {
                // Stopping here removes every staged temporary file (keys among them) and imports nothing.
                try options.cancellation?.check("nothing was imported; the store is unchanged (\(index) of \(plans.count) files staged, all removed again)")
                try apply(plan, file: path, options: options, batch: batch, state: &state, result: &result)
            }
            try options.cancellation?.check("nothing was imported; the store is unchanged (every staged file removed again)")
            try batch.commit()
            result.committed = true
            // Completed requests go to the trash once their certificates are committed (a run killed in between
            // leaves the request pending; running the import again consumes it).
            let trash = Trash(store: store)
            for (request, certificate) in state.completed {
                var plan = RemovalPlan(entry: request)
                plan.notes = ["completed: the issued certificate \(certificate) is in \(options.target) with this request's key"]
                let entry = try trash.put(request, plan: plan, forced: false, now: options.now)
                result.completedRequests.append(.init(request: request.thumbprint, certificate: certificate, trashID: entry.id))
                if let renewed = request.storeProperties.renews {
                    result.renewals.append(try handOver(from: renewed, to: certificate, now: options.now))
                }
            }
            if options.handOverRenewed {
                result.renewals += try handOverFromRenewed(result.items, now: options.now)
            }
            return result
        }
    }

    /// A completed renewal request hands over from the certificate it renews (``Handover``), under the import's
    /// lock. A handover with obstacles is not forced: the import stands, and the command to run is reported.
    private func handOver(from renewed: Thumbprint, to certificate: Thumbprint, now: Date) throws -> ImportResult.CompletedRenewal {
        let my = store.path(of: .my)
        guard let old = try store.entry(renewed, in: my), !old.storeProperties.archived else {
            return .init(renewed: renewed, certificate: certificate, handedOver: false,
                         steps: ["\(renewed), which the request renews, is no longer in use in \(my) (removed or archived): nothing to hand over"], commands: [])
        }
        let new = try store.requireEntry(certificate, in: my)
        let handover = Handover(store: store)
        let plan = try handover.plan(from: old, to: new, newTLS: nil, options: Handover.Options(now: now))
        if plan.isRefused {
            return .init(renewed: renewed, certificate: certificate, handedOver: false,
                         steps: plan.obstacles.map { "not handed over: \($0)" },
                         commands: ["certstore handover \(renewed) \(certificate) --force"])
        }
        try handover.commit(plan, old: old, new: new)
        return .init(renewed: renewed, certificate: certificate, handedOver: true, steps: plan.steps, commands: plan.commandsToRun)
    }

    /// The bound certificates of `My` that the imported end-entity certificates renew, each handed over to its
    /// renewal: a DNS name in common, an earlier expiry, not archived. ``Handover`` then refuses (and the result
    /// reports, with the command that forces it) a renewal that drops a name the old one's roles need. A
    /// certificate that was already in the store (certbot's deploy hook run twice) renews nothing. The caller
    /// holds the lock.
    private func handOverFromRenewed(_ items: [ImportResult.Item], now: Date) throws -> [ImportResult.CompletedRenewal] {
        let my = store.path(of: .my)
        let imported = items.filter { $0.store == my && $0.hasPrivateKey && ($0.action == .added || $0.action == .keyAdded) }
        guard !imported.isEmpty else { return [] }
        let bound = try store.read(ServiceBindings.self).allBoundThumbprints
        var renewals: [ImportResult.CompletedRenewal] = []
        var handedOver: Set<Thumbprint> = []
        for item in imported {
            guard let new = try store.entry(item.thumbprint, in: my), !new.properties.isCertificateAuthority,
                  let newNotAfter = new.properties.notAfter else { continue }
            let newNames = Set(new.properties.dnsNameList.map { $0.lowercased() })
            guard !newNames.isEmpty else { continue }
            for thumbprint in bound.sorted() where thumbprint != new.thumbprint && !handedOver.contains(thumbprint) {
                guard let old = try store.entry(thumbprint, in: my), !old.storeProperties.archived,
                      let oldNotAfter = old.properties.notAfter, oldNotAfter < newNotAfter else { continue }
                let oldNames = Set(old.properties.dnsNameList.map { $0.lowercased() })
                guard !oldNames.isDisjoint(with: newNames) else { continue }
                handedOver.insert(thumbprint)
                renewals.append(try handOver(from: thumbprint, to: new.thumbprint, now: now))
            }
        }
        return renewals
    }

    /// The pending requests of the location with a usable key, by public key identifier. The caller holds the lock.
    private func pendingRequests() throws -> [String: StoreEntry] {
        var pending: [String: StoreEntry] = [:]
        for entry in try store.entries(in: StorePath(trustedLocation: store.location, name: .request)).entries where entry.hasPrivateKey {
            if pending[entry.properties.publicKeyIdentifier] == nil { pending[entry.properties.publicKeyIdentifier] = entry }
        }
        return pending
    }

    /// `complete`: refuses (changing nothing) unless the files hold an end-entity certificate and every one of them
    /// completes a pending request or is already in `My` with its key.
    private func requireCompletion(_ parsed: [(path: String, file: CredentialFile)], pending: [String: StoreEntry], options: Options) throws {
        var endEntities = 0
        var unmatched: [String] = []
        for (path, file) in parsed {
            for item in file.certificates where !item.value.properties().isCertificateAuthority {
                endEntities += 1
                let properties = item.value.properties()
                if pending[properties.publicKeyIdentifier] != nil { continue }
                if let existing = try store.entry(properties.thumbprint, in: options.target), existing.hasPrivateKey { continue }
                unmatched.append("\(properties.subjectString) (\(properties.thumbprint), from \(URL(fileURLWithPath: path).lastPathComponent))")
            }
        }
        let requests = options.target.sibling(.request)
        guard endEntities > 0 else {
            throw CertStoreError(.refused, "nothing to complete: the files hold no issued (end-entity) certificate, only CA certificates",
                                 hint: "give the certificate the CA issued for the request (PEM, DER or the CA's PKCS#7 chain)")
        }
        guard unmatched.isEmpty || options.allowKeyless else {
            throw CertStoreError(.refused,
                "no pending request in \(requests) has the key of " + unmatched.joined(separator: "; ")
                    + ": completing it would put a certificate without its private key into \(options.target) (KB 4495258); nothing was imported",
                hint: "complete it on the machine that made the request (its key is there), or import a PKCS#12 (.pfx) that holds the key; `certstore list --store \(requests)` shows the pending requests here")
        }
    }

    /// A directory stands for the regular files in it and its subdirectories (sorted; hidden names skipped),
    /// so a whole export folder imports in one call without running into the argument-length limit.
    static func expandDirectories(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        func walk(_ path: String, depth: Int) throws {
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { files.append(path); return }
            guard depth < 8 else { return }
            for name in try FileSystem.list(URL(fileURLWithPath: path)).sorted() where !name.hasPrefix(".") {
                let child = (path as NSString).appendingPathComponent(name)
                var childInfo = stat()
                guard stat(child, &childInfo) == 0 else { continue }
                if (childInfo.st_mode & S_IFMT) == S_IFDIR { try walk(child, depth: depth + 1) }
                else if (childInfo.st_mode & S_IFMT) == S_IFREG { files.append(child) }
            }
        }
        for path in paths { try walk(path, depth: 0) }
        return files
    }

    private func parse(_ path: String, options: Options) throws -> CredentialFile {
        let url = URL(fileURLWithPath: path)
        let bytes = try FileSystem.read(url, limit: store.limits.maxFileSize, followLinks: true, input: true)
        do {
            return try CredentialFile(bytes: bytes, password: options.password, limits: store.limits)
        } catch let error as CertStoreError where error == .passwordRequired {
            guard let ask = options.askPassword, let password = ask(path) else { throw error }
            return try CredentialFile(bytes: bytes, password: password, limits: store.limits)
        }
    }

    /// What one file adds: certificates with their destination and key, and keys for stored certificates.
    struct Plan {
        struct Placement {
            let certificate: Certificate
            let store: StorePath
            let key: PrivateKey?
            let friendlyName: String
            /// `--friendly-name` applies to this certificate (see `takesFriendlyName`).
            let takesFriendlyName: Bool
            /// The pending request this certificate completes (its key is that request's).
            let request: StoreEntry?
            /// An end-entity certificate that goes into `My` without a key (allowed by `allowKeyless`).
            var keyless = false
        }
        var placements: [Placement] = []
        var orphanKeys: [(key: PrivateKey, certificates: [StoreEntry])] = []
    }

    /// Keys and certificates of the whole call, for pairing across files.
    struct Batch {
        var keys: [String: PrivateKey] = [:]
        var certificateKeyIDs = Set<String>()
        var certificates: [Certificate] = []
    }

    private func plan(_ file: CredentialFile, batch: Batch, pending: [String: StoreEntry], options: Options,
                      warnings: inout [ImportResult.Failure], path: String) throws -> Plan {
        var plan = Plan()
        var keysByIdentifier: [String: CredentialFile.Item<PrivateKey>] = [:]
        for item in file.keys {
            guard item.value.isConsistent else {
                throw CertStoreError.badData("the private key is damaged: its private and public halves do not agree")
            }
            keysByIdentifier[item.value.publicKeyIdentifier] = item
        }
        var usedKeys = Set<String>()
        // --friendly-name is for what the file is about: its end-entity certificates (and any certificate that
        // comes with its key), never an issuing CA that came along. A file of CA certificates alone gives it to them.
        let named = file.certificates.map { item in
            !item.value.properties().isCertificateAuthority
                || keysByIdentifier[item.value.publicKeyIdentifier].map { item.value.matches($0.value) } == true
        }
        let nameGoesToAll = !named.contains(true)
        var keyless: [CertificateProperties] = []
        for (index, item) in file.certificates.enumerated() {
            let certificate = item.value
            let properties = certificate.properties()
            var key: CredentialFile.Item<PrivateKey>? = nil
            if let candidate = keysByIdentifier[properties.publicKeyIdentifier], certificate.matches(candidate.value) {
                key = candidate
                usedKeys.insert(properties.publicKeyIdentifier)
            } else if let other = batch.keys[properties.publicKeyIdentifier], certificate.matches(other) {
                key = CredentialFile.Item(value: other, friendlyName: nil, localKeyID: nil)
            } else if certificate.inheritsDSAParameters,
                      let candidate = file.keys.first(where: { certificate.matches($0.value) })
                        ?? batch.keys.values.first(where: { certificate.matches($0) }).map({ CredentialFile.Item(value: $0, friendlyName: nil, localKeyID: nil) }) {
                // RFC 3279: the key pairs when it has the certificate's public value and the parameters the
                // certificate inherits from its issuer (in this import or in the store); else it is reported.
                usedKeys.insert(candidate.value.publicKeyIdentifier)
                switch inheritedKeyCheck(certificate, key: candidate.value, batch: batch) {
                case .paired: key = candidate
                case .failed(let warning): warnings.append(.init(file: path, error: warning))
                }
            }
            // Its key is a pending request's: it completes that request (and so goes to `My`, even a CA certificate).
            let request = pending[properties.publicKeyIdentifier]
            let destination: StorePath
            if key == nil && request == nil && options.target.name == .my && properties.isCertificateAuthority {
                destination = options.target.sibling(.ca)
            } else {
                destination = options.target
            }
            let keyBagName = key?.friendlyName ?? file.keys.first { $0.localKeyID != nil && $0.localKeyID == item.localKeyID }?.friendlyName
            let takesFriendlyName = options.friendlyName != nil && (nameGoesToAll || named[index])
            let name = (takesFriendlyName ? options.friendlyName : nil) ?? item.friendlyName ?? keyBagName ?? ""
            var isKeyless = key == nil && request == nil && destination.name == .my && !properties.isCertificateAuthority
            if isKeyless {
                isKeyless = try store.entry(properties.thumbprint, in: destination) == nil
                    && store.keyStatus(for: certificate, identifier: properties.publicKeyIdentifier) != .present
            }
            if isKeyless { keyless.append(properties) }
            plan.placements.append(.init(certificate: certificate, store: destination, key: key?.value,
                                         friendlyName: StoreProperties.sanitizeFriendlyName(name),
                                         takesFriendlyName: takesFriendlyName, request: request,
                                         keyless: isKeyless))
        }
        for (identifier, item) in keysByIdentifier where !usedKeys.contains(identifier) && !batch.certificateKeyIDs.contains(identifier) {
            var owners = try store.certificates(withPublicKey: identifier).filter { (try? $0.loadCertificate())?.matches(item.value) ?? false }
            // A DSA key given alone for certificates that inherit their parameters (RFC 3279 §2.3.2): those are
            // filed under their parameterless identifier; the key pairs when it also has the parameters of the
            // issuer that signed them (in this import or in the store), as when both come in one file.
            for bare in item.value.parameterlessIdentifiers where !batch.certificateKeyIDs.contains(bare) {
                for owner in try store.certificates(withPublicKey: bare) {
                    guard let certificate = try? owner.loadCertificate(), certificate.matches(item.value) else { continue }
                    switch inheritedKeyCheck(certificate, key: item.value, batch: batch, keyAlone: true) {
                    case .paired: owners.append(owner)
                    case .failed(let error): throw error
                    }
                }
            }
            guard !owners.isEmpty else {
                throw CertStoreError(.badData,
                                     file.certificates.isEmpty
                                        ? "the private key matches no certificate in the store"
                                        : "the private key matches none of the file's certificates and no certificate in the store",
                                     hint: "import the certificate together with the key (one call), or the certificate first (--allow-keyless), then the key")
            }
            plan.orphanKeys.append((item.value, owners))
        }
        // After the keys: a key that matches nothing says more about the file than a certificate without one.
        if !keyless.isEmpty {
            let names = keyless.map { "\($0.subjectString) (\($0.thumbprint))" }.joined(separator: ", ")
            let one = keyless.count == 1
            if options.allowKeyless {
                warnings.append(.init(file: path, error: CertStoreError(.refused,
                    "\(names) \(one ? "has" : "have") no private key in this store: imported into \(options.target) without \(one ? "its key" : "their keys") (--allow-keyless); a send connector whose TLSCertificateName matches \(one ? "it" : "them") can pick \(one ? "it" : "them") and fail with NoCredentials (KB 4495258)",
                    hint: "`certstore audit` reports it until the key is imported (certstore import KEYFILE) or the certificate is removed")))
            } else {
                throw CertStoreError(.refused,
                    "\(names) \(one ? "is an end-entity certificate" : "are end-entity certificates") for which this store has no private key: imported, \(one ? "it" : "they") would sit in \(options.target) with HasPrivateKey False — the KB 4495258 certificate, which a send connector's TLSCertificateName can select and then fail with NoCredentials (421 4.4.1, mail queues). The key is on the machine that made the certificate's request",
                    hint: "bring a PKCS#12 (.pfx) with the key from that machine (Export-ExchangeCertificate, certstore export --type pfx), or give the key file in the same import; make requests with `certstore request` so the key stays here; --allow-keyless imports it anyway (audit reports it)")
            }
        }
        return plan
    }

    enum InheritedKeyCheck {
        case paired
        case failed(CertStoreError)
    }

    /// Does `key` (whose public value is `certificate`'s) pair with `certificate`, which inherits its DSA
    /// parameters: does it have the parameters of the issuer that signed the certificate?
    /// `keyAlone`: the key came without the certificate (already in the store), so what is left out is the key.
    private func inheritedKeyCheck(_ certificate: Certificate, key: PrivateKey, batch: Batch, keyAlone: Bool = false) -> InheritedKeyCheck {
        let properties = certificate.properties()
        let outcome = keyAlone ? "nothing was imported" : "the certificate is imported without its key"
        let candidates = batch.certificates + storeIssuers(of: certificate)
        guard let completed = certificate.completedKey(among: candidates) else {
            return .failed(CertStoreError(.badData,
                "the private key of \(properties.subjectString) (\(properties.thumbprint)) was not paired: the certificate inherits its DSA parameters (RFC 3279) from its issuer \(properties.issuerString), and no certificate of that name in this import or in the store signed it (through issuers whose parameters are known); \(outcome)",
                hint: "import the issuer's certificate chain first, then this file again"))
        }
        guard completed.matches(key) else {
            return .failed(CertStoreError(.badData,
                "the private key of \(properties.subjectString) (\(properties.thumbprint)) was not paired: it has the certificate's public value but not the DSA parameters the certificate inherits from its issuer \(properties.issuerString); \(outcome)",
                hint: "check that this is the key the certificate was issued for"))
        }
        return .paired
    }


    /// Certificates of this location's stores that may be `certificate`'s issuers or theirs (by subject name).
    private func storeIssuers(of certificate: Certificate) -> [Certificate] {
        // Not REQUEST: a pending request's dummy certificate issues nothing.
        let stored = StoreName.allCases.filter { $0 != .request }.flatMap { name in
            (try? store.entries(in: store.path(of: name)).entries) ?? []
        }
        var names: Set<String> = [certificate.properties().issuerString]
        var found: [Thumbprint: Certificate] = [:]
        for _ in 0..<8 {
            let more = stored.filter { names.contains($0.properties.subjectString) && found[$0.thumbprint] == nil }
            guard !more.isEmpty else { break }
            for entry in more {
                guard let loaded = try? entry.loadCertificate() else { continue }
                found[entry.thumbprint] = loaded
                names.insert(entry.properties.issuerString)
            }
        }
        return Array(found.values)
    }

    /// What this call has staged so far (not yet visible on disk).
    struct ApplyState {
        var written = Set<String>()
        var stagedKeys = Set<String>()
        /// Requests completed by this call, with the thumbprint of the certificate that completes each.
        var completed: [(request: StoreEntry, certificate: Thumbprint)] = []
    }

    /// Stages `key` under `identifier` (its certificate's; the key's own unless the certificate inherits DSA parameters).
    private func stageKey(_ key: PrivateKey, identifier: String? = nil, batch: WriteBatch, state: inout ApplyState) throws {
        let identifier = identifier ?? key.publicKeyIdentifier
        guard state.stagedKeys.insert(identifier).inserted else { return }
        try store.writeKey(key, identifier: identifier, batch: batch)
    }

    private func apply(_ plan: Plan, file: String, options: Options, batch: WriteBatch, state: inout ApplyState,
                       result: inout ImportResult) throws {
        for placement in plan.placements {
            let certificate = placement.certificate
            let thumbprint = certificate.thumbprint
            // The same certificate twice in one call: reported once, written once.
            guard !state.written.contains("\(placement.store)/\(thumbprint)") else { continue }
            let subject = certificate.properties().subjectString
            let existing = try store.entry(thumbprint, in: placement.store)
            var action: ImportResult.Action
            var hasKey = existing?.hasPrivateKey ?? false
            if let existing {
                action = .alreadyPresent
                var properties = existing.storeProperties
                var changed = false
                if let key = placement.key, existing.keyStatus != .present {
                    try stageKey(key, identifier: certificate.publicKeyIdentifier, batch: batch, state: &state)
                    properties.exportable = options.exportable
                    changed = true
                    action = .keyAdded
                    hasKey = true
                }
                // Giving the key again with --exportable or --friendly-name proves possession: update them.
                if options.exportable && !properties.exportable && (placement.key != nil || action == .keyAdded) {
                    properties.exportable = true
                    changed = true
                }
                if placement.takesFriendlyName, let name = options.friendlyName, properties.friendlyName != name {
                    properties.friendlyName = name
                    changed = true
                }
                // Already here (an import before the request was completed, or an interrupted completion): what was
                // chosen at request time still applies where nothing else was chosen.
                if let request = placement.request?.storeProperties {
                    if properties.friendlyName.isEmpty && !request.friendlyName.isEmpty { properties.friendlyName = request.friendlyName; changed = true }
                    if request.exportable && !properties.exportable { properties.exportable = true; changed = true }
                }
                if changed {
                    try store.writeStoreProperties(properties, thumbprint: thumbprint, in: placement.store, batch: batch)
                    if action == .alreadyPresent { action = .updated }
                }
            } else {
                let identifier = certificate.publicKeyIdentifier
                if let key = placement.key, !state.stagedKeys.contains(identifier) {
                    let status = store.keyStatus(for: certificate, identifier: identifier)
                    if status != .present { try stageKey(key, identifier: identifier, batch: batch, state: &state) }
                }
                var properties = StoreProperties(friendlyName: placement.friendlyName, archived: false,
                                                 exportable: placement.key != nil && options.exportable,
                                                 importedAt: options.now, source: URL(fileURLWithPath: file).lastPathComponent)
                if placement.store.name == .root { properties.rootCAType = options.rootCAType }
                // Recorded so that audit tells it from a certificate whose key was lost (see `keylessImportedAt`).
                if placement.keyless { properties.keylessImportedAt = options.now }
                if let request = placement.request?.storeProperties {
                    // What was chosen at request time (Windows keeps it with the pending request): a --friendly-name
                    // given now wins; exportable when either says so.
                    if !placement.takesFriendlyName && !request.friendlyName.isEmpty { properties.friendlyName = request.friendlyName }
                    properties.exportable = request.exportable || options.exportable
                }
                try store.writeCertificate(certificate, properties: properties, in: placement.store, batch: batch)
                action = .added
                hasKey = placement.key != nil || state.stagedKeys.contains(identifier)
                    || store.keyStatus(for: certificate, identifier: identifier) == .present
            }
            if let request = placement.request, !state.completed.contains(where: { $0.request.thumbprint == request.thumbprint }) {
                state.completed.append((request, thumbprint))
                action = .completed
                hasKey = true
            }
            state.written.insert("\(placement.store)/\(thumbprint)")
            result.items.append(.init(file: file, thumbprint: thumbprint, store: placement.store,
                                      subject: subject, action: action, hasPrivateKey: hasKey))
        }
        for (key, owners) in plan.orphanKeys {
            // Under each owner's key identifier: the key's own, or a certificate's that inherits DSA parameters.
            for identifier in Set(owners.filter { $0.keyStatus != .present }.map(\.properties.publicKeyIdentifier)) {
                try stageKey(key, identifier: identifier, batch: batch, state: &state)
            }
            for owner in owners {
                if owner.keyStatus != .present && options.exportable {
                    var properties = owner.storeProperties
                    properties.exportable = true
                    try store.writeStoreProperties(properties, thumbprint: owner.thumbprint, in: owner.store, batch: batch)
                }
                result.items.append(.init(file: file, thumbprint: owner.thumbprint, store: owner.store,
                                          subject: owner.properties.subjectString,
                                          action: owner.keyStatus == .present ? .alreadyPresent : .keyAdded, hasPrivateKey: true))
            }
        }
    }
}
