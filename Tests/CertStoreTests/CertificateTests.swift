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
        #expect(certificate.thumbprint == sha1)
        #expect(certificate.properties().thumbprint == sha1)
        #expect(certificate.sha256 == (try fx.fingerprint(file, digest: "-sha256")))
        #expect(try Thumbprint(parsing: certificate.thumbprint).value == sha1)
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

    @Test("BMPString and T61String values are converted to Unicode", arguments: ["bmp.pem", "t61.pem"])
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
