import COpenSSL

/// A PKCS#7 certificate bundle (`.p7b`, `-----BEGIN PKCS7-----`): its certificates.
enum PKCS7Bundle {
    /// The certificates of a DER PKCS#7, nil when the bytes are not PKCS#7.
    static func certificates(der: [UInt8]) throws -> [Certificate]? {
        ERR_clear_error()
        let parsed: UnsafeMutablePointer<PKCS7>? = der.withUnsafeBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return d2i_PKCS7(nil, &pointer, buffer.count)
        }
        guard let p7 = parsed else { ERR_clear_error(); return nil }
        defer { PKCS7_free(p7) }
        guard let stack = shim_PKCS7_certificates(p7) else {
            throw CertStoreError.badData("the PKCS#7 file holds no certificates")
        }
        return try (0..<shim_sk_X509_num(stack)).compactMap { index in
            try shim_sk_X509_value(stack, index).map { try Certificate(borrowing: $0) }
        }
    }
}
