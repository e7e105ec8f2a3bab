import COpenSSL
import Foundation

/// One parsed X.509 certificate, owning its `X509*`.
///
/// OpenSSL is the parser of record: whatever it reads, the store holds. The wrapper is immutable after
/// init and only ever holds parsed objects, which OpenSSL allows to be read from several threads
/// (hence `@unchecked Sendable`).
public final class Certificate: @unchecked Sendable {
    let x509: OpaquePointer
    /// The exact DER bytes: the thumbprint is their SHA-1, and the store keeps them unchanged.
    public let der: [UInt8]
    /// Parsed for a listing (`init(inventoryDER:decoder:)`): the `X509*` lives in a library context without
    /// algorithms, so it must never be verified, chained or exported; its public key is `detachedPublicKey`.
    let parsedForInventory: Bool
    /// The public key decoded apart from the `X509*` (owned), for certificates parsed for a listing.
    private let detachedPublicKey: OpaquePointer?

    private init(owning x509: OpaquePointer, der: [UInt8], detachedPublicKey: OpaquePointer? = nil, parsedForInventory: Bool = false) {
        self.x509 = x509
        self.der = der
        self.detachedPublicKey = detachedPublicKey
        self.parsedForInventory = parsedForInventory
    }

    deinit {
        X509_free(x509)
        if let detachedPublicKey { EVP_PKEY_free(detachedPublicKey) }
    }

    /// The certificate's public key (nil when OpenSSL cannot decode its algorithm).
    var publicKey: OpaquePointer? {
        if parsedForInventory { return detachedPublicKey }
        guard let key = X509_get0_pubkey(x509) else { ERR_clear_error(); return nil }
        return key
    }

    /// The `X509*` for what needs the certificate's algorithms (signature checks, chains, PKCS#12): never
    /// one parsed for a listing.
    var verifiableX509: OpaquePointer {
        precondition(!parsedForInventory, "a certificate parsed for a listing cannot be verified or exported")
        return x509
    }

    /// Parses one DER certificate; trailing bytes are an error (the file is not what it claims to be).
    public convenience init(der: [UInt8]) throws {
        self.init(owning: try Self.parse(der) { d2i_X509(nil, &$0, $1) }, der: der)
    }

    /// `der` parsed by `d2i` (given where to read and how many bytes there are); trailing bytes are refused.
    private static func parse(_ der: [UInt8], _ d2i: (inout UnsafePointer<UInt8>?, Int) -> OpaquePointer?) throws -> OpaquePointer {
        ERR_clear_error()
        var consumed = 0
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var pointer = buffer.baseAddress
            let x = d2i(&pointer, buffer.count)
            if let start = buffer.baseAddress, let pointer { consumed = pointer - start }
            return x
        }
        guard let parsed else { throw CertStoreError.openssl("reading the DER certificate") }
        guard consumed == der.count else {
            X509_free(parsed)
            throw CertStoreError.badData("the DER certificate is followed by \(der.count - consumed) unexpected bytes")
        }
        return parsed
    }

    /// Parses one DER certificate for a listing: what `properties()` and `matches(_:)` need, at a fraction of
    /// the cost. `d2i_X509` in OpenSSL 3.0 builds a decoder context for every certificate's public key
    /// (walking every decoder under process-wide locks: measured, 60% of a parse and most of the contention
    /// between threads). Here the certificate is parsed in a library context whose only provider is OpenSSL's
    /// "null" provider, so that eager decode finds nothing and costs nothing, and the key is decoded by
    /// `decoder`, which reuses its contexts. The result must not be verified or exported (`verifiableX509`).
    /// Debug builds (the tests) check that its properties equal those of `init(der:)`.
    convenience init(inventoryDER der: [UInt8], decoder: PublicKeyDecoder) throws {
        guard let context = inventoryLibraryContext else { try self.init(der: der); return }
        let parsed = try Self.parse(der) { ASN1_item_d2i_ex(nil, &$0, $1, shim_X509_item(), context, nil) }
        ERR_clear_error()   // the eager decode's "no decoder" errors
        var key: OpaquePointer? = nil
        if let spki = X509_get_X509_PUBKEY(parsed),
           let bytes = try? derEncode("i2d_X509_PUBKEY", { i2d_X509_PUBKEY(spki, $0) }) {
            var algorithm: OpaquePointer? = nil
            X509_PUBKEY_get0_param(&algorithm, nil, nil, nil, spki)
            // X509_PUBKEY names the key type the same way before it decodes (OBJ_obj2txt, names allowed).
            var name = [CChar](repeating: 0, count: 80)
            if let algorithm, OBJ_obj2txt(&name, Int32(name.count), algorithm, 0) > 0 {
                key = decoder.decode(bytes, keyType: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        ERR_clear_error()
        self.init(owning: parsed, der: der, detachedPublicKey: key, parsedForInventory: true)
    }

    /// The properties a listing reads from these DER bytes (`init(inventoryDER:decoder:)`), which must equal
    /// `Certificate(der:).properties()`: the fuzzer compares the two on every certificate it finds.
    public static func listingProperties(der: [UInt8]) throws -> CertificateProperties {
        try Certificate(inventoryDER: der, decoder: PublicKeyDecoder()).properties()
    }

    /// Takes over one reference to an `X509*` (from PEM, PKCS#7 or PKCS#12 parsing), also when it throws:
    /// the reference is then released.
    convenience init(taking x509: OpaquePointer) throws {
        let der: [UInt8]
        do {
            der = try derEncode("i2d_X509") { i2d_X509(x509, $0) }
        } catch {
            X509_free(x509)
            throw error
        }
        self.init(owning: x509, der: der)
    }

    /// Shares an `X509*` borrowed from a stack the caller frees.
    convenience init(borrowing x509: OpaquePointer) throws {
        X509_up_ref(x509)
        try self.init(taking: x509)
    }

    // MARK: identity

    /// Windows' `Thumbprint`: uppercase SHA-1 of the DER.
    public var thumbprint: Thumbprint { Thumbprint(trusted: hexUpper(Digest.sha1(der))) }
    public var sha256: String { hexUpper(Digest.sha256(der)) }

    /// SHA-256 of the public key as OpenSSL re-encodes it (SubjectPublicKeyInfo DER).
    ///
    /// The key store is indexed by this value, so a renewed certificate with the same key finds the
    /// same key file. Re-encoding normalises point compression and parameter forms on both sides.
    ///
    /// Re-encoding goes through an OpenSSL 3.0 encoder context, whose construction walks every encoder
    /// under global locks (measured: a fifth of a cold listing). Where the certificate's own SPKI provably
    /// re-encodes to the same bytes (`canonicalSPKI`), those bytes are hashed instead; debug builds (the
    /// tests) compute both and stop if they ever differ.
    public var publicKeyIdentifier: String {
        if let canonical = canonicalSPKI {
            assert(canonical == reencodedSPKI, "the SPKI fast path differs from OpenSSL's re-encoding")
            return hexUpper(Digest.sha256(canonical))
        }
        if let spki = reencodedSPKI { return hexUpper(Digest.sha256(spki)) }
        ERR_clear_error()  // an algorithm OpenSSL cannot load: fall back to the SPKI bytes as encoded
        let raw = (try? derEncode("i2d_X509_PUBKEY") { i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), $0) }) ?? []
        return hexUpper(Digest.sha256(raw))
    }

    /// `i2d_PUBKEY` of the decoded key: the definition of the identifier.
    var reencodedSPKI: [UInt8]? {
        guard let pkey = publicKey, let spki = try? derEncode("i2d_PUBKEY", { i2d_PUBKEY(pkey, $0) }) else {
            ERR_clear_error()
            return nil
        }
        return spki
    }

    /// The certificate's SubjectPublicKeyInfo as parsed (DER), when it is exactly what `i2d_PUBKEY` of the
    /// decoded key writes; nil when that is not certain (then the caller re-encodes).
    ///
    /// `i2d_X509_PUBKEY` writes the parsed AlgorithmIdentifier and BIT STRING back in DER, so the outer
    /// structure is canonical; what re-encoding the key could change is inside. Accepted, and identical by
    /// construction:
    /// * rsaEncryption with NULL parameters and a BIT STRING (no unused bits) holding a strictly DER
    ///   RSAPublicKey (minimal lengths, two minimal positive INTEGERs): OpenSSL writes NULL parameters and
    ///   the DER of n and e, which is those bytes.
    /// * id-ecPublicKey on a named P-256, P-384 or P-521 curve (the OID, not explicit parameters) with an
    ///   uncompressed point of the curve's exact length: OpenSSL writes the curve's OID and the point
    ///   uncompressed at that length, and it has already refused a point off the curve or out of range.
    /// Everything else (compressed points, explicit parameters, DSA, PSS, EdDSA, ...) is re-encoded.
    var canonicalSPKI: [UInt8]? {
        guard let pkey = publicKey, let pub = X509_get_X509_PUBKEY(x509) else { ERR_clear_error(); return nil }
        var algorithm: OpaquePointer? = nil
        var key: UnsafePointer<UInt8>? = nil
        var keyLength: Int32 = 0
        var parameters: UnsafeMutablePointer<X509_ALGOR>? = nil
        guard X509_PUBKEY_get0_param(&algorithm, &key, &keyLength, &parameters, pub) == 1,
              let algorithm, let key, let parameters, keyLength > 0 else { ERR_clear_error(); return nil }
        var parameterType: Int32 = 0
        var parameterValue: UnsafeRawPointer? = nil
        X509_ALGOR_get0(nil, &parameterType, &parameterValue, parameters)
        let keyBytes = UnsafeBufferPointer(start: key, count: Int(keyLength))
        switch OBJ_obj2nid(algorithm) {
        case NID_rsaEncryption:
            guard parameterType == V_ASN1_NULL, Self.isStrictRSAPublicKey(keyBytes) else { return nil }
        case NID_X9_62_id_ecPublicKey:
            guard parameterType == V_ASN1_OBJECT, let parameterValue else { return nil }
            let curve = OBJ_obj2nid(OpaquePointer(parameterValue))
            guard curve == NID_X9_62_prime256v1 || curve == NID_secp384r1 || curve == NID_secp521r1 else { return nil }
            let fieldBytes = (Int(EVP_PKEY_get_bits(pkey)) + 7) / 8
            guard fieldBytes > 0, keyBytes.count == 1 + 2 * fieldBytes, keyBytes[0] == 0x04 else { return nil }
        default:
            return nil
        }
        guard let raw = try? derEncode("i2d_X509_PUBKEY", { i2d_X509_PUBKEY(pub, $0) }) else { ERR_clear_error(); return nil }
        // The BIT STRING is last: its unused-bits octet, then the key bytes.
        let start = raw.count - keyBytes.count
        guard start >= 1, raw[start - 1] == 0, raw[start...].elementsEqual(keyBytes) else { return nil }
        return raw
    }

    /// Is `bytes` exactly the DER of an RSAPublicKey (SEQUENCE of two positive INTEGERs), with minimal
    /// lengths and minimal integers and nothing after it?
    static func isStrictRSAPublicKey(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        func header(_ tag: UInt8) -> Int? {
            guard index + 2 <= bytes.count, bytes[index] == tag else { return nil }
            let first = bytes[index + 1]
            index += 2
            if first < 0x80 { return Int(first) }
            let count = Int(first & 0x7F)
            guard count >= 1, count <= 4, index + count <= bytes.count, bytes[index] != 0 else { return nil }
            var length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
            return length >= 0x80 ? length : nil
        }
        guard let sequence = header(0x30), index + sequence == bytes.count else { return false }
        for _ in 0..<2 {
            guard let length = header(0x02), length >= 1, index + length <= bytes.count else { return false }
            let first = bytes[index]
            guard first < 0x80 else { return false }                                   // negative
            if first == 0 && (length == 1 || bytes[index + 1] < 0x80) { return false }  // zero or padded
            index += length
        }
        return index == bytes.count
    }

    // MARK: properties

    /// All displayable properties, computed once.
    public func properties() -> CertificateProperties {
        CertificateProperties(
            thumbprint: thumbprint,
            sha256: sha256,
            subject: DistinguishedName(readName(X509_get_subject_name(x509))),
            issuer: DistinguishedName(readName(X509_get_issuer_name(x509))),
            serialNumber: serialNumber,
            notBefore: Self.date(X509_get0_notBefore(x509)),
            notAfter: Self.date(X509_get0_notAfter(x509)),
            version: Int(X509_get_version(x509)) + 1,
            subjectAlternativeNames: subjectAlternativeNames,
            extendedKeyUsages: extendedKeyUsages,
            keyUsage: keyUsage,
            keyAlgorithm: keyAlgorithm,
            publicKeySize: Int(publicKey.map { EVP_PKEY_get_bits($0) } ?? 0),
            signatureAlgorithmOID: signatureAlgorithmOID,
            signatureHash: signatureHash,
            isSelfSigned: isSelfSigned,
            isCertificateAuthority: (X509_get_extension_flags(x509) & UInt32(EXFLAG_CA)) != 0,
            publicKeyIdentifier: publicKeyIdentifier)
    }

    /// OpenSSL's `X509_self_signed` (names, key identifiers and a signature algorithm that fits the key;
    /// the signature itself is not checked). It needs the key inside the `X509*`, which one parsed for a
    /// listing lacks: such a certificate that names itself as issuer (roots and self-signed ones, few in a
    /// store) is parsed in full to answer; for any other the answer is no without asking.
    private var isSelfSigned: Bool {
        guard parsedForInventory else { return X509_self_signed(x509, 0) == 1 }
        guard X509_get_extension_flags(x509) & UInt32(EXFLAG_SI) != 0 else { return false }
        guard let full = try? Certificate(der: der) else { ERR_clear_error(); return false }
        return X509_self_signed(full.x509, 0) == 1
    }

    private var serialNumber: String {
        // .NET shows the raw content octets of the INTEGER, so a negative serial keeps its two's complement.
        guard let serial = X509_get0_serialNumber(x509),
              let encoded = try? derEncode("i2d_ASN1_INTEGER", { i2d_ASN1_INTEGER(serial, $0) }) else { return "" }
        return hexUpper(Self.derContent(encoded))
    }

    private var keyAlgorithm: String {
        if let pkey = publicKey, let name = openSSLString(EVP_PKEY_get0_type_name(pkey)) {
            return name
        }
        ERR_clear_error()
        var algorithm: OpaquePointer? = nil
        X509_PUBKEY_get0_param(&algorithm, nil, nil, nil, X509_get_X509_PUBKEY(x509))
        return objectText(algorithm, numeric: false)
    }

    private var signatureAlgorithmOID: String {
        var algorithm: UnsafePointer<X509_ALGOR>? = nil
        X509_get0_signature(nil, &algorithm, x509)
        guard let algorithm else { return "" }
        var object: OpaquePointer? = nil
        X509_ALGOR_get0(&object, nil, nil, algorithm)
        return objectText(object, numeric: true)
    }

    /// The digest of the signature ("sha256", "sha1", "md5"...), or nil when OpenSSL cannot tell.
    private var signatureHash: String? {
        var mdNID: Int32 = 0
        guard X509_get_signature_info(x509, &mdNID, nil, nil, nil) == 1, mdNID != NID_undef else {
            ERR_clear_error()
            return nil
        }
        return openSSLString(OBJ_nid2sn(mdNID))?.lowercased()
    }

    private var keyUsage: KeyUsage? {
        let flags = X509_get_key_usage(x509)
        return flags == UInt32.max ? nil : KeyUsage(rawValue: flags)
    }

    private var subjectAlternativeNames: [SubjectAlternativeName] {
        guard let names = shim_X509_get_SANs(x509, nil) else { ERR_clear_error(); return [] }
        defer { GENERAL_NAMES_free(names) }
        var result: [SubjectAlternativeName] = []
        for i in 0..<shim_sk_GENERAL_NAME_num(names) {
            guard let name = shim_sk_GENERAL_NAME_value(names, i) else { continue }
            let type = name.pointee.type
            guard let string = shim_GENERAL_NAME_string(name) else {
                result.append(.other(type: Int(type)))
                continue
            }
            let bytes = Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data(string), count: Int(ASN1_STRING_length(string))))
            switch type {
            case GEN_DNS: result.append(.dns(String(decoding: bytes, as: UTF8.self)))
            case GEN_EMAIL: result.append(.email(String(decoding: bytes, as: UTF8.self)))
            case GEN_URI: result.append(.uri(String(decoding: bytes, as: UTF8.self)))
            case GEN_IPADD: result.append(.ipAddress(Self.formatIP(bytes)))
            default: result.append(.other(type: Int(type)))
            }
        }
        return result
    }

    private var extendedKeyUsages: [String]? {
        guard let usages = shim_X509_get_EKU(x509, nil) else { ERR_clear_error(); return nil }
        defer { EXTENDED_KEY_USAGE_free(usages) }
        return (0..<shim_sk_ASN1_OBJECT_num(usages)).map {
            objectText(shim_sk_ASN1_OBJECT_value(usages, $0), numeric: true)
        }
    }

    private func readName(_ name: OpaquePointer?) -> [[NameAttribute]] {
        guard let name else { return [] }
        var rdns: [[NameAttribute]] = []
        var lastSet: Int32 = -1
        for i in 0..<X509_NAME_entry_count(name) {
            guard let entry = X509_NAME_get_entry(name, i),
                  let object = X509_NAME_ENTRY_get_object(entry),
                  let data = X509_NAME_ENTRY_get_data(entry) else { continue }
            let (value, isHexEncoded) = Self.attributeValue(data)
            let attribute = NameAttribute(oid: objectText(object, numeric: true), value: value, isHexEncoded: isHexEncoded)
            let set = X509_NAME_ENTRY_set(entry)
            if set == lastSet, !rdns.isEmpty { rdns[rdns.count - 1].append(attribute) } else { rdns.append([attribute]) }
            lastSet = set
        }
        return rdns
    }

    /// An attribute value as Windows shows it (`CertNameToStr`): string types as text — a T61String as UTF-8
    /// when its bytes are valid UTF-8, else as Latin-1 (as Windows decodes it); BMP and Universal strings
    /// through `ASN1_STRING_to_UTF8` —, and any other value as `#` and the uppercase hex of its DER
    /// encoding (tag and length included), which is never quoted.
    private static func attributeValue(_ data: UnsafeMutablePointer<ASN1_STRING>) -> (value: String, isHexEncoded: Bool) {
        let type = ASN1_STRING_type(data)
        let bytes = UnsafeBufferPointer(start: ASN1_STRING_get0_data(data), count: Int(ASN1_STRING_length(data)))
        switch type {
        case V_ASN1_UTF8STRING:
            return (String(decoding: bytes, as: UTF8.self), false)
        case V_ASN1_T61STRING:
            return (String(validating: bytes, as: UTF8.self) ?? latin1(bytes), false)
        case V_ASN1_NUMERICSTRING, V_ASN1_PRINTABLESTRING, V_ASN1_VIDEOTEXSTRING, V_ASN1_IA5STRING, V_ASN1_GRAPHICSTRING,
             V_ASN1_VISIBLESTRING, V_ASN1_GENERALSTRING, V_ASN1_UNIVERSALSTRING, V_ASN1_BMPSTRING:
            var utf8: UnsafeMutablePointer<UInt8>? = nil
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            if length >= 0, let utf8 {
                defer { shim_OPENSSL_free(utf8) }
                return (String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self), false)
            }
            ERR_clear_error()
            return (latin1(bytes), false)   // e.g. a UniversalString holding a value that is no code point
        default:
            return ("#" + hexUpper(encodedValue(data) ?? Array(bytes)), true)
        }
    }

    private static func latin1(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    /// The DER encoding of a name attribute's value that is not a string, as OpenSSL writes it back (for a
    /// SEQUENCE or a value of another class OpenSSL keeps the whole encoding; for other types the content).
    private static func encodedValue(_ data: UnsafeMutablePointer<ASN1_STRING>) -> [UInt8]? {
        guard let any = ASN1_TYPE_new() else { ERR_clear_error(); return nil }
        defer { ASN1_TYPE_free(any) }
        guard ASN1_TYPE_set1(any, ASN1_STRING_type(data), data) == 1,
              let der = try? derEncode("i2d_ASN1_TYPE", { i2d_ASN1_TYPE(any, $0) }) else { ERR_clear_error(); return nil }
        return der
    }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { ERR_clear_error(); return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    private static func formatIP(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        if bytes.count == 16 {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if bytes.withUnsafeBytes({ inet_ntop(AF_INET6, $0.baseAddress, &buffer, socklen_t(buffer.count)) }) != nil {
                return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            }
        }
        return hexUpper(bytes)
    }

    /// The content octets of a DER TLV.
    static func derContent(_ tlv: [UInt8]) -> [UInt8] {
        guard tlv.count >= 2 else { return [] }
        let first = tlv[1]
        if first & 0x80 == 0 { return Array(tlv.dropFirst(2)) }
        let lengthBytes = Int(first & 0x7F)
        return Array(tlv.dropFirst(2 + lengthBytes))
    }

    // MARK: keys

    /// Does `key` belong to this certificate? What `X509_check_private_key` does (`EVP_PKEY_eq` of the
    /// certificate's public key and `key`), for certificates parsed either way.
    /// A certificate that inherits DSA parameters (RFC 3279) carries only its public value: that must equal
    /// the key's (`publicValueMatches`); the parameters were checked against the issuer's at import.
    public func matches(_ key: PrivateKey) -> Bool {
        if inheritsDSAParameters { return publicValueMatches(key) }
        guard let publicKey else { ERR_clear_error(); return false }
        let ok = EVP_PKEY_eq(publicKey, key.pkey) == 1
        if !ok { ERR_clear_error() }
        return ok
    }

    /// PEM text of the certificate.
    public var pem: String {
        let bytes = (try? collectMemoryBIO("PEM_write_bio_X509") { PEM_write_bio_X509($0, x509) }) ?? []
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Did `issuer` issue this certificate (names, key identifiers, and the signature)?
    public func isIssued(by issuer: Certificate) -> Bool {
        guard X509_check_issued(issuer.x509, x509) == X509_V_OK else { return false }
        guard let key = issuer.publicKey else { return false }
        let ok = X509_verify(verifiableX509, key) == 1
        if !ok { ERR_clear_error() }
        return ok
    }
}

/// A library context whose only provider is OpenSSL's "null" provider (no algorithms, no fallback to the
/// default provider): certificates parsed in it skip the eager public-key decode (`init(inventoryDER:)`).
/// OpenSSL library contexts are safe to share between threads; this one is never changed after it is made.
nonisolated(unsafe) private let inventoryLibraryContext: OpaquePointer? = {
    guard let context = OSSL_LIB_CTX_new() else { ERR_clear_error(); return nil }
    guard OSSL_PROVIDER_load(context, "null") != nil else {
        OSSL_LIB_CTX_free(context)
        ERR_clear_error()
        return nil
    }
    return context
}()
