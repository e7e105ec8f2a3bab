import Foundation
import Testing

extension TestDirectory {
    var rootArgs: [String] { ["--root", rootPath] }
}

/// Imports the modern PFX (leaf + key + CA) with --password-file and expects success.
@discardableResult
func seedModernPFX(into t: TestDirectory, _ f: Fixtures, extra: [String] = [],
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    try certstore(expecting: 0, ["import", f.modernPFX.path, "--password-file", f.passwordFile.path] + t.rootArgs + extra,
                  sourceLocation: sourceLocation)
}

@Suite("import")
struct ImportTests {
    static let requiredJSONKeys = ["thumbprint", "subject", "issuer", "serialNumber", "notBefore", "notAfter", "hasPrivateKey",
                                   "friendlyName", "dnsNameList", "enhancedKeyUsageList", "keyAlgorithm", "publicKeySize",
                                   "isSelfSigned", "sha256", "archived"]

    @Test("modern PFX via --password-file: leaf with key in My, CA in CA, openssl's thumbprints and serial, JSON schema")
    func importModernPFX() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("modern")
        let imported = try certstore(expecting: 0, ["import", f.modernPFX.path, "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(imported.stdout.contains("Added"), "\(imported)")

        #expect(t.thumbprints(in: "My") == [f.leaf.thumbprint])
        #expect(t.thumbprints(in: "CA") == [f.ca.thumbprint])

        let list = try certstore(expecting: 0, ["list", "--format", "json"] + t.rootArgs)
        let items = try parseJSONArray(list.stdout)
        try #require(items.count == 1, "\(list)")
        let item = items[0]
        for key in Self.requiredJSONKeys {
            #expect(item[key] != nil, "JSON key \(key) missing in \(item.keys.sorted())")
        }
        #expect(item["thumbprint"] as? String == f.leaf.thumbprint)
        #expect(item["hasPrivateKey"] as? Bool == true)
        #expect(item["subject"] as? String == "CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US")
        #expect(item["issuer"] as? String == "CN=Contoso Test CA, O=Contoso, C=US")
        #expect(item["serialNumber"] as? String == f.leafSerial)
        #expect(item["keyAlgorithm"] as? String == "RSA")
        #expect(item["publicKeySize"] as? Int == 2048)
        #expect(item["isSelfSigned"] as? Bool == false)
        #expect(item["archived"] as? Bool == false)
        #expect((item["dnsNameList"] as? [String])?.contains("autodiscover.contoso.com") == true)
        #expect((item["enhancedKeyUsageList"] as? [String])?.contains("Server Authentication (1.3.6.1.5.5.7.3.1)") == true)
        let sha256 = try openssl(["x509", "-in", f.leaf.certificate.path, "-noout", "-fingerprint", "-sha256"], in: t.url)
        #expect(item["sha256"] as? String == (try Fixtures.value(after: "=", in: sha256)).replacingOccurrences(of: ":", with: ""))

        let ca = try parseJSONArray(try certstore(expecting: 0, ["list", "--format", "json", "--store", "LocalMachine/CA"] + t.rootArgs).stdout)
        #expect(ca.count == 1)
        #expect(ca.first?["thumbprint"] as? String == f.ca.thumbprint)
        #expect(ca.first?["hasPrivateKey"] as? Bool == false)
        #expect(ca.first?["isSelfSigned"] as? Bool == true)
    }

    enum LegacyCase: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case legacyViaStdin, legacyViaEnv, tripleDESViaStdin, tripleDESViaEnv
        var testDescription: String { rawValue }
    }

    @Test("legacy (-legacy, RC2) and 3DES PFX with --password-stdin and --password-env", arguments: LegacyCase.allCases)
    func importLegacyPFX(_ variant: LegacyCase) throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("legacy")
        let file = (variant == .legacyViaStdin || variant == .legacyViaEnv) ? f.legacyPFX : f.tripleDESPFX
        let result: CommandResult
        if variant == .legacyViaStdin || variant == .tripleDESViaStdin {
            result = try certstore(expecting: 0, ["import", file.path, "--password-stdin"] + t.rootArgs,
                                   stdin: .text(Fixtures.password + "\n"))
        } else {
            result = try certstore(expecting: 0, ["import", file.path, "--password-env", "E2E_PFX_PASSWORD"] + t.rootArgs,
                                   environment: ["E2E_PFX_PASSWORD": Fixtures.password])
        }
        #expect(result.stdout.contains("Added"), "\(result)")
        #expect(t.thumbprints(in: "My") == [f.leaf.thumbprint])
        #expect(t.thumbprints(in: "CA") == [f.ca.thumbprint])
        let shown = parseListOutput(try certstore(expecting: 0, ["show", f.leaf.thumbprint] + t.rootArgs).stdout)
        #expect(shown.first?["HasPrivateKey"] == "True", "\(shown)")
    }

    @Test("KB 4495258 shape: keyless leaf shows HasPrivateKey False; importing the key alone re-links it (KeyAdded)")
    func keylessCertificateThenKey() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("kb")
        try certstore(expecting: 0, ["import", f.leaf.certificate.path, "--allow-keyless"] + t.rootArgs)
        #expect(t.thumbprints(in: "My") == [f.leaf.thumbprint], "a leaf without key still goes to My")

        let before = try certstore(expecting: 0, ["list", "--thumbprint", f.leaf.thumbprint, "--property", "thumbprint,hasprivatekey"] + t.rootArgs)
        let row = tableLines(before.stdout).first { $0.hasPrefix(f.leaf.thumbprint) }
        #expect(row.map(words) == [f.leaf.thumbprint, "False"], "\(before)")

        let keyless = try certstore(expecting: 0, ["list", "--no-private-key", "--format", "json"] + t.rootArgs)
        #expect(try jsonThumbprints(keyless.stdout) == [f.leaf.thumbprint])
        let keyed = try certstore(expecting: 0, ["list", "--has-private-key", "--format", "json"] + t.rootArgs)
        #expect(try jsonThumbprints(keyed.stdout).isEmpty, "\(keyed)")

        let relinked = try certstore(expecting: 0, ["import", f.leaf.key.path] + t.rootArgs)
        #expect(relinked.stdout.contains("KeyAdded"), "\(relinked)")

        let after = try certstore(expecting: 0, ["list", "--property", "thumbprint,hasprivatekey"] + t.rootArgs)
        #expect(tableLines(after.stdout).first { $0.hasPrefix(f.leaf.thumbprint) }.map(words) == [f.leaf.thumbprint, "True"], "\(after)")
        let nowKeyed = try certstore(expecting: 0, ["list", "--has-private-key", "--format", "json"] + t.rootArgs)
        #expect(try jsonThumbprints(nowKeyed.stdout) == [f.leaf.thumbprint])
        #expect(t.files(in: "My", suffix: ".cer").count == 1)
    }

    @Test("re-importing the same PFX reports AlreadyPresent and never duplicates")
    func reimportIsAlreadyPresent() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("reimport")
        try seedModernPFX(into: t, f)
        let snapshot = try DirectorySnapshot.take(t.storeDirectory("My"))
        let again = try certstore(expecting: 0, ["import", f.modernPFX.path, "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(again.stdout.contains("AlreadyPresent"), "\(again)")
        #expect(!again.stdout.contains("Added "), "\(again)")
        #expect(t.files(in: "My", suffix: ".cer") == ["\(f.leaf.thumbprint).cer"])
        #expect(t.files(in: "CA", suffix: ".cer") == ["\(f.ca.thumbprint).cer"])
        #expect(try DirectorySnapshot.take(t.storeDirectory("My")) == snapshot)
    }

    @Test("PFX with the empty password imports with no password option and no terminal")
    func emptyPasswordPFX() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("emptypw")
        try certstore(expecting: 0, ["import", f.emptyPasswordPFX.path] + t.rootArgs, timeout: 30)
        let items = try parseJSONArray(try certstore(expecting: 0, ["list", "--format", "json"] + t.rootArgs).stdout)
        #expect(items.count == 1)
        #expect(items.first?["thumbprint"] as? String == f.selfSigned.thumbprint)
        #expect(items.first?["hasPrivateKey"] as? Bool == true)
        #expect(items.first?["keyAlgorithm"] as? String == "EC")
        #expect(items.first?["isSelfSigned"] as? Bool == true)
    }

    @Test("certificate-only PKCS#12 (-nokeys) then key-only PKCS#12 (-nocerts) re-links the key")
    func certOnlyThenKeyOnlyPKCS12() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("p12split")
        let certOnly = try certstore(expecting: 0, ["import", f.certOnlyPFX.path, "--allow-keyless", "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(certOnly.stdout.contains("Added"), "\(certOnly)")
        let before = try parseJSONArray(try certstore(expecting: 0, ["list", "--format", "json"] + t.rootArgs).stdout)
        #expect(before.map { $0["thumbprint"] as? String } == [f.selfSigned.thumbprint])
        #expect(before.first?["hasPrivateKey"] as? Bool == false)

        let keyOnly = try certstore(expecting: 0, ["import", f.keyOnlyPFX.path, "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(keyOnly.stdout.contains("KeyAdded"), "\(keyOnly)")
        let after = try parseJSONArray(try certstore(expecting: 0, ["list", "--format", "json"] + t.rootArgs).stdout)
        #expect(after.first?["hasPrivateKey"] as? Bool == true)
    }

    @Test("a Unicode friendly name (-name \"Zürich Mail\") survives import, list and the --friendly-name filter")
    func unicodeFriendlyName() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("zurich")
        try certstore(expecting: 0, ["import", f.zurichPFX.path, "--password-file", f.passwordFile.path] + t.rootArgs)
        let items = try parseJSONArray(try certstore(expecting: 0, ["list", "--format", "json"] + t.rootArgs).stdout)
        #expect(items.first?["friendlyName"] as? String == Fixtures.zurichName)
        let filtered = try certstore(expecting: 0, ["list", "--friendly-name", "Zürich*", "--format", "json"] + t.rootArgs)
        #expect(try jsonThumbprints(filtered.stdout) == [f.selfSigned.thumbprint])
        let shown = try certstore(expecting: 0, ["show", f.selfSigned.thumbprint, "--property", "FriendlyName"] + t.rootArgs)
        #expect(shown.stdout.contains(Fixtures.zurichName), "\(shown)")
    }

    @Test("--password works but warns on stderr")
    func passwordOptionWarns() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("pwflag")
        let result = try certstore(expecting: 0, ["import", f.modernPFX.path, "--password", Fixtures.password] + t.rootArgs)
        #expect(result.stderr.contains("warning:"), "\(result)")
        #expect(result.stderr.contains("--password"), "\(result)")
        #expect(!result.stderr.contains(Fixtures.password), "the warning must not echo the password")
        #expect(t.thumbprints(in: "My") == [f.leaf.thumbprint])
    }

    @Test("password needed, none given, stdin not a terminal: exit 65 at once, hint names --password-file")
    func missingPasswordDoesNotHang() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("nopw")
        let start = Date()
        let result = try certstore(expecting: 65, ["import", f.modernPFX.path] + t.rootArgs, stdin: .null, timeout: 30)
        #expect(!result.timedOut)
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(result.stderr.contains("error:"), "\(result)")
        #expect(result.stderr.contains("hint:") && result.stderr.contains("--password-file"), "\(result)")
        #expect(t.thumbprints(in: "My").isEmpty)
    }
}
