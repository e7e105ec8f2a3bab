import Foundation

/// One removed certificate in `<location>/Trash/<id>/`, restorable exactly.
public struct TrashEntry: Sendable, Codable, Equatable {
    public let id: String
    public let thumbprint: String
    /// `LocalMachine/My`
    public let store: String
    public let subject: String
    public let notAfter: Date?
    public let removedAt: Date
    /// Name of the key file kept in the trash entry (with `--delete-key`), else nil.
    public let keyFile: String?
    /// Removed with `--force` despite blockers.
    public let forced: Bool
    /// What the removal overrode or changed, for the record.
    public let notes: [String]
}
