import Foundation

/// The byte format of the store index: little-endian varints and length-prefixed UTF-8, nothing more.
///
/// A private cache format (no standard exists for it): JSON and property lists were measured at 100–180 µs
/// per entry to decode, which would make the cache slower than the work it saves.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func reserveCapacity(_ count: Int) { bytes.reserveCapacity(count) }

    mutating func int(_ value: Int) { varint(UInt64(bitPattern: Int64(value))) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        varint(UInt64(utf8.count))
        bytes += utf8
    }

    mutating func raw(_ value: [UInt8]) { bytes += value }
    mutating func raw(_ value: ArraySlice<UInt8>) { bytes += value }

    mutating func optional<T>(_ value: T?, _ write: (inout ByteWriter, T) -> Void) {
        if let value {
            bytes.append(1)
            write(&self, value)
        } else {
            bytes.append(0)
        }
    }

    mutating func date(_ value: Date) { varint(value.timeIntervalSince1970.bitPattern) }

    mutating func stamp(_ value: FileStamp) {
        varint(value.device); varint(value.inode); varint(value.size); varint(value.modified); varint(value.changed)
    }
}

struct ByteReader {
    struct Truncated: Error {}

    private let bytes: [UInt8]
    private(set) var offset: Int
    /// One past the last byte this reader may read.
    private let end: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
        end = bytes.count
    }

    /// A reader of `range` of `bytes` only (the array is shared, not copied).
    init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        offset = range.lowerBound
        end = range.upperBound
    }

    var isAtEnd: Bool { offset == end }

    /// Moves past `count` bytes.
    mutating func skip(_ count: Int) throws {
        guard count >= 0, count <= end - offset else { throw Truncated() }
        offset += count
    }

    mutating func byte() throws -> UInt8 {
        guard offset < end else { throw Truncated() }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw Truncated() }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func int() throws -> Int { Int(Int64(bitPattern: try varint())) }
    mutating func bool() throws -> Bool { try byte() != 0 }

    mutating func string() throws -> String {
        // Clamped: a crafted length of 2⁶³ or more must be refused as truncated, not trap in `Int(_:)`.
        let count = Int(clamping: try varint())
        guard count <= end - offset else { throw Truncated() }
        defer { offset += count }
        return String(decoding: bytes[offset..<(offset + count)], as: UTF8.self)
    }

    mutating func raw(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= end - offset else { throw Truncated() }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// A length-prefixed `JSONRecordTemplate`, sharing this reader's bytes.
    mutating func template() throws -> JSONRecordTemplate {
        let (storage, range) = try sharedBlock()
        return JSONRecordTemplate(storage: storage, range: range)
    }

    /// A length-prefixed block, as this reader's bytes (shared, not copied) and where the block is in them.
    mutating func sharedBlock() throws -> (bytes: [UInt8], range: Range<Int>) {
        let count = Int(clamping: try varint())
        guard count <= end - offset else { throw Truncated() }
        defer { offset += count }
        return (bytes, offset..<(offset + count))
    }

    mutating func optional<T>(_ read: (inout ByteReader) throws -> T) throws -> T? {
        try bool() ? try read(&self) : nil
    }

    mutating func date() throws -> Date { Date(timeIntervalSince1970: Double(bitPattern: try varint())) }

    mutating func stamp() throws -> FileStamp {
        FileStamp(device: try varint(), inode: try varint(), size: try varint(), modified: try varint(), changed: try varint())
    }
}

extension ByteWriter {
    mutating func name(_ name: DistinguishedName) {
        string(name.windowsString)
        varint(UInt64(name.rdns.count))
        for rdn in name.rdns {
            varint(UInt64(rdn.count))
            for attribute in rdn { string(attribute.oid); string(attribute.value); bool(attribute.isHexEncoded) }
        }
    }

    mutating func properties(_ p: CertificateProperties) {
        string(p.thumbprint.value); string(p.sha256); name(p.subject); name(p.issuer); string(p.serialNumber)
        optional(p.notBefore) { $0.date($1) }; optional(p.notAfter) { $0.date($1) }
        int(p.version)
        varint(UInt64(p.subjectAlternativeNames.count))
        for san in p.subjectAlternativeNames {
            switch san {
            case .dns(let s): bytes.append(0); string(s)
            case .email(let s): bytes.append(1); string(s)
            case .uri(let s): bytes.append(2); string(s)
            case .ipAddress(let s): bytes.append(3); string(s)
            case .other(let type): bytes.append(4); int(type)
            }
        }
        optional(p.extendedKeyUsages) { w, list in w.varint(UInt64(list.count)); for oid in list { w.string(oid) } }
        optional(p.keyUsage) { $0.varint(UInt64($1.rawValue)) }
        string(p.keyAlgorithm); int(p.publicKeySize); string(p.signatureAlgorithmOID)
        optional(p.signatureHash) { $0.string($1) }
        bool(p.isSelfSigned); bool(p.isCertificateAuthority); string(p.publicKeyIdentifier)
    }

    mutating func storeProperties(_ s: StoreProperties) {
        string(s.friendlyName); bool(s.archived); bool(s.exportable)
        optional(s.importedAt) { $0.date($1) }; optional(s.source) { $0.string($1) }
        optional(s.rootCAType) { $0.string($1.rawValue) }
        optional(s.renews) { $0.string($1.value) }; optional(s.supersededBy) { $0.string($1.value) }
        optional(s.keylessImportedAt) { $0.date($1) }
    }
}

extension ByteReader {
    mutating func name() throws -> DistinguishedName {
        let windowsString = try string()
        let count = try varint()
        guard count < 10_000 else { throw Truncated() }
        var rdns: [[NameAttribute]] = []
        for _ in 0..<count {
            let attributes = try varint()
            guard attributes < 10_000 else { throw Truncated() }
            var rdn: [NameAttribute] = []
            for _ in 0..<attributes {
                rdn.append(NameAttribute(oid: try string(), value: try string(), isHexEncoded: try bool()))
            }
            rdns.append(rdn)
        }
        return DistinguishedName(rdns: rdns, windowsString: windowsString)
    }

    mutating func properties() throws -> CertificateProperties {
        let thumbprint = try string(), sha256 = try string(), subject = try name(), issuer = try name(), serial = try string()
        let notBefore = try optional { try $0.date() }, notAfter = try optional { try $0.date() }
        let version = try int()
        let sanCount = try varint()
        guard sanCount < 100_000 else { throw Truncated() }
        var sans: [SubjectAlternativeName] = []
        for _ in 0..<sanCount {
            switch try byte() {
            case 0: sans.append(.dns(try string()))
            case 1: sans.append(.email(try string()))
            case 2: sans.append(.uri(try string()))
            case 3: sans.append(.ipAddress(try string()))
            case 4: sans.append(.other(type: try int()))
            default: throw Truncated()
            }
        }
        let ekus: [String]? = try optional { r in
            let count = try r.varint()
            guard count < 10_000 else { throw Truncated() }
            return try (0..<count).map { _ in try r.string() }
        }
        let keyUsage = try optional { KeyUsage(rawValue: UInt32(truncatingIfNeeded: try $0.varint())) }
        return CertificateProperties(
            thumbprint: Thumbprint(trusted: thumbprint), sha256: sha256, subject: subject, issuer: issuer, serialNumber: serial,
            notBefore: notBefore, notAfter: notAfter, version: version, subjectAlternativeNames: sans,
            extendedKeyUsages: ekus, keyUsage: keyUsage, keyAlgorithm: try string(), publicKeySize: try int(),
            signatureAlgorithmOID: try string(), signatureHash: try optional { try $0.string() },
            isSelfSigned: try bool(), isCertificateAuthority: try bool(), publicKeyIdentifier: try string())
    }

    mutating func storeProperties() throws -> StoreProperties {
        var s = StoreProperties(friendlyName: try string(), archived: try bool(), exportable: try bool(),
                                importedAt: try optional { try $0.date() }, source: try optional { try $0.string() })
        s.rootCAType = try optional { ExchangeCertificate.RootCAType(rawValue: try $0.string()) } ?? nil
        s.renews = try optional { Thumbprint(trusted: try $0.string()) }
        s.supersededBy = try optional { Thumbprint(trusted: try $0.string()) }
        s.keylessImportedAt = try optional { try $0.date() }
        return s
    }
}
