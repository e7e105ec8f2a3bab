import COpenSSL

/// One entry of OpenSSL's thread-local error queue.
public struct OpenSSLErrorEntry: Sendable, Equatable, CustomStringConvertible {
    public let code: UInt
    /// `ERR_error_string_n`, e.g. "error:11800071:PKCS12 routines::mac verify failure".
    public let message: String
    public let library: Int32
    public let reason: Int32
    /// Extra data OpenSSL attached, e.g. "Global default library context, Algorithm (RC2-40-CBC : 0), Properties ()".
    public let data: String?

    public var description: String {
        if let data, !data.isEmpty { return "\(message) (\(data))" }
        return message
    }
}

/// Drains the calling thread's OpenSSL error queue, oldest entry first.
///
/// The queue is thread-local: call this in the same synchronous function as the failing call.
/// Forgets whatever OpenSSL left in this thread's error queue (for code outside Crypto/, which does not import OpenSSL).
func clearOpenSSLErrors() { ERR_clear_error() }

func drainOpenSSLErrors() -> [OpenSSLErrorEntry] {
    var entries: [OpenSSLErrorEntry] = []
    while true {
        var data: UnsafePointer<CChar>? = nil
        var flags: Int32 = 0
        let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let extra = (flags & ERR_TXT_STRING) != 0 ? data.map { String(cString: $0) } : nil
        entries.append(OpenSSLErrorEntry(
            code: code, message: text, library: ERR_GET_LIB(code), reason: ERR_GET_REASON(code), data: extra))
    }
    return entries
}

extension CertStoreError {
    /// An OpenSSL call failed with nothing more specific to say: keep the queue text for the expert.
    static func openssl(_ operation: String, kind: Kind = .badData, hint: String? = nil) -> CertStoreError {
        let entries = drainOpenSSLErrors()
        let detail = entries.isEmpty ? "no detail from OpenSSL" : entries.map(\.description).joined(separator: "; ")
        return CertStoreError(kind, "\(operation) failed: \(detail)", hint: hint)
    }
}
