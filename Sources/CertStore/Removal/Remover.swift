import Foundation

/// `remove` and `prune`: take certificates away only when nothing breaks, and always into the trash.
///
/// Before removing, every dependent is asked: the default SMTP certificate, service bindings, registered
/// dependencies, certificates it issues that are bound, and connectors (and name-based dependencies) that
/// resolve to it today. A connector that would fall through to a usable twin is not a blocker — that is
/// the KB 4495258 fix, which Exchange itself refuses because both twins match the connector.
public struct Remover: Sendable {
    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    /// What removing `thumbprint` from `path` would do.
    public func plan(_ thumbprint: Thumbprint, in path: StorePath, deleteKey: Bool, now: Date = Date()) throws -> RemovalPlan {
        let entry = try store.requireEntry(thumbprint, in: path)
        return try plan(entry, deleteKey: deleteKey, context: try Context(store: store, now: now))
    }

    /// What `remove` did (or, with `dryRun`, would do).
    public struct Removal: Sendable {
        /// The plan the removal followed; nil when it finished an interrupted `remove --delete-key` instead.
        public let plan: RemovalPlan?
        /// The trash entry that holds what was removed (nil for a dry run).
        public let trash: TrashEntry?
        /// The certificate was already gone: a `remove --delete-key` killed between unlinking the certificate
        /// and unlinking its key was finished (the key deleted; its copy is in `trash`).
        public let finishedInterruptedKeyDeletion: Bool
        public let dryRun: Bool
    }

    /// Removes into the trash: one operation (see `OperationOutcome`). Refused while anything would break,
    /// unless `force`; a refusal changes nothing. `dryRun` only plans, without the lock.
    ///
    /// Re-running an interrupted removal finishes it: a certificate whose files are already in its newest
    /// trash entry is unlinked without a second entry (`Trash.put`), and `deleteKey` of a certificate already
    /// gone deletes the key its newest `--delete-key` entry holds a copy of, when no certificate uses it.
    public func remove(_ thumbprint: Thumbprint, in path: StorePath, deleteKey: Bool, force: Bool, dryRun: Bool,
                       now: Date = Date()) throws -> OperationOutcome<Removal> {
        func run() throws -> Removal {
            guard let entry = try store.entry(thumbprint, in: path) else {
                // A pending request's removal takes its key along without --delete-key (see `plan`).
                if deleteKey || path.name == .request, let finished = try finishInterruptedKeyDeletion(thumbprint, in: path, dryRun: dryRun) {
                    return Removal(plan: nil, trash: finished, finishedInterruptedKeyDeletion: true, dryRun: dryRun)
                }
                _ = try store.requireEntry(thumbprint, in: path)  // throws the not-found error, with its hint
                throw CertStoreError.notFound("the certificate with thumbprint \(thumbprint) was not found in \(path)")
            }
            let plan = try plan(entry, deleteKey: deleteKey, context: try Context(store: store, now: now))
            if dryRun { return Removal(plan: plan, trash: nil, finishedInterruptedKeyDeletion: false, dryRun: true) }
            guard plan.hardBlockers.isEmpty else { throw refusal(plan, overridable: false) }
            guard plan.blockers.isEmpty || force else { throw refusal(plan, overridable: true) }
            let trash = try Trash(store: store).put(entry, plan: plan, forced: !plan.blockers.isEmpty, now: now)
            return Removal(plan: plan, trash: trash, finishedInterruptedKeyDeletion: false, dryRun: false)
        }
        return dryRun ? .unchanged(try run()) : try store.perform(now: now, run)
    }

    /// Finishes a `remove THUMBPRINT --delete-key` that was killed after unlinking the certificate (its commit
    /// point) but before unlinking the key: the certificate is not in `path`, the newest trash entry for it was
    /// made with `--delete-key` and holds the same bytes as the key still in `Keys/`, and no certificate of the
    /// location uses that key. Then the key (and a leftover `.json`) is deleted and that entry returned; nil
    /// when there is nothing to finish. `dryRun` only says whether there is. The caller holds the lock.
    private func finishInterruptedKeyDeletion(_ thumbprint: Thumbprint, in path: StorePath, dryRun: Bool) throws -> TrashEntry? {
        let trash = Trash(store: store)
        guard let newest = trash.readableEntries().filter({ $0.thumbprint == thumbprint && $0.store == path })
            .max(by: { ($0.removedAt, $0.id) < ($1.removedAt, $1.id) }),
              let keyFile = newest.keyFile, keyFile.hasSuffix(".key") else { return nil }
        let identifier = String(keyFile.dropLast(4))
        guard try trash.entryLeavingKey(identifier, newest: trash.newestEntriesByPublicKey())?.id == newest.id,
              try !isKeyInUse(identifier) else { return nil }
        if !dryRun { try trash.finishKeyDeletion(newest, in: path) }
        return newest
    }

    /// Whether any certificate of the location uses the key, or might: a store with a certificate that cannot
    /// be read counts as using it.
    private func isKeyInUse(_ identifier: String) throws -> Bool {
        for name in StoreName.allCases {
            let (entries, problems) = try store.entries(in: store.path(of: name))
            if !problems.isEmpty || entries.contains(where: { $0.properties.publicKeyIdentifier == identifier }) { return true }
        }
        return false
    }

    public struct PruneResult: Sendable {
        public var removed: [(plan: RemovalPlan, trash: TrashEntry?)] = []
        public var kept: [RemovalPlan] = []
        /// Certificates with a key file that is unusable: not "keyless", never pruned, worth a look.
        public var damagedKeys: [StoreEntry] = []
    }

    /// Removes every keyless certificate in `My` that nothing needs; keeps the others and says why: one
    /// operation (see `OperationOutcome`). Each removal is planned against the store as the previous ones left it.
    public func pruneKeyless(dryRun: Bool, now: Date = Date()) throws -> OperationOutcome<PruneResult> {
        func run() throws -> PruneResult {
            var result = PruneResult()
            var context = try Context(store: store, now: now)
            // Removed since `context` was built. Removing a certificate no connector or name-based dependency
            // picks (nor has in its chain) changes no one's choice, so the context is rebuilt only when a removed
            // certificate was picked: pruning thousands of unused keyless certificates stays linear.
            var pending = Set<Thumbprint>()
            let candidates = context.personal.filter { !$0.hasPrivateKey }
            for entry in candidates {
                if entry.keyStatus != .missing { result.damagedKeys.append(entry); continue }
                let plan = try plan(entry, deleteKey: false, context: context, alsoGone: pending)
                guard plan.isAllowed else { result.kept.append(plan); continue }
                if dryRun {
                    result.removed.append((plan, nil))
                } else {
                    result.removed.append((plan, try Trash(store: store).put(entry, plan: plan, forced: false, now: now)))
                }
                pending.insert(entry.thumbprint)
                if context.picked.contains(entry.thumbprint) {
                    context = context.without(pending)
                    pending = []
                }
            }
            return result
        }
        return dryRun ? .unchanged(try run()) : try store.perform(now: now, run)
    }

    private func refusal(_ plan: RemovalPlan, overridable: Bool) -> CertStoreError {
        let reasons = (plan.hardBlockers + plan.blockers).map { "  - \($0)" }.joined(separator: "\n")
        return CertStoreError(.refused, "refusing to remove \(plan.entry.thumbprint) (\(plan.entry.properties.subjectString)): it would break\n\(reasons)",
                              hint: overridable ? "fix the dependents first, or override with --force (it goes to the trash; `certstore restore` undoes it)"
                                                : "remove without --delete-key: the key stays for the certificates that use it")
    }

    /// Who resolves certificates by name: a send connector or a name-based dependency, and when it works.
    struct Consumer {
        let label: String
        let resolve: (ConnectorResolver) -> CertificateSelection
        let works: (CertificateSelection) -> Bool
    }

    /// What each consumer picks with one resolver, resolved once (a prune plans thousands of removals).
    final class Selections {
        private var known: [Int: CertificateSelection] = [:]
        func get(_ index: Int, _ compute: () -> CertificateSelection) -> CertificateSelection {
            if let selection = known[index] { return selection }
            let selection = compute()
            known[index] = selection
            return selection
        }
    }

    /// Everything a removal decision reads, loaded once.
    struct Context {
        let bindings: ServiceBindings
        let connectors: SendConnectors
        let dependencies: Dependencies
        let resolver: ConnectorResolver
        let authorities: [StoreEntry]
        /// The pending requests of `REQUEST` (their keys are not shared with a removal's unless they say so).
        let requests: [StoreEntry]
        var personal: [StoreEntry] { resolver.personal }
        private let selections = Selections()

        /// Connectors (a usable key and enabled for SMTP: `ConnectorVerdict`) and name-based dependencies (a
        /// usable key).
        var consumers: [Consumer] {
            var list: [Consumer] = connectors.sendConnectors.map { connector in
                Consumer(label: "send connector \"\(connector.name)\"", resolve: { $0.resolve(connector) },
                         works: { [bindings] in ConnectorVerdict(connector: connector, selection: $0, bindings: bindings).works })
            }
            for dependency in dependencies.dependencies {
                guard let text = dependency.tlsCertificateName, let name = try? TLSCertificateName(parsing: text) else { continue }
                list.append(Consumer(label: "\"\(dependency.application)\" (by name \(name))", resolve: { $0.resolve(name: name) },
                                     works: { $0.isUsable }))
            }
            return list
        }

        /// What consumer `index` picks today (with this context's resolver), resolved once.
        func today(_ index: Int, _ consumer: Consumer) -> CertificateSelection {
            selections.get(index) { consumer.resolve(resolver) }
        }

        /// Every certificate some consumer picks today, or has in the chain of what it picks.
        var picked: Set<Thumbprint> {
            var set = Set<Thumbprint>()
            for (index, consumer) in consumers.enumerated() {
                guard let chosen = today(index, consumer).chosen else { continue }
                set.insert(chosen.thumbprint)
                set.formUnion(resolver.chainResult(for: chosen).chain)
            }
            return set
        }

        init(store: StoreLocation, now: Date) throws {
            bindings = try store.read(ServiceBindings.self)
            connectors = try store.read(SendConnectors.self)
            dependencies = try store.read(Dependencies.self)
            resolver = try ConnectorResolver(store: store, now: now)
            let my = store.path(of: .my)
            authorities = try store.entries(in: my.sibling(.ca)).entries + store.entries(in: my.sibling(.root)).entries
            requests = try store.entries(in: my.sibling(.request)).entries
        }

        private init(bindings: ServiceBindings, connectors: SendConnectors, dependencies: Dependencies,
                     resolver: ConnectorResolver, authorities: [StoreEntry], requests: [StoreEntry]) {
            self.bindings = bindings
            self.connectors = connectors
            self.dependencies = dependencies
            self.resolver = resolver
            self.authorities = authorities
            self.requests = requests
        }

        func without(_ thumbprints: Set<Thumbprint>) -> Context {
            Context(bindings: bindings, connectors: connectors, dependencies: dependencies,
                    resolver: resolver.without(thumbprints), authorities: authorities.filter { !thumbprints.contains($0.thumbprint) },
                    requests: requests)
        }
    }

    /// `alsoGone`: certificates already removed that `context` still holds (none of them picked by anyone).
    private func plan(_ entry: StoreEntry, deleteKey: Bool, context: Context, alsoGone: Set<Thumbprint> = []) throws -> RemovalPlan {
        var plan = RemovalPlan(entry: entry)
        let thumbprint = entry.thumbprint
        let isPersonal = entry.store.name == .my

        if isPersonal {
            if context.bindings.defaultSmtpCertificate == thumbprint {
                plan.blockers.append("it is the default SMTP certificate: removing it would leave transport without its certificate (make another one the default with `certstore enable THUMBPRINT --services SMTP --overwrite-default`)")
            }
            let services = context.bindings.services(of: thumbprint).sorted()
            if !services.isEmpty {
                plan.blockers.append("it is bound to \(services.map(\.rawValue).joined(separator: ", ")) (unbind with `certstore disable \(thumbprint)`)")
            }
        }
        for dependency in context.dependencies.dependencies where dependency.thumbprint == thumbprint {
            plan.blockers.append("\"\(dependency.application)\" depends on it (registered dependency)")
        }
        if entry.properties.isCertificateAuthority || entry.store.name != .my {
            for bound in context.personal where context.bindings.services(of: bound.thumbprint).isEmpty == false {
                if context.resolver.chainResult(for: bound).chain.dropFirst().contains(thumbprint) {
                    plan.blockers.append("it issues \(bound.thumbprint) (\(bound.properties.subjectString)), which is bound to \(context.bindings.services(of: bound.thumbprint).sorted().map(\.rawValue).joined(separator: ", "))")
                }
            }
        }

        // Connectors and name-based dependencies: what do they resolve to now, and after? A connector works
        // when its verdict says so (a usable key and enabled for SMTP: `ConnectorVerdict`); a dependency when
        // its certificate has a usable key.
        for (index, consumer) in context.consumers.enumerated() {
            let today = context.today(index, consumer)
            guard let chosen = today.chosen else { continue }
            if chosen.thumbprint != thumbprint {
                if context.resolver.chainResult(for: chosen).chain.dropFirst().contains(thumbprint) {
                    plan.blockers.append("\(consumer.label) uses \(chosen.thumbprint), whose chain goes through it")
                }
                continue
            }
            // Only for what a consumer picks: the store as the removal would leave it.
            let after = context.resolver.without(alsoGone.union([thumbprint]))
            let tomorrow = consumer.resolve(after)
            let worksToday = consumer.works(today)
            if let next = tomorrow.chosen, next.thumbprint != thumbprint, consumer.works(tomorrow) {
                plan.notes.append("\(consumer.label) uses \(next.thumbprint) (\(next.properties.subjectString), expires \(next.properties.notAfter?.formatted(.iso8601) ?? "?")) from now on"
                                  + (today.isUsable ? "" : " — today it gets the keyless certificate and fails with NoCredentials"))
            } else if let next = tomorrow.chosen, !worksToday, next.hasPrivateKey {
                // Broken today, and afterwards one step from working: allowed (the KB 4495258 fix starts here).
                plan.notes.append("\(consumer.label) uses \(next.thumbprint) (\(next.properties.subjectString)) from now on, which is not enabled for SMTP yet: outbound TLS fails with UnknownCredentials until `certstore enable \(next.thumbprint) --services SMTP`"
                                  + (today.isUsable ? "" : " (today it gets the keyless certificate and fails with NoCredentials)"))
            } else if let next = tomorrow.chosen {
                plan.blockers.append("\(consumer.label) resolves to it today and would afterwards get \(next.thumbprint), which "
                                     + (next.hasPrivateKey ? "is not enabled for SMTP (UnknownCredentials)" : "has no usable private key"))
            } else {
                plan.blockers.append("\(consumer.label) resolves to it today and would afterwards resolve to no certificate at all")
            }
        }

        let others = context.personal.filter { $0.thumbprint != thumbprint && $0.properties.publicKeyIdentifier == entry.properties.publicKeyIdentifier }
            + context.authorities.filter { $0.thumbprint != thumbprint && $0.properties.publicKeyIdentifier == entry.properties.publicKeyIdentifier }
            + context.requests.filter { $0.thumbprint != thumbprint && $0.properties.publicKeyIdentifier == entry.properties.publicKeyIdentifier }
        if deleteKey {
            if !others.isEmpty {
                plan.hardBlockers.append("its private key is also the key of \(others.map(\.thumbprint.value).joined(separator: ", ")), so --delete-key would take their key away")
            } else if entry.keyStatus != .missing {
                plan.deletesKey = true
            }
        } else if entry.store.name == .request {
            // Cancelling a pending request: its key was made for that request and has no other use, so it goes
            // to the trash with it (restore brings both back) — unless a certificate uses it too (a renewal
            // that reuses the key), and then it stays.
            if !others.isEmpty {
                plan.notes.append("its private key stays: it is also the key of \(others.map(\.thumbprint.value).joined(separator: ", "))")
            } else if entry.keyStatus != .missing {
                plan.deletesKey = true
            }
        }
        return plan
    }
}
