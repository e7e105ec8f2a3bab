import Foundation
import Testing
@testable import CertStore

/// Store entries built in memory (no disk): the filter and the properties only read them.
private func entry(_ file: String, store: StorePath = .personal, keyStatus: PrivateKeyStatus = .missing,
                   properties storeProperties: StoreProperties = StoreProperties()) throws -> StoreEntry {
    let certificate = try Fixtures.get().certificate(file)
    return StoreEntry(store: store, properties: certificate.properties(), storeProperties: storeProperties,
                      keyStatus: keyStatus, source: CertificateSource(parsed: certificate, folder: "/nonexistent"))
}

@Suite("CertificateFilter")
struct CertificateFilterTests {
    @Test("an empty filter matches everything not archived; archived only with includeArchived")
    func archived() throws {
        let plain = try entry("leaf.pem")
        let archived = try entry("leaf.pem", properties: StoreProperties(archived: true))
        var filter = CertificateFilter()
        #expect(filter.matches(plain))
        #expect(!filter.matches(archived))
        filter.includeArchived = true
        #expect(filter.matches(archived))
    }

    @Test("wildcards on thumbprint, subject, issuer, friendly name, DNS name", arguments: [
        // field, pattern, matches leaf.pem (friendly name "Mail 2025")
        ("subject", "CN=mail.contoso.com*", true),
        ("subject", "*O=\"Contoso, Ltd\"*", true),
        ("subject", "mail*", false),
        ("issuer", "CN=Contoso Test Root*", true),
        ("issuer", "*Fabrikam*", false),
        ("friendlyName", "mail 20??", true),
        ("friendlyName", "Exchange*", false),
        ("dnsName", "autodiscover.*", true),
        ("dnsName", "*.fabrikam.com", false),
        ("thumbprint", "LOWERCASE-OF-LEAF", true),
        ("thumbprint", "0000*", false),
    ])
    func wildcards(field: String, pattern: String, expected: Bool) throws {
        let leaf = try entry("leaf.pem", properties: StoreProperties(friendlyName: "Mail 2025"))
        let text = pattern == "LOWERCASE-OF-LEAF" ? leaf.thumbprint.value.lowercased() : pattern
        var filter = CertificateFilter()
        let wildcard = try WildcardPattern(text)
        switch field {
        case "subject": filter.subject = wildcard
        case "issuer": filter.issuer = wildcard
        case "friendlyName": filter.friendlyName = wildcard
        case "dnsName": filter.dnsName = wildcard
        default: filter.thumbprint = wildcard
        }
        #expect(filter.matches(leaf) == expected)
    }

    @Test("EKU, -SSLServerAuthentication, HasPrivateKey")
    func usages() throws {
        let leaf = try entry("leaf.pem", keyStatus: .present), ca = try entry("ca.pem", store: StorePath.personal.sibling(.ca))
        var eku = CertificateFilter()
        eku.extendedKeyUsages = [try WildcardPattern("Server Authentication")]
        #expect(eku.matches(leaf))
        #expect(!eku.matches(ca))

        var ssl = CertificateFilter()
        ssl.sslServerAuthentication = true
        #expect(ssl.matches(leaf))
        #expect(!ssl.matches(ca))  // no EKU extension: allowed for TLS, but not "listing Server Authentication"

        var withKey = CertificateFilter()
        withKey.hasPrivateKey = true
        #expect(withKey.matches(leaf))
        #expect(!withKey.matches(ca))
        withKey.hasPrivateKey = false
        #expect(!withKey.matches(leaf))
        #expect(withKey.matches(ca))
    }

    @Test("-ExpiringInDays: NotAfter on or before now + N days")
    func expiring() throws {
        let leaf = try entry("leaf.pem")
        let notAfter = try #require(leaf.properties.notAfter)
        var filter = CertificateFilter()
        filter.now = notAfter.addingTimeInterval(-10 * 86_400)
        filter.expiringInDays = 10
        #expect(filter.matches(leaf))
        filter.expiringInDays = 9
        #expect(!filter.matches(leaf))
        filter.now = notAfter.addingTimeInterval(1)
        filter.expiringInDays = 0
        #expect(filter.matches(leaf))
    }
}

@Suite("CertificateProperty")
struct CertificatePropertyTests {
    @Test("names are unique; JSON keys are camelCase")
    func names() {
        let names = CertificateProperty.all.map(\.name)
        #expect(Set(names.map { $0.lowercased() }).count == names.count)
        #expect(CertificateProperty.named("HasPrivateKey")?.jsonKey == "hasPrivateKey")
        #expect(CertificateProperty.named("sha256")?.jsonKey == "sha256")
        #expect(CertificateProperty.named("PUBLICKEYSHA256")?.jsonKey == "publicKeySha256")
        #expect(CertificateProperty.named("NoSuchThing") == nil)
        #expect(CertificateProperty.defaultTable.map(\.name) == ["Thumbprint", "Subject"])
    }

    @Test("select: comma lists, case-insensitive, de-duplicated, * for all")
    func select() throws {
        #expect(try CertificateProperty.select(["thumbprint,subject", " NotAfter ", "SUBJECT"]).map(\.name) == ["Thumbprint", "Subject", "NotAfter"])
        #expect(try CertificateProperty.select(["Subject", "*"]) == CertificateProperty.all)
        let unknown = try #require(throws: CertStoreError.self) { try CertificateProperty.select(["Thumbprint,Colour"]) }
        #expect(unknown.kind == .usage)
        #expect(unknown.message.contains("Colour"))
        #expect(unknown.hint?.contains("HasPrivateKey") == true)
        for empty in [[String](), [","], [" "]] {
            let error = try #require(throws: CertStoreError.self) { try CertificateProperty.select(empty) }
            #expect(error.kind == .usage)
        }
    }

    @Test("values of a store entry")
    func values() throws {
        let leaf = try entry("leaf.pem", keyStatus: .mismatched, properties: StoreProperties(friendlyName: "Mail", exportable: true))
        let context = PropertyContext()
        func value(_ name: String) throws -> PropertyValue {
            try #require(CertificateProperty.named(name)).value(of: leaf, context: context)
        }
        #expect(try value("Thumbprint") == .string(leaf.thumbprint.value))
        #expect(try value("Subject") == .string(#"CN=mail.contoso.com, OU=IT, O="Contoso, Ltd", L=Redmond, S=Washington, C=US"#))
        #expect(try value("HasPrivateKey") == .bool(false))
        #expect(try value("PrivateKeyStatus") == .string("Mismatched"))
        #expect(try value("FriendlyName") == .string("Mail"))
        #expect(try value("PrivateKeyExportable") == .bool(true))
        #expect(try value("DnsNameList") == .list(["mail.contoso.com", "autodiscover.contoso.com"]))
        #expect(try value("EnhancedKeyUsageList") == .list(["Server Authentication (1.3.6.1.5.5.7.3.1)", "Client Authentication (1.3.6.1.5.5.7.3.2)"]))
        #expect(try value("KeyUsage") == .list(["DigitalSignature", "KeyEncipherment"]))
        #expect(try value("PublicKeySize") == .int(256))
        #expect(try value("SerialNumber") == .string("0A1B2C3D4E5F"))
        #expect(try value("Source") == .null)
        #expect(try value("ImportedAt") == .date(nil))
        #expect(try value("Store") == .string("LocalMachine/My"))
        #expect(try value("PublicKeySha256") == .string(leaf.properties.publicKeyIdentifier))
    }
}
