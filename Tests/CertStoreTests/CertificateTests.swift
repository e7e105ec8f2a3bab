import COpenSSL
import Foundation
import Testing
@testable import CertStore

@Suite("Certificate")
struct CertificateTests {
    @Test("thumbprint and SHA-256 equal openssl's fingerprints", arguments: ["leaf.pem", "ca.pem", "rsa.pem", "names.pem"])
    func fingerprints(file: String) throws {
        let fx = try Fixtures.get()
        let certificate = try fx.certificate(file)
        let sha1 = try fx.fingerprint(file)
        #expect(sha1.count == 40)
        #expect(certificate.thumbprint.value == sha1)
        #expect(certificate.properties().thumbprint.value == sha1)
        #expect(certificate.sha256 == (try fx.fingerprint(file, digest: "-sha256")))
        #expect(certificate.thumbprint.value == sha1)
    }

    @Test("Certificate(der:) keeps the exact DER bytes")
    func keepsDER() throws {
        let fx = try Fixtures.get()
        let der = try fx.bytes("leaf.der")
        let certificate = try Certificate(der: der)
        #expect(certificate.der == der)
        // PEM out and back in gives the same certificate.
        let again = try Certificate(der: try Fixtures.derOfFirstPEMBlock(Array(certificate.pem.utf8)))
        #expect(again.der == der)
        #expect(certificate.pem.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
    }

    @Test("subject and issuer in Windows form")
    func names() throws {
        let fx = try Fixtures.get()
        let leaf = try fx.certificate("leaf.pem").properties()
        #expect(leaf.subjectString == #"CN=mail.contoso.com, OU=IT, O="Contoso, Ltd", L=Redmond, S=Washington, C=US"#)
        #expect(leaf.issuerString == "CN=Contoso Test Root, O=Contoso")
        #expect(leaf.subject.commonName == "mail.contoso.com")
        let ca = try fx.certificate("ca.pem").properties()
        #expect(ca.subjectString == "CN=Contoso Test Root, O=Contoso")
        #expect(ca.issuerString == ca.subjectString)
    }

    @Test("a multi-valued RDN (-multivalue-rdn /CN=James+O=Microsoft)")
    func multiValuedRDN() throws {
        let properties = try Fixtures.get().certificate("rsa.pem").properties()
        #expect(properties.subject.rdns.count == 1)
        #expect(properties.subject.rdns.first?.count == 2)
        #expect(properties.subjectString == "CN=James + O=Microsoft")
    }

    @Test("E=, S=, STREET=, DC=, OID.x.y=, UTF-8 and quoting from a real certificate")
    func labelsFromCertificate() throws {
        let properties = try Fixtures.get().certificate("names.pem").properties()
        #expect(properties.subjectString ==
                #"CN="web;01", STREET=1 Main St, S=WA, OID.2.5.4.15=Private Organization, E=admin@contoso.com, O=Zürich AG, DC=contoso, DC=com"#)
    }

    /// t61.pem holds Latin-1 bytes (not UTF-8), t61-utf8.pem the UTF-8 bytes of the same names: Windows decodes
    /// a T61String as UTF-8 when its bytes are valid UTF-8, else as Latin-1.
    @Test("BMPString and T61String values are converted to Unicode", arguments: ["bmp.pem", "t61.pem", "t61-utf8.pem"])
    func stringTypes(file: String) throws {
        let properties = try Fixtures.get().certificate(file).properties()
        #expect(properties.subjectString == "CN=Zürich Straße, O=Ünïcödé")
        #expect(properties.subject.commonName == "Zürich Straße")
    }

    @Test("serial number: uppercase hex of the INTEGER content octets")
    func serialNumbers() throws {
        let fx = try Fixtures.get()
        #expect(try fx.certificate("leaf.pem").properties().serialNumber == "0A1B2C3D4E5F")
        // 0x9A has its high bit set, so DER adds a leading zero octet, which .NET shows.
        #expect(try fx.certificate("ca.pem").properties().serialNumber == "009A")
    }

    @Test("subject alternative names, DnsNameList")
    func subjectAlternativeNames() throws {
        let properties = try Fixtures.get().certificate("leaf.pem").properties()
        #expect(properties.subjectAlternativeNames == [
            .dns("mail.contoso.com"), .dns("autodiscover.contoso.com"), .ipAddress("192.0.2.1"), .email("admin@contoso.com"),
        ])
        // The subject has more than a CN, so only the SAN DNS names count.
        #expect(properties.dnsNameList == ["mail.contoso.com", "autodiscover.contoso.com"])
        let other = try Fixtures.get().certificate("other.pem").properties()
        #expect(other.subjectAlternativeNames == [])
        #expect(other.dnsNameList == ["other.contoso.com"])
    }

    @Test("other SAN kinds: otherName (UPN), URI, IPv6")
    func otherSubjectAlternativeNames() throws {
        let properties = try Fixtures.get().certificate("names.pem").properties()
        #expect(properties.subjectAlternativeNames == [
            .other(type: 0), .uri("https://contoso.com/"), .ipAddress("2001:db8::1"), .dns("web01.contoso.com"),
        ])
        #expect(properties.subjectAlternativeNames.map(\.description) == [
            "Other Name (type 0)", "URL=https://contoso.com/", "IP Address=2001:db8::1", "DNS Name=web01.contoso.com",
        ])
        #expect(properties.dnsNameList == ["web01.contoso.com"])
    }

    @Test("Ed25519: no separate signature digest")
    func ed25519() throws {
        let fx = try Fixtures.get()
        let properties = try fx.certificate("ed25519.pem").properties()
        #expect(properties.keyAlgorithm == "ED25519")
        #expect(properties.signatureAlgorithmOID == "1.3.101.112")
        #expect(properties.signatureAlgorithm == "Ed25519")
        #expect(properties.signatureHash == nil)
        #expect(properties.isSelfSigned)
        #expect(properties.publicKeyIdentifier == (try fx.publicKeySHA256(ofKey: "ed25519.key")))
    }

    @Test("extended key usage and key usage")
    func usages() throws {
        let fx = try Fixtures.get()
        let leaf = try fx.certificate("leaf.pem").properties()
        #expect(leaf.extendedKeyUsages == ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"])
        #expect(leaf.enhancedKeyUsageList == ["Server Authentication (1.3.6.1.5.5.7.3.1)", "Client Authentication (1.3.6.1.5.5.7.3.2)"])
        #expect(leaf.hasServerAuthenticationUsage)
        #expect(leaf.keyUsage == [.digitalSignature, .keyEncipherment])
        #expect(leaf.keyUsage?.names == ["DigitalSignature", "KeyEncipherment"])

        let ca = try fx.certificate("ca.pem").properties()
        #expect(ca.extendedKeyUsages == nil)
        #expect(ca.keyUsage == [.keyCertSign, .cRLSign])

        let rsa = try fx.certificate("rsa.pem").properties()
        #expect(rsa.keyUsage == nil)
    }

    @Test("key algorithm and size, signature algorithm", arguments: [
        ("leaf.pem", "EC", 256, "sha256ECDSA"),
        ("ca.pem", "EC", 256, "sha256ECDSA"),
        ("rsa.pem", "RSA", 2048, "sha256RSA"),
    ])
    func algorithms(file: String, algorithm: String, bits: Int, signature: String) throws {
        let properties = try Fixtures.get().certificate(file).properties()
        #expect(properties.keyAlgorithm == algorithm)
        #expect(properties.publicKeySize == bits)
        #expect(properties.signatureAlgorithm == signature)
        #expect(properties.signatureHash == "sha256")
        #expect(properties.version == 3)
    }

    @Test("self-signed and certificate authority flags", arguments: [
        ("ca.pem", true, true),
        ("leaf.pem", false, false),
        ("rsa.pem", true, false),
        ("other.pem", true, false),
    ])
    func flags(file: String, selfSigned: Bool, authority: Bool) throws {
        let properties = try Fixtures.get().certificate(file).properties()
        #expect(properties.isSelfSigned == selfSigned)
        #expect(properties.isCertificateAuthority == authority)
    }

    @Test("validity dates (-days 365)")
    func validity() throws {
        let properties = try Fixtures.get().certificate("leaf.pem").properties()
        let notBefore = try #require(properties.notBefore), notAfter = try #require(properties.notAfter)
        #expect(notAfter.timeIntervalSince(notBefore) == 365 * 86_400)
        // openssl starts the validity at the time of signing, i.e. a moment ago.
        #expect(abs(notBefore.timeIntervalSinceNow) < 3_600)
        #expect(properties.isTimeValid(at: notBefore.addingTimeInterval(60)))
        #expect(!properties.isTimeValid(at: notAfter.addingTimeInterval(1)))
    }

    @Test("publicKeyIdentifier is the SHA-256 of the SPKI, equal for certificate and key", arguments: [
        ("leaf.pem", "leaf.key"), ("ca.pem", "ca.key"), ("rsa.pem", "rsa.key"),
    ])
    func publicKeyIdentifier(certificateFile: String, keyFile: String) throws {
        let fx = try Fixtures.get()
        let certificate = try fx.certificate(certificateFile)
        let key = try fx.key(keyFile)
        let expected = try fx.publicKeySHA256(ofKey: keyFile)
        #expect(expected.count == 64)
        #expect(certificate.publicKeyIdentifier == expected)
        #expect(certificate.properties().publicKeyIdentifier == expected)
        #expect(key.publicKeyIdentifier == expected)
    }

    @Test("isIssued(by:)")
    func issuance() throws {
        let fx = try Fixtures.get()
        let leaf = try fx.certificate("leaf.pem"), ca = try fx.certificate("ca.pem"), other = try fx.certificate("other.pem")
        #expect(leaf.isIssued(by: ca))
        #expect(ca.isIssued(by: ca))
        #expect(!ca.isIssued(by: leaf))
        #expect(!leaf.isIssued(by: other))
        #expect(!leaf.isIssued(by: leaf))
    }

    @Test("trailing bytes after the DER are rejected")
    func trailingBytes() throws {
        let der = try Fixtures.get().bytes("leaf.der")
        let error = try #require(throws: CertStoreError.self) { try Certificate(der: der + [0, 0, 0]) }
        #expect(error.kind == .badData)
        #expect(error.message.contains("3 unexpected bytes"))
    }

    @Test("damaged input is bad data", arguments: [0, 1, 2, 3])
    func damaged(variant: Int) throws {
        let der = try Fixtures.get().bytes("leaf.der")
        let input: [UInt8] = switch variant {
        case 0: []
        case 1: Array(der.prefix(der.count / 2))
        case 2: pseudoRandomBytes(count: 600, seed: 42)
        default: Array("-----BEGIN CERTIFICATE-----".utf8)
        }
        let error = try #require(throws: CertStoreError.self) { try Certificate(der: input) }
        #expect(error.kind == .badData)
    }
}

@Suite("Public key identifier fast path")
struct PublicKeyIdentifierTests {
    /// Key kinds and encodings: (name, genpkey/ec arguments producing `<name>.key`, fast path expected).
    static let kinds: [(name: String, fast: Bool)] = [
        ("rsa1024", true), ("rsa2048-e3", true), ("rsa-pss", false), ("p256", true), ("p384", true), ("p521", true),
        ("p256-compressed", false), ("p256-explicit", false), ("secp256k1", false), ("ed25519", false), ("ed448", false),
        ("dsa", false),
    ]

    static let made: Result<URL, any Error> = Result {
        let fx = try Fixtures.get()
        let directory = try Scratch.makeDirectory("spki")
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let generate: [String: [String]] = [
            "rsa1024": ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
            "rsa2048-e3": ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:3"],
            "rsa-pss": ["genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
            "p256": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "p384": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            "p521": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
            "secp256k1": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"],
            "ed25519": ["genpkey", "-algorithm", "ED25519"],
            "ed448": ["genpkey", "-algorithm", "ED448"],
        ]
        for (name, arguments) in generate { try fx.openssl(arguments + ["-out", path("\(name).key")]) }
        try fx.openssl("ec", "-in", path("p256.key"), "-conv_form", "compressed", "-out", path("p256-compressed.key"))
        try fx.openssl("ec", "-in", path("p256.key"), "-param_enc", "explicit", "-out", path("p256-explicit.key"))
        try fx.openssl("dsaparam", "-out", path("dsa.param"), "1024")
        try fx.openssl("gendsa", "-out", path("dsa.key"), path("dsa.param"))
        for kind in kinds {
            try fx.openssl("req", "-x509", "-new", "-key", path("\(kind.name).key"), "-subj", "/CN=\(kind.name)",
                           "-days", "30", "-extensions", "plain_ext", "-out", path("\(kind.name).pem"))
        }
        return directory
    }

    @Test("equals SHA-256 of OpenSSL's re-encoding for every kind of key", arguments: kinds.map(\.name))
    func sameAsReencoding(name: String) throws {
        let directory = try Self.made.get()
        let pem = try Data(contentsOf: directory.appendingPathComponent("\(name).pem"))
        let certificate = try Certificate(der: try Fixtures.derOfFirstPEMBlock(Array(pem)))
        let reencoded = try #require(certificate.reencodedSPKI)
        #expect(certificate.publicKeyIdentifier == hexUpper(Digest.sha256(reencoded)))
        let expectFast = try #require(Self.kinds.first { $0.name == name }).fast
        #expect((certificate.canonicalSPKI != nil) == expectFast)
        if let canonical = certificate.canonicalSPKI { #expect(canonical == reencoded) }
        // The key file side names the same identifier.
        let key = try PrivateKey(bytes: Array(try Data(contentsOf: directory.appendingPathComponent("\(name).key"))), password: nil)
        #expect(key.publicKeyIdentifier == certificate.publicKeyIdentifier)
    }

    @Test("strict RSAPublicKey DER check")
    func strictRSA() {
        func check(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBufferPointer { Certificate.isStrictRSAPublicKey($0) } }
        #expect(check([0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03]))
        #expect(check([0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x03]))         // 0x80 needs its zero
        #expect(!check([0x30, 0x07, 0x02, 0x02, 0x00, 0x05, 0x02, 0x01, 0x03]))        // padded integer
        #expect(!check([0x30, 0x06, 0x02, 0x01, 0x85, 0x02, 0x01, 0x03]))              // negative modulus
        #expect(!check([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x03]))              // zero modulus
        #expect(!check([0x30, 0x81, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03]))        // long form for a short length
        #expect(!check([0x30, 0x07, 0x02, 0x81, 0x01, 0x05, 0x02, 0x01, 0x03]))        // the same inside
        #expect(!check([0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03, 0x00]))        // trailing byte
        #expect(!check([0x30, 0x09, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03, 0x02, 0x01, 0x01])) // a third integer
        #expect(!check([0x31, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03]))              // not a SEQUENCE
        #expect(!check([0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x02, 0x03]))              // truncated
        #expect(!check([]))
        var long: [UInt8] = [0x30, 0x81, 0x87, 0x02, 0x81, 0x81, 0x00] + [UInt8](repeating: 0xC5, count: 128)
        long += [0x02, 0x01, 0x03]
        #expect(check(long))
        long[2] = 0x86
        #expect(!check(long))
    }
}

@Suite("Certificates parsed for a listing")
struct InventoryParseTests {
    /// What a listing reads from a certificate parsed without OpenSSL's eager key decode must be exactly what
    /// a full parse gives, for every kind of key (including ones OpenSSL re-encodes and self-signed ones,
    /// whose self-signature check needs the key).
    @Test("properties and key match equal a full parse for every kind of key", arguments: PublicKeyIdentifierTests.kinds.map(\.name))
    func sameAsFullParse(name: String) throws {
        let directory = try PublicKeyIdentifierTests.made.get()
        let der = try Fixtures.derOfFirstPEMBlock(Array(try Data(contentsOf: directory.appendingPathComponent("\(name).pem"))))
        let full = try Certificate(der: der)
        let decoder = PublicKeyDecoder()
        let listed = try Certificate(inventoryDER: der, decoder: decoder)
        #expect(listed.parsedForInventory)
        #expect(listed.properties() == full.properties())
        #expect(listed.properties().isSelfSigned)
        #expect(listed.properties().keyAlgorithm != "" && listed.properties().publicKeySize > 0)
        let key = try PrivateKey(bytes: Array(try Data(contentsOf: directory.appendingPathComponent("\(name).key"))), password: nil)
        #expect(listed.matches(key) && full.matches(key))
        let other = try Fixtures.get().key("leaf.key")
        #expect(!listed.matches(other) && !full.matches(other))
        // The decoder's contexts are reused: a second certificate through the same decoder reads the same.
        #expect(try Certificate(inventoryDER: der, decoder: decoder).properties() == full.properties())
    }

    @Test("issued, self-issued and odd certificates read the same as a full parse",
          arguments: ["leaf.pem", "ca.pem", "client.pem", "leaf-renewed.pem", "other.pem", "names.pem", "rsa.pem", "ed25519.pem", "bmp.pem", "t61.pem"])
    func fixtures(name: String) throws {
        let der = try Fixtures.derOfFirstPEMBlock(try Fixtures.get().bytes(name))
        let listed = try Certificate(inventoryDER: der, decoder: PublicKeyDecoder())
        #expect(listed.properties() == (try Certificate(der: der)).properties())
    }

    @Test("trailing bytes and damaged input are refused as by a full parse", arguments: [0, 1, 2])
    func damaged(variant: Int) throws {
        let der = try Fixtures.get().bytes("leaf.der")
        let input: [UInt8] = switch variant {
        case 0: der + [0, 0, 0]
        case 1: Array(der.prefix(der.count / 2))
        default: pseudoRandomBytes(count: 600, seed: 7)
        }
        let error = try #require(throws: CertStoreError.self) { try Certificate(inventoryDER: input, decoder: PublicKeyDecoder()) }
        #expect(error.kind == .badData)
    }
}

/// `Certificate(taking:)` owns the `X509*` it is given from the first line: when it cannot encode it, it
/// frees it rather than leak it. Seen through OpenSSL's ex_data free callback, which runs when the object
/// is freed (for every X509; only the one carrying our marker counts).
@Suite("Certificate(taking:) ownership")
struct CertificateOwnershipTests {
    @Test("an X509 that does not encode is freed when Certificate(taking:) throws")
    func takingFreesOnFailure() throws {
        let counter = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        counter.initialize(to: 0)
        defer { counter.deallocate() }
        let index = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_X509, 0, counter, nil, nil) { _, pointer, _, _, _, argp in
            guard let pointer, let argp, pointer == argp else { return }
            argp.assumingMemoryBound(to: Int.self).pointee += 1
        }
        #expect(index >= 0)
        defer { CRYPTO_free_ex_index(CRYPTO_EX_INDEX_X509, index) }
        // A fresh X509 has no signature algorithm, validity or key: i2d_X509 fails on it.
        let x509 = try #require(X509_new())
        #expect(X509_set_ex_data(x509, index, counter) == 1)
        #expect(throws: CertStoreError.self) { _ = try Certificate(taking: x509) }
        ERR_clear_error()
        #expect(counter.pointee == 1, "the X509 was not freed")
    }
}

/// Names Windows prints differently from a naive reading: attribute types it has names for, T61String
/// bytes that are UTF-8, and values that are not strings (`#` and the hex of their DER, never quoted).
/// The certificate is made with OpenSSL's own API (the openssl command line cannot put a SEQUENCE or raw
/// T61String bytes into a name); its signature is real but irrelevant here.
@Suite("Windows name strings")
struct WindowsNameStringTests {
    /// One attribute: dotted OID, ASN.1 string type (V_ASN1_…), value bytes as encoded.
    typealias Entry = (oid: String, type: Int32, bytes: [UInt8])

    /// A self-signed certificate (other.key) whose subject has one RDN per entry, in this order.
    static func certificate(subject entries: [Entry]) throws -> Certificate {
        let key = try Fixtures.get().key("other.key")
        let x509 = try #require(X509_new())
        defer { X509_free(x509) }
        let name = try #require(X509_NAME_new())
        defer { X509_NAME_free(name) }
        for entry in entries {
            let object = try #require(OBJ_txt2obj(entry.oid, 1))
            defer { ASN1_OBJECT_free(object) }
            let added = entry.bytes.withUnsafeBufferPointer {
                X509_NAME_add_entry_by_OBJ(name, object, entry.type, $0.baseAddress, Int32($0.count), -1, 0)
            }
            try #require(added == 1)
        }
        try #require(X509_set_version(x509, 2) == 1)
        try #require(ASN1_INTEGER_set(X509_get_serialNumber(x509), 7) == 1)
        try #require(X509_set_subject_name(x509, name) == 1 && X509_set_issuer_name(x509, name) == 1)
        try #require(X509_gmtime_adj(X509_getm_notBefore(x509), 0) != nil)
        try #require(X509_gmtime_adj(X509_getm_notAfter(x509), 86_400) != nil)
        try #require(X509_set_pubkey(x509, key.pkey) == 1)
        try #require(X509_sign(x509, key.pkey, EVP_sha256()) > 0)
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509(x509, &out)
        try #require(length > 0)
        defer { shim_OPENSSL_free(out) }
        return try Certificate(der: Array(UnsafeBufferPointer(start: out, count: Int(length))))
    }

    static let entries: [Entry] = [
        ("2.5.4.6", V_ASN1_PRINTABLESTRING, Array("US".utf8)),
        ("2.5.4.46", V_ASN1_PRINTABLESTRING, Array("qual-1".utf8)),
        ("2.5.4.24", V_ASN1_NUMERICSTRING, Array("12345".utf8)),
        ("2.23.133.2.1", V_ASN1_UTF8STRING, Array("id:49465800".utf8)),
        ("2.23.133.2.2", V_ASN1_UTF8STRING, Array("SLB9670".utf8)),
        ("2.23.133.2.3", V_ASN1_UTF8STRING, Array("id:0D".utf8)),
        ("2.5.4.10", V_ASN1_T61STRING, Array("Zürich AG".utf8)),              // UTF-8 bytes in a T61String
        ("2.5.4.11", V_ASN1_T61STRING, [0x5A, 0xFC, 0x72, 0x69, 0x63, 0x68]),  // Latin-1 "Zürich"
        ("1.2.3.4", V_ASN1_SEQUENCE, [0x30, 0x03, 0x02, 0x01, 0x05]),          // not a string: the whole DER
        ("2.5.4.3", V_ASN1_UTF8STRING, Array("#not-hex".utf8)),                // a string that starts with #
    ]

    static let expected = ##"CN="#not-hex", OID.1.2.3.4=#3003020105, OU=Zürich, O=Zürich AG, TPMVersion=id:0D, "##
        + "TPMModel=SLB9670, TPMManufacturer=id:49465800, X21Address=12345, dnQualifier=qual-1, C=US"

    @Test("Windows labels, T61String as UTF-8 or Latin-1, a non-string value as # and hex, unquoted")
    func windowsForm() throws {
        let certificate = try Self.certificate(subject: Self.entries)
        #expect(certificate.properties().subjectString == Self.expected)
        // A listing parses differently (null-provider context): the same string.
        #expect(try Certificate.listingProperties(der: certificate.der).subjectString == Self.expected)
        let sequence = try #require(certificate.properties().subject.rdns.first { $0.first?.oid == "1.2.3.4" }?.first)
        #expect(sequence.value == "#3003020105" && sequence.isHexEncoded)
    }

    /// The TCG platform attributes (wincrypt.h's `szOID_RDN_TCG_PLATFORM_MANUFACTURER`, `_MODEL`, `_VERSION`,
    /// 2.23.133.2.4–6) have no name in Windows' OID table (dotnet/runtime's `OidLookup`, generated from every
    /// wincrypt.h OID on Windows 10, names 2.23.133.2.1–3 and not these), so `CertNameToStr` prints them as
    /// `OID.x` — as a platform certificate's subject shows on Windows — while the TPM attributes beside them keep
    /// their names.
    @Test("TCG platform attributes print as OID.x, the TPM attributes by name")
    func tcgPlatformAttributes() throws {
        let certificate = try Self.certificate(subject: [
            ("2.23.133.2.4", V_ASN1_UTF8STRING, Array("Contoso".utf8)),
            ("2.23.133.2.5", V_ASN1_UTF8STRING, Array("Model 7".utf8)),
            ("2.23.133.2.6", V_ASN1_UTF8STRING, Array("1.0".utf8)),
            ("2.23.133.2.1", V_ASN1_UTF8STRING, Array("id:49465800".utf8)),
        ])
        let expected = "TPMManufacturer=id:49465800, OID.2.23.133.2.6=1.0, OID.2.23.133.2.5=Model 7, OID.2.23.133.2.4=Contoso"
        #expect(certificate.properties().subjectString == expected)
        #expect(try Certificate.listingProperties(der: certificate.der).subjectString == expected)
    }

    @Test("the store index keeps which values are # and hex")
    func indexRoundTrip() throws {
        let properties = try Self.certificate(subject: Self.entries).properties()
        let stamp = FileStamp(device: 1, inode: 2, size: 3, modified: 4, changed: 5)
        let record = StoreIndex.Record(cer: stamp, json: nil, key: nil, keyStatus: .missing, properties: properties,
                                       storeProperties: StoreProperties(friendlyName: "", archived: false, exportable: true,
                                                                        importedAt: nil, source: nil))
        let url = try Scratch.makeDirectory("index").appendingPathComponent("My.index")
        try Data(StoreIndex.encode([record])).write(to: url)
        let back = try #require(StoreIndex.load(url)[properties.thumbprint])
        #expect(back.properties == properties)
        #expect(DistinguishedName(back.properties.subject.rdns).windowsString == Self.expected)
    }
}
