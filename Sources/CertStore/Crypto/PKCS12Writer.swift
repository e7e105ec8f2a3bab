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
        let name = friendlyName?.isEmpty == false ? friendlyName : nil
        let created: OpaquePointer? = password.withCString { pass in
            certificate.inheritsDSAParameters
                ? assemble(pass, name, key: key, certificate: certificate, chain: chain, keyNID: keyNID, certNID: certNID,
                           macIterations: macIterations)
                : PKCS12_create(pass, name, key.pkey, certificate.verifiableX509, stack, keyNID, certNID, iterations, macIterations, 0)
        }
        guard let p12 = created else { throw CertStoreError.openssl("creating the PKCS#12 file", kind: .internalError) }
        defer { PKCS12_free(p12) }
        if encryption == .legacy {
            let ok = password.withCString { PKCS12_set_mac(p12, $0, -1, nil, 0, iterations, EVP_sha1()) }
            guard ok == 1 else { throw CertStoreError.openssl("adding the PKCS#12 MAC", kind: .internalError) }
        }
        return try derEncode("i2d_PKCS12") { i2d_PKCS12(p12, $0) }
    }

    /// What `PKCS12_create` makes, bag by bag, for a certificate that inherits its DSA parameters (RFC 3279
    /// §2.3.2): `PKCS12_create` first checks the key against the certificate with `X509_check_private_key`, which
    /// needs the certificate's public key, and OpenSSL cannot decode a DSA key without its parameters. The pairing
    /// is checked here instead by the public value (`Certificate.matches`; the parameters were proved against the
    /// issuer's when the key was imported). The same safes as `PKCS12_create`: certificates (leaf with friendly
    /// name and local key ID = SHA-1 of the certificate, then the chain) encrypted with `certNID`, the shrouded key
    /// bag with `keyNID`, the MAC with `macIterations` (-1: none, set by the caller).
    private static func assemble(_ pass: UnsafePointer<CChar>, _ name: String?, key: PrivateKey, certificate: Certificate,
                                 chain: [Certificate], keyNID: Int32, certNID: Int32, macIterations: Int32) -> OpaquePointer? {
        guard certificate.matches(key) else { return nil }
        var keyID = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var keyIDLength: UInt32 = 0
        guard X509_digest(certificate.verifiableX509, EVP_sha1(), &keyID, &keyIDLength) == 1 else { return nil }
        func label(_ bag: OpaquePointer?) -> Bool {
            guard let bag else { return false }
            if let name, PKCS12_add_friendlyname_asc(bag, name, -1) != 1 { return false }
            return PKCS12_add_localkeyid(bag, &keyID, Int32(keyIDLength)) == 1
        }
        var safes: OpaquePointer? = nil
        defer { if let safes { shim_sk_PKCS7_pop_free(safes) } }
        var certificateBags: OpaquePointer? = nil
        defer { if let certificateBags { shim_sk_PKCS12_SAFEBAG_pop_free(certificateBags) } }
        guard label(PKCS12_add_cert(&certificateBags, certificate.verifiableX509)) else { return nil }
        for member in chain where PKCS12_add_cert(&certificateBags, member.verifiableX509) == nil { return nil }
        guard PKCS12_add_safe(&safes, certificateBags, certNID, iterations, pass) == 1 else { return nil }
        var keyBags: OpaquePointer? = nil
        defer { if let keyBags { shim_sk_PKCS12_SAFEBAG_pop_free(keyBags) } }
        guard label(PKCS12_add_key(&keyBags, key.pkey, 0, iterations, keyNID, pass)),
              PKCS12_add_safe(&safes, keyBags, -1, 0, pass) == 1,
              let p12 = PKCS12_add_safes(safes, 0) else { return nil }
        if macIterations != -1 && PKCS12_set_mac(p12, pass, -1, nil, 0, macIterations, nil) != 1 {
            PKCS12_free(p12)
            return nil
        }
        return p12
    }
}
