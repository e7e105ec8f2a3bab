import Foundation

/// A password as bytes, wiped from memory when dropped (as far as Swift's copy-on-write allows).
public final class Password: @unchecked Sendable {
    private var bytes: [UInt8]

    public init(_ text: String) {
        bytes = Array(text.utf8)
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var isEmpty: Bool { bytes.isEmpty }

    /// Constant-time comparison (for "repeat the password").
    public func matches(_ other: Password) -> Bool {
        guard bytes.count == other.bytes.count else { return false }
        return zip(bytes, other.bytes).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func withUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a NUL-terminated copy, wiped afterwards.
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var terminated = bytes.map { CChar(bitPattern: $0) } + [0]
        defer { wipe(&terminated) }
        return try terminated.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    deinit { wipe(&bytes) }
}

/// Overwrites a buffer that held a secret.
func wipe<T: FixedWidthInteger>(_ buffer: inout [T]) {
    buffer.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress { _ = memset(base, 0, raw.count) }
    }
}

/// Caps that keep hostile files from burning CPU or memory.
public struct Limits: Sendable, Equatable {
    /// The largest PBKDF/MAC iteration count accepted in PKCS#12 files and encrypted keys.
    public var maxIterations: Int
    /// The largest input file read.
    public var maxFileSize: Int

    /// 1,000,000 iterations: above every common tool's default (OpenSSL 2048, Windows 2000, NSS 600,000
    /// for PBKDF2-SHA256) yet about a second of CPU at most. 16 MiB: far above any real certificate file.
    public static let `default` = Limits(maxIterations: 1_000_000, maxFileSize: 16 << 20)

    public init(maxIterations: Int, maxFileSize: Int) {
        self.maxIterations = maxIterations
        self.maxFileSize = maxFileSize
    }
}

/// All the key derivations one input file may cost together (MAC attempts, encrypted sections, keys): a file
/// with many encrypted objects must not multiply the per-derivation cap.
final class IterationBudget {
    private(set) var remaining: Int
    let limits: Limits

    init(_ limits: Limits) {
        self.limits = limits
        self.remaining = limits.maxIterations.multipliedReportingOverflow(by: 4).overflow ? Int.max : limits.maxIterations * 4
    }

    /// Checks one derivation against the per-derivation cap and the file's budget, then spends it.
    func spend(_ iterations: Int, times: Int = 1) throws {
        guard iterations <= limits.maxIterations else { throw CertStoreError.iterationLimit(iterations, limits: limits) }
        let cost = max(iterations, 1) * times
        guard cost <= remaining else {
            throw CertStoreError(.badData,
                                 "the file asks for more key derivations in all than the limit of \(limits.maxIterations * 4) iterations per file allows",
                                 hint: "if you trust the file, raise the limit with --max-iterations (the budget per file is four times it)",
                                 cause: .iterationLimit)
        }
        remaining -= cost
    }
}

extension CertStoreError {
    static func iterationLimit(_ count: Int, limits: Limits) -> CertStoreError {
        CertStoreError(.badData,
                       "the file asks for \(count) key-derivation iterations, more than the limit of \(limits.maxIterations)",
                       hint: "if you trust the file, raise the limit with --max-iterations \(count) (or CERTSTORE_MAX_ITERATIONS)",
                       cause: .iterationLimit)
    }
}
