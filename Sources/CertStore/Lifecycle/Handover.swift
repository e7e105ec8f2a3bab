import Foundation

/// `handover OLD NEW`: a renewed certificate takes every role of the one it renews, in one operation.
///
/// Every service binding of OLD moves to NEW in place (the default SMTP role included: NEW becomes the default
/// when OLD was), dependencies recorded by OLD's thumbprint move to NEW, and OLD is **archived** (Windows'
/// archived flag: hidden from `list` without `--include-archived`, from the Exchange view and from connector
/// resolution) — so a send connector whose `TLSCertificateName` matched OLD picks NEW when they share issuer
/// and subject, and a keyless twin can never be picked again. Connectors that would not follow (another
/// issuer or subject) are listed with the exact `certstore connector set` to run. The service files are
/// brought in line and the hooks listed by the outcome (`StoreLocation.perform`).
///
/// Refused with nothing changed (``Obstacle``) when NEW has no usable key (none in the store, or the TLS stack
/// refuses it), does not cover every DNS name OLD's roles need, or expires before OLD; `force` overrides that.
/// `handover NEW OLD` undoes a handover: OLD is un-archived and takes everything back (its earlier expiry and
/// its names are then not obstacles: it is the state that was).
///
/// `renew` (a self-signed certificate) and the completion of a renewal request call the same code under their
/// own lock (the internal `handOver(from:to:newTLS:options:)`), as an ACME renewal does.
public struct Handover: Sendable {
    public let store: StoreLocation
    /// The OpenSSL security level NEW must be served at (nil: the system's); see ``TLSUsabilityJudge``.
    public var securityLevel: Int?

    public init(store: StoreLocation, securityLevel: Int? = nil) {
        self.store = store
        self.securityLevel = securityLevel
    }

    /// How a handover runs.
    public struct Options: Sendable {
        /// Hand over despite the obstacles (a deliberate choice: a renewal that drops a name, say).
        public var force: Bool
        /// Work out the plan and change nothing.
        public var dryRun: Bool
        public var now: Date

        public init(force: Bool = false, dryRun: Bool = false, now: Date = Date()) {
            self.force = force
            self.dryRun = dryRun
            self.now = now
        }
    }

    /// Why a handover is refused unless forced.
    public enum Obstacle: Sendable, Equatable, Codable, CustomStringConvertible {
        /// NEW has no usable private key in the store, or the TLS stack (or Exchange's checks) refuse it.
        case noUsableKey(reason: String)
        /// DNS names OLD's certificate or the connectors it serves need, which NEW does not cover.
        case missingDNSNames([String])
        /// NEW expires before OLD.
        case expiresEarlier(new: Date, old: Date)

        public var description: String {
            switch self {
            case .noUsableKey(let reason):
                "the new certificate cannot serve TLS: \(reason)"
            case .missingDNSNames(let names):
                "the new certificate does not cover \(names.joined(separator: ", ")), which the old one's roles need"
            case .expiresEarlier(let new, let old):
                "the new certificate expires on \(new.formatted(.iso8601)), before the old one (\(old.formatted(.iso8601)))"
            }
        }
    }

    /// What happens to one send connector that presents OLD.
    public struct ConnectorStep: Sendable, Equatable, Codable {
        public let connector: String
        /// Its `TLSCertificateName` (or FQDN) picks NEW once OLD is archived: nothing to do.
        public let follows: Bool
        /// When it does not follow: the exact command that points it at NEW (run after the handover).
        public let command: String?
    }

    /// What a handover does (or, with `dryRun`, would do).
    public struct Plan: Sendable, Codable {
        public let old: Thumbprint
        public let new: Thumbprint
        public let oldSubject: String
        public let newSubject: String
        public let oldNotAfter: Date?
        public let newNotAfter: Date?
        /// The services that move from OLD to NEW.
        public let services: [ExchangeService]
        /// OLD was the default SMTP certificate: NEW replaces it as the default.
        public let replacesDefaultSmtp: Bool
        /// Applications whose dependency on OLD (by thumbprint) moves to NEW.
        public let dependencies: [String]
        /// The send connectors that presented OLD.
        public let connectors: [ConnectorStep]
        /// NEW was archived (an undo, or a certificate brought back): it is un-archived.
        public let unarchivesNew: Bool
        /// OLD was archived by a handover to NEW: this undoes it.
        public let isUndo: Bool
        /// What stands against the handover (empty: nothing).
        public let obstacles: [Obstacle]
        /// The obstacles were overridden (`force`).
        public let forced: Bool
        /// Nothing was changed (`dryRun`).
        public let dryRun: Bool

        /// Whether the handover is refused (obstacles, not forced).
        public var isRefused: Bool { !obstacles.isEmpty && !forced }

        /// The commands left to run afterwards (connectors that do not follow).
        public var commandsToRun: [String] { connectors.compactMap(\.command) }

        /// The plan in words, one line per change.
        public var steps: [String] {
            var lines: [String] = []
            if !services.isEmpty {
                lines.append("\(services.map(\.rawValue).joined(separator: ", ")): \(old) → \(new)")
            }
            if replacesDefaultSmtp {
                lines.append("default SMTP certificate: \(new) replaces \(old) as the default")
            }
            for application in dependencies {
                lines.append("dependency \(application): \(old) → \(new)")
            }
            for step in connectors {
                lines.append(step.follows
                    ? "send connector \"\(step.connector)\" follows: it picks \(new) once \(old) is archived"
                    : "send connector \"\(step.connector)\" does not follow (another issuer or subject): run \(step.command ?? "?")")
            }
            lines.append("\(old) is archived (hidden from list, the Exchange view and connector resolution; `certstore handover \(new) \(old)` undoes it)")
            if unarchivesNew { lines.append("\(new) is un-archived") }
            return lines
        }
    }

    /// The plan for handing over from `old` to `new` (both in `My`), without changing anything and without
    /// taking the lock: what `--dry-run` prints.
    public func plan(old: Thumbprint, new: Thumbprint, options: Options = Options()) throws -> Plan {
        let (oldEntry, newEntry) = try entries(old: old, new: new)
        return try plan(from: oldEntry, to: newEntry, newTLS: nil, options: options)
    }

    /// Hands over from `old` to `new`: one operation (see `OperationOutcome`). Refused, changing nothing, when the
    /// plan has obstacles and `options.force` is not set; with `options.dryRun`, returns the plan and changes
    /// nothing.
    public func handover(old: Thumbprint, new: Thumbprint, options: Options = Options()) throws -> OperationOutcome<Plan> {
        if options.dryRun {
            return .unchanged(try plan(old: old, new: new, options: options))
        }
        _ = try entries(old: old, new: new)   // not found: refused before the lock (and before a location is made)
        return try store.perform(now: options.now) {
            let (oldEntry, newEntry) = try entries(old: old, new: new)
            return try handOver(from: oldEntry, to: newEntry, newTLS: nil, options: options)
        }
    }

    /// Plans and commits a handover; the caller holds the lock (inside `perform`): `handover`, `renew`, the
    /// completion of a renewal request, an ACME renewal. `newTLS` is the TLS stack's verdict on `new` when the
    /// caller has it (a certificate about to be written); nil asks ``TLSUsabilityJudge``. Throws the refusal.
    func handOver(from old: StoreEntry, to new: StoreEntry, newTLS: TLSUsability?, options: Options) throws -> Plan {
        let plan = try plan(from: old, to: new, newTLS: newTLS, options: options)
        try Self.refuseIfBlocked(plan)
        try commit(plan, old: old, new: new)
        return plan
    }

    /// The refusal for a plan with obstacles that was not forced.
    static func refuseIfBlocked(_ plan: Plan) throws {
        guard plan.isRefused else { return }
        throw CertStoreError(.refused,
            "handover from \(plan.old) to \(plan.new) refused, nothing was changed: " + plan.obstacles.map(\.description).joined(separator: "; "),
            hint: "bring a certificate that has its key, covers every name and expires later (a PKCS#12 from the CA, or `certstore renew \(plan.old)`); --force hands over anyway when this is deliberate")
    }

    private func entries(old: Thumbprint, new: Thumbprint) throws -> (StoreEntry, StoreEntry) {
        guard old != new else {
            throw CertStoreError.usage("the old and the new certificate are the same (\(old))", hint: "name the renewed certificate second: certstore handover OLD NEW")
        }
        let my = store.path(of: .my)
        return (try store.requireEntry(old, in: my), try store.requireEntry(new, in: my))
    }

    /// Works out the plan for `old` → `new` from the store as it is (the caller may hold the lock).
    func plan(from old: StoreEntry, to new: StoreEntry, newTLS: TLSUsability?, options: Options) throws -> Plan {
        let bindings = try store.read(ServiceBindings.self)
        let dependencies = try store.read(Dependencies.self)
        let connectors = try store.read(SendConnectors.self).sendConnectors
        let isUndo = new.storeProperties.archived && new.storeProperties.supersededBy == old.thumbprint

        // The connectors presenting OLD now, and what each presents once OLD is archived and NEW is not.
        var connectorSteps: [ConnectorStep] = []
        var neededNames = old.properties.dnsNameList
        if !connectors.isEmpty {
            let my = store.path(of: .my)
            let personal = try store.entries(in: my).entries.filter { $0.thumbprint != new.thumbprint }
            let roots = try store.entries(in: my.sibling(.root)).entries.compactMap { try? $0.loadCertificate() }
            let intermediates = try store.entries(in: my.sibling(.ca)).entries.compactMap { try? $0.loadCertificate() }
            let before = ConnectorResolver(personal: personal + (FileSystem.exists(store.certificateURL(new.thumbprint, in: my)) ? [new] : []),
                                           roots: roots, intermediates: intermediates, now: options.now)
            let afterPersonal = personal.map { $0.thumbprint == old.thumbprint ? Self.entry($0, archived: true, supersededBy: new.thumbprint) : $0 }
                + [Self.entry(new, archived: false, supersededBy: nil)]
            let after = ConnectorResolver(personal: afterPersonal, roots: roots, intermediates: intermediates, now: options.now)
            for connector in connectors where before.resolve(connector).chosen?.thumbprint == old.thumbprint {
                let follows = after.resolve(connector).chosen?.thumbprint == new.thumbprint
                connectorSteps.append(ConnectorStep(connector: connector.name, follows: follows,
                    command: follows ? nil : "certstore connector set \(ShellQuote.quote(connector.name)) --from-certificate \(new.thumbprint)"))
                if (connector.tlsCertificateName ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                    neededNames.append(connector.fqdn.flatMap { $0.isEmpty ? nil : $0 } ?? before.hostName)
                }
            }
        }

        var obstacles: [Obstacle] = []
        let tls = newTLS ?? TLSUsabilityJudge(store: store, securityLevel: securityLevel).verdict(for: new)
        let validity = ExchangeCertificateValidity.evaluate(new)
        if !new.hasPrivateKey {
            obstacles.append(.noUsableKey(reason: "the store holds no usable private key for it (\(new.keyStatus.rawValue)) — the KB 4495258 certificate"))
        } else if let problem = tls.problem {
            obstacles.append(.noUsableKey(reason: "\(problem) (OpenSSL security level \(tls.securityLevel)\(tls.detail.map { ": \($0)" } ?? ""))"))
        } else if validity != .valid {
            obstacles.append(.noUsableKey(reason: "Exchange would refuse it (\(validity.rawValue))"))
        }
        if !isUndo {
            let offered = new.properties.dnsNameList
            var missing: [String] = []
            for name in neededNames where !ConnectorResolver.matches(name, names: offered, wildcard: false)
                && !ConnectorResolver.matches(name, names: offered, wildcard: true)
                && !missing.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) {
                missing.append(name)
            }
            if !missing.isEmpty { obstacles.append(.missingDNSNames(missing)) }
            if let newAfter = new.properties.notAfter, let oldAfter = old.properties.notAfter, newAfter < oldAfter {
                obstacles.append(.expiresEarlier(new: newAfter, old: oldAfter))
            }
        }
        return Plan(old: old.thumbprint, new: new.thumbprint,
                    oldSubject: old.properties.subjectString, newSubject: new.properties.subjectString,
                    oldNotAfter: old.properties.notAfter, newNotAfter: new.properties.notAfter,
                    services: bindings.services(of: old.thumbprint).sorted(),
                    replacesDefaultSmtp: bindings.defaultSmtpCertificate == old.thumbprint,
                    dependencies: dependencies.dependencies.filter { $0.thumbprint == old.thumbprint }.map(\.application),
                    connectors: connectorSteps, unarchivesNew: new.storeProperties.archived, isUndo: isUndo,
                    obstacles: obstacles, forced: options.force && !obstacles.isEmpty, dryRun: options.dryRun)
    }

    /// Writes what `plan` says; the caller holds the lock. Bindings and dependencies first, then the archived
    /// flags in one durable batch: a run killed in between leaves OLD unbound but not archived, and running the
    /// handover again finishes it.
    func commit(_ plan: Plan, old: StoreEntry, new: StoreEntry) throws {
        var bindings = try store.read(ServiceBindings.self)
        let before = bindings
        for service in ExchangeService.allCases {
            var list = bindings.thumbprints(for: service)
            guard let index = list.firstIndex(of: old.thumbprint) else { continue }
            if list.contains(new.thumbprint) { list.remove(at: index) } else { list[index] = new.thumbprint }
            bindings.services[service] = list.isEmpty ? nil : list
        }
        if bindings.defaultSmtpCertificate == old.thumbprint { bindings.defaultSmtpCertificate = new.thumbprint }
        if bindings != before { try store.write(bindings) }

        var dependencies = try store.read(Dependencies.self)
        if dependencies.dependencies.contains(where: { $0.thumbprint == old.thumbprint }) {
            for index in dependencies.dependencies.indices where dependencies.dependencies[index].thumbprint == old.thumbprint {
                dependencies.dependencies[index].thumbprint = new.thumbprint
            }
            try store.write(dependencies)
        }

        let my = store.path(of: .my)
        let batch = WriteBatch(anchor: store.directory)
        var oldProperties = old.storeProperties
        oldProperties.archived = true
        oldProperties.supersededBy = new.thumbprint
        try store.writeStoreProperties(oldProperties, thumbprint: old.thumbprint, in: my, batch: batch)
        var newProperties = new.storeProperties
        if newProperties.archived || newProperties.supersededBy != nil {
            newProperties.archived = false
            newProperties.supersededBy = nil
            try store.writeStoreProperties(newProperties, thumbprint: new.thumbprint, in: my, batch: batch)
        }
        try batch.commit()
    }

    /// `entry` with other archived flags (what the store will say after the handover).
    static func entry(_ entry: StoreEntry, archived: Bool, supersededBy: Thumbprint?) -> StoreEntry {
        var properties = entry.storeProperties
        properties.archived = archived
        properties.supersededBy = supersededBy
        return StoreEntry(store: entry.store, content: EntryContent(properties: entry.properties, storeProperties: properties,
                                                                    keyStatus: entry.keyStatus), source: entry.source)
    }
}
