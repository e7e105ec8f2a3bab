import COpenSSL

/// Writes PKCS#12 files for export.
public enum PKCS12Writer {
    public enum Encryption: String, Sendable, CaseIterable {
        /// PBES2 + PBKDF2-HMAC-SHA256 + AES-256-CBC for key and certificates, HMAC-SHA256 MAC.
        case modern
        /// 3DES for key and certificates and a SHA-1 MAC: what Windows Server 2016 and older can import.
        case legacy
    }

    /// 2048 iterations: OpenSSL's and Windows' own default for PFX files.
    static let iterations: Int32 = 2048

    public static func create(key: PrivateKey, certificate: Certificate, chain: [Certificate], password: Password,
                              friendlyName: String?, encryption: Encryption) throws -> [UInt8] {
        ERR_clear_error()
        let stack = shim_sk_X509_new_null()
        defer { shim_sk_X509_free(stack) }  // shallow: the certificates belong to their wrappers
        for member in chain { _ = shim_sk_X509_push(stack, member.verifiableX509) }
        let (keyNID, certNID, macIterations): (Int32, Int32, Int32) = switch encryption {
        case .modern: (NID_aes_256_cbc, NID_aes_256_cbc, iterations)
        case .legacy: (NID_pbe_WithSHA1And3_Key_TripleDES_CBC, NID_pbe_WithSHA1And3_Key_TripleDES_CBC, -1)
        }
        let created: OpaquePointer? = password.withCString { pass in
            PKCS12_create(pass, friendlyName?.isEmpty == false ? friendlyName : nil, key.pkey, certificate.verifiableX509,
                          stack, keyNID, certNID, iterations, macIterations, 0)
        }
        guard let p12 = created else { throw CertStoreError.openssl("creating the PKCS#12 file", kind: .internalError) }
        defer { PKCS12_free(p12) }
        if encryption == .legacy {
            let ok = password.withCString { PKCS12_set_mac(p12, $0, -1, nil, 0, iterations, EVP_sha1()) }
            guard ok == 1 else { throw CertStoreError.openssl("adding the PKCS#12 MAC", kind: .internalError) }
        }
        return try derEncode("i2d_PKCS12") { i2d_PKCS12(p12, $0) }
    }
}
