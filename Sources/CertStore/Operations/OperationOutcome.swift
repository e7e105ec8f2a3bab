import Foundation

/// Everything one operation changed: its own result, the service files it brought in line, what it changed
/// for send connectors, and the deploy hooks to run — run after the lock is released, from this value
/// (`DeployHooks.run(_:)`).
///
/// A refused, failed or busy operation throws instead, and has changed nothing: there is no outcome, so
/// there are no hooks.
public struct OperationOutcome<Value: Sendable>: Sendable {
    /// The operation's own result (what was imported, bound, removed, ...).
    public let value: Value
    /// Services whose files switched to a new version or were withdrawn.
    public let serviceChanges: [ServiceFiles.Change]
    /// Set when the store change was committed but the service files could not be brought in line; the
    /// live files are as they were (run `certstore deploy` once the cause is fixed).
    public let serviceFailure: CertStoreError?
    /// Send connectors whose certificate or verdict the operation changed.
    public let connectorChanges: [ConnectorChange]
    /// Hooks to run, one per hook per changed service, with what each is told.
    public let hooks: [DeployHooks.Invocation]

    init(value: Value, serviceChanges: [ServiceFiles.Change] = [], serviceFailure: CertStoreError? = nil,
         connectorChanges: [ConnectorChange] = [], hooks: [DeployHooks.Invocation] = []) {
        self.value = value
        self.serviceChanges = serviceChanges
        self.serviceFailure = serviceFailure
        self.connectorChanges = connectorChanges
        self.hooks = hooks
    }

    /// An outcome that changed nothing (a dry run, or a request that needed no change).
    static func unchanged(_ value: Value) -> OperationOutcome<Value> { OperationOutcome(value: value) }
}
