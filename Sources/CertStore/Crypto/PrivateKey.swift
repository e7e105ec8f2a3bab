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
        try self.init(bytes: bytes, password: password, budget: IterationBudget(limits))
    }

    /// As above, spending from the budget of the file the key came from.
    convenience init(bytes: [UInt8], password: Password?, budget: IterationBudget) throws {
        let encrypted = PrivateKey.encryptionAlgorithm(bytes)
        if let encrypted {
            let iterations = shim_pbe_iterations(encrypted.algorithm)
            encrypted.free()
            try budget.spend(iterations)
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
                                     hint: "check the password; it is the one the key was exported with", cause: .wrongPassword)
            }
            let detail = entries.map(\.description).joined(separator: "; ")
            throw CertStoreError.badData("not a private key OpenSSL can read" + (detail.isEmpty ? "" : " (\(detail))"))
        }
        self.init(owning: pkey)
    }

    /// Reads a key file the store itself wrote: unencrypted PKCS#8 PEM. Telling the decoder the input type
    /// and structure up front skips the search through every decoder OpenSSL has (several times faster).
    /// A key file of the store: the fast typed decoder for the PKCS#8 PEM certstore writes, the general one
    /// for anything else found there (a key put in place by hand).
    convenience init(storedKey bytes: [UInt8], limits: Limits, decoder: StoredKeyDecoder? = nil) throws {
        if let key = decoder?.decode(bytes) ?? (try? PrivateKey(storedPEM: bytes)) {
            self.init(owning: key.takeOwnership())
        } else {
            try self.init(bytes: bytes, password: nil, limits: limits)
        }
    }

    /// Hands the EVP_PKEY to a new wrapper (bumping its reference count).
    private func takeOwnership() -> OpaquePointer {
        EVP_PKEY_up_ref(pkey)
        return pkey
    }

    convenience init(storedPEM bytes: [UInt8], keyType: String? = nil) throws {
        ERR_clear_error()
        var pkey: OpaquePointer? = nil
        guard let context = OSSL_DECODER_CTX_new_for_pkey(&pkey, StoredKeyDecoder.inputType.cString,
                                                          StoredKeyDecoder.inputStructure.cString, keyType,
                                                          shim_EVP_PKEY_KEYPAIR(), nil, nil) else {
            throw CertStoreError.openssl("preparing the key decoder", kind: .internalError)
        }
        defer { OSSL_DECODER_CTX_free(context) }
        let ok = bytes.withUnsafeBufferPointer { buffer -> Int32 in
            var pointer = buffer.baseAddress
            var length = buffer.count
            return OSSL_DECODER_from_data(context, &pointer, &length)
        }
        guard ok == 1, let pkey else { throw CertStoreError.openssl("reading the stored private key") }
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

    /// The private half really produces the public half.
    ///
    /// EC, EdDSA and others: OpenSSL's `EVP_PKEY_pairwise_check`. RSA: n = p·q and e·d ≡ 1 modulo p−1 and
    /// q−1, computed with OpenSSL's bignums — what a working key needs — because OpenSSL 3.0's RSA pairwise
    /// check also runs primality tests on p and q (about 40 ms per 2048-bit key, measured here).
    ///
    /// EC on P-256, P-384 and P-521: 1 ≤ d < n and d·G = Q, computed with OpenSSL's EC_POINT functions
    /// (`ecPairwiseConsistent`). OpenSSL 3.0's `EVP_PKEY_pairwise_check` also runs its full public-key check,
    /// whose n·Q = O multiplication (about 85% of the check's cost, measured) proves nothing more on these
    /// curves: their order is prime (cofactor 1), so every point on the curve, as Q is (OpenSSL refuses a point
    /// off the curve when it decodes the key), has order n.
    public var isConsistent: Bool {
        if typeName == "RSA" { return rsaPairwiseConsistent() }
        if typeName == "EC", let consistent = ecPairwiseConsistent() { return consistent }
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { ERR_clear_error(); return false }
        defer { EVP_PKEY_CTX_free(context) }
        let result = EVP_PKEY_pairwise_check(context)
        if result != 1 { ERR_clear_error() }
        // -2 means "not supported for this key type": nothing to disprove.
        return result == 1 || result == -2
    }

    /// d·G = Q for an EC key on a prime-order NIST curve; nil when this check does not apply (another
    /// curve, or parameters OpenSSL will not hand out), so the caller runs OpenSSL's own check.
    func ecPairwiseConsistent() -> Bool? {
        defer { ERR_clear_error() }
        var name = [CChar](repeating: 0, count: 80)
        var nameLength = 0
        guard EVP_PKEY_get_utf8_string_param(pkey, "group", &name, name.count, &nameLength) == 1,
              let group = PrimeOrderCurve.group(nid: OBJ_sn2nid(name)) else { return nil }
        var encodedLength = 0
        guard EVP_PKEY_get_octet_string_param(pkey, "encoded-pub-key", nil, 0, &encodedLength) == 1, encodedLength > 0 else { return nil }
        var encoded = [UInt8](repeating: 0, count: encodedLength)
        guard EVP_PKEY_get_octet_string_param(pkey, "encoded-pub-key", &encoded, encoded.count, &encodedLength) == 1 else { return nil }
        var d: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(pkey, "priv", &d) == 1, let d else { return nil }
        defer { BN_clear_free(d) }
        guard let order = EC_GROUP_get0_order(group), BN_is_negative(d) == 0, BN_is_zero(d) == 0, BN_cmp(d, order) < 0 else {
            return false
        }
        guard let context = BN_CTX_new() else { return nil }
        defer { BN_CTX_free(context) }
        guard let q = EC_POINT_new(group), let r = EC_POINT_new(group) else { return nil }
        defer { EC_POINT_free(q); EC_POINT_clear_free(r) }
        guard EC_POINT_oct2point(group, q, encoded, encodedLength, context) == 1,
              EC_POINT_mul(group, r, d, nil, nil, context) == 1 else { return false }
        return EC_POINT_cmp(group, r, q, context) == 0
    }

    private func rsaPairwiseConsistent() -> Bool {
        defer { ERR_clear_error() }
        var n: OpaquePointer? = nil, e: OpaquePointer? = nil, d: OpaquePointer? = nil
        var p: OpaquePointer? = nil, q: OpaquePointer? = nil
        defer { for bn in [n, e, d, p, q] { BN_clear_free(bn) } }
        guard EVP_PKEY_get_bn_param(pkey, "n", &n) == 1, EVP_PKEY_get_bn_param(pkey, "e", &e) == 1,
              EVP_PKEY_get_bn_param(pkey, "d", &d) == 1 else { return false }
        // A key without its factors (rare, allowed by PKCS#1) cannot be checked this way: fall back to OpenSSL.
        guard EVP_PKEY_get_bn_param(pkey, "rsa-factor1", &p) == 1, EVP_PKEY_get_bn_param(pkey, "rsa-factor2", &q) == 1 else {
            guard let context = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { return false }
            defer { EVP_PKEY_CTX_free(context) }
            return EVP_PKEY_pairwise_check(context) == 1
        }
        guard let context = BN_CTX_new() else { return false }
        defer { BN_CTX_free(context) }
        guard let product = BN_new(), let pMinus1 = BN_new(), let qMinus1 = BN_new(), let r = BN_new() else { return false }
        defer { for bn in [product, pMinus1, qMinus1, r] { BN_clear_free(bn) } }
        guard BN_mul(product, p, q, context) == 1, BN_cmp(product, n) == 0,
              BN_sub(pMinus1, p, BN_value_one()) == 1, BN_sub(qMinus1, q, BN_value_one()) == 1,
              BN_mod_mul(r, e, d, pMinus1, context) == 1, BN_is_one(r) == 1,
              BN_mod_mul(r, e, d, qMinus1, context) == 1, BN_is_one(r) == 1 else { return false }
        return true
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

/// A decoder for the store's own key files (unencrypted PKCS#8 PEM), built once and used for many files.
///
/// In OpenSSL 3.0, building a decoder context walks every key manager and decoder of every provider under
/// global locks; it cost several times the decoding itself (measured: about 60% of reading a key file, and
/// most of the lock contention between parsing threads). The context holds no per-input state except the
/// slot the decoded key is written to, which is cleared before each use. Not thread-safe: one per thread.
final class StoredKeyDecoder {
    static let inputType: StaticString = "PEM"
    static let inputStructure: StaticString = "PrivateKeyInfo"
    private let context: OpaquePointer?
    private let slot: UnsafeMutablePointer<OpaquePointer?>

    init() {
        slot = .allocate(capacity: 1)
        slot.initialize(to: nil)
        // OpenSSL 3.0 keeps the input type and structure pointers (it does not copy them): static strings.
        context = OSSL_DECODER_CTX_new_for_pkey(slot, Self.inputType.cString, Self.inputStructure.cString, nil,
                                                shim_EVP_PKEY_KEYPAIR(), nil, nil)
        if context == nil { ERR_clear_error() }
    }

    deinit {
        if let context { OSSL_DECODER_CTX_free(context) }
        if let pkey = slot.pointee { EVP_PKEY_free(pkey) }
        slot.deinitialize(count: 1)
        slot.deallocate()
    }

    /// The key in `bytes`, or nil when this decoder cannot read it (the caller falls back to the general one).
    func decode(_ bytes: [UInt8]) -> PrivateKey? {
        guard let context else { return nil }
        ERR_clear_error()
        return decodeKey(bytes, with: context, into: slot).map(PrivateKey.init(owning:))
    }
}

extension StaticString {
    /// The literal's bytes as a C string (a literal is NUL-terminated and lives as long as the program).
    var cString: UnsafePointer<CChar> { UnsafeRawPointer(utf8Start).assumingMemoryBound(to: CChar.self) }
}

/// The NIST curves whose group order is prime (cofactor 1), built once: `EC_GROUP_new_by_curve_name` costs
/// more than the multiplication. Groups are only read after creation, which OpenSSL allows from any thread.
enum PrimeOrderCurve {
    private final class Group: @unchecked Sendable {
        let pointer: OpaquePointer?
        init(_ nid: Int32) { pointer = EC_GROUP_new_by_curve_name(nid) }
    }

    private static let p256 = Group(NID_X9_62_prime256v1)
    private static let p384 = Group(NID_secp384r1)
    private static let p521 = Group(NID_secp521r1)

    static func group(nid: Int32) -> OpaquePointer? {
        switch nid {
        case NID_X9_62_prime256v1: p256.pointer
        case NID_secp384r1: p384.pointer
        case NID_secp521r1: p521.pointer
        default: nil
        }
    }
}
