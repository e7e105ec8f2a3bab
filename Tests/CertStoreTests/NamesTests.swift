import Foundation
import Testing
@testable import CertStore

private func attribute(_ oid: String, _ value: String) -> NameAttribute { NameAttribute(oid: oid, value: value) }

private enum OID {
    static let cn = "2.5.4.3", ou = "2.5.4.11", o = "2.5.4.10", l = "2.5.4.7", st = "2.5.4.8", c = "2.5.4.6"
    static let email = "1.2.840.113549.1.9.1"
}

@Suite("DistinguishedName.windowsString")
struct DistinguishedNameTests {
    @Test("RDNs are reversed and joined with \", \"")
    func reversedOrder() {
        let name = DistinguishedName([
            [attribute(OID.c, "US")], [attribute(OID.st, "Washington")], [attribute(OID.l, "Redmond")],
            [attribute(OID.o, "Contoso, Ltd")], [attribute(OID.ou, "IT")], [attribute(OID.cn, "mail.contoso.com")],
        ])
        #expect(name.windowsString == #"CN=mail.contoso.com, OU=IT, O="Contoso, Ltd", L=Redmond, S=Washington, C=US"#)
        #expect(name.description == name.windowsString)
    }

    @Test("a multi-valued RDN keeps its encoded order, joined with \" + \"")
    func multiValued() {
        let name = DistinguishedName([[attribute(OID.c, "US")], [attribute(OID.cn, "James"), attribute(OID.o, "Microsoft")]])
        #expect(name.windowsString == "CN=James + O=Microsoft, C=US")
    }

    @Test("an empty name is the empty string")
    func empty() {
        #expect(DistinguishedName([]).windowsString == "")
        #expect(DistinguishedName([]).commonName == nil)
    }

    @Test("Windows labels", arguments: [
        ("2.5.4.3", "CN"), ("2.5.4.11", "OU"), ("2.5.4.10", "O"), ("2.5.4.7", "L"), ("2.5.4.8", "S"), ("2.5.4.6", "C"),
        ("1.2.840.113549.1.9.1", "E"), ("2.5.4.9", "STREET"), ("2.5.4.5", "SERIALNUMBER"), ("2.5.4.4", "SN"),
        ("0.9.2342.19200300.100.1.25", "DC"), ("2.5.4.42", "G"), ("2.5.4.43", "I"), ("2.5.4.12", "T"),
        ("2.5.4.46", "dnQualifier"), ("2.5.4.24", "X21Address"), ("2.23.133.2.1", "TPMManufacturer"),
        ("2.23.133.2.2", "TPMModel"), ("2.23.133.2.3", "TPMVersion"), ("1.2.840.113549.1.9.2", "OID.1.2.840.113549.1.9.2"),
        ("2.5.4.15", "OID.2.5.4.15"), ("1.2.3.4.5", "OID.1.2.3.4.5"),
        // wincrypt.h's TCG platform attributes: no name in Windows' table (see WindowsNameStringTests).
        ("2.23.133.2.4", "OID.2.23.133.2.4"), ("2.23.133.2.5", "OID.2.23.133.2.5"), ("2.23.133.2.6", "OID.2.23.133.2.6"),
    ])
    func labels(oid: String, label: String) {
        #expect(DistinguishedName.label(forOID: oid) == label)
        #expect(DistinguishedName([[attribute(oid, "v")]]).windowsString == "\(label)=v")
    }

    @Test("Windows quoting", arguments: [
        // Plain values stay as they are; inner white space, backslashes and non-ASCII need nothing.
        ("plain", "plain"),
        ("two words", "two words"),
        (#"back\slash"#, #"back\slash"#),
        ("Zürich", "Zürich"),
        ("a\tb", "a\tb"),
        // \r is not one of Windows' special characters: alone inside a value it does not trigger quoting.
        ("a\rb", "a\rb"),
        // Empty, leading or trailing white space (space, \t ... \r).
        ("", "\"\""),
        (" lead", #"" lead""#),
        ("trail ", #""trail ""#),
        ("\tlead", "\"\tlead\""),
        ("trail\u{0B}", "\"trail\u{0B}\""),
        ("\u{0C}lead", "\"\u{0C}lead\""),
        ("trail\r", "\"trail\r\""),
        // The special characters.
        ("a,b", #""a,b""#),
        ("a+b", #""a+b""#),
        ("a=b", #""a=b""#),
        ("a\nb", "\"a\nb\""),
        ("a<b", #""a<b""#),
        ("a>b", #""a>b""#),
        ("#1", "\"#1\""),
        ("web;01", #""web;01""#),
        // An embedded quote is doubled, never backslash-escaped.
        (#"say "hi""#, #""say ""hi""""#),
        ("\"", "\"\"\"\""),
    ])
    func quoting(value: String, expected: String) {
        #expect(DistinguishedName([[attribute(OID.cn, value)]]).windowsString == "CN=\(expected)")
    }

    @Test("quoting applies inside multi-valued RDNs too")
    func quotingInMultiValued() {
        let name = DistinguishedName([[attribute(OID.cn, "a+b"), attribute(OID.o, "x")]])
        #expect(name.windowsString == #"CN="a+b" + O=x"#)
    }

    @Test("commonName is the most specific CN")
    func commonName() {
        let name = DistinguishedName([[attribute(OID.cn, "outer")], [attribute(OID.o, "Contoso")], [attribute(OID.cn, "inner")]])
        #expect(name.commonName == "inner")
        #expect(DistinguishedName([[attribute(OID.o, "Contoso")]]).commonName == nil)
    }
}

@Suite("Thumbprint(parsing:)")
struct ThumbprintTests {
    static let upper = "0123456789ABCDEF0123456789ABCDEF01234567"

    @Test("accepted spellings", arguments: [
        "0123456789abcdef0123456789abcdef01234567",
        "0123456789ABCDEF0123456789ABCDEF01234567",
        "01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67",
        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
        "01-23-45-67-89-ab-cd-ef-01-23-45-67-89-ab-cd-ef-01-23-45-67",
        "\u{200E}0123456789abcdef0123456789abcdef01234567",
        "\u{200F}0123456789abcdef0123456789abcdef01234567\u{200F}",
        "\u{FEFF}0123456789AbCdEf0123456789aBcDeF01234567",
        "  0123456789abcdef\t0123456789abcdef01234567\n",
    ])
    func accepted(text: String) throws {
        let thumbprint = try Thumbprint(parsing: text)
        #expect(thumbprint.value == Self.upper)
        #expect(thumbprint.description == Self.upper)
    }

    @Test("rejected input is a usage error", arguments: [
        "0123456789abcdef0123456789abcdef0123456",     // 39 digits
        "0123456789abcdef0123456789abcdef012345678",   // 41 digits
        "0123456789abcdeg0123456789abcdef01234567",    // g is not hex
        "0x0123456789abcdef0123456789abcdef01234567",  // the x of 0x
        "/etc/passwd",
        "",
        "*",
        "0123456789abcdef0123456789abcdef0123456７",    // a full-width digit
    ])
    func rejected(text: String) throws {
        let error = try #require(throws: CertStoreError.self) { try Thumbprint(parsing: text) }
        #expect(error.kind == .usage)
        #expect(error.message.hasPrefix("not a thumbprint"))
    }

    @Test("a file path is never taken for a thumbprint")
    func pathNamesTheOffendingCharacter() throws {
        let error = try #require(throws: CertStoreError.self) { try Thumbprint(parsing: "/etc/passwd") }
        #expect(error.message.contains("/"))
    }

    @Test("ordering, equality and Codable")
    func valueSemantics() throws {
        let a = try Thumbprint(parsing: String(repeating: "a", count: 40))
        let b = try Thumbprint(parsing: String(repeating: "B", count: 40))
        #expect(a < b)
        #expect(a == (try Thumbprint(parsing: String(repeating: "A", count: 40))))
        let json = try JSONEncoder().encode([a])
        #expect(String(decoding: json, as: UTF8.self) == "[\"\(String(repeating: "A", count: 40))\"]")
        #expect(try JSONDecoder().decode([Thumbprint].self, from: json) == [a])
        #expect(throws: (any Error).self) { try JSONDecoder().decode([Thumbprint].self, from: Data(#"["abc"]"#.utf8)) }
    }
}

@Suite("WildcardPattern (PowerShell -like)")
struct WildcardPatternTests {
    @Test("matching", arguments: [
        // * any run, including none
        ("*", "", true), ("*", "anything", true),
        ("mail*", "mail.contoso.com", true), ("mail*", "mail", true), ("mail*", "email", false),
        ("*.contoso.com", "mail.contoso.com", true), ("*.contoso.com", "contoso.com", false),
        ("*a*b*c*", "xxaYYbZZc", true), ("*a*b*c*", "cba", false), ("*ab", "aab", true), ("a**b", "ab", true),
        // ? exactly one character
        ("m?il", "mail", true), ("m?il", "mil", false), ("m?il", "maail", false), ("???", "abc", true),
        // sets and ranges
        ("[a-c]x", "bx", true), ("[a-c]x", "dx", false), ("[bc]at", "cat", true), ("[bc]at", "hat", false),
        ("srv[0-9][0-9]", "srv42", true), ("srv[0-9][0-9]", "srv4x", false), ("[a-]", "-", true), ("[a-]", "b", false),
        // the backtick escapes the next character
        ("`*", "*", true), ("`*", "x", false), ("a`?", "a?", true), ("a`?", "ab", false),
        ("``", "`", true), ("`[x`]", "[x]", true), ("[`]]", "]", true),
        // case-insensitive, in literals and in sets
        ("MAIL.Contoso.COM", "mail.contoso.com", true), ("[A-C]*", "beta", true), ("[a-c]*", "Beta", true),
        // anchored on the whole string
        ("mail", "mail.contoso.com", false), ("contoso", "mail.contoso.com", false), ("", "", true), ("", "x", false),
    ])
    func matching(pattern: String, text: String, expected: Bool) throws {
        #expect(try WildcardPattern(pattern).matches(text) == expected)
    }

    @Test("invalid patterns are usage errors", arguments: ["[abc", "abc[", "[", "abc`", "`", "[]", "[z-a]"])
    func invalid(pattern: String) throws {
        let error = try #require(throws: CertStoreError.self) { try WildcardPattern(pattern) }
        #expect(error.kind == .usage)
        #expect(error.message.contains(pattern))
    }

    @Test("isLiteral", arguments: [("abc", true), ("a`*c", true), ("a*c", false), ("a?c", false), ("[ab]", false)])
    func isLiteral(pattern: String, expected: Bool) throws {
        #expect(try WildcardPattern(pattern).isLiteral == expected)
    }
}

@Suite("StorePath(parsing:)")
struct StorePathTests {
    @Test("accepted spellings", arguments: [
        ("LocalMachine/My", "LocalMachine", "My"),
        ("LocalMachine\\My", "LocalMachine", "My"),
        ("Cert:\\LocalMachine\\My", "LocalMachine", "My"),
        ("cert:/localmachine/root", "LocalMachine", "Root"),
        ("CERT:\\CURRENTUSER\\ca", "CurrentUser", "CA"),
        ("CA", "LocalMachine", "CA"),
        ("my", "LocalMachine", "My"),
        ("Root", "LocalMachine", "Root"),
    ])
    func accepted(text: String, location: String, store: String) throws {
        let path = try StorePath(parsing: text)
        #expect(path.location == location)
        #expect(path.name.rawValue == store)
        #expect(path.description == "\(location)/\(store)")
    }

    @Test("rejected input is a usage error", arguments: [
        "", "Cert:", "Cert:\\", "LocalMachine/Trust", "Elsewhere/My", "LocalMachine/My/Extra", "Disallowed",
    ])
    func rejected(text: String) throws {
        let error = try #require(throws: CertStoreError.self) { try StorePath(parsing: text) }
        #expect(error.kind == .usage)
        #expect(error.hint != nil)
    }

    @Test("personal, sibling and the PowerShell parent path")
    func helpers() throws {
        #expect(StorePath.personal == (try StorePath(parsing: "LocalMachine/My")))
        #expect(StorePath.personal.sibling(.ca) == (try StorePath(parsing: "LocalMachine/CA")))
        #expect(try StorePath(parsing: "CurrentUser/Root").powerShellPath == "Microsoft.PowerShell.Security\\Certificate::CurrentUser\\Root")
    }
}

@Suite("Display names: EKU, signature algorithms, key usage, SANs")
struct DisplayNameTests {
    @Test("EKU display strings", arguments: [
        ("1.3.6.1.5.5.7.3.1", "Server Authentication (1.3.6.1.5.5.7.3.1)"),
        ("1.3.6.1.5.5.7.3.2", "Client Authentication (1.3.6.1.5.5.7.3.2)"),
        ("1.3.6.1.5.5.7.3.3", "Code Signing (1.3.6.1.5.5.7.3.3)"),
        ("1.3.6.1.4.1.311.20.2.2", "Smart Card Logon (1.3.6.1.4.1.311.20.2.2)"),
        ("2.5.29.37.0", "Any Purpose (2.5.29.37.0)"),
        ("1.2.3.4.5.6", "1.2.3.4.5.6"),
    ])
    func ekuDisplay(oid: String, expected: String) {
        #expect(ObjectIdentifiers.extendedKeyUsageDisplay(oid) == expected)
    }

    @Test("signature algorithm friendly names")
    func signatureAlgorithms() {
        #expect(ObjectIdentifiers.signatureAlgorithmName("1.2.840.113549.1.1.11") == "sha256RSA")
        #expect(ObjectIdentifiers.signatureAlgorithmName("1.2.840.10045.4.3.2") == "sha256ECDSA")
        #expect(ObjectIdentifiers.signatureAlgorithmName("1.2.3") == "1.2.3")
    }

    @Test("key usage names in Windows order")
    func keyUsageNames() {
        let usage: KeyUsage = [.decipherOnly, .keyCertSign, .digitalSignature, .cRLSign]
        #expect(usage.names == ["DigitalSignature", "KeyCertSign", "CrlSign", "DecipherOnly"])
        #expect(KeyUsage().names.isEmpty)
    }

    @Test("SAN descriptions")
    func sanDescriptions() {
        #expect(SubjectAlternativeName.dns("a.contoso.com").description == "DNS Name=a.contoso.com")
        #expect(SubjectAlternativeName.email("x@contoso.com").description == "RFC822 Name=x@contoso.com")
        #expect(SubjectAlternativeName.uri("https://contoso.com").description == "URL=https://contoso.com")
        #expect(SubjectAlternativeName.ipAddress("192.0.2.1").description == "IP Address=192.0.2.1")
        #expect(SubjectAlternativeName.other(type: 0).description == "Other Name (type 0)")
    }
}

@Suite("CertificateProperties rules")
struct CertificatePropertiesTests {
    static func properties(subject: [[NameAttribute]], sans: [SubjectAlternativeName] = [],
                           ekus: [String]? = nil, notBefore: Date? = nil, notAfter: Date? = nil) -> CertificateProperties {
        CertificateProperties(
            thumbprint: Thumbprint(canonical: String(repeating: "0", count: 40))!, sha256: String(repeating: "0", count: 64),
            subject: DistinguishedName(subject), issuer: DistinguishedName(subject), serialNumber: "01",
            notBefore: notBefore, notAfter: notAfter, version: 3, subjectAlternativeNames: sans,
            extendedKeyUsages: ekus, keyUsage: nil, keyAlgorithm: "EC", publicKeySize: 256,
            signatureAlgorithmOID: "1.2.840.10045.4.3.2", signatureHash: "sha256", isSelfSigned: true,
            isCertificateAuthority: false, publicKeyIdentifier: String(repeating: "0", count: 64))
    }

    @Test("dnsNameList: the CN of a CN-only subject first, then SAN DNS names, de-duplicated ignoring case")
    func dnsNameListSingleCN() {
        let p = Self.properties(subject: [[attribute(OID.cn, "www.contoso.com")]],
                                sans: [.dns("WWW.contoso.com"), .email("x@contoso.com"), .dns("contoso.com"),
                                       .ipAddress("192.0.2.1"), .dns("CONTOSO.COM")])
        #expect(p.dnsNameList == ["www.contoso.com", "contoso.com"])
    }

    @Test("dnsNameList: a CN-only subject without SANs")
    func dnsNameListCNOnly() {
        #expect(Self.properties(subject: [[attribute(OID.cn, "host.contoso.com")]]).dnsNameList == ["host.contoso.com"])
    }

    @Test("dnsNameList: a subject with more than the CN contributes nothing")
    func dnsNameListMultiRDN() {
        let p = Self.properties(subject: [[attribute(OID.o, "Contoso")], [attribute(OID.cn, "mail.contoso.com")]],
                                sans: [.dns("autodiscover.contoso.com")])
        #expect(p.subjectString == "CN=mail.contoso.com, O=Contoso")
        #expect(p.dnsNameList == ["autodiscover.contoso.com"])
        #expect(Self.properties(subject: [[attribute(OID.o, "Contoso")]]).dnsNameList == [])
        #expect(Self.properties(subject: []).dnsNameList == [])
    }

    @Test("EKU lists, server authentication and -Eku matching")
    func extendedKeyUsage() throws {
        let server = Self.properties(subject: [], ekus: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"])
        #expect(server.enhancedKeyUsageList == ["Server Authentication (1.3.6.1.5.5.7.3.1)", "Client Authentication (1.3.6.1.5.5.7.3.2)"])
        #expect(server.hasServerAuthenticationUsage)
        #expect(server.allowsServerAuthentication)
        #expect(server.matchesExtendedKeyUsage([try WildcardPattern("server*")]))
        #expect(server.matchesExtendedKeyUsage([try WildcardPattern("1.3.6.1.5.5.7.3.2"), try WildcardPattern("*Auth*")]))
        #expect(!server.matchesExtendedKeyUsage([try WildcardPattern("Code*")]))

        let none = Self.properties(subject: [], ekus: nil)
        #expect(none.enhancedKeyUsageList == [])
        #expect(!none.hasServerAuthenticationUsage)
        #expect(none.allowsServerAuthentication)
        #expect(!none.matchesExtendedKeyUsage([try WildcardPattern("*")]))
        #expect(none.matchesExtendedKeyUsage([]))

        let client = Self.properties(subject: [], ekus: ["1.3.6.1.5.5.7.3.2"])
        #expect(!client.allowsServerAuthentication)
        #expect(Self.properties(subject: [], ekus: ["2.5.29.37.0"]).allowsServerAuthentication)
        #expect(!Self.properties(subject: [], ekus: ["2.5.29.37.0"]).hasServerAuthenticationUsage)
    }

    @Test("isTimeValid is inclusive and false without dates")
    func timeValidity() {
        let start = Date(timeIntervalSince1970: 1_700_000_000), end = start.addingTimeInterval(86_400)
        let p = Self.properties(subject: [], notBefore: start, notAfter: end)
        #expect(p.isTimeValid(at: start))
        #expect(p.isTimeValid(at: end))
        #expect(!p.isTimeValid(at: start.addingTimeInterval(-1)))
        #expect(!p.isTimeValid(at: end.addingTimeInterval(1)))
        #expect(!Self.properties(subject: []).isTimeValid(at: start))
    }
}
