import Foundation
import Testing

@Suite("list")
struct ListTests {
    /// My: the RSA leaf (key, serverAuth+clientAuth, SANs, 1 year), the self-signed EC (key, clientAuth, 30 days),
    /// the expired EC leaf (no key, no EKU). CA: the CA.
    static func populatedStore(_ label: String, _ f: Fixtures) throws -> TestDirectory {
        let t = try TestDirectory(label)
        try seedModernPFX(into: t, f)
        try certstore(expecting: 0, ["import", f.emptyPasswordPFX.path] + t.rootArgs)
        try certstore(expecting: 0, ["import", f.expired.certificate.path, "--allow-keyless"] + t.rootArgs)
        try #require(t.thumbprints(in: "My") == [f.leaf.thumbprint, f.selfSigned.thumbprint, f.expired.thumbprint])
        return t
    }

    /// The thumbprints `list FILTER --format json` returns.
    static func listed(_ t: TestDirectory, _ filter: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Set<String> {
        let result = try certstore(expecting: 0, ["list", "--format", "json"] + filter + t.rootArgs, sourceLocation: sourceLocation)
        return try jsonThumbprints(result.stdout)
    }

    @Test("--subject, --issuer: PowerShell -like, case-insensitive, whole string")
    func subjectFilters() throws {
        let f = try Fixtures.get()
        let t = try Self.populatedStore("subject", f)
        #expect(try Self.listed(t, ["--subject", "*contoso*"]) == [f.leaf.thumbprint, f.expired.thumbprint])
        #expect(try Self.listed(t, ["--subject", "*CONTOSO LTD*"]) == [f.leaf.thumbprint])
        #expect(try Self.listed(t, ["--subject", "cn=mail.contoso.com*"]) == [f.leaf.thumbprint])
        #expect(try Self.listed(t, ["--subject", "mail.contoso.com"]).isEmpty, "the pattern covers the whole subject")
        // "selfsigned.example" has 18 characters; ? matches exactly one.
        #expect(try Self.listed(t, ["--subject", "CN=" + String(repeating: "?", count: 18)]) == [f.selfSigned.thumbprint])
        #expect(try Self.listed(t, ["--subject", "CN=" + String(repeating: "?", count: 17)]).isEmpty)
        #expect(try Self.listed(t, ["--issuer", "cn=contoso test ca*"]) == [f.leaf.thumbprint, f.expired.thumbprint])
    }

    @Test("--dns-name, --eku, --ssl-server-authentication")
    func nameAndUsageFilters() throws {
        let f = try Fixtures.get()
        let t = try Self.populatedStore("eku", f)
        #expect(try Self.listed(t, ["--dns-name", "autodiscover.*"]) == [f.leaf.thumbprint])
        #expect(try Self.listed(t, ["--dns-name", "*.CONTOSO.com"]) == [f.leaf.thumbprint, f.expired.thumbprint])
        #expect(try Self.listed(t, ["--eku", "Server Authentication"]) == [f.leaf.thumbprint])
        #expect(try Self.listed(t, ["--eku", "client authentication"]) == [f.leaf.thumbprint, f.selfSigned.thumbprint])
        #expect(try Self.listed(t, ["--eku", "1.3.6.1.5.5.7.3.2"]) == [f.leaf.thumbprint, f.selfSigned.thumbprint])
        #expect(try Self.listed(t, ["--eku", "Server Authentication", "--eku", "Client Authentication"]) == [f.leaf.thumbprint])
        #expect(try Self.listed(t, ["--ssl-server-authentication"]) == [f.leaf.thumbprint])
        #expect(try Self.listed(t, ["--has-private-key"]) == [f.leaf.thumbprint, f.selfSigned.thumbprint])
        #expect(try Self.listed(t, ["--no-private-key"]) == [f.expired.thumbprint])
    }

    @Test("--expiring-in-days: 0 lists only expired certificates; 60 adds the 30-day one")
    func expiringFilter() throws {
        let f = try Fixtures.get()
        let t = try Self.populatedStore("expiring", f)
        #expect(try Self.listed(t, ["--expiring-in-days", "0"]) == [f.expired.thumbprint])
        #expect(try Self.listed(t, ["--expiring-in-days", "60"]) == [f.expired.thumbprint, f.selfSigned.thumbprint])
        #expect(try Self.listed(t, ["--expiring-in-days", "400"]) == [f.expired.thumbprint, f.selfSigned.thumbprint, f.leaf.thumbprint])
    }

    @Test("--thumbprint wildcards, case-insensitive")
    func thumbprintWildcard() throws {
        let f = try Fixtures.get()
        let t = try Self.populatedStore("thumbwild", f)
        let all = [f.leaf.thumbprint, f.selfSigned.thumbprint, f.expired.thumbprint]
        let prefix = String(f.leaf.thumbprint.prefix(2))
        #expect(try Self.listed(t, ["--thumbprint", prefix.lowercased() + "*"]) == Set(all.filter { $0.hasPrefix(prefix) }))
        var single = Array(f.leaf.thumbprint)
        single[2] = "?"
        #expect(try Self.listed(t, ["--thumbprint", String(single).lowercased()]) == [f.leaf.thumbprint])
        #expect(try Self.listed(t, ["--thumbprint", "*"]) == Set(all))
        #expect(try Self.listed(t, ["--thumbprint", String(f.leaf.thumbprint.dropLast())]).isEmpty, "the pattern covers the whole thumbprint")
    }

    @Test("--property selects columns case-insensitively with PowerShell headers; an unknown property is exit 64")
    func propertySelection() throws {
        let f = try Fixtures.get()
        let t = try Self.populatedStore("property", f)
        let result = try certstore(expecting: 0, ["list", "--property", "thumbprint,HASPRIVATEKEY"] + t.rootArgs)
        let lines = tableLines(result.stdout)
        try #require(lines.count == 5, "\(result)")
        #expect(words(lines[0]) == ["Thumbprint", "HasPrivateKey"])
        #expect(words(lines[1]) == ["----------", "-------------"])
        let rows = Dictionary(uniqueKeysWithValues: lines.dropFirst(2).map { (words($0)[0], words($0).dropFirst().joined()) })
        #expect(rows == [f.leaf.thumbprint: "True", f.selfSigned.thumbprint: "True", f.expired.thumbprint: "False"])

        let unknown = try certstore(expecting: 64, ["list", "--property", "thumbprint,NoSuchProperty"] + t.rootArgs)
        #expect(unknown.stderr.contains("NoSuchProperty"), "\(unknown)")
        #expect(unknown.stdout.isEmpty, "\(unknown)")
    }

    @Test("formats: table, list, csv and json describe the same certificates")
    func formats() throws {
        let f = try Fixtures.get()
        let t = try Self.populatedStore("formats", f)
        let expected: Set<String> = [f.leaf.thumbprint, f.selfSigned.thumbprint, f.expired.thumbprint]

        let table = try certstore(expecting: 0, ["list", "--format", "table"] + t.rootArgs)
        let tableRows = tableLines(table.stdout)
        #expect(tableRows.first.map(words) == ["Thumbprint", "Subject"], "\(table)")
        #expect(Set(tableRows.dropFirst(2).map { words($0)[0] }) == expected, "\(table)")
        #expect(table.stdout.contains("CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US"))

        let list = try certstore(expecting: 0, ["list", "--format", "list"] + t.rootArgs)
        let records = parseListOutput(list.stdout)
        #expect(Set(records.compactMap { $0["Thumbprint"] }) == expected, "\(list)")
        #expect(records.first { $0["Thumbprint"] == f.leaf.thumbprint }?["HasPrivateKey"] == "True")
        #expect(records.first { $0["Thumbprint"] == f.expired.thumbprint }?["HasPrivateKey"] == "False")

        let csv = try certstore(expecting: 0, ["list", "--format", "csv"] + t.rootArgs)
        let rows = try parseCSV(csv.stdout)
        try #require(rows.count == 1 + expected.count, "header row then one row per certificate:\n\(csv)")
        let header = rows[0]
        for column in ["Thumbprint", "Subject", "HasPrivateKey", "SerialNumber"] { #expect(header.contains(column), "\(header)") }
        for row in rows.dropFirst() { #expect(row.count == header.count, "\(row)") }
        let thumbprintColumn = try #require(header.firstIndex(of: "Thumbprint"))
        let subjectColumn = try #require(header.firstIndex(of: "Subject"))
        #expect(Set(rows.dropFirst().map { $0[thumbprintColumn] }) == expected)
        let leafRow = rows.first { $0[thumbprintColumn] == f.leaf.thumbprint }
        #expect(leafRow?[subjectColumn] == "CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US",
                "a subject with commas survives CSV quoting")

        let json = try certstore(expecting: 0, ["list", "--format", "json"] + t.rootArgs)
        #expect(try jsonThumbprints(json.stdout) == expected)

        let empty = try certstore(expecting: 0, ["list", "--format", "json", "--subject", "nothing matches this"] + t.rootArgs)
        #expect(try parseJSONArray(empty.stdout).isEmpty, "an empty result is still valid JSON: \(empty)")
    }

    @Test("csv output ends with a newline")
    func csvEndsWithNewline() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("csvnl")
        try seedModernPFX(into: t, f)
        let csv = try certstore(expecting: 0, ["list", "--format", "csv", "--property", "thumbprint"] + t.rootArgs)
        #expect(csv.stdout.hasSuffix("\n"), "\(csv)")
    }

    @Test("csv output goes through the process's own stdout, in order with what the shell wrote before and after")
    func csvSharesStdout() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("csvfd")
        try seedModernPFX(into: t, f)
        let binary = try CertStoreCLI.requireBinary()
        let out = t.path("out.txt")
        let script = "exec > \"$1\"; echo BEGIN; \"$0\" list --format csv --property thumbprint --root \"$2\"; echo END"
        let result = try runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", script, binary.path, out.path, t.rootPath],
                                    environment: CertStoreCLI.environment())
        #expect(result.status == 0, "\(result)")
        let text = try String(contentsOf: out, encoding: .utf8)
        #expect(text == "BEGIN\nThumbprint\n\(f.leaf.thumbprint)\nEND\n", "got: \(text.debugDescription)")
    }

    /// A warm JSON listing copies each certificate's values kept in the store index; the index is trusted only
    /// while the files it came from keep their stamps, and bindings are read at listing time.
    @Test("warm JSON listings (values kept in the index) show a binding, a deleted key and an edited friendly name at once")
    func warmJSONSeesChanges() throws {
        let f = try Fixtures.get()
        let t = try Self.populatedStore("list-kept-json", f)
        func records(_ extra: [String] = []) throws -> [String: [String: Any]] {
            let out = try certstore(expecting: 0, ["list", "--format", "json"] + extra + t.rootArgs).stdout
            var byThumbprint: [String: [String: Any]] = [:]
            for record in try parseJSONArray(out) { byThumbprint[record["thumbprint"] as? String ?? ""] = record }
            return byThumbprint
        }
        let first = try certstore(expecting: 0, ["list", "--format", "json"] + t.rootArgs).stdout
        #expect(FileManager.default.fileExists(atPath: t.root.appendingPathComponent("LocalMachine/.cache/My.index").path))
        #expect(try certstore(expecting: 0, ["list", "--format", "json"] + t.rootArgs).stdout == first)
        let leaf = try #require(try records()[f.leaf.thumbprint])
        #expect(leaf["hasPrivateKey"] as? Bool == true)
        #expect(leaf["services"] as? [String] == [])

        try certstore(expecting: 0, ["enable", f.leaf.thumbprint, "--services", "IMAP"] + t.rootArgs)
        // The leaf's files are unchanged: it is served from the index, its binding filled in at listing time.
        #expect(try records()[f.leaf.thumbprint]?["services"] as? [String] == ["IMAP"])
        #expect(try records(["--property", "services,thumbprint"])[f.leaf.thumbprint]?["services"] as? [String] == ["IMAP"])
        let key = t.root.appendingPathComponent("LocalMachine/Keys/\(try #require(leaf["publicKeySha256"] as? String)).key")
        try FileManager.default.removeItem(at: key)
        let properties = t.storeDirectory().appendingPathComponent("\(f.selfSigned.thumbprint).json")
        var stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: properties)) as? [String: Any])
        stored["friendlyName"] = "edited behind its back"
        try JSONSerialization.data(withJSONObject: stored).write(to: properties)

        for selection in [[], ["--property", "thumbprint,friendlyName,hasPrivateKey,privateKeyStatus,services"]] {
            let now = try records(selection)
            #expect(now[f.leaf.thumbprint]?["hasPrivateKey"] as? Bool == false)
            #expect(now[f.leaf.thumbprint]?["privateKeyStatus"] as? String == "Missing")
            #expect(now[f.leaf.thumbprint]?["services"] as? [String] == ["IMAP"])
            #expect(now[f.selfSigned.thumbprint]?["friendlyName"] as? String == "edited behind its back")
            #expect(now[f.expired.thumbprint]?["hasPrivateKey"] as? Bool == false)
        }
    }
}
