import Foundation

extension StoreLocation {
    /// Runs one user operation as one transaction: takes the writer lock once, runs `body` (which plans,
    /// refuses by throwing before it writes, then commits the store change), brings the service files in
    /// line with what the store now says, works out what changed for send connectors, and lists the hooks
    /// to run — all under that one lock. Nothing runs after a refusal or failure of `body`: it changed
    /// nothing, so nothing follows from it.
    ///
    /// The consequences cost nothing when there is nothing to judge: no connectors, no bindings and no
    /// service files means no store listing (an import into a big store stays as fast as before).
    ///
    /// `changed` tells from the value whether `body` committed anything (an import that stopped at a bad
    /// file did not): when it did not, nothing follows.
    func perform<Value: Sendable>(now: Date = Date(), changed: (Value) -> Bool = { _ in true },
                                  _ body: () throws -> Value) throws -> OperationOutcome<Value> {
        try withWriteLock {
            let connectorsBefore = try connectorVerdicts(now: now)
            let value = try body()
            guard changed(value) else { return .unchanged(value) }
            return try consequences(of: value, connectorsBefore: connectorsBefore, now: now)
        }
    }

    /// What follows from a committed change; the caller holds the lock.
    func consequences<Value: Sendable>(of value: Value, connectorsBefore: [String: ConnectorVerdict]?, now: Date) throws -> OperationOutcome<Value> {
        let bindings = try read(ServiceBindings.self)
        let connectors = try read(SendConnectors.self)
        let files = ServiceFiles(store: self)
        let hasServiceFiles = ExchangeService.bindable.contains { FileSystem.exists(files.folder($0)) }
            || FileSystem.exists(files.connectorsDirectory)
        let needsAllOfMy = !connectors.sendConnectors.isEmpty || connectorsBefore?.isEmpty == false
        guard needsAllOfMy || !bindings.allBoundThumbprints.isEmpty || hasServiceFiles else { return .unchanged(value) }

        // One view of the store after the change serves both the connectors and the services.
        let resolver = needsAllOfMy ? try ConnectorResolver(store: self, now: now) : try boundResolver(bindings, now: now)
        var connectorChanges: [ConnectorChange] = []
        if needsAllOfMy {
            var after: [String: ConnectorVerdict] = [:]
            for connector in connectors.sendConnectors {
                after[connector.name] = ConnectorVerdict(connector: connector, selection: resolver.resolve(connector), bindings: bindings)
            }
            let before = connectorsBefore ?? [:]
            for name in Set(before.keys).union(after.keys).sorted() where before[name] != after[name] {
                connectorChanges.append(ConnectorChange(connector: name, before: before[name], after: after[name]))
            }
        }
        var serviceChanges: [ServiceFiles.Change] = []
        var serviceFailure: CertStoreError? = nil
        do {
            // Bindable services first, then each send connector's own files (its postfix transport reads them).
            var plans = try files.plan(bindings: bindings, resolver: resolver, now: now)
            if needsAllOfMy || FileSystem.exists(files.connectorsDirectory) {
                plans += try files.planConnectors(connectors.sendConnectors, bindings: bindings, resolver: resolver)
            }
            serviceChanges = try files.apply(plans, bindings: bindings, connectors: connectors.sendConnectors, resolver: resolver, now: now)
        } catch let error as CertStoreError {
            serviceFailure = error
        }
        let hooks = DeployHooks(store: self).invocations(for: serviceChanges)
        return OperationOutcome(value: value, serviceChanges: serviceChanges, serviceFailure: serviceFailure,
                                connectorChanges: connectorChanges, hooks: hooks)
    }

    /// Every connector's verdict now, or nil when there are no connectors (nothing to compare).
    func connectorVerdicts(now: Date) throws -> [String: ConnectorVerdict]? {
        let connectors = try read(SendConnectors.self)
        guard !connectors.sendConnectors.isEmpty else { return nil }
        let bindings = try read(ServiceBindings.self)
        let resolver = try ConnectorResolver(store: self, now: now)
        var verdicts: [String: ConnectorVerdict] = [:]
        for connector in connectors.sendConnectors {
            verdicts[connector.name] = ConnectorVerdict(connector: connector, selection: resolver.resolve(connector), bindings: bindings)
        }
        return verdicts
    }

    /// A resolver over the bound certificates only (read one file each) and the chain stores: enough to
    /// choose what each service presents without listing all of `My`.
    private func boundResolver(_ bindings: ServiceBindings, now: Date) throws -> ConnectorResolver {
        let my = path(of: .my)
        let bound = bindings.allBoundThumbprints.sorted().compactMap { try? entry($0, in: my) }
        return ConnectorResolver(personal: bound,
                                 roots: try entries(in: my.sibling(.root)).entries.compactMap { try? $0.loadCertificate() },
                                 intermediates: try entries(in: my.sibling(.ca)).entries.compactMap { try? $0.loadCertificate() },
                                 now: now)
    }
}
