import Foundation
import Synchronization

/// One certificate as the store holds it.
///
/// Entries served from the index carry no parsed certificate: OpenSSL parses the `.cer` only when a caller
/// asks for it (`loadCertificate()`), e.g. to build a chain or export.
public struct StoreEntry: Sendable {
    public let store: StorePath
    /// Shared by the entry's copies: a listing hands entries from batch to filter to writer threads, and a
    /// struct holding some thirty strings and arrays cost thirty reference-count operations per copy.
    let content: EntryContent
    let source: CertificateSource

    public var properties: CertificateProperties { content.properties }
    public var storeProperties: StoreProperties { content.storeProperties }
    public var keyStatus: PrivateKeyStatus { content.keyStatus }
    /// The certificate's SHA-1 thumbprint: the name of its files in the store.
    public var thumbprint: Thumbprint { content.thumbprint }
    public var hasPrivateKey: Bool { content.keyStatus.hasPrivateKey }
    /// Its values as JSON text (`JSONRecordTemplate`), when it came from a listing or the index.
    var jsonTemplate: JSONRecordTemplate? { content.jsonTemplate }

    init(store: StorePath, properties: CertificateProperties, storeProperties: StoreProperties,
         keyStatus: PrivateKeyStatus, source: CertificateSource) {
        self.init(store: store, content: EntryContent(properties: properties, storeProperties: storeProperties,
                                                      keyStatus: keyStatus), source: source)
    }

    init(store: StorePath, content: EntryContent, source: CertificateSource) {
        self.store = store
        self.content = content
        self.source = source
    }

    /// Appends this entry's JSON object with the properties `columns` (from `CertificateProperty.all`, as
    /// `writer` writes them; `selection` made from the same columns) from its kept values when it has them,
    /// filling the contextual values from `context`; false (nothing appended) when it has none.
    package func appendKeptJSON(to out: inout [UInt8], writer: JSONRecordText, columns: [CertificateProperty],
                               selection: JSONRecordText.TemplateSelection, context: PropertyContext) -> Bool {
        guard let jsonTemplate else { return false }
        return writer.appendRecord(jsonTemplate, selection: selection, value: { column in
            columns[column].value(of: self, context: context)
        }, to: &out)
    }

    /// The parsed certificate (parsed now if this entry came from the index).
    public func loadCertificate() throws -> Certificate { try source.load() }

    /// The parsed certificate, without keeping it in the entry when it had to be parsed now.
    func certificateForOneUse() throws -> Certificate { try source.read() }
}

/// What a store entry shows: its certificate's properties, its store properties and key check, and (from a
/// listing or the index) its values as JSON text.
final class EntryContent: Sendable {
    let thumbprint: Thumbprint
    let storeProperties: StoreProperties
    let keyStatus: PrivateKeyStatus
    let jsonTemplate: JSONRecordTemplate?
    private let source: LazyProperties.Source

    var properties: CertificateProperties {
        switch source {
        case .decoded(let properties): properties
        case .lazy(let lazy): lazy.value
        }
    }

    convenience init(properties: CertificateProperties, storeProperties: StoreProperties, keyStatus: PrivateKeyStatus,
                     jsonTemplate: JSONRecordTemplate? = nil) {
        self.init(thumbprint: properties.thumbprint, properties: .decoded(properties), storeProperties: storeProperties,
                  keyStatus: keyStatus, jsonTemplate: jsonTemplate)
    }

    init(thumbprint: Thumbprint, properties: LazyProperties.Source, storeProperties: StoreProperties, keyStatus: PrivateKeyStatus,
         jsonTemplate: JSONRecordTemplate?) {
        self.thumbprint = thumbprint
        self.source = properties
        self.storeProperties = storeProperties
        self.keyStatus = keyStatus
        self.jsonTemplate = jsonTemplate
    }
}

/// Where an entry's certificate comes from: already parsed, or its `.cer` file, parsed once on demand.
final class CertificateSource: Sendable {
    private let folder: String
    private let thumbprint: Thumbprint
    private let limit: Int
    private let certificate: Mutex<Certificate?>

    /// A certificate parsed in full (never one parsed for a listing, which cannot be verified or exported).
    init(parsed certificate: Certificate, folder: String) {
        precondition(!certificate.parsedForInventory, "an entry's certificate must be parsed in full")
        self.folder = folder
        self.thumbprint = certificate.thumbprint
        self.limit = certificate.der.count
        self.certificate = Mutex(certificate)
    }

    init(folder: String, thumbprint: Thumbprint, limit: Int) {
        self.folder = folder
        self.thumbprint = thumbprint
        self.limit = limit
        self.certificate = Mutex(nil)
    }

    func load() throws -> Certificate {
        try certificate.withLock { cached in
            if let cached { return cached }
            let parsed = try parse()
            cached = parsed
            return parsed
        }
    }

    /// The kept certificate, or one parsed now and not kept.
    func read() throws -> Certificate {
        if let kept = certificate.withLock({ $0 }) { return kept }
        return try parse()
    }

    private func parse() throws -> Certificate {
        let path = "\(folder)/\(thumbprint.certificateFileName)"
        let parsed = try Certificate(der: try FileSystem.read(path: path, limit: limit))
        guard parsed.thumbprint == thumbprint else {
            throw CertStoreError.badData("\(path) changed while it was being read", hint: "run the command again")
        }
        return parsed
    }
}

/// A file in a store directory that is not a readable certificate (reported, never fatal to a listing).
public struct StoreProblem: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
