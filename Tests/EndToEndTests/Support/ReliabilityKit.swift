import Foundation
import Testing

// Helpers for ReliabilityTests: a logical view of a store on disk, an outside process holding the writer
// lock, a seeded random source, SHA-1 for checking file names, and byte-level builders for hostile inputs.

// MARK: - SHA-1 (a store names every .cer by the SHA-1 of its bytes; the tests check that independently)

enum SHA1 {
    static func hex(_ data: Data) -> String {
        digest([UInt8](data)).map { String(format: "%02X", $0) }.joined()
    }

    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var bytes = message
        let bitLength = UInt64(message.count) * 8
        bytes.append(0x80)
        while bytes.count % 64 != 56 { bytes.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: bytes.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] = UInt32(bytes[j]) << 24 | UInt32(bytes[j + 1]) << 16 | UInt32(bytes[j + 2]) << 8 | UInt32(bytes[j + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, t)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> UInt32(24 - 8 * $0)) } }
    }
}

// MARK: - A store's logical content

/// What a store location holds, independent of timestamps and trash IDs: the comparison for "the same
/// store as a clean run produces". Built from the files directly (never through certstore).
struct LogicalStore: Equatable, CustomStringConvertible {
    /// "My/THUMBPRINT" for every regular `.cer`.
    var certificates: Set<String> = []
    /// "My/THUMBPRINT.json" for every properties file.
    var properties: Set<String> = []
    /// Key file names.
    var keys: Set<String> = []
    /// bindings.json re-serialised with sorted keys ("" when absent).
    var bindings = ""
    /// Thumbprints of the complete trash entries, sorted (a duplicate entry shows up twice).
    var trash: [String] = []

    static let stores = ["My", "CA", "Root"]

    static func read(_ root: URL) throws -> LogicalStore {
        let location = root.appendingPathComponent("LocalMachine")
        var state = LogicalStore()
        let fm = FileManager.default
        for store in stores {
            for name in (try? fm.contentsOfDirectory(atPath: location.appendingPathComponent(store).path)) ?? [] {
                let path = location.appendingPathComponent(store).appendingPathComponent(name)
                guard isRegularFile(path), !name.hasPrefix(".") else { continue }
                if name.hasSuffix(".cer") { state.certificates.insert("\(store)/\(name.dropLast(4))") }
                if name.hasSuffix(".json") { state.properties.insert("\(store)/\(name)") }
            }
        }
        for name in (try? fm.contentsOfDirectory(atPath: location.appendingPathComponent("Keys").path)) ?? []
        where name.hasSuffix(".key") && !name.hasPrefix(".") {
            state.keys.insert(name)
        }
        let bindingsURL = location.appendingPathComponent("bindings.json")
        if let data = try? Data(contentsOf: bindingsURL) {
            let object = try JSONSerialization.jsonObject(with: data)
            state.bindings = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        let trash = location.appendingPathComponent("Trash")
        for id in (try? fm.contentsOfDirectory(atPath: trash.path)) ?? [] where !id.hasPrefix(".") {
            let manifest = trash.appendingPathComponent(id).appendingPathComponent("manifest.json")
            guard let data = try? Data(contentsOf: manifest),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let thumbprint = object["thumbprint"] as? String else { continue }
            state.trash.append(thumbprint)
        }
        state.trash.sort()
        return state
    }

    /// Leftovers of an interrupted write: temporary files and half-made or half-deleted trash entries.
    static func debris(_ root: URL) -> [String] {
        var found: [String] = []
        let base = root.path
        guard let enumerator = FileManager.default.enumerator(atPath: base) else { return [] }
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.contains(".tmp-") || name.hasSuffix(".partial") || name.hasSuffix(".deleting") { found.append(relative) }
        }
        return found.sorted()
    }

    var description: String {
        "certificates \(certificates.sorted()), properties \(properties.count), keys \(keys.count), "
            + "trash \(trash.map { String($0.prefix(8)) }), bindings \(bindings.isEmpty ? "none" : bindings)"
    }

    func differences(to other: LogicalStore) -> String {
        var lines: [String] = []
        func compare<T: Hashable & Comparable>(_ label: String, _ a: Set<T>, _ b: Set<T>) {
            let added = b.subtracting(a).sorted(), removed = a.subtracting(b).sorted()
            if !added.isEmpty { lines.append("\(label) added: \(added)") }
            if !removed.isEmpty { lines.append("\(label) missing: \(removed)") }
        }
        compare("certificates", certificates, other.certificates)
        compare("properties", properties, other.properties)
        compare("keys", keys, other.keys)
        if bindings != other.bindings { lines.append("bindings: \(bindings) → \(other.bindings)") }
        if trash != other.trash { lines.append("trash: \(trash) → \(other.trash)") }
        return lines.isEmpty ? "no differences" : lines.joined(separator: "\n")
    }
}

func isRegularFile(_ url: URL) -> Bool {
    var info = stat()
    return lstat(url.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
}

func isSymbolicLink(_ url: URL) -> Bool {
    var info = stat()
    return lstat(url.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
}

/// Every `.cer` in the location whose name is not the SHA-1 of its bytes ("" when all match).
func misnamedCertificates(_ root: URL) -> [String] {
    var wrong: [String] = []
    let location = root.appendingPathComponent("LocalMachine")
    for store in LogicalStore.stores {
        let folder = location.appendingPathComponent(store)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".cer") {
            let url = folder.appendingPathComponent(name)
            guard isRegularFile(url), let data = try? Data(contentsOf: url) else { wrong.append("\(store)/\(name) (unreadable)"); continue }
            if SHA1.hex(data) != String(name.dropLast(4)) { wrong.append("\(store)/\(name) holds \(SHA1.hex(data))") }
        }
    }
    return wrong
}

/// `cp -a` (modes, links and all): a fresh copy of a template store per iteration.
func copyTree(_ source: URL, to destination: URL) throws {
    let result = try RunningProcess(executable: URL(fileURLWithPath: "/bin/cp"), arguments: ["-a", source.path, destination.path]).wait(timeout: 30)
    guard result.status == 0 else { throw RunnerError("cp -a failed:\n\(result)") }
}

// MARK: - An outside process holding the writer lock

/// `/usr/bin/flock` takes `<location>/.lock` the way another certstore would (flock(LOCK_EX) on the file), then
/// the shell execs `sleep`, which keeps the locked descriptor: one process, killed by `release()`.
final class LockHolder {
    let process: RunningProcess
    let lockFile: URL

    init(lockFile: URL) throws {
        self.lockFile = lockFile
        process = try RunningProcess(executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "exec 9>>\"$0\" && /usr/bin/flock -x 9 && exec sleep 120", lockFile.path])
        // Wait until the lock is really held: our own non-blocking attempt must fail.
        let deadline = Date().addingTimeInterval(10)
        while !Self.isLocked(lockFile) {
            guard Date() < deadline else { release(); throw RunnerError("flock did not take \(lockFile.path) within 10 s") }
            usleep(5_000)
        }
    }

    static func isLocked(_ url: URL) -> Bool {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    private var released = false

    /// Kills the holder (the kernel drops its lock); safe to call more than once.
    func release() {
        guard !released else { return }
        released = true
        kill(process.processIdentifier, SIGKILL)
        _ = process.wait(timeout: 10)
    }
}

// MARK: - Randomness that can be replayed

/// SplitMix64: a seeded generator, so a failing kill schedule can be replayed with RELIABILITY_SEED.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    let seed: UInt64

    init(seed: UInt64? = nil) {
        let chosen = seed ?? ProcessInfo.processInfo.environment["RELIABILITY_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64(UInt32.max))
        self.seed = chosen
        state = chosen
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// An integer from the environment, or the default.
func environmentInt(_ name: String, default value: Int) -> Int {
    ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? value
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

// MARK: - Hostile bytes

enum HostileBytes {
    /// `count` nested SEQUENCE headers with indefinite length (`30 80` …), never closed.
    static func nestedIndefinite(_ count: Int) -> Data {
        Data([UInt8](repeating: 0, count: count * 2).enumerated().map { $0.offset % 2 == 0 ? 0x30 : 0x80 })
    }

    /// `count` nested SEQUENCEs with definite four-byte lengths around a NULL: well-formed, just deep.
    static func nestedDefinite(_ count: Int) -> Data {
        // Built outside-in: level i (0 = outermost) has a body of 2 + 6 * (count - 1 - i) bytes.
        var bytes = [UInt8]()
        bytes.reserveCapacity(count * 6 + 2)
        for level in 0..<count {
            let length = UInt32(2 + 6 * (count - 1 - level))
            bytes += [0x30, 0x84, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        }
        bytes += [0x05, 0x00]
        return Data(bytes)
    }

    /// `data` with every occurrence of `placeholder` replaced by `replacement` (which must be as long).
    static func replacing(_ placeholder: [UInt8], with replacement: [UInt8], in data: Data) throws -> Data {
        guard placeholder.count == replacement.count else {
            throw RunnerError("replacement is \(replacement.count) bytes, the placeholder \(placeholder.count)")
        }
        var bytes = [UInt8](data)
        var found = 0
        var index = 0
        while index + placeholder.count <= bytes.count {
            if Array(bytes[index..<(index + placeholder.count)]) == placeholder {
                bytes.replaceSubrange(index..<(index + placeholder.count), with: replacement)
                found += 1
                index += placeholder.count
            } else {
                index += 1
            }
        }
        guard found > 0 else { throw RunnerError("placeholder not found") }
        return Data(bytes)
    }

    /// A DER certificate whose subject and issuer CN (made as the UTF8String `placeholder`) is replaced by
    /// a string of ASN.1 type `tag` holding `value` (padded with "x" to the placeholder's length).
    static func certificate(_ der: Data, placeholder: String, tag: UInt8, value: [UInt8]) throws -> Data {
        let old = [0x0C, UInt8(placeholder.utf8.count)] + Array(placeholder.utf8)
        let padded = Array((value + [UInt8](repeating: UInt8(ascii: "x"), count: placeholder.utf8.count)).prefix(placeholder.utf8.count))
        return try replacing(old, with: [tag, UInt8(placeholder.utf8.count)] + padded, in: der)
    }

    /// UTF-16BE bytes (PKCS#12 friendly names are BMPStrings).
    static func bmp(_ text: String) -> [UInt8] {
        text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// The private scalar (32 bytes) and public point (64 bytes after 04) of a P-256 PKCS#8 DER key.
    static func p256Parts(_ pkcs8: Data) throws -> (scalar: [UInt8], point: [UInt8]) {
        let bytes = [UInt8](pkcs8)
        guard let i = bytes.firstRange(of: [0x02, 0x01, 0x01, 0x04, 0x20])?.lowerBound,
              let j = bytes.firstRange(of: [0x03, 0x42, 0x00, 0x04])?.lowerBound else {
            throw RunnerError("not a P-256 PKCS#8 key with its public point")
        }
        return (Array(bytes[(i + 5)..<(i + 37)]), Array(bytes[(j + 4)..<(j + 68)]))
    }

    /// A PKCS#12 (unencrypted bags, no MAC) whose key bag holds another P-256 key than its certificate's:
    /// openssl refuses to write one, so the other key's scalar and point are spliced into the key bag.
    static func pkcs12WithForeignKey(plainPKCS12: Data, ownKey: Data, foreignKey: Data) throws -> Data {
        let (ownScalar, ownPoint) = try p256Parts(ownKey)
        let (otherScalar, otherPoint) = try p256Parts(foreignKey)
        var bytes = [UInt8](plainPKCS12)
        guard let i = bytes.firstRange(of: ownScalar)?.lowerBound else { throw RunnerError("key scalar not found in the PKCS#12") }
        bytes.replaceSubrange(i..<(i + 32), with: otherScalar)
        // The point after the scalar is the key bag's; the one in the certificate (before it) stays.
        guard let j = bytes[(i + 32)...].firstRange(of: ownPoint)?.lowerBound else { throw RunnerError("key point not found in the PKCS#12") }
        bytes.replaceSubrange(j..<(j + 64), with: otherPoint)
        return Data(bytes)
    }
}

/// Control characters a terminal acts on (C0 except newline, DEL, C1), found in command output.
func rawControlCharacters(_ data: Data) -> [String] {
    let text = String(decoding: data, as: UTF8.self)
    return text.unicodeScalars.filter { scalar in
        let v = scalar.value
        return (v < 0x20 && v != 0x0A) || v == 0x7F || (0x80...0x9F).contains(v)
    }.map { String(format: "U+%04X", $0.value) }
}
