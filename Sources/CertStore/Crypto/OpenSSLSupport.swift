import COpenSSL
import Foundation

/// Runs `body` with a read-only memory BIO over `bytes`.
func withMemoryBIO<R>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
            throw CertStoreError.openssl("BIO_new_mem_buf", kind: .internalError)
        }
        defer { BIO_free(bio) }
        return try body(bio)
    }
}

/// Collects what a writing callback puts into a fresh memory BIO.
func collectMemoryBIO(_ operation: String, _ write: (OpaquePointer) -> Int32) throws -> [UInt8] {
    guard let bio = BIO_new(BIO_s_mem()) else { throw CertStoreError.openssl("BIO_new", kind: .internalError) }
    defer { BIO_free(bio) }
    guard write(bio) == 1 else { throw CertStoreError.openssl(operation, kind: .internalError) }
    var pointer: UnsafeMutablePointer<CChar>? = nil
    let length = shim_BIO_get_mem_data(bio, &pointer)
    guard let pointer, length > 0 else { return [] }
    return Array(UnsafeRawBufferPointer(start: pointer, count: length))
}

enum Digest {
    static func sha1(_ bytes: [UInt8]) -> [UInt8] { digest(bytes, EVP_sha1(), length: 20) }
    static func sha256(_ bytes: [UInt8]) -> [UInt8] { digest(bytes, EVP_sha256(), length: 32) }

    /// SHA-256 of memory the caller holds (no copy).
    static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var written: UInt32 = 0
        let ok = EVP_Digest(bytes.baseAddress, bytes.count, &out, &written, EVP_sha256(), nil)
        precondition(ok == 1 && written == 32, "EVP_Digest failed")
        return Array(out.prefix(32))
    }

    private static func digest(_ bytes: [UInt8], _ md: OpaquePointer?, length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var written: UInt32 = 0
        let ok = bytes.withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &out, &written, md, nil) }
        precondition(ok == 1 && Int(written) == length, "EVP_Digest failed")
        return Array(out.prefix(length))
    }
}

/// SHA-256 of data given piece by piece (a file written in parts, never held whole).
final class SHA256Stream {
    private let context: OpaquePointer

    init() {
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            preconditionFailure("EVP_DigestInit_ex failed")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        precondition(EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1, "EVP_DigestUpdate failed")
    }

    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var written: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &out, &written) == 1 && written == 32, "EVP_DigestFinal_ex failed")
        return Array(out.prefix(32))
    }
}

/// Uppercase hex, as Windows prints thumbprints and serial numbers.
func hexUpper(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// DER encoding through an `i2d_*` function: the first call sizes, the second writes.
func derEncode(_ operation: String, _ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) throws -> [UInt8] {
    let length = encode(nil)
    guard length > 0 else { throw CertStoreError.openssl(operation, kind: .internalError) }
    var out = [UInt8](repeating: 0, count: Int(length))
    let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
        var pointer = buffer.baseAddress
        return encode(&pointer)
    }
    guard written == length else { throw CertStoreError.openssl(operation, kind: .internalError) }
    return out
}

func openSSLString(_ pointer: UnsafePointer<CChar>?) -> String? {
    pointer.map { String(cString: $0) }
}

/// Dotted or short text of an ASN1_OBJECT.
func objectText(_ object: OpaquePointer?, numeric: Bool) -> String {
    guard let object else { return "" }
    var buffer = [CChar](repeating: 0, count: 128)
    let n = OBJ_obj2txt(&buffer, Int32(buffer.count), object, numeric ? 1 : 0)
    guard n > 0 else { return "" }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
