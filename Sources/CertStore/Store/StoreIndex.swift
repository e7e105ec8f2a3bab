import Foundation

/// The index of one store: every certificate's parsed properties and its key check, each valid only while
/// the `.cer`, the `.json` and the key file it came from keep their stamps (`FileStamp`).
///
/// Kept in `<location>/.cache/<Store>.index`. A reader rebuilds what is stale and saves the index only if
/// it can take the writer lock at once; a damaged, foreign or truncated index is simply ignored. Nothing in
/// it is ever trusted without checking the files it came from.
struct StoreIndex {
    /// A class: a listing hands records from thread to thread and table to table, and a struct of some thirty
    /// strings and arrays costs thirty reference-count operations per copy.
    final class Record: Sendable {
        let cer: FileStamp
        let json: FileStamp?
        let key: FileStamp?
        let keyStatus: PrivateKeyStatus
        let properties: CertificateProperties
        let storeProperties: StoreProperties

        init(cer: FileStamp, json: FileStamp?, key: FileStamp?, keyStatus: PrivateKeyStatus,
             properties: CertificateProperties, storeProperties: StoreProperties) {
            self.cer = cer
            self.json = json
            self.key = key
            self.keyStatus = keyStatus
            self.properties = properties
            self.storeProperties = storeProperties
        }
    }

    /// Version 3: every record is prefixed by its length and starts with what decides whether it is current
    /// (thumbprint, stamps, key file name), so a listing finds and checks records without decoding them.
    static let magic: [UInt8] = Array("CSIDX003".utf8)

    static func url(_ store: CertificateStore, _ path: StorePath) -> URL {
        store.directory.appendingPathComponent(".cache", isDirectory: true).appendingPathComponent("\(path.store).index")
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

        func header(_ thumbprint: String) -> Header? {
            guard let range = ranges[thumbprint] else { return nil }
            var reader = ByteReader(bytes, range: range)
            return try? reader.recordHeader().header
        }

        func record(_ thumbprint: String) -> Record? {
            guard let range = ranges[thumbprint] else { return nil }
            var reader = ByteReader(bytes, range: range)
            guard let record = try? reader.record(), reader.isAtEnd else { return nil }
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
    static func load(_ url: URL) -> [String: Record] {
        let index = open(url)
        var records: [String: Record] = [:]
        for thumbprint in index.ranges.keys {
            guard let record = index.record(thumbprint) else { return [:] }
            records[thumbprint] = record
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
    /// encoded into one growing buffer.
    struct Builder {
        private enum Piece {
            case previous(Range<Int>)
            case fresh(Range<Int>)
        }

        private let previous: [UInt8]
        private var fresh = ByteWriter()
        private var pieces: [Piece] = []
        var count: Int { pieces.count }

        init(previous: [UInt8] = []) { self.previous = previous }

        /// A record as it is in the previous index (`range` of the bytes given to `init`).
        mutating func appendPrevious(_ range: Range<Int>) { pieces.append(.previous(range)) }

        mutating func append(_ record: Record) {
            let start = fresh.bytes.count
            fresh.raw(StoreIndex.encode(record))
            pieces.append(.fresh(start..<fresh.bytes.count))
        }

        func bytes() -> [UInt8] {
            var writer = ByteWriter()
            writer.raw(StoreIndex.magic)
            writer.varint(UInt64(pieces.count))
            for piece in pieces {
                switch piece {
                case .previous(let range):
                    writer.varint(UInt64(range.count))
                    writer.raw(previous[range])
                case .fresh(let range):
                    writer.varint(UInt64(range.count))
                    writer.raw(fresh.bytes[range])
                }
            }
            return writer.bytes + Digest.sha256(writer.bytes)
        }
    }

    /// One record's bytes (without its length prefix).
    static func encode(_ record: Record) -> [UInt8] {
        var item = ByteWriter()
        item.string(record.properties.thumbprint)
        item.stamp(record.cer)
        item.optional(record.json) { $0.stamp($1) }
        item.optional(record.key) { $0.stamp($1) }
        item.string(record.properties.publicKeyIdentifier)
        item.string(record.keyStatus.rawValue)
        item.properties(record.properties)
        item.storeProperties(record.storeProperties)
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

    mutating func record() throws -> StoreIndex.Record {
        let (thumbprint, header) = try recordHeader()
        guard let status = PrivateKeyStatus(rawValue: try string()) else { throw Truncated() }
        let properties = try properties()
        let storeProperties = try storeProperties()
        guard properties.thumbprint == thumbprint, properties.publicKeyIdentifier == header.publicKeyIdentifier else { throw Truncated() }
        return StoreIndex.Record(cer: header.cer, json: header.json, key: header.key, keyStatus: status,
                                 properties: properties, storeProperties: storeProperties)
    }
}
