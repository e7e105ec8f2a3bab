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

    /// Version 3: every record is prefixed by its length, so records decode on all cores.
    static let magic: [UInt8] = Array("CSIDX003".utf8)

    static func url(_ store: CertificateStore, _ path: StorePath) -> URL {
        store.directory.appendingPathComponent(".cache", isDirectory: true).appendingPathComponent("\(path.store).index")
    }

    /// Records by thumbprint; empty when there is no usable index.
    static func load(_ url: URL) -> [String: Record] {
        guard let bytes = try? FileSystem.read(url, limit: 1 << 30), bytes.count > magic.count + 32,
              bytes.prefix(magic.count).elementsEqual(magic) else { return [:] }
        let bodyEnd = bytes.count - 32
        let digest = bytes.withUnsafeBytes { Digest.sha256(UnsafeRawBufferPointer(rebasing: $0[..<bodyEnd])) }
        guard bytes[bodyEnd...].elementsEqual(digest) else { return [:] }
        // First the record boundaries (a cheap walk over the length prefixes), then the records, in slices.
        var boundaries: [Range<Int>] = []
        do {
            var reader = ByteReader(bytes, range: magic.count..<bodyEnd)
            let count = try reader.varint()
            guard count <= UInt64(bodyEnd) else { return [:] }
            boundaries.reserveCapacity(Int(count))
            for _ in 0..<count {
                let length = Int(clamping: try reader.varint())
                let start = reader.offset
                try reader.skip(length)
                boundaries.append(start..<(start + length))
            }
            guard reader.isAtEnd else { return [:] }
        } catch {
            return [:]
        }
        let ranges = boundaries
        let lanes = ranges.count < 2_000 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let decoded = ResultSlots<[Record]>(count: lanes)
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            let slice = ranges.count * lane / lanes..<ranges.count * (lane + 1) / lanes
            do {
                var records: [Record] = []
                records.reserveCapacity(slice.count)
                for index in slice {
                    var reader = ByteReader(bytes, range: ranges[index])
                    records.append(try reader.record())
                    guard reader.isAtEnd else { throw ByteReader.Truncated() }
                }
                decoded.set(lane, .success(records))
            } catch {
                decoded.set(lane, .failure(.internalError("damaged index record")))
            }
        }
        var records: [String: Record] = [:]
        records.reserveCapacity(ranges.count)
        for lane in decoded.values {
            guard case .success(let slice) = lane else { return [:] }
            for record in slice { records[record.properties.thumbprint] = record }
        }
        return records
    }

    static func encode(_ records: [Record]) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(magic)
        writer.varint(UInt64(records.count))
        for record in records {
            var item = ByteWriter()
            item.stamp(record.cer)
            item.optional(record.json) { $0.stamp($1) }
            item.optional(record.key) { $0.stamp($1) }
            item.string(record.keyStatus.rawValue)
            item.properties(record.properties)
            item.storeProperties(record.storeProperties)
            writer.varint(UInt64(item.bytes.count))
            writer.raw(item.bytes)
        }
        return writer.bytes + Digest.sha256(writer.bytes)
    }
}

extension ByteReader {
    mutating func record() throws -> StoreIndex.Record {
        let cer = try stamp()
        let json = try optional { try $0.stamp() }
        let key = try optional { try $0.stamp() }
        guard let status = PrivateKeyStatus(rawValue: try string()) else { throw Truncated() }
        let properties = try properties()
        let storeProperties = try storeProperties()
        return StoreIndex.Record(cer: cer, json: json, key: key, keyStatus: status,
                                 properties: properties, storeProperties: storeProperties)
    }
}
