import Foundation
import Testing
@testable import CertStore

@Suite("DistinguishedName(windowsForm:): the subject a request is made for")
struct WindowsFormSubjectTests {
    @Test("the most specific RDN is written first and encoded last, so the name lists back as typed")
    func encodedOrder() throws {
        let name = try DistinguishedName(windowsForm: "CN=mail.contoso.com, O=Contoso, C=US")
        #expect(name.rdns.map { $0.map(\.oid) } == [["2.5.4.6"], ["2.5.4.10"], ["2.5.4.3"]])
        #expect(name.windowsString == "CN=mail.contoso.com, O=Contoso, C=US")
        #expect(name.commonName == "mail.contoso.com")
    }

    @Test("labels are case-insensitive, ST means S, OIDs are accepted; spacing and ; are normalised", arguments: [
        ("cn=a;o=b ; st=WA", "CN=a, O=b, S=WA"),
        ("CN = a ,  E = x@y.example", "CN=a, E=x@y.example"),
        ("CN=a, OID.2.5.4.15=Private Organization", "CN=a, OID.2.5.4.15=Private Organization"),
        ("CN=a, 2.5.4.97=VATDE-123", "CN=a, OID.2.5.4.97=VATDE-123"),
        ("CN=a, dc=contoso, DC=com", "CN=a, DC=contoso, DC=com"),
        ("SERIALNUMBER=7, PostalCode=8000, CN=a", "SERIALNUMBER=7, PostalCode=8000, CN=a"),
    ])
    func labels(input: String, expected: String) throws {
        #expect(try DistinguishedName(windowsForm: input).windowsString == expected)
    }

    @Test("quoted values keep separators and doubled quotes; a multi-valued RDN keeps its order")
    func quotingAndMultiValued() throws {
        let name = try DistinguishedName(windowsForm: #"CN=mail.contoso.com + OU=Mail, O="Contoso, Ltd", L="Say ""hi""", C=CH"#)
        #expect(name.rdns.last?.map(\.oid) == ["2.5.4.3", "2.5.4.11"])
        #expect(name.rdns[1] == [NameAttribute(oid: "2.5.4.7", value: #"Say "hi""#)])
        #expect(name.windowsString == #"CN=mail.contoso.com + OU=Mail, O="Contoso, Ltd", L="Say ""hi""", C=CH"#)
    }

    @Test("refused with a usage error", arguments: [
        "", "   ", "CN=a,", "CN", "CN=", "X=a", "CN=a, O=\"open", "CN=a\"b", "CN=a=b", "CN=a, C=USA", "CN=a, C=1X",
        "CN=a, E=zürich@x.example", "CN=\"a\" b", "OID.1=a", "CN=a\u{7}",
    ])
    func refused(input: String) {
        #expect(throws: CertStoreError.self) { try DistinguishedName(windowsForm: input) }
        do { _ = try DistinguishedName(windowsForm: input) } catch let error as CertStoreError { #expect(error.kind == .usage) } catch {}
    }

    @Test("string types: PrintableString when it fits, IA5String for E and DC, UTF8String otherwise")
    func stringTypes() {
        #expect(DistinguishedName.isPrintableString("Contoso Ltd. (Europe) - 1/2:3=4?+,'"))
        #expect(!DistinguishedName.isPrintableString("Zürich"))
        #expect(!DistinguishedName.isPrintableString("a@b"))
        #expect(!DistinguishedName.isPrintableString("a&b"))
    }
}

@Suite("KeySpec")
struct KeySpecTests {
    @Test("the five key types and their spellings", arguments: [
        ("rsa:2048", KeySpec.rsa2048), ("RSA:3072", .rsa3072), ("rsa:4096", .rsa4096), ("ec:p256", .ecP256),
        ("EC:P-256", .ecP256), ("ec:prime256v1", .ecP256), ("ec:p384", .ecP384), ("ec:secp384r1", .ecP384),
    ])
    func parses(text: String, spec: KeySpec) throws {
        #expect(try KeySpec(parsing: text) == spec)
    }

    @Test("anything else is a usage error naming the types", arguments: ["rsa:1024", "rsa", "ec:p521", "ed25519", ""])
    func refused(text: String) {
        do {
            _ = try KeySpec(parsing: text)
            Issue.record("\(text) was accepted")
        } catch let error as CertStoreError {
            #expect(error.kind == .usage)
            #expect(error.hint?.contains("rsa:2048, rsa:3072, rsa:4096, ec:p256, ec:p384") == true)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("Exchange's default is RSA 2048")
    func defaultIsRSA2048() { #expect(KeySpec.default == .rsa2048) }
}

@Suite("Keys, requests and self-signed certificates made by OpenSSL")
struct RequestCryptoTests {
    @Test("every key type: the key OpenSSL makes is consistent, the request and the dummy certificate carry it",
          arguments: KeySpec.allCases)
    func keyTypes(spec: KeySpec) throws {
        let key = try PrivateKey.generate(spec)
        #expect(key.isConsistent)
        #expect(key.typeName == (spec.rawValue.hasPrefix("rsa") ? "RSA" : "EC"))
        #expect(key.bits == ["rsa:2048": 2048, "rsa:3072": 3072, "rsa:4096": 4096, "ec:p256": 256, "ec:p384": 384][spec.rawValue])
        let subject = try DistinguishedName(windowsForm: "CN=mail.contoso.com, O=Contoso, C=US")
        let request = try CertificateRequest(subject: subject, dnsNames: ["mail.contoso.com"], key: key)
        #expect(request.pem.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----\n"))
        let now = Date()
        let dummy = try Certificate.selfSigned(subject: subject, dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"], key: key,
                                               notBefore: now, notAfter: now.addingTimeInterval(86_400))
        #expect(dummy.matches(key))
        #expect(dummy.publicKeyIdentifier == key.publicKeyIdentifier)
        let properties = dummy.properties()
        #expect(properties.subjectString == "CN=mail.contoso.com, O=Contoso, C=US")
        #expect(properties.isSelfSigned)
        #expect(!properties.isCertificateAuthority)
        #expect(properties.dnsNameList == ["mail.contoso.com", "autodiscover.contoso.com"])
        #expect(properties.enhancedKeyUsageList == ["Server Authentication (1.3.6.1.5.5.7.3.1)"])
        #expect(properties.keyUsage?.contains(.digitalSignature) == true)
        #expect(properties.keyUsage?.contains(.keyEncipherment) == spec.rawValue.hasPrefix("rsa"))
        #expect(properties.signatureHash == (spec == .ecP384 ? "sha384" : "sha256"))
        #expect(properties.serialNumber.count == 32)
        #expect(TLSServerCheck.evaluate(certificate: dummy, key: key, chain: []).isUsable)
    }
}
