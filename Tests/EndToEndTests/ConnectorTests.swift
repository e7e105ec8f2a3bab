import Foundation
import Testing

/// Send connectors: TLSCertificateName syntax, names, FQDN resolution, list and remove.
@Suite("connectors")
struct ConnectorTests {
    private static func connectorsFile(_ t: TestDirectory) -> URL { t.root.appendingPathComponent("LocalMachine/connectors.json") }

    /// A store with the CA trusted and one connector, so connectors.json exists.
    private static func storeWithConnector(_ label: String) throws -> (TestDirectory, TestPKI) {
        let t = try TestDirectory(label)
        let pki = try TestPKI(in: t.path("pki"))
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + t.rootArgs)
        try certstore(expecting: 0, ["connector", "add", "Existing", "--tls-certificate-name", "<I>\(TestPKI.caName)<S>\(TestPKI.mailName)",
                                     "--fqdn", "mail.contoso.com"] + t.rootArgs)
        return (t, pki)
    }

    enum BadName: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case noTags = "CN=mail.contoso.com"
        case issuerWithoutSubject = "<I>x"
        case subjectWithoutCN = "<S>O=NoCN"
        case emptySubject = "<I>CN=Contoso Issuing CA 1<S>"
        case emptyIssuer = "<I><S>CN=mail.contoso.com"
        var testDescription: String { rawValue }
    }

    @Test("connector add / set with an invalid TLSCertificateName: exit 64, connectors.json unchanged", arguments: BadName.allCases)
    func invalidSyntax(_ bad: BadName) throws {
        let (t, _) = try Self.storeWithConnector("conn-syntax")
        let before = try #require(fileBytes(Self.connectorsFile(t)))
        let added = try certstore(expecting: 64, ["connector", "add", "New", "--tls-certificate-name", bad.rawValue] + t.rootArgs)
        #expect(added.stderr.contains("invalid TLSCertificateName"), "\(added)")
        #expect(added.stderr.contains("<I>"), "the hint shows the syntax: \(added)")
        #expect(fileBytes(Self.connectorsFile(t)) == before)
        try certstore(expecting: 64, ["connector", "set", "Existing", "--tls-certificate-name", bad.rawValue] + t.rootArgs)
        #expect(fileBytes(Self.connectorsFile(t)) == before)
        let names = try parseJSONArray(try certstore(expecting: 0, ["connector", "list", "--format", "json"] + t.rootArgs).stdout)
            .compactMap { $0["name"] as? String }
        #expect(names == ["Existing"])
    }

    @Test("a duplicate connector name (any case) is refused (exit 2); connectors.json unchanged")
    func duplicateName() throws {
        let (t, _) = try Self.storeWithConnector("conn-dup")
        let before = try #require(fileBytes(Self.connectorsFile(t)))
        for name in ["Existing", "EXISTING"] {
            let refused = try certstore(expecting: 2, ["connector", "add", name, "--fqdn", "other.contoso.com"] + t.rootArgs)
            #expect(refused.stderr.contains("exists already"), "\(refused)")
            #expect(fileBytes(Self.connectorsFile(t)) == before, "\(name)")
        }
    }

    @Test("without a TLSCertificateName the connector picks by FQDN: a certificate with a key, never a keyless one, CA-issued before a newer self-signed one")
    func fqdnResolution() throws {
        let (t, pki) = try Self.storeWithConnector("conn-fqdn")
        // Oldest: CA-issued with key. Newer: CA-issued without key. Newest: self-signed with key.
        let keyed = try pki.issue("keyed", subject: TestPKI.mailSubject, notBeforeDaysAgo: 30, dnsNames: ["mail.contoso.com"])
        let keyless = try pki.issue("keyless", subject: TestPKI.mailSubject, notBeforeDaysAgo: 2, dnsNames: ["mail.contoso.com"])
        let selfSigned = try pki.issue("self", subject: "/CN=mail.contoso.com", dnsNames: ["mail.contoso.com"], selfSigned: true)
        let decoy = try pki.issue("decoy", subject: "/CN=autodiscover.contoso.com", dnsNames: ["autodiscover.contoso.com"])
        try certstore(expecting: 0, ["import", "--allow-keyless", try pki.cer(keyless).path, try pki.withKey(keyed).path, try pki.withKey(selfSigned).path,
                                     try pki.withKey(decoy).path] + t.rootArgs)

        let cleared = try certstore(expecting: 0, ["connector", "set", "Existing", "--clear-tls-certificate-name", "--format", "json"] + t.rootArgs)
        let row = try parseJSONObject(cleared.stdout)
        #expect(row["tlsCertificateName"] is NSNull, "\(cleared)")
        #expect(row["fqdn"] as? String == "mail.contoso.com")

        // A certificate with a key is chosen; it is not enabled for SMTP, so the one verdict is UnknownCredentials (2).
        let resolved = try certstore(["connector", "resolve", "Existing", "--format", "json"] + t.rootArgs)
        #expect(resolved.status == 2, "\(resolved)")
        let json = try parseJSONObject(resolved.stdout)
        #expect(json["method"] as? String == "Fqdn:mail.contoso.com", "\(json)")
        #expect(json["status"] as? String == "TlsCertificateNameEmpty")
        #expect((json["chosen"] as? [String: Any])?["thumbprint"] as? String == keyed.thumbprint, "\(json)")
        #expect(json["usable"] as? Bool == false && json["verdict"] as? String == "UnknownCredentials", "\(json)")
        let steps = json["steps"] as? [[String: Any]] ?? []
        let keylessStep = steps.first { $0["thumbprint"] as? String == keyless.thumbprint }
        #expect(keylessStep?["accepted"] as? Bool == false, "the newer keyless certificate is looked at and rejected: \(steps)")
        #expect((keylessStep?["verdict"] as? String)?.contains("private key") == true, "\(steps)")
        #expect(steps.first { $0["thumbprint"] as? String == selfSigned.thumbprint }?["accepted"] as? Bool == false)
        #expect(!steps.contains { $0["thumbprint"] as? String == decoy.thumbprint }, "other names are not candidates")

        // Without the CA-issued one, the self-signed certificate is the fallback: still never the keyless one.
        try certstore(expecting: 0, ["remove", keyed.thumbprint] + t.rootArgs)
        let fallback = try parseJSONObject(try certstore(["connector", "resolve", "Existing", "--format", "json"] + t.rootArgs).stdout)
        #expect((fallback["chosen"] as? [String: Any])?["thumbprint"] as? String == selfSigned.thumbprint, "\(fallback)")
        #expect(fallback["verdict"] as? String == "UnknownCredentials", "\(fallback)")

        // Removing the last usable one is refused (the connector would get nothing); forced, only the keyless
        // certificate has the name: no certificate, NoCertificate, a WARNING in audit and exit 1 here.
        let refused = try certstore(expecting: 2, ["remove", selfSigned.thumbprint] + t.rootArgs)
        #expect(refused.stderr.contains("send connector \"Existing\""), "\(refused)")
        try certstore(expecting: 0, ["remove", selfSigned.thumbprint, "--force"] + t.rootArgs)
        let nothing = try certstore(expecting: 1, ["connector", "resolve", "Existing", "--format", "json"] + t.rootArgs)
        #expect(try parseJSONObject(nothing.stdout)["chosen"] is NSNull, "\(nothing)")
    }

    @Test("connector list --format json: every connector with what it resolves to now")
    func listJSON() throws {
        let (t, pki) = try Self.storeWithConnector("conn-list")
        let mail = try pki.issue("mail", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.withKey(mail).path] + t.rootArgs)
        try certstore(expecting: 0, ["connector", "add", "Internet", "--fqdn", "nothing.example", "--protocol-logging", "Verbose"] + t.rootArgs)

        let rows = try parseJSONArray(try certstore(expecting: 0, ["connector", "list", "--format", "json"] + t.rootArgs).stdout)
        #expect(rows.compactMap { $0["name"] as? String } == ["Existing", "Internet"], "\(rows)")
        for row in rows {
            for key in ["name", "fqdn", "tlsCertificateName", "protocolLoggingLevel", "status", "certificate", "hasPrivateKey"] {
                #expect(row.keys.contains(key), "\(key) missing in \(row.keys.sorted())")
            }
        }
        let existing = rows[0], internet = rows[1]
        #expect(existing["tlsCertificateName"] as? String == "<I>\(TestPKI.caName)<S>\(TestPKI.mailName)")
        #expect(existing["status"] as? String == "TlsCertificateMatch")
        #expect(existing["certificate"] as? String == mail.thumbprint)
        #expect(existing["hasPrivateKey"] as? Bool == true)
        #expect(existing["protocolLoggingLevel"] as? String == "None")
        #expect(internet["tlsCertificateName"] is NSNull)
        #expect(internet["fqdn"] as? String == "nothing.example")
        #expect(internet["protocolLoggingLevel"] as? String == "Verbose")
        #expect(internet["certificate"] is NSNull)
        #expect(internet["hasPrivateKey"] as? Bool == false)
    }

    @Test("connector remove: gone from list and from connectors.json; removing it again is exit 1, resolving it exit 3 (UNKNOWN)")
    func remove() throws {
        let (t, _) = try Self.storeWithConnector("conn-remove")
        try certstore(expecting: 0, ["connector", "add", "Second", "--fqdn", "second.contoso.com"] + t.rootArgs)
        let removed = try certstore(expecting: 0, ["connector", "remove", "Existing"] + t.rootArgs)
        #expect(removed.stdout.contains("Removed send connector \"Existing\""), "\(removed)")
        let rows = try parseJSONArray(try certstore(expecting: 0, ["connector", "list", "--format", "json"] + t.rootArgs).stdout)
        #expect(rows.compactMap { $0["name"] as? String } == ["Second"])
        let document = try parseJSONObject(String(decoding: try #require(fileBytes(Self.connectorsFile(t))), as: UTF8.self))
        #expect((document["sendConnectors"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Second"], "\(document)")

        let before = try #require(fileBytes(Self.connectorsFile(t)))
        try certstore(expecting: 1, ["connector", "remove", "Existing"] + t.rootArgs)
        let unknown = try certstore(expecting: 3, ["connector", "resolve", "Existing"] + t.rootArgs)
        #expect(unknown.stderr.contains("no send connector named \"Existing\""), "\(unknown)")
        #expect(fileBytes(Self.connectorsFile(t)) == before)
    }
}
