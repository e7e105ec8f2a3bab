import COpenSSL

/// A public key completed with domain parameters it does not carry itself (owning its `EVP_PKEY*`).
///
/// RFC 3279 §2.3.2: a DSA certificate may omit the parameters from its SubjectPublicKeyInfo; they are then
/// those of the issuer's key (NIST PKITS 4.1.5 tests this). OpenSSL 3 cannot decode such a key on its own, so
/// the certificate's `publicKey` is nil; `Certificate.publicKey(parametersFrom:)` builds the key it stands for.
final class CompletedPublicKey: @unchecked Sendable {
    let pkey: OpaquePointer

    init(owning pkey: OpaquePointer) { self.pkey = pkey }
    deinit { EVP_PKEY_free(pkey) }

    /// Is `key` the private half of this key (parameters and public value)?
    func matches(_ key: PrivateKey) -> Bool {
        let ok = EVP_PKEY_eq(pkey, key.pkey) == 1
        if !ok { ERR_clear_error() }
        return ok
    }
}

extension Certificate {
    /// The key is DSA and the SubjectPublicKeyInfo carries no parameters (absent or NULL): they are inherited
    /// from the issuer (RFC 3279 §2.3.2).
    public var inheritsDSAParameters: Bool { Self.inheritsDSAParameters(x509) }

    /// `inheritsDSAParameters` of any `X509*` (for OpenSSL's chain-building callbacks, see `ChainValidator`).
    static func inheritsDSAParameters(_ x509: OpaquePointer) -> Bool {
        guard let pub = X509_get_X509_PUBKEY(x509) else { return false }
        var algorithm: OpaquePointer? = nil
        var parameters: UnsafeMutablePointer<X509_ALGOR>? = nil
        guard X509_PUBKEY_get0_param(&algorithm, nil, nil, &parameters, pub) == 1, OBJ_obj2nid(algorithm) == NID_dsa else {
            return false
        }
        guard let parameters else { return true }
        var type: Int32 = 0
        X509_ALGOR_get0(nil, &type, nil, parameters)
        return type != V_ASN1_SEQUENCE
    }

    /// The certificate's complete public key: its own, or — when it inherits DSA parameters — nil (see
    /// `publicKey(parametersFrom:)`).
    var completePublicKey: CompletedPublicKey? {
        guard !inheritsDSAParameters, let key = publicKey else { ERR_clear_error(); return nil }
        EVP_PKEY_up_ref(key)
        return CompletedPublicKey(owning: key)
    }

    /// This certificate's public value with the DSA parameters of `issuerKey` (the issuer's complete key), as
    /// OpenSSL decodes a SubjectPublicKeyInfo that carries them; nil when this certificate does not inherit
    /// parameters or `issuerKey` is not a DSA key.
    func publicKey(parametersFrom issuerKey: CompletedPublicKey) -> CompletedPublicKey? {
        guard inheritsDSAParameters, EVP_PKEY_get_base_id(issuerKey.pkey) == EVP_PKEY_DSA,
              let own = X509_get_X509_PUBKEY(x509) else { return nil }
        defer { ERR_clear_error() }
        // The issuer's parameters as its SubjectPublicKeyInfo encodes them.
        var issuerSPKI: OpaquePointer? = nil
        guard X509_PUBKEY_set(&issuerSPKI, issuerKey.pkey) == 1, let issuerSPKI else { return nil }
        defer { X509_PUBKEY_free(issuerSPKI) }
        var issuerAlgorithm: UnsafeMutablePointer<X509_ALGOR>? = nil
        guard X509_PUBKEY_get0_param(nil, nil, nil, &issuerAlgorithm, issuerSPKI) == 1, let issuerAlgorithm else { return nil }
        var parameterType: Int32 = 0
        var parameterValue: UnsafeRawPointer? = nil
        X509_ALGOR_get0(nil, &parameterType, &parameterValue, issuerAlgorithm)
        guard parameterType == V_ASN1_SEQUENCE, let parameterValue,
              let parameters = ASN1_STRING_dup(parameterValue.assumingMemoryBound(to: ASN1_STRING.self)) else { return nil }
        // This certificate's public value (the DER INTEGER in its BIT STRING), copied for the new structure.
        var keyBytes: UnsafePointer<UInt8>? = nil
        var keyLength: Int32 = 0
        guard X509_PUBKEY_get0_param(nil, &keyBytes, &keyLength, nil, own) == 1, let keyBytes, keyLength > 0,
              let copy = CRYPTO_memdup(keyBytes, Int(keyLength), #fileID, #line) else {
            ASN1_STRING_free(parameters)
            return nil
        }
        guard let completed = X509_PUBKEY_new() else {
            ASN1_STRING_free(parameters)
            CRYPTO_free(copy, #fileID, #line)
            return nil
        }
        defer { X509_PUBKEY_free(completed) }
        guard X509_PUBKEY_set0_param(completed, OBJ_nid2obj(NID_dsa), V_ASN1_SEQUENCE, UnsafeMutableRawPointer(parameters),
                                     copy.assumingMemoryBound(to: UInt8.self), keyLength) == 1 else {
            ASN1_STRING_free(parameters)
            CRYPTO_free(copy, #fileID, #line)
            return nil
        }
        // Round trip through DER so that OpenSSL decodes the completed structure as it decodes any other.
        guard let der = try? derEncode("i2d_X509_PUBKEY", { i2d_X509_PUBKEY(completed, $0) }) else { return nil }
        let key: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return d2i_PUBKEY(nil, &pointer, buffer.count)
        }
        return key.map(CompletedPublicKey.init(owning:))
    }

    /// The complete public key of this certificate: its own, or its public value with the DSA parameters it
    /// inherits along its issuers (RFC 3279 §2.3.2), each issuer found among `candidates` by name and proved by
    /// its signature. Nil when no chain of issuers among `candidates` completes it.
    func completedKey(among candidates: [Certificate], depth: Int = 0) -> CompletedPublicKey? {
        guard inheritsDSAParameters else { return completePublicKey }
        guard depth < 8 else { return nil }
        for issuer in candidates where issuer.der != der && namesIssuer(issuer) {
            guard let issuerKey = issuer.completedKey(among: candidates, depth: depth + 1), isSigned(by: issuerKey),
                  let key = publicKey(parametersFrom: issuerKey) else { continue }
            return key
        }
        return nil
    }

    /// Did `issuer` issue this certificate — names, key identifiers, keyCertSign, and the signature — with the
    /// issuer's key completed along its own issuers among `candidates` when that key inherits its DSA parameters
    /// (RFC 3279 §2.3.2; NIST PKITS 4.1.5)? `isIssued(by:)` cannot tell for such an issuer: OpenSSL cannot decode
    /// its key, so every chain stopped there.
    func isIssued(by issuer: Certificate, completingAmong candidates: [Certificate]) -> Bool {
        guard issuer.inheritsDSAParameters else { return isIssued(by: issuer) }
        guard namesIssuer(issuer) else { return false }
        // What X509_check_issued checks besides the key it cannot decode: the key identifiers, when both are
        // there, and a key usage that allows signing certificates, when there is one.
        if let authority = X509_get0_authority_key_id(x509), let subjectKey = X509_get0_subject_key_id(issuer.x509),
           ASN1_OCTET_STRING_cmp(authority, subjectKey) != 0 {
            return false
        }
        if X509_get_extension_flags(issuer.x509) & UInt32(EXFLAG_KUSAGE) != 0, X509_get_key_usage(issuer.x509) & UInt32(KU_KEY_CERT_SIGN) == 0 {
            return false
        }
        guard let key = issuer.completedKey(among: candidates) else { return false }
        return isSigned(by: key)
    }

    /// Does this certificate name `issuer` as its issuer (the names alone)?
    func namesIssuer(_ issuer: Certificate) -> Bool {
        X509_NAME_cmp(X509_get_issuer_name(x509), X509_get_subject_name(issuer.x509)) == 0
    }

    /// Is this certificate's signature made by the holder of `key`?
    func isSigned(by key: CompletedPublicKey) -> Bool {
        let ok = X509_verify(verifiableX509, key.pkey) == 1
        if !ok { ERR_clear_error() }
        return ok
    }

    /// For a certificate that inherits DSA parameters: is `key`'s public value the certificate's? All the
    /// certificate itself holds; the parameters are checked against the issuer's when the key is paired
    /// (`publicKey(parametersFrom:)`, at import).
    func publicValueMatches(_ key: PrivateKey) -> Bool {
        defer { ERR_clear_error() }
        guard inheritsDSAParameters, EVP_PKEY_get_base_id(key.pkey) == EVP_PKEY_DSA, let own = X509_get_X509_PUBKEY(x509) else {
            return false
        }
        var keyBytes: UnsafePointer<UInt8>? = nil
        var keyLength: Int32 = 0
        guard X509_PUBKEY_get0_param(nil, &keyBytes, &keyLength, nil, own) == 1, keyBytes != nil else { return false }
        var pointer = keyBytes
        guard let integer = d2i_ASN1_INTEGER(nil, &pointer, Int(keyLength)) else { return false }
        defer { ASN1_INTEGER_free(integer) }
        guard let certificateValue = ASN1_INTEGER_to_BN(integer, nil) else { return false }
        defer { BN_free(certificateValue) }
        var keyValue: OpaquePointer? = nil
        guard EVP_PKEY_get_bn_param(key.pkey, "pub", &keyValue) == 1, let keyValue else { return false }
        defer { BN_free(keyValue) }
        return BN_cmp(certificateValue, keyValue) == 0
    }
}

extension PrivateKey {
    /// For a DSA key: the identifiers (SHA-256 of the SubjectPublicKeyInfo) of its public value without the
    /// parameters — absent, or NULL —, the names under which the store keeps the key of a certificate that
    /// inherits its parameters. Empty for other keys.
    var parameterlessIdentifiers: [String] {
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_DSA else { return [] }
        defer { ERR_clear_error() }
        var spki: OpaquePointer? = nil
        guard X509_PUBKEY_set(&spki, pkey) == 1, let spki else { return [] }
        defer { X509_PUBKEY_free(spki) }
        var keyBytes: UnsafePointer<UInt8>? = nil
        var keyLength: Int32 = 0
        guard X509_PUBKEY_get0_param(nil, &keyBytes, &keyLength, nil, spki) == 1, let keyBytes, keyLength > 0 else { return [] }
        return [V_ASN1_UNDEF, V_ASN1_NULL].compactMap { type -> String? in
            guard let bare = X509_PUBKEY_new() else { return nil }
            defer { X509_PUBKEY_free(bare) }
            guard let copy = CRYPTO_memdup(keyBytes, Int(keyLength), #fileID, #line) else { return nil }
            guard X509_PUBKEY_set0_param(bare, OBJ_nid2obj(NID_dsa), type, nil, copy.assumingMemoryBound(to: UInt8.self), keyLength) == 1 else {
                CRYPTO_free(copy, #fileID, #line)
                return nil
            }
            return (try? derEncode("i2d_X509_PUBKEY", { i2d_X509_PUBKEY(bare, $0) })).map { hexUpper(Digest.sha256($0)) }
        }
    }
}
