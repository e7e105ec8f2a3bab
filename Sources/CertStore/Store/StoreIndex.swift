import Foundation
import Synchronization

/// The index of one store: every certificate's parsed properties, its key check and its values as JSON text,
/// each valid only while the `.cer`, the `.json` and the key file it came from keep their stamps (`FileStamp`).
///
/// Kept in `<location>/.cache/<Store>.index`. A reader rebuilds what is stale and saves the index only if
/// it can take the writer lock at once; a damaged, foreign or truncated index is simply ignored. Nothing in
/// it is ever trusted without checking the files it came from.
struct StoreIndex {
    /// A class: a listing hands records from thread to thread and table to table.
    final class Record: Sendable {
        let cer: FileStamp
        let json: FileStamp?
        let key: FileStamp?
        /// What the record's entry shows (shared with the entry, not copied).
        let content: EntryContent

        var keyStatus: PrivateKeyStatus { content.keyStatus }
        var properties: CertificateProperties { content.properties }
        var storeProperties: StoreProperties { content.storeProperties }
        var jsonTemplate: JSONRecordTemplate? { content.jsonTemplate }

        convenience init(cer: FileStamp, json: FileStamp?, key: FileStamp?, keyStatus: PrivateKeyStatus,
                         properties: CertificateProperties, storeProperties: StoreProperties, jsonTemplate: JSONRecordTemplate? = nil) {
            self.init(cer: cer, json: json, key: key,
                      content: EntryContent(properties: properties, storeProperties: storeProperties, keyStatus: keyStatus,
                                            jsonTemplate: jsonTemplate))
        }

        init(cer: FileStamp, json: FileStamp?, key: FileStamp?, content: EntryContent) {
            self.cer = cer
            self.json = json
            self.key = key
            self.content = content
        }
    }

    /// Version 5 (4 kept names formatted before T61String-as-UTF-8, TPM labels and `#`-hex values, and did not
    /// mark the latter): every record is prefixed by its length and starts with what decides whether it is current
    /// (thumbprint, stamps, key file name), so a listing finds and checks records without decoding them; then
    /// the key status, the store properties, the values as JSON text (`JSONRecordTemplate`), and last the
    /// certificate properties, prefixed by their length so that a listing that does not need them skips them.
    /// The magic is followed by the templates' schema: an index written for another set of properties is not used.
    static let magic: [UInt8] = Array("CSIDX007".utf8)
    static let schema: [UInt8] = Array(JSONRecordTemplate.schema.utf8)

    static func url(_ store: StoreLocation, _ path: StorePath) -> URL {
        store.directory.appendingPathComponent(".cache", isDirectory: true).appendingPathComponent("\(path.name.rawValue).index")
    }

    /// What decides whether a record is current: the stamps of its three files (the key's by its name).
    struct Header {
        let cer: FileStamp
        let json: FileStamp?
        let key: FileStamp?
        let publicKeyIdentifier: String
    }

    /// An index as read from disk: its bytes, and where each record is. Records are decoded only when a
    /// listing uses them, so memory holds the file's bytes rather than every record decoded at once.
    struct Loaded: Sendable {
        let bytes: [UInt8]
        let ranges: [String: Range<Int>]
        var count: Int { ranges.count }

        static let empty = Loaded(bytes: [], ranges: [:])

        /// The header of the record at `range` (from `range(_:)`).
        func header(at range: Range<Int>) -> Header? {
            var reader = ByteReader(bytes, range: range)
            return try? reader.recordHeader().header
        }

        /// The header of the record at `range` and the key status it recorded, without decoding the rest: what
        /// `check` needs to know whether the index vouches for a certificate, its properties file and its key.
        func headerAndKeyStatus(at range: Range<Int>) -> (header: Header, keyStatus: PrivateKeyStatus)? {
            var reader = ByteReader(bytes, range: range)
            guard let header = try? reader.recordHeader().header, let text = try? reader.string(),
                  let status = PrivateKeyStatus(rawValue: text) else { return nil }
            return (header, status)
        }

        /// The record at `range` (from `range(_:)`); nil when it does not decode. With `reparse`, its certificate
        /// properties are decoded only when first asked for (`LazyProperties`), and `reparse` reads them from
        /// the certificate should they not decode then.
        func record(at range: Range<Int>, reparse: LazyProperties.Reparse? = nil) -> Record? {
            var reader = ByteReader(bytes, range: range)
            guard let record = try? reader.record(reparse: reparse), reader.isAtEnd else { return nil }
            return record
        }

        /// Where the record is in `bytes`, to be written unchanged into the next index.
        func range(_ thumbprint: String) -> Range<Int>? { ranges[thumbprint] }
    }

    /// The index at `url`; empty when there is none, or it is damaged, truncated or foreign.
    static func open(_ url: URL) -> Loaded {
        guard let bytes = try? FileSystem.read(url, limit: 1 << 30), bytes.count > magic.count + 32,
              bytes.prefix(magic.count).elementsEqual(magic) else { return .empty }
        let bodyEnd = bytes.count - 32
        let digest = bytes.withUnsafeBytes { Digest.sha256(UnsafeRawBufferPointer(rebasing: $0[..<bodyEnd])) }
        guard bytes[bodyEnd...].elementsEqual(digest) else { return .empty }
        do {
            var reader = ByteReader(bytes, range: magic.count..<bodyEnd)
            guard try reader.string().utf8.elementsEqual(schema) else { return .empty }
            let count = try reader.varint()
            guard count <= UInt64(bodyEnd) else { return .empty }
            var ranges: [String: Range<Int>] = [:]
            ranges.reserveCapacity(Int(count))
            for _ in 0..<count {
                let length = Int(clamping: try reader.varint())
                let start = reader.offset
                try reader.skip(length)
                var record = ByteReader(bytes, range: start..<(start + length))
                ranges[try record.string()] = start..<(start + length)
            }
            guard reader.isAtEnd else { return .empty }
            return Loaded(bytes: bytes, ranges: ranges)
        } catch {
            return .empty
        }
    }

    /// Every record by thumbprint; empty when there is no usable index (or one record does not decode).
    static func load(_ url: URL) -> [Thumbprint: Record] {
        let index = open(url)
        var records: [Thumbprint: Record] = [:]
        for range in index.ranges.values {
            guard let record = index.record(at: range) else { return [:] }
            records[record.content.thumbprint] = record
        }
        return records
    }

    static func encode(_ records: [Record]) -> [UInt8] {
        var builder = Builder()
        for record in records { builder.append(record) }
        return builder.bytes()
    }

    /// An index file built record by record, in order: a record kept from the previous index is remembered
    /// by where it is in that index's bytes (nothing is copied unless the index is written), a new record is
    /// kept as its own encoding. The file is written part by part (`write`), never assembled in memory.
    struct Builder {
        private enum Piece {
            case previous(Range<Int>)
            case fresh(Int)
        }

        private let previous: [UInt8]
        private var fresh: [[UInt8]] = []
        private var pieces: [Piece] = []
        var count: Int { pieces.count }

        init(previous: [UInt8] = []) { self.previous = previous }

        /// A record as it is in the previous index (`range` of the bytes given to `init`).
        mutating func appendPrevious(_ range: Range<Int>) { pieces.append(.previous(range)) }

        mutating func append(_ record: Record) {
            fresh.append(StoreIndex.encode(record))
            pieces.append(.fresh(fresh.count - 1))
        }

        /// The index file's bytes, handed to `output` in parts, followed by the SHA-256 of all of them.
        func write(_ output: (UnsafeRawBufferPointer) throws -> Void) throws {
            let digest = SHA256Stream()
            func emit(_ bytes: UnsafeRawBufferPointer) throws {
                digest.update(bytes)
                try output(bytes)
            }
            var header = ByteWriter()
            header.raw(StoreIndex.magic)
            header.varint(UInt64(StoreIndex.schema.count))
            header.raw(StoreIndex.schema)
            header.varint(UInt64(pieces.count))
            try header.bytes.withUnsafeBytes(emit)
            // Records go out in chunks of about a megabyte: few writes, little memory.
            var chunk = ByteWriter()
            for piece in pieces {
                switch piece {
                case .previous(let range):
                    chunk.varint(UInt64(range.count))
                    chunk.raw(previous[range])
                case .fresh(let index):
                    chunk.varint(UInt64(fresh[index].count))
                    chunk.raw(fresh[index])
                }
                if chunk.bytes.count >= 1 << 20 {
                    try chunk.bytes.withUnsafeBytes(emit)
                    chunk = ByteWriter()
                }
            }
            try chunk.bytes.withUnsafeBytes(emit)
            try digest.finish().withUnsafeBytes(output)
        }

        /// The whole index file in memory (tests, small indexes).
        func bytes() -> [UInt8] {
            var all: [UInt8] = []
            try? write { all.append(contentsOf: $0) }
            return all
        }
    }

    /// One record's bytes (without its length prefix).
    static func encode(_ record: Record) -> [UInt8] {
        var item = ByteWriter()
        item.string(record.properties.thumbprint.value)
        item.stamp(record.cer)
        item.optional(record.json) { $0.stamp($1) }
        item.optional(record.key) { $0.stamp($1) }
        item.string(record.properties.publicKeyIdentifier)
        item.string(record.keyStatus.rawValue)
        item.storeProperties(record.storeProperties)
        item.optional(record.jsonTemplate) { writer, template in
            writer.varint(UInt64(template.range.count))
            writer.raw(template.storage[template.range])
        }
        var properties = ByteWriter()
        properties.properties(record.properties)
        item.varint(UInt64(properties.bytes.count))
        item.raw(properties.bytes)
        return item.bytes
    }

}

extension ByteReader {
    mutating func recordHeader() throws -> (thumbprint: String, header: StoreIndex.Header) {
        let thumbprint = try string()
        let cer = try stamp()
        let json = try optional { try $0.stamp() }
        let key = try optional { try $0.stamp() }
        let identifier = try string()
        return (thumbprint, StoreIndex.Header(cer: cer, json: json, key: key, publicKeyIdentifier: identifier))
    }

    mutating func record(reparse: LazyProperties.Reparse? = nil) throws -> StoreIndex.Record {
        let (name, header) = try recordHeader()
        // The record was found by its certificate's file name; a thumbprint certstore did not write is damage.
        guard let thumbprint = Thumbprint(canonical: name) else { throw Truncated() }
        guard let status = PrivateKeyStatus(rawValue: try string()) else { throw Truncated() }
        let storeProperties = try storeProperties()
        let jsonTemplate = try optional { try $0.template() }
        let (bytes, range) = try sharedBlock()
        let properties: LazyProperties.Source
        if let reparse {
            properties = .lazy(LazyProperties(bytes: bytes, range: range, thumbprint: thumbprint,
                                               publicKeyIdentifier: header.publicKeyIdentifier, reparse: reparse))
        } else {
            guard let decoded = LazyProperties.decode(bytes, range, thumbprint: thumbprint,
                                                      publicKeyIdentifier: header.publicKeyIdentifier) else { throw Truncated() }
            properties = .decoded(decoded)
        }
        return StoreIndex.Record(cer: header.cer, json: header.json, key: header.key,
                                 content: EntryContent(thumbprint: thumbprint, properties: properties, storeProperties: storeProperties,
                                                       keyStatus: status, jsonTemplate: jsonTemplate))
    }
}

/// Certificate properties kept in the index, decoded when first asked for: a listing that writes each
/// record's kept JSON text never asks, and decoding them (thirty-odd strings per record) was a third of it.
final class LazyProperties: Sendable {
    enum Source: Sendable {
        case decoded(CertificateProperties)
        case lazy(LazyProperties)
    }

    /// Reads the properties from the certificate itself, should the record not decode (the index is checked
    /// whole by its SHA-256 before any record is used, so this is a last resort).
    struct Reparse: Sendable {
        let folder: String
        let limit: Int

        func properties(_ thumbprint: Thumbprint) -> CertificateProperties? {
            guard let der = try? FileSystem.read(path: "\(folder)/\(thumbprint.certificateFileName)", limit: limit),
                  let certificate = try? Certificate(der: der) else { return nil }
            return certificate.properties()
        }
    }

    private let bytes: [UInt8]
    private let range: Range<Int>
    private let thumbprint: Thumbprint
    private let publicKeyIdentifier: String
    private let reparse: Reparse
    private let cache = Mutex<CertificateProperties?>(nil)

    init(bytes: [UInt8], range: Range<Int>, thumbprint: Thumbprint, publicKeyIdentifier: String,
         reparse: Reparse) {
        self.bytes = bytes
        self.range = range
        self.thumbprint = thumbprint
        self.publicKeyIdentifier = publicKeyIdentifier
        self.reparse = reparse
    }

    var value: CertificateProperties {
        cache.withLock { cached in
            if let cached { return cached }
            let value = Self.decode(bytes, range, thumbprint: thumbprint, publicKeyIdentifier: publicKeyIdentifier)
                ?? reparse.properties(thumbprint).flatMap { $0.thumbprint == thumbprint ? $0 : nil }
                ?? CertificateProperties.unreadable(thumbprint: thumbprint, publicKeyIdentifier: publicKeyIdentifier)
            cached = value
            return value
        }
    }

    /// The properties in `range` of `bytes`, when they decode whole and belong to the record.
    static func decode(_ bytes: [UInt8], _ range: Range<Int>, thumbprint: Thumbprint, publicKeyIdentifier: String) -> CertificateProperties? {
        var reader = ByteReader(bytes, range: range)
        guard let properties = try? reader.properties(), reader.isAtEnd, properties.thumbprint == thumbprint,
              properties.publicKeyIdentifier == publicKeyIdentifier else { return nil }
        return properties
    }
}
