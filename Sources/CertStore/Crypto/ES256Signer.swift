import COpenSSL

/// ES256 (ECDSA on P-256 with SHA-256) as JOSE needs it (RFC 7518 §3.4): the signature is the 32-byte big-endian
/// r followed by the 32-byte s, not OpenSSL's DER `ECDSA-Sig-Value`; the public key is the point's x and y.
extension PrivateKey {
    /// Whether this is a P-256 key (the only curve ES256 signs with).
    var isP256: Bool {
        guard typeName == "EC" else { return false }
        var name = [CChar](repeating: 0, count: 80)
        var length = 0
        guard EVP_PKEY_get_utf8_string_param(pkey, "group", &name, name.count, &length) == 1 else { ERR_clear_error(); return false }
        return OBJ_sn2nid(name) == NID_X9_62_prime256v1
    }

    /// The public point's affine coordinates, 32 bytes each (from the uncompressed encoding 04 || X || Y).
    func p256Coordinates() throws -> (x: [UInt8], y: [UInt8]) {
        guard isP256 else { throw CertStoreError.usage("an ES256 key must be an EC key on P-256, not \(typeName) \(bits)") }
        // Ask for the uncompressed form whatever the key was read with.
        _ = EVP_PKEY_set_utf8_string_param(pkey, "point-format", "uncompressed")
        var length = 0
        guard EVP_PKEY_get_octet_string_param(pkey, "encoded-pub-key", nil, 0, &length) == 1, length == 65 else {
            throw CertStoreError.openssl("reading the P-256 public point", kind: .internalError)
        }
        var encoded = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_get_octet_string_param(pkey, "encoded-pub-key", &encoded, encoded.count, &length) == 1, encoded[0] == 0x04 else {
            throw CertStoreError.openssl("reading the P-256 public point", kind: .internalError)
        }
        return (Array(encoded[1..<33]), Array(encoded[33..<65]))
    }

    /// An ES256 signature of `message`: r || s, 64 bytes.
    func es256Signature(_ message: [UInt8]) throws -> [UInt8] {
        guard isP256 else { throw CertStoreError.usage("an ES256 key must be an EC key on P-256, not \(typeName) \(bits)") }
        ERR_clear_error()
        guard let context = EVP_MD_CTX_new() else { throw CertStoreError.openssl("preparing an ES256 signature", kind: .internalError) }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, pkey) == 1 else {
            throw CertStoreError.openssl("preparing an ES256 signature", kind: .internalError)
        }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else {
            throw CertStoreError.openssl("signing with ES256", kind: .internalError)
        }
        var der = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &der, &length, message, message.count) == 1 else {
            throw CertStoreError.openssl("signing with ES256", kind: .internalError)
        }
        let signature: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &pointer, length)
        }
        guard let signature else { throw CertStoreError.openssl("decoding the ECDSA signature", kind: .internalError) }
        defer { ECDSA_SIG_free(signature) }
        var r: OpaquePointer? = nil, s: OpaquePointer? = nil
        ECDSA_SIG_get0(signature, &r, &s)
        var out = [UInt8](repeating: 0, count: 64)
        guard let r, let s,
              out.withUnsafeMutableBufferPointer({ BN_bn2binpad(r, $0.baseAddress, 32) == 32 && BN_bn2binpad(s, $0.baseAddress! + 32, 32) == 32 }) else {
            throw CertStoreError.openssl("encoding the ES256 signature", kind: .internalError)
        }
        return out
    }

    /// Whether `signature` (r || s) is a valid ES256 signature of `message` by this key (for tests and self-checks).
    func verifiesES256(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        guard signature.count == 64, let sig = ECDSA_SIG_new() else { return false }
        defer { ECDSA_SIG_free(sig); ERR_clear_error() }
        guard let r = BN_bin2bn(signature, 32, nil), let s = BN_bin2bn(Array(signature[32...]), 32, nil) else { return false }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else { BN_free(r); BN_free(s); return false }
        guard let der = try? derEncode("i2d_ECDSA_SIG", { i2d_ECDSA_SIG(sig, $0) }),
              let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, pkey) == 1 else { return false }
        return EVP_DigestVerify(context, der, der.count, message, message.count) == 1
    }

    /// A new P-256 key (an ACME account key).
    static func generateP256() throws -> PrivateKey { try generate(.ecP256) }
}
