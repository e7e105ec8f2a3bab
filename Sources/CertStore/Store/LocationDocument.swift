import Foundation

/// A JSON document of a location (`bindings.json`, `connectors.json`, `dependencies.json`): read by anyone,
/// written atomically by the lock holder. A missing file is the empty document.
protocol LocationDocument: Codable, Sendable {
    static var fileName: String { get }
    init()
}

extension StoreLocation {
    func documentURL<D: LocationDocument>(_ type: D.Type) -> URL {
        directory.appendingPathComponent(D.fileName)
    }

    func read<D: LocationDocument>(_ type: D.Type) throws -> D {
        let url = documentURL(type)
        guard FileSystem.exists(url) else { return D() }
        let bytes = try FileSystem.read(url, limit: 16 << 20)
        do {
            return try StoreProperties.decoder.decode(D.self, from: Data(bytes))
        } catch {
            throw CertStoreError(.badData, "\(url.path) is not a valid \(D.fileName): \(error)",
                                 hint: "fix or restore the file; certstore will not overwrite a file it cannot read")
        }
    }

    func write<D: LocationDocument>(_ document: D) throws {
        try FileSystem.ensureDirectory(directory, mode: 0o755)
        let bytes = Array(try StoreProperties.encoder.encode(document)) + [0x0A]
        try FileSystem.writeAtomically(bytes, to: documentURL(D.self), mode: 0o644)
    }
}
