import COpenSSL

extension PrivateKey {
    /// A new key pair made by OpenSSL (`EVP_PKEY_generate` in the default provider): RSA with e = 65537, or EC on a
    /// named curve (encoded by name, points uncompressed).
    static func generate(_ spec: KeySpec) throws -> PrivateKey {
        ERR_clear_error()
        guard let context = EVP_PKEY_CTX_new_from_name(nil, spec.algorithm, nil) else {
            throw CertStoreError.openssl("preparing the \(spec) key generation", kind: .internalError)
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else {
            throw CertStoreError.openssl("starting the \(spec) key generation", kind: .internalError)
        }
        if let bits = spec.rsaBits, EVP_PKEY_CTX_set_rsa_keygen_bits(context, bits) != 1 {
            throw CertStoreError.openssl("setting the RSA key size \(bits)", kind: .internalError)
        }
        if let curve = spec.curve, EVP_PKEY_CTX_set_group_name(context, curve) != 1 {
            throw CertStoreError.openssl("choosing the curve \(curve)", kind: .internalError)
        }
        var pkey: OpaquePointer? = nil
        guard EVP_PKEY_generate(context, &pkey) == 1, let pkey else {
            throw CertStoreError.openssl("generating the \(spec) key", kind: .internalError)
        }
        return PrivateKey(owning: pkey)
    }

    /// The digest a signature with this key uses: SHA-384 for P-384 (matching strength), SHA-256 otherwise.
    var signatureDigest: OpaquePointer? { typeName == "EC" && bits == 384 ? EVP_sha384() : EVP_sha256() }
}
