import COpenSSL

/// One private key, owning its `EVP_PKEY*`.
public final class PrivateKey: @unchecked Sendable {
    let pkey: OpaquePointer

    init(owning pkey: OpaquePointer) { self.pkey = pkey }
    deinit { EVP_PKEY_free(pkey) }

    /// Reads PKCS#8 (plain or encrypted), PKCS#1/SEC1 ("RSA/EC PRIVATE KEY"), as PEM or DER.
    ///
    /// Uses the OpenSSL 3 decoder with an explicit passphrase and no callback, so an encrypted key without
    /// a password fails cleanly instead of prompting on the terminal (which `PEM_read_bio_PrivateKey` does).
    public convenience init(bytes: [UInt8], password: Password?, limits: Limits = .default) throws {
        let encrypted = PrivateKey.encryptionAlgorithm(bytes)
        if let encrypted {
            let iterations = shim_pbe_iterations(encrypted.algorithm)
            encrypted.free()
            if iterations > limits.maxIterations {
                throw CertStoreError.iterationLimit(iterations, limits: limits)
            }
        }
        ERR_clear_error()
        var pkey: OpaquePointer? = nil
        guard let context = OSSL_DECODER_CTX_new_for_pkey(&pkey, nil, nil, nil, shim_EVP_PKEY_KEYPAIR(), nil, nil) else {
            throw CertStoreError.openssl("preparing the key decoder", kind: .internalError)
        }
        defer { OSSL_DECODER_CTX_free(context) }
        if let password {
            _ = password.withUTF8 { OSSL_DECODER_CTX_set_passphrase(context, $0.baseAddress, $0.count) }
        } else if encrypted != nil {
            throw CertStoreError.passwordRequired
        }
        let ok = bytes.withUnsafeBufferPointer { buffer -> Int32 in
            var pointer = buffer.baseAddress
            var length = buffer.count
            return OSSL_DECODER_from_data(context, &pointer, &length)
        }
        guard ok == 1, let pkey else {
            let entries = drainOpenSSLErrors()
            if encrypted != nil {
                throw CertStoreError(.badData, "wrong password or damaged key: the private key could not be decrypted",
                                     hint: "check the password; it is the one the key was exported with")
            }
            let detail = entries.map(\.description).joined(separator: "; ")
            throw CertStoreError.badData("not a private key OpenSSL can read" + (detail.isEmpty ? "" : " (\(detail))"))
        }
        self.init(owning: pkey)
    }

    /// "RSA", "EC", "ED25519", ...
    public var typeName: String { openSSLString(EVP_PKEY_get0_type_name(pkey)) ?? "unknown" }
    public var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }

    /// SHA-256 of the SubjectPublicKeyInfo DER: the same value as `Certificate.publicKeyIdentifier`.
    public var publicKeyIdentifier: String {
        let spki = (try? derEncode("i2d_PUBKEY") { i2d_PUBKEY(pkey, $0) }) ?? []
        return hexUpper(Digest.sha256(spki))
    }

    /// OpenSSL's pairwise consistency check: the private half really produces the public half.
    ///
    /// Chosen over `EVP_PKEY_check` because for RSA that adds full primality tests of p and q (tens of
    /// milliseconds per key) while the pairwise check already proves the key works (n = p·q, d·e ≡ 1).
    public var isConsistent: Bool {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { ERR_clear_error(); return false }
        defer { EVP_PKEY_CTX_free(context) }
        let result = EVP_PKEY_pairwise_check(context)
        if result != 1 { ERR_clear_error() }
        // -2 means "not supported for this key type": nothing to disprove.
        return result == 1 || result == -2
    }

    /// Unencrypted PKCS#8 PEM, the form the key store keeps (mode 0600).
    public func pkcs8PEM() throws -> [UInt8] {
        try collectMemoryBIO("writing the private key") { PEM_write_bio_PrivateKey($0, pkey, nil, nil, 0, nil, nil) }
    }

    /// The algorithm of an encrypted PKCS#8 key (PEM or DER), or nil when the key is not encrypted.
    private static func encryptionAlgorithm(_ bytes: [UInt8]) -> EncryptedKeyInfo? {
        var der = bytes
        if let block = PEMBlock.all(in: bytes).first(where: { $0.label.hasSuffix("PRIVATE KEY") }) {
            guard block.label == "ENCRYPTED PRIVATE KEY" else {
                // Traditional PEM encryption ("Proc-Type: 4,ENCRYPTED"): no iteration count to check.
                return block.headers.contains("ENCRYPTED") ? EncryptedKeyInfo(signature: nil) : nil
            }
            der = block.der
        }
        let signature: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return d2i_X509_SIG(nil, &pointer, buffer.count)
        }
        ERR_clear_error()
        return signature.map { EncryptedKeyInfo(signature: $0) }
    }

    private struct EncryptedKeyInfo {
        let signature: OpaquePointer?
        var algorithm: UnsafePointer<X509_ALGOR>? {
            guard let signature else { return nil }
            var algorithm: UnsafePointer<X509_ALGOR>? = nil
            X509_SIG_get0(signature, &algorithm, nil)
            return algorithm
        }
        func free() { if let signature { X509_SIG_free(signature) } }
    }
}
