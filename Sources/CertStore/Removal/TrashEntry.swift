import Foundation

/// One removed certificate in `<location>/Trash/<id>/`, restorable exactly.
public struct TrashEntry: Sendable, Codable, Equatable {
    /// The entry's directory name: `<removedAt>Z-<first 8 of the thumbprint>[-n]`.
    public let id: String
    public let thumbprint: Thumbprint
    /// The store the certificate was removed from (and goes back to), e.g. `LocalMachine/My`.
    public let store: StorePath
    public let subject: String
    public let notAfter: Date?
    public let removedAt: Date
    /// Name of the key file kept in the trash entry (with `--delete-key`), else nil.
    public let keyFile: String?
    /// Removed with `--force` despite blockers.
    public let forced: Bool
    /// What the removal overrode or changed, for the record.
    public let notes: [String]

    init(id: String, thumbprint: Thumbprint, store: StorePath, subject: String, notAfter: Date?, removedAt: Date,
         keyFile: String?, forced: Bool, notes: [String]) {
        self.id = id
        self.thumbprint = thumbprint
        self.store = store
        self.subject = subject
        self.notAfter = notAfter
        self.removedAt = removedAt
        self.keyFile = keyFile
        self.forced = forced
        self.notes = notes
    }

    /// `manifest.json` as written: every field a string (or date, flag, list), exactly as certstore has always
    /// written it. `Trash` reads this first and checks each field before it becomes a ``TrashEntry``.
    struct Manifest: Codable {
        let id: String
        let thumbprint: String
        let store: String
        let subject: String
        let notAfter: Date?
        let removedAt: Date
        let keyFile: String?
        let forced: Bool
        let notes: [String]
    }

    var manifest: Manifest {
        Manifest(id: id, thumbprint: thumbprint.value, store: store.description, subject: subject, notAfter: notAfter,
                 removedAt: removedAt, keyFile: keyFile, forced: forced, notes: notes)
    }

    /// Reads a manifest, refusing a thumbprint or store certstore would not have written.
    public init(from decoder: any Decoder) throws {
        let manifest = try Manifest(from: decoder)
        guard let thumbprint = Thumbprint(canonical: manifest.thumbprint) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a thumbprint: \(manifest.thumbprint)"))
        }
        guard let store = try? StorePath(parsing: manifest.store), store.description == manifest.store else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a store: \(manifest.store)"))
        }
        self.init(id: manifest.id, thumbprint: thumbprint, store: store, subject: manifest.subject, notAfter: manifest.notAfter,
                  removedAt: manifest.removedAt, keyFile: manifest.keyFile, forced: manifest.forced, notes: manifest.notes)
    }

    public func encode(to encoder: any Encoder) throws { try manifest.encode(to: encoder) }
}
