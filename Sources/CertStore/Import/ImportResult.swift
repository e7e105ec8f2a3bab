/// What an import did, file by file: the summary `import` prints and its JSON form.
public struct ImportResult: Sendable, Codable {
    public enum Action: String, Sendable, Codable {
        /// The certificate was new in its store.
        case added = "Added"
        /// The certificate was there already; nothing changed.
        case alreadyPresent = "AlreadyPresent"
        /// The certificate was there without a usable key; the key from this import re-links it.
        case keyAdded = "KeyAdded"
        /// The certificate was there; this import changed its store properties (--exportable, --friendly-name).
        case updated = "Updated"
        /// The certificate was issued for a pending request: it joined the request's key (which never left the
        /// store), and the request went to the trash.
        case completed = "Completed"
    }

    /// A pending request completed by the import.
    public struct CompletedRequest: Sendable, Codable, Equatable {
        /// The request's entry in `REQUEST` (its dummy certificate), now in the trash.
        public let request: Thumbprint
        /// The issued certificate that completed it.
        public let certificate: Thumbprint
        /// The trash entry holding the request (`certstore restore` brings it back).
        public let trashID: String
    }

    /// A completed request that `renew` made: what became of the handover from the certificate it renews.
    public struct CompletedRenewal: Sendable, Codable, Equatable {
        /// The certificate the request renews.
        public let renewed: Thumbprint
        /// The issued certificate that completed it.
        public let certificate: Thumbprint
        /// The handover ran (bindings moved, the renewed certificate archived).
        public let handedOver: Bool
        /// What the handover did (``Handover/Plan/steps``), or why it did not run.
        public let steps: [String]
        /// Commands left to run: connectors that do not follow, or the handover itself when it was refused.
        public let commands: [String]
    }

    public struct Item: Sendable, Codable, Equatable {
        public let file: String
        public let thumbprint: Thumbprint
        public let store: StorePath
        public let subject: String
        public let action: Action
        public let hasPrivateKey: Bool
    }

    public struct Failure: Sendable, Codable, Equatable {
        public let file: String
        public let kind: CertStoreError.Kind
        public let message: String
        public let hint: String?

        init(file: String, error: CertStoreError) {
            self.file = file
            self.kind = error.kind
            self.message = error.message
            self.hint = error.hint
        }
    }

    public var items: [Item] = []
    public var failures: [Failure] = []
    /// What was imported but not as the file meant: e.g. a key that could not be paired with its certificate
    /// (the certificate is imported all the same). Never stops the import.
    public var warnings: [Failure] = []
    /// Pending requests this import completed.
    public var completedRequests: [CompletedRequest] = []
    /// Renewal requests this import completed, and their handovers.
    public var renewals: [CompletedRenewal] = []
    /// False when a failure stopped the whole import before anything was written.
    public var committed = false

    public var addedCount: Int { items.filter { $0.action == .added }.count }
    public var keyAddedCount: Int { items.filter { $0.action == .keyAdded }.count }
    public var alreadyPresentCount: Int { items.filter { $0.action == .alreadyPresent }.count }
    public var updatedCount: Int { items.filter { $0.action == .updated }.count }
    public var completedCount: Int { items.filter { $0.action == .completed }.count }
}
