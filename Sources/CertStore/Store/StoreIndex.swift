import Foundation

/// The index of one store: every certificate's parsed properties and its key check, each valid only while
/// the `.cer`, the `.json` and the key file it came from keep their stamps (`FileStamp`).
///
/// Kept in `<location>/.cache/<Store>.index`. A reader rebuilds what is stale and saves the index only if
/// it can take the writer lock at once; a damaged, foreign or truncated index is simply ignored. Nothing in
/// it is ever trusted without checking the files it came from.
struct StoreIndex {
    struct Record {
        let cer: FileStamp
        let json: FileStamp?
        let key: FileStamp?
        let keyStatus: PrivateKeyStatus
        let properties: CertificateProperties
        let storeProperties: StoreProperties
    }

    static let magic: [UInt8] = Array("CSIDX002".utf8)

    static func url(_ store: CertificateStore, _ path: StorePath) -> URL {
        store.directory.appendingPathComponent(".cache", isDirectory: true).appendingPathComponent("\(path.store).index")
    }

    /// Records by thumbprint; empty when there is no usable index.
    static func load(_ url: URL) -> [String: Record] {
        guard let bytes = try? FileSystem.read(url, limit: 1 << 30), bytes.count > magic.count + 32,
              Array(bytes.prefix(magic.count)) == magic else { return [:] }
        let body = Array(bytes.dropLast(32))
        guard Digest.sha256(body) == Array(bytes.suffix(32)) else { return [:] }
        var reader = ByteReader(body)
        do {
            _ = try reader.raw(magic.count)
            let count = try reader.varint()
            var records: [String: Record] = [:]
            records.reserveCapacity(Int(min(count, 1 << 20)))
            for _ in 0..<count {
                let cer = try reader.stamp()
                let json = try reader.optional { try $0.stamp() }
                let key = try reader.optional { try $0.stamp() }
                guard let status = PrivateKeyStatus(rawValue: try reader.string()) else { return [:] }
                let properties = try reader.properties()
                let storeProperties = try reader.storeProperties()
                records[properties.thumbprint] = Record(cer: cer, json: json, key: key, keyStatus: status,
                                                        properties: properties, storeProperties: storeProperties)
            }
            return reader.isAtEnd ? records : [:]
        } catch {
            return [:]
        }
    }

    static func encode(_ records: [Record]) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(magic)
        writer.varint(UInt64(records.count))
        for record in records {
            writer.stamp(record.cer)
            writer.optional(record.json) { $0.stamp($1) }
            writer.optional(record.key) { $0.stamp($1) }
            writer.string(record.keyStatus.rawValue)
            writer.properties(record.properties)
            writer.storeProperties(record.storeProperties)
        }
        return writer.bytes + Digest.sha256(writer.bytes)
    }
}
