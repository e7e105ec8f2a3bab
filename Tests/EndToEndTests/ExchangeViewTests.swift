import Foundation
import Testing

/// A store for `list --view exchange` (Get-ExchangeCertificate), built with openssl and the real binary.
///
/// * LocalMachine/Root: the CA `CN=Contoso Issuing CA 1` (imported without --root-ca-type: ThirdParty);
/// * LocalMachine/CA: the CA `CN=Fabrikam Untrusted CA` (a CA certificate, but not a trusted root);
/// * LocalMachine/My, in this import order (neither it nor its reverse is NotBefore order):
///   - `trusted`: Contoso-issued RSA-2048 `mail.contoso.com` with key, NotBefore 10 days ago, friendly name, exportable;
///   - `expired`: Contoso-issued EC `old.contoso.com` with key, valid 400 … 370 days ago (`openssl ca -startdate/-enddate`);
///   - `keyless`: Contoso-issued `mail.contoso.com`, NotBefore 1 day ago, imported as a bare DER `.cer` (no key);
///   - `selfSigned`: self-signed EC `CN=EXCH01` with key, NotBefore now;
///   - `untrusted`: Fabrikam-issued EC `mail.contoso.com` with key, NotBefore 3 days ago.
///
/// So the Exchange view shows selfSigned, untrusted, trusted, expired (newest NotBefore first) and hides keyless.
private struct ExchangeStore {
    static let untrustedCASubject = "/C=US/O=Fabrikam/CN=Fabrikam Untrusted CA"
    static let untrustedCAName = "CN=Fabrikam Untrusted CA, O=Fabrikam, C=US"
    static let friendlyName = "Contoso Mail 2026"

    let t: TestDirectory
    let pki: TestPKI
    let foreign: TestPKI
    let trusted: TestPKI.Cert
    let expired: TestPKI.Cert
    let keyless: TestPKI.Cert
    let selfSigned: TestPKI.Cert
    let untrusted: TestPKI.Cert

    var args: [String] { ["--root", t.rootPath] }
    /// What the view lists, newest NotBefore first.
    var expectedOrder: [String] { [selfSigned.thumbprint, untrusted.thumbprint, trusted.thumbprint, expired.thumbprint] }

    static func build(_ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ExchangeStore {
        let t = try TestDirectory(label)
        let pki = try TestPKI(in: t.path("pki"))
        let foreign = try TestPKI(in: t.path("foreign"), caSubject: untrustedCASubject)

        let trusted = try pki.issue("mail", subject: TestPKI.mailSubject, key: try pki.newKey("mail", rsa: true),
                                    days: 365, notBeforeDaysAgo: 10, dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"])
        let expired = try pki.issue("old", subject: "/CN=old.contoso.com", days: 30, notBeforeDaysAgo: 400,
                                    dnsNames: ["old.contoso.com", "legacy.contoso.com"])
        let keyless = try pki.issue("mail-keyless", subject: TestPKI.mailSubject, days: 365, notBeforeDaysAgo: 1,
                                    dnsNames: ["mail.contoso.com"])
        let selfSigned = try pki.issue("exch01", subject: "/CN=EXCH01", days: 1825,
                                       dnsNames: ["exch01.contoso.local", "mail.contoso.com", "legacy.contoso.com"], selfSigned: true)
        let untrusted = try foreign.issue("fabrikam", subject: "/CN=mail.contoso.com", days: 365, notBeforeDaysAgo: 3,
                                          dnsNames: ["mail.contoso.com"])

        let store = ExchangeStore(t: t, pki: pki, foreign: foreign, trusted: trusted, expired: expired, keyless: keyless,
                                  selfSigned: selfSigned, untrusted: untrusted)
        let args = store.args
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + args, sourceLocation: sourceLocation)
        try certstore(expecting: 0, ["import", foreign.ca.pem.path] + args, sourceLocation: sourceLocation)
        try certstore(expecting: 0, ["import", try pki.withKey(trusted).path, "--friendly-name", friendlyName, "--exportable"] + args,
                      sourceLocation: sourceLocation)
        try certstore(expecting: 0, ["import", try pki.withKey(expired).path] + args, sourceLocation: sourceLocation)
        try certstore(expecting: 0, ["import", try pki.cer(keyless).path, "--allow-keyless"] + args, sourceLocation: sourceLocation)
        try certstore(expecting: 0, ["import", try pki.withKey(selfSigned).path] + args, sourceLocation: sourceLocation)
        try certstore(expecting: 0, ["import", try foreign.withKey(untrusted).path] + args, sourceLocation: sourceLocation)

        try #require(t.thumbprints(in: "Root") == [pki.ca.thumbprint], sourceLocation: sourceLocation)
        try #require(t.thumbprints(in: "CA") == [foreign.ca.thumbprint], "the untrusted CA sits in LocalMachine/CA, not Root",
                     sourceLocation: sourceLocation)
        try #require(t.thumbprints(in: "My") == Set([trusted, expired, keyless, selfSigned, untrusted].map(\.thumbprint)),
                     sourceLocation: sourceLocation)
        // Sanity of the set-up itself: the keyless certificate really is keyless in the ordinary view.
        let keyed = try certstore(expecting: 0, ["list", "--no-private-key", "--format", "json"] + args, sourceLocation: sourceLocation)
        try #require(try jsonThumbprints(keyed.stdout) == [keyless.thumbprint], "\(keyed)", sourceLocation: sourceLocation)
        return store
    }

    /// `list --view exchange --format json EXTRA`, expecting `status`; the rows in output order.
    func json(_ extra: [String] = [], expecting status: Int32 = 0,
              sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        let result = try certstore(expecting: status, ["list", "--view", "exchange", "--format", "json"] + extra + args,
                                   sourceLocation: sourceLocation)
        return try parseJSONArray(result.stdout)
    }

    /// The thumbprints `list --view exchange --format json EXTRA` lists, in output order.
    func listed(_ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        try json(extra, sourceLocation: sourceLocation).compactMap { $0["thumbprint"] as? String }
    }
}

/// The row for `thumbprint` in JSON rows.
private func row(_ rows: [[String: Any]], _ thumbprint: String) -> [String: Any]? {
    rows.first { $0["thumbprint"] as? String == thumbprint }
}

/// `openssl x509 -startdate`/`-enddate` of a certificate, in certstore's ISO 8601 form (2026-01-01T00:00:00Z).
private func opensslDate(_ which: String, of cert: TestPKI.Cert, in dir: URL) throws -> String {
    let line = try openssl(["x509", "-in", cert.pem.path, "-noout", "-\(which)", "-dateopt", "iso_8601"], in: dir)
    let text = try Fixtures.value(after: "=", in: line)  // "2026-01-01 00:00:00Z"
    return text.replacingOccurrences(of: " ", with: "T")
}

/// Standard error's lines, without empty ones.
private func stderrLines(_ result: CommandResult) -> [String] {
    result.stderr.split(separator: "\n").map(String.init)
}

@Suite("list --view exchange (Get-ExchangeCertificate)")
struct ExchangeViewTests {
    @Test("lists only certificates with a usable key, newest NotBefore first; the keyless one is hidden")
    func listsKeyedNewestFirst() throws {
        let s = try ExchangeStore.build("exv-order")
        let rows = try s.json()
        let order = rows.compactMap { $0["thumbprint"] as? String }
        #expect(order == s.expectedOrder, "\(rows)")
        #expect(!order.contains(s.keyless.thumbprint), "the keyless certificate is not valid for Exchange: hidden")
        #expect(rows.allSatisfy { $0["hasPrivateKey"] as? Bool == true }, "\(rows)")

        // The NotBefore values themselves are what openssl wrote, and strictly descending.
        let notBefores = rows.compactMap { $0["notBefore"] as? String }
        #expect(notBefores.count == rows.count)
        #expect(notBefores == notBefores.sorted(by: >) && Set(notBefores).count == notBefores.count, "\(notBefores)")
        for (cert, dir) in [(s.selfSigned, s.pki.directory), (s.untrusted, s.foreign.directory),
                            (s.trusted, s.pki.directory), (s.expired, s.pki.directory)] {
            #expect(row(rows, cert.thumbprint)?["notBefore"] as? String == (try opensslDate("startdate", of: cert, in: dir)), "\(cert.name)")
            #expect(row(rows, cert.thumbprint)?["notAfter"] as? String == (try opensslDate("enddate", of: cert, in: dir)), "\(cert.name)")
        }

        // The ordinary view still has all five, in any order; the Exchange view only changed what it shows.
        let all = try certstore(expecting: 0, ["list", "--format", "json"] + s.args)
        #expect(try jsonThumbprints(all.stdout) == Set(s.expectedOrder + [s.keyless.thumbprint]))
    }

    @Test("Status and RootCAType: self-signed Valid/None, trusted chain Valid/ThirdParty, untrusted CA Untrusted/Unknown, expired DateInvalid/ThirdParty")
    func statusAndRootCAType() throws {
        let s = try ExchangeStore.build("exv-status")
        let rows = try s.json()
        let expected: [(TestPKI.Cert, String, String)] = [
            (s.selfSigned, "Valid", "None"),
            (s.trusted, "Valid", "ThirdParty"),
            (s.untrusted, "Untrusted", "Unknown"),
            (s.expired, "DateInvalid", "ThirdParty"),
        ]
        for (cert, status, rootType) in expected {
            let r = row(rows, cert.thumbprint)
            #expect(r?["status"] as? String == status, "\(cert.name): \(String(describing: r))")
            #expect(r?["rootCAType"] as? String == rootType, "\(cert.name): \(String(describing: r))")
        }
        #expect(row(rows, s.selfSigned.thumbprint)?["isSelfSigned"] as? Bool == true)
        for cert in [s.trusted, s.untrusted, s.expired] {
            #expect(row(rows, cert.thumbprint)?["isSelfSigned"] as? Bool == false, "\(cert.name)")
        }
    }

    @Test("--format json: camelCase keys, typed values (booleans, integers, lists), the certificate's own data")
    func jsonKeysAndValues() throws {
        let s = try ExchangeStore.build("exv-json")
        let rows = try s.json()
        try #require(rows.count == 4, "\(rows)")
        let keys: Set<String> = ["thumbprint", "services", "subject", "status", "rootCAType", "isSelfSigned", "certificateDomains",
                                 "hasPrivateKey", "privateKeyExportable", "publicKeySize", "notBefore", "notAfter", "issuer",
                                 "serialNumber", "friendlyName"]
        for r in rows { #expect(Set(r.keys) == keys, "\(r.keys.sorted())") }

        let mail = try #require(row(rows, s.trusted.thumbprint))
        #expect(mail["subject"] as? String == TestPKI.mailName)
        #expect(mail["issuer"] as? String == TestPKI.caName)
        #expect(mail["serialNumber"] as? String == s.trusted.serial)
        #expect(mail["certificateDomains"] as? [String] == ["mail.contoso.com", "autodiscover.contoso.com"],
                "subject CN, then the SAN DNS names, without repeats")
        #expect(mail["hasPrivateKey"] as? Bool == true)
        #expect(mail["privateKeyExportable"] as? Bool == true, "imported with --exportable")
        #expect(mail["publicKeySize"] as? Int == 2048, "RSA-2048")
        #expect(mail["friendlyName"] as? String == ExchangeStore.friendlyName)
        #expect(mail["services"] as? [String] == [], "nothing bound yet")

        let exch01 = try #require(row(rows, s.selfSigned.thumbprint))
        #expect(exch01["subject"] as? String == "CN=EXCH01")
        #expect(exch01["issuer"] as? String == "CN=EXCH01")
        #expect(exch01["certificateDomains"] as? [String] == ["EXCH01", "exch01.contoso.local", "mail.contoso.com", "legacy.contoso.com"])
        #expect(exch01["privateKeyExportable"] as? Bool == false)
        #expect(exch01["publicKeySize"] as? Int == 256, "EC P-256")

        let fabrikam = try #require(row(rows, s.untrusted.thumbprint))
        #expect(fabrikam["issuer"] as? String == ExchangeStore.untrustedCAName)
        #expect(fabrikam["serialNumber"] as? String == s.untrusted.serial)
        #expect(fabrikam["certificateDomains"] as? [String] == ["mail.contoso.com"], "CN and SAN are the same name: listed once")
    }

    @Test("default table: exactly Thumbprint, Services (7-character mask), Subject, in view order")
    func defaultTable() throws {
        let s = try ExchangeStore.build("exv-table")
        let result = try certstore(expecting: 0, ["list", "--view", "exchange"] + s.args)
        let lines = tableLines(result.stdout)
        try #require(lines.count == 2 + 4, "\(result)")
        #expect(words(lines[0]) == ["Thumbprint", "Services", "Subject"], "\(result)")
        #expect(words(lines[1]) == ["----------", "--------", "-------"], "\(result)")
        let subjectOf = [s.selfSigned.thumbprint: "CN=EXCH01", s.untrusted.thumbprint: "CN=mail.contoso.com",
                         s.trusted.thumbprint: TestPKI.mailName, s.expired.thumbprint: "CN=old.contoso.com"]
        for (line, thumbprint) in zip(lines.dropFirst(2), s.expectedOrder) {
            let w = words(line)
            #expect(w.first == thumbprint, "\(result)")
            #expect(w.dropFirst().first == ".......", "no services bound: \(line)")
            #expect(line.hasSuffix("  " + (subjectOf[thumbprint] ?? "?")), "\(line)")
        }
        #expect(!result.stdout.contains(s.keyless.thumbprint), "\(result)")
        #expect(!result.stdout.contains("Status") && !result.stdout.contains("RootCAType"), "not default table columns: \(result)")
    }

    @Test("--format list: Thumbprint, Services, Subject, then Status … FriendlyName in Get-ExchangeCertificate order")
    func listFormat() throws {
        let s = try ExchangeStore.build("exv-list")
        let result = try certstore(expecting: 0, ["list", "--view", "exchange", "--format", "list"] + s.args)
        let names = ["Thumbprint", "Services", "Subject", "Status", "RootCAType", "IsSelfSigned", "CertificateDomains", "HasPrivateKey",
                     "PrivateKeyExportable", "PublicKeySize", "NotBefore", "NotAfter", "Issuer", "SerialNumber", "FriendlyName"]
        // The property names of the first record, in printed order.
        let firstRecord = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .drop { $0.trimmingCharacters(in: .whitespaces).isEmpty }
            .prefix { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let printed = firstRecord.compactMap { line in line.range(of: " : ").map { line[..<$0.lowerBound].trimmingCharacters(in: .whitespaces) } }
        #expect(printed == names, "\(result)")

        let records = parseListOutput(result.stdout)
        try #require(records.count == 4, "\(result)")
        #expect(records.compactMap { $0["Thumbprint"] } == s.expectedOrder, "\(result)")
        let mail = try #require(records.first { $0["Thumbprint"] == s.trusted.thumbprint })
        #expect(mail["Services"] == ".......")
        #expect(mail["Subject"] == TestPKI.mailName)
        #expect(mail["Status"] == "Valid")
        #expect(mail["RootCAType"] == "ThirdParty")
        #expect(mail["IsSelfSigned"] == "False")
        #expect(mail["CertificateDomains"] == "{mail.contoso.com, autodiscover.contoso.com}")
        #expect(mail["HasPrivateKey"] == "True")
        #expect(mail["PrivateKeyExportable"] == "True")
        #expect(mail["PublicKeySize"] == "2048")
        #expect(mail["NotBefore"] == (try opensslDate("startdate", of: s.trusted, in: s.pki.directory)))
        #expect(mail["NotAfter"] == (try opensslDate("enddate", of: s.trusted, in: s.pki.directory)))
        #expect(mail["Issuer"] == TestPKI.caName)
        #expect(mail["SerialNumber"] == s.trusted.serial)
        #expect(mail["FriendlyName"] == ExchangeStore.friendlyName)

        let exch01 = try #require(records.first { $0["Thumbprint"] == s.selfSigned.thumbprint })
        #expect(exch01["Status"] == "Valid")
        #expect(exch01["RootCAType"] == "None")
        #expect(exch01["IsSelfSigned"] == "True")
        let old = try #require(records.first { $0["Thumbprint"] == s.expired.thumbprint })
        #expect(old["Status"] == "DateInvalid")
        #expect(old["RootCAType"] == "ThirdParty")
        let fabrikam = try #require(records.first { $0["Thumbprint"] == s.untrusted.thumbprint })
        #expect(fabrikam["Status"] == "Untrusted")
        #expect(fabrikam["RootCAType"] == "Unknown")

        // --property picks columns, case-insensitively, like Select-Object.
        let csv = try certstore(expecting: 0, ["list", "--view", "exchange", "--format", "csv", "--property", "thumbprint,STATUS,rootcatype"] + s.args)
        let table = try parseCSV(csv.stdout)
        #expect(table.first == ["Thumbprint", "Status", "RootCAType"], "\(csv)")
        #expect(table.dropFirst().map { $0.first ?? "" } == s.expectedOrder, "\(csv)")
        #expect(table.dropFirst().first { $0.first == s.untrusted.thumbprint } == [s.untrusted.thumbprint, "Untrusted", "Unknown"], "\(csv)")
    }

    @Test("Services mask after enable --services SMTP,IIS (...WS..) and IMAP,POP (IP.....); --services filters on bindings")
    func servicesMaskAndFilter() throws {
        let s = try ExchangeStore.build("exv-services")
        let enabled = try certstore(expecting: 0, ["enable", s.trusted.thumbprint, "--services", "SMTP,IIS"] + s.args)
        #expect(enabled.stdout.contains("Default SMTP certificate: \(s.trusted.thumbprint)"), "\(enabled)")
        try certstore(expecting: 0, ["enable", s.selfSigned.thumbprint, "--services", "IMAP,POP"] + s.args)

        let table = try certstore(expecting: 0, ["list", "--view", "exchange"] + s.args)
        let masks = Dictionary(uniqueKeysWithValues: tableLines(table.stdout).dropFirst(2).map { line -> (String, String) in
            let w = words(line)
            return (w.first ?? "", w.dropFirst().first ?? "")
        })
        #expect(masks[s.trusted.thumbprint] == "...WS..", "\(table)")
        #expect(masks[s.selfSigned.thumbprint] == "IP.....", "\(table)")
        #expect(masks[s.untrusted.thumbprint] == ".......", "\(table)")
        #expect(masks[s.expired.thumbprint] == ".......", "\(table)")

        let rows = try s.json()
        #expect(row(rows, s.trusted.thumbprint)?["services"] as? [String] == ["IIS", "SMTP"], "\(rows)")
        #expect(row(rows, s.selfSigned.thumbprint)?["services"] as? [String] == ["IMAP", "POP"], "\(rows)")
        #expect(row(rows, s.untrusted.thumbprint)?["services"] as? [String] == [], "\(rows)")
        #expect(try s.listed(["--property", "thumbprint"]) == s.expectedOrder, "binding changes no order")

        #expect(try s.listed(["--services", "SMTP"]) == [s.trusted.thumbprint])
        #expect(try s.listed(["--services", "smtp,iis"]) == [s.trusted.thumbprint], "every named service must be bound")
        #expect(try s.listed(["--services", "IIS"]) == [s.trusted.thumbprint])
        #expect(try s.listed(["--services", "IMAP"]) == [s.selfSigned.thumbprint])
        #expect(try s.listed(["--services", "POP,IMAP"]) == [s.selfSigned.thumbprint])
        #expect(try s.listed(["--services", "SMTP,POP"]).isEmpty, "no certificate has both")

        let unknown = try certstore(expecting: 64, ["list", "--view", "exchange", "--services", "FTP"] + s.args)
        #expect(unknown.stdout.isEmpty, "\(unknown)")
        #expect(unknown.stderr.contains("FTP"), "\(unknown)")
    }

    @Test("--status and --root-ca-type filter (case-insensitive) and keep newest-first order; unknown values are usage errors")
    func statusAndRootCATypeFilters() throws {
        let s = try ExchangeStore.build("exv-filters")
        #expect(try s.listed(["--status", "Valid"]) == [s.selfSigned.thumbprint, s.trusted.thumbprint])
        #expect(try s.listed(["--status", "valid"]) == [s.selfSigned.thumbprint, s.trusted.thumbprint])
        #expect(try s.listed(["--status", "Untrusted"]) == [s.untrusted.thumbprint])
        #expect(try s.listed(["--status", "DateInvalid"]) == [s.expired.thumbprint])
        #expect(try s.listed(["--status", "Invalid"]).isEmpty)

        #expect(try s.listed(["--root-ca-type", "ThirdParty"]) == [s.trusted.thumbprint, s.expired.thumbprint])
        #expect(try s.listed(["--root-ca-type", "thirdparty"]) == [s.trusted.thumbprint, s.expired.thumbprint])
        #expect(try s.listed(["--root-ca-type", "None"]) == [s.selfSigned.thumbprint])
        #expect(try s.listed(["--root-ca-type", "Unknown"]) == [s.untrusted.thumbprint])
        #expect(try s.listed(["--root-ca-type", "Enterprise"]).isEmpty)
        #expect(try s.listed(["--status", "Valid", "--root-ca-type", "ThirdParty"]) == [s.trusted.thumbprint])
        #expect(try s.listed(["--status", "DateInvalid", "--root-ca-type", "None"]).isEmpty)

        // The ordinary filters still apply inside the view.
        #expect(try s.listed(["--subject", "*contoso*"]) == [s.untrusted.thumbprint, s.trusted.thumbprint, s.expired.thumbprint])
        #expect(try s.listed(["--issuer", "CN=EXCH01"]) == [s.selfSigned.thumbprint])

        for bad in [["--status", "Expired"], ["--root-ca-type", "Corporate"]] {
            let result = try certstore(expecting: 64, ["list", "--view", "exchange"] + bad + s.args)
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(result.stderr.contains(bad[1]), "names the bad value: \(result)")
        }
    }

    @Test("--domain: the certificates for that name, the one Exchange would pick first (the trusted CA-issued one, not the newest)")
    func domainFilter() throws {
        let s = try ExchangeStore.build("exv-domain")
        // mail.contoso.com is on selfSigned (newest), keyless (hidden), untrusted and trusted: Exchange picks the
        // newest trusted CA-issued certificate with a key, i.e. `trusted`; the rest follow newest first.
        let mail = try s.listed(["--domain", "mail.contoso.com"])
        #expect(mail == [s.trusted.thumbprint, s.selfSigned.thumbprint, s.untrusted.thumbprint], "\(mail)")
        #expect(try s.listed(["--domain", "MAIL.Contoso.COM"]) == mail, "DNS names are case-insensitive")
        #expect(try s.listed(["--domain", "autodiscover.contoso.com"]) == [s.trusted.thumbprint])
        #expect(try s.listed(["--domain", "exch01"]) == [s.selfSigned.thumbprint], "the subject CN counts as a domain")
        #expect(try s.listed(["--domain", "old.contoso.com"]) == [s.expired.thumbprint])
        #expect(try s.listed(["--domain", "nowhere.example"]).isEmpty)
        let none = try certstore(expecting: 0, ["list", "--view", "exchange", "--domain", "nowhere.example", "--format", "json"] + s.args)
        #expect(try parseJSONArray(none.stdout).isEmpty, "\(none)")

        // legacy.contoso.com: only the expired CA-issued certificate and the self-signed one. Whatever Exchange picks
        // there, --domain puts first what certstore's own FQDN resolution (a connector with that FQDN) presents.
        let legacy = try s.listed(["--domain", "legacy.contoso.com"])
        #expect(Set(legacy) == [s.expired.thumbprint, s.selfSigned.thumbprint], "\(legacy)")
        try certstore(expecting: 0, ["connector", "add", "Legacy", "--fqdn", "legacy.contoso.com"] + s.args)
        let resolved = try certstore(["connector", "resolve", "Legacy", "--format", "json"] + s.args)
        let chosen = (try parseJSONObject(resolved.stdout)["chosen"] as? [String: Any])?["thumbprint"] as? String
        #expect(chosen != nil, "\(resolved)")
        #expect(legacy.first == chosen, "--domain's first is the certificate Exchange would pick: \(resolved)")

        // The same for mail.contoso.com.
        try certstore(expecting: 0, ["connector", "add", "Mail", "--fqdn", "mail.contoso.com"] + s.args)
        let mailResolved = try certstore(["connector", "resolve", "Mail", "--format", "json"] + s.args)
        #expect((try parseJSONObject(mailResolved.stdout)["chosen"] as? [String: Any])?["thumbprint"] as? String == s.trusted.thumbprint,
                "\(mailResolved)")

        // --domain combines with the other filters.
        #expect(try s.listed(["--domain", "mail.contoso.com", "--status", "Valid"]) == [s.trusted.thumbprint, s.selfSigned.thumbprint])
    }

    @Test("--thumbprint of a keyless certificate: exit 2, Exchange's PrivateKeyMissing words, nothing on stdout")
    func keylessThumbprint() throws {
        let s = try ExchangeStore.build("exv-keyless")
        let message = "The certificate with thumbprint \(s.keyless.thumbprint) was found but is not valid for use with Exchange Server (reason: PrivateKeyMissing)."
        for format in ["table", "list", "json"] {
            let result = try certstore(expecting: 2, ["list", "--view", "exchange", "--thumbprint", s.keyless.thumbprint, "--format", format] + s.args)
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(stderrLines(result).first == "error: " + message, "\(result)")
            #expect(stderrLines(result).filter { $0.contains("was found but") }.count == 1, "\(result)")
        }
        // As admins paste it: lower case with spaces is the same certificate, the same refusal.
        let pasted = stride(from: 0, to: 40, by: 2).map { i -> String in
            let start = s.keyless.thumbprint.index(s.keyless.thumbprint.startIndex, offsetBy: i)
            return String(s.keyless.thumbprint[start..<s.keyless.thumbprint.index(start, offsetBy: 2)])
        }.joined(separator: " ").lowercased()
        let spaced = try certstore(expecting: 2, ["list", "--view", "exchange", "--thumbprint", pasted] + s.args)
        #expect(spaced.stderr.contains("(reason: PrivateKeyMissing)."), "\(spaced)")
        #expect(spaced.stdout.isEmpty, "\(spaced)")

        // The ordinary view lists it without complaint.
        let plain = try certstore(expecting: 0, ["list", "--thumbprint", s.keyless.thumbprint, "--format", "json"] + s.args)
        #expect(try jsonThumbprints(plain.stdout) == [s.keyless.thumbprint], "\(plain)")
    }

    @Test("--thumbprint of a key-bearing certificate without Server Authentication: exit 2, reason PkixKpServerAuthNotFoundInEnhancedKeyUsage; hidden from the list")
    func clientAuthOnlyThumbprint() throws {
        let f = try Fixtures.get()
        let s = try ExchangeStore.build("exv-clientauth")
        // Fixtures.selfSigned: self-signed EC with its key, EKU clientAuth only.
        try certstore(expecting: 0, ["import", f.emptyPasswordPFX.path] + s.args)
        let result = try certstore(expecting: 2, ["list", "--view", "exchange", "--thumbprint", f.selfSigned.thumbprint] + s.args)
        #expect(stderrLines(result).first == "error: The certificate with thumbprint \(f.selfSigned.thumbprint) was found but is not valid for use with Exchange Server (reason: PkixKpServerAuthNotFoundInEnhancedKeyUsage).",
                "\(result)")
        #expect(try s.listed() == s.expectedOrder, "a certificate Exchange cannot use is not listed")
    }

    @Test("--thumbprint of a certificate not in My: exit 1, \"The certificate with thumbprint T was not found.\"")
    func unknownThumbprint() throws {
        let s = try ExchangeStore.build("exv-notfound")
        let absent = "0123456789ABCDEF0123456789ABCDEF01234567"
        for format in ["table", "json"] {
            let result = try certstore(expecting: 1, ["list", "--view", "exchange", "--thumbprint", absent, "--format", format] + s.args)
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(stderrLines(result).first == "error: The certificate with thumbprint \(absent) was not found.", "\(result)")
        }
        // The trusted root is in LocalMachine/Root, not My: Get-ExchangeCertificate does not find it either.
        let root = try certstore(expecting: 1, ["list", "--view", "exchange", "--thumbprint", s.pki.ca.thumbprint] + s.args)
        #expect(stderrLines(root).first == "error: The certificate with thumbprint \(s.pki.ca.thumbprint) was not found.", "\(root)")
    }

    @Test("--thumbprint of listed certificates: exactly that one, whatever its Status (Untrusted and DateInvalid too)")
    func thumbprintOfKeyedCertificates() throws {
        let s = try ExchangeStore.build("exv-thumb")
        for (cert, status) in [(s.trusted, "Valid"), (s.untrusted, "Untrusted"), (s.expired, "DateInvalid"), (s.selfSigned, "Valid")] {
            let rows = try s.json(["--thumbprint", cert.thumbprint.lowercased()])
            #expect(rows.count == 1, "\(cert.name): \(rows)")
            #expect(rows.first?["thumbprint"] as? String == cert.thumbprint, "\(cert.name)")
            #expect(rows.first?["status"] as? String == status, "\(cert.name)")
        }
        // A pattern is a filter, not a lookup: no error for the keyless certificate, it is just not listed.
        #expect(try s.listed(["--thumbprint", String(s.keyless.thumbprint.prefix(8)) + "*"]).isEmpty)
        #expect(try s.listed(["--thumbprint", String(s.trusted.thumbprint.prefix(8)).lowercased() + "*"]) == [s.trusted.thumbprint])
    }

    @Test("a key file that no longer matches its certificate: not a usable key, hidden; --thumbprint says PrivateKeyNotAccessible (exit 2)")
    func keyThatDoesNotMatch() throws {
        let s = try ExchangeStore.build("exv-badkey")
        let keys = s.t.root.appendingPathComponent("LocalMachine/Keys", isDirectory: true)
        let keyFile = keys.appendingPathComponent(try s.pki.keyFileName(try #require(s.untrusted.key)))
        try #require(FileManager.default.fileExists(atPath: keyFile.path), "the key is stored as Keys/<SPKI-SHA256>.key")
        // Another EC key in its place: the file exists and loads, but belongs to another certificate.
        let other = try s.pki.newKey("intruder")
        try Data(contentsOf: other).write(to: keyFile)

        #expect(try s.listed() == [s.selfSigned.thumbprint, s.trusted.thumbprint, s.expired.thumbprint])
        let result = try certstore(expecting: 2, ["list", "--view", "exchange", "--thumbprint", s.untrusted.thumbprint] + s.args)
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(stderrLines(result).first == "error: The certificate with thumbprint \(s.untrusted.thumbprint) was found but is not valid for use with Exchange Server (reason: PrivateKeyNotAccessible).",
                "\(result)")
    }

    @Test("not yet valid, chaining to the trusted root: DateInvalid / ThirdParty, and first (its NotBefore is the newest)")
    func notYetValid() throws {
        let s = try ExchangeStore.build("exv-future")
        let future = try s.pki.issue("future", subject: "/CN=next.contoso.com", days: 365, notBeforeDaysAgo: -30,
                                     dnsNames: ["next.contoso.com"])
        try certstore(expecting: 0, ["import", try s.pki.withKey(future).path] + s.args)
        let rows = try s.json()
        #expect(rows.compactMap { $0["thumbprint"] as? String } == [future.thumbprint] + s.expectedOrder, "\(rows)")
        #expect(row(rows, future.thumbprint)?["status"] as? String == "DateInvalid", "\(rows)")
        #expect(row(rows, future.thumbprint)?["rootCAType"] as? String == "ThirdParty", "\(rows)")
        #expect(try s.listed(["--status", "DateInvalid"]) == [future.thumbprint, s.expired.thumbprint])
    }

    @Test("an exact --thumbprint still honours the other filters: a certificate that fails --status/--root-ca-type/--services/--domain/--subject is not listed")
    func exactThumbprintWithFilters() throws {
        let s = try ExchangeStore.build("exv-thumbfilter")
        // `trusted` is Valid, ThirdParty, bound to nothing, for mail/autodiscover.contoso.com.
        let mismatches: [[String]] = [["--status", "Untrusted"], ["--root-ca-type", "None"], ["--services", "SMTP"],
                                      ["--domain", "old.contoso.com"], ["--subject", "CN=EXCH01"]]
        for filter in mismatches {
            let result = try certstore(["list", "--view", "exchange", "--format", "json", "--thumbprint", s.trusted.thumbprint] + filter + s.args)
            // Either an empty answer or a refusal to combine them; never the certificate the filter excludes.
            #expect(result.status == 0 || result.status == 64, "\(result)")
            if result.status == 0 {
                #expect(try parseJSONArray(result.stdout).isEmpty, "\(filter) excludes \(s.trusted.thumbprint):\n\(result)")
            }
        }
        // A matching filter keeps it.
        #expect(try s.listed(["--thumbprint", s.trusted.thumbprint, "--status", "Valid"]) == [s.trusted.thumbprint])
    }

    @Test("a store with only a keyless certificate: the Exchange view is empty and exits 0")
    func onlyKeyless() throws {
        let t = try TestDirectory("exv-empty")
        let pki = try TestPKI(in: t.path("pki"))
        let keyless = try pki.issue("lonely", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        let args = ["--root", t.rootPath]
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + args)
        try certstore(expecting: 0, ["import", try pki.cer(keyless).path, "--allow-keyless"] + args)
        let json = try certstore(expecting: 0, ["list", "--view", "exchange", "--format", "json"] + args)
        #expect(try parseJSONArray(json.stdout).isEmpty, "\(json)")
        let table = try certstore(expecting: 0, ["list", "--view", "exchange"] + args)
        #expect(!table.stdout.contains(keyless.thumbprint), "\(table)")
        #expect(table.stderr.isEmpty, "hidden silently, as Exchange does: \(table)")
    }

    @Test("import --store LocalMachine/Root --root-ca-type Enterprise: certificates chaining to it show RootCAType Enterprise")
    func enterpriseRoot() throws {
        let t = try TestDirectory("exv-enterprise")
        let pki = try TestPKI(in: t.path("pki"), caSubject: "/DC=local/DC=contoso/CN=Contoso Enterprise Root CA")
        let web = try pki.issue("web", subject: "/CN=web.contoso.local", dnsNames: ["web.contoso.local"])
        let old = try pki.issue("old", subject: "/CN=old.contoso.local", days: 10, notBeforeDaysAgo: 100, dnsNames: ["old.contoso.local"])
        let args = ["--root", t.rootPath]

        // --root-ca-type only makes sense for Root, and only for the types a root can have.
        try certstore(expecting: 64, ["import", pki.ca.pem.path, "--root-ca-type", "Enterprise"] + args)
        try certstore(expecting: 64, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root-ca-type", "None"] + args)
        #expect(t.thumbprints(in: "Root").isEmpty && t.thumbprints(in: "CA").isEmpty, "refused imports change nothing")

        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root-ca-type", "Enterprise"] + args)
        try certstore(expecting: 0, ["import", try pki.withKey(web).path] + args)
        try certstore(expecting: 0, ["import", try pki.withKey(old).path] + args)

        let result = try certstore(expecting: 0, ["list", "--view", "exchange", "--format", "json"] + args)
        let rows = try parseJSONArray(result.stdout)
        #expect(rows.compactMap { $0["thumbprint"] as? String } == [web.thumbprint, old.thumbprint], "\(result)")
        #expect(row(rows, web.thumbprint)?["status"] as? String == "Valid", "\(result)")
        #expect(row(rows, web.thumbprint)?["rootCAType"] as? String == "Enterprise", "\(result)")
        #expect(row(rows, old.thumbprint)?["status"] as? String == "DateInvalid", "\(result)")
        #expect(row(rows, old.thumbprint)?["rootCAType"] as? String == "Enterprise", "\(result)")

        func listed(_ extra: [String]) throws -> [String] {
            let r = try certstore(expecting: 0, ["list", "--view", "exchange", "--format", "json"] + extra + args)
            return try parseJSONArray(r.stdout).compactMap { $0["thumbprint"] as? String }
        }
        #expect(try listed(["--root-ca-type", "Enterprise"]) == [web.thumbprint, old.thumbprint])
        #expect(try listed(["--root-ca-type", "enterprise", "--status", "Valid"]) == [web.thumbprint])
        #expect(try listed(["--root-ca-type", "ThirdParty"]).isEmpty, "Enterprise is not ThirdParty")
    }

    @Test("Status follows the chain through LocalMachine/CA: Untrusted without the intermediate, Valid with the root's RootCAType once it is there")
    func intermediateInCAStore() throws {
        let t = try TestDirectory("exv-intermediate")
        let pki = try TestPKI(in: t.path("pki"), caSubject: "/C=US/O=Woodgrove/CN=Woodgrove Root CA")
        let dir = pki.directory
        // Root → intermediate (CA:TRUE) → leaf, all by hand with openssl.
        let made = try pki.intermediateAndLeaf(host: "www.woodgrove.com", organization: "Woodgrove")
        let leafWithKey = made.leafWithKey
        let leaf = try Fixtures.thumbprint(made.leaf, in: dir)
        let intermediate = try Fixtures.thumbprint(made.intermediate, in: dir)
        let args = ["--root", t.rootPath]

        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root-ca-type", "GroupPolicy"] + args)
        try certstore(expecting: 0, ["import", leafWithKey.path] + args)
        func view() throws -> [[String: Any]] {
            try parseJSONArray(try certstore(expecting: 0, ["list", "--view", "exchange", "--format", "json"] + args).stdout)
        }
        let before = try view()
        #expect(before.count == 1 && before.first?["thumbprint"] as? String == leaf, "\(before)")
        #expect(before.first?["status"] as? String == "Untrusted", "the issuing CA is nowhere: \(before)")
        #expect(before.first?["rootCAType"] as? String == "Unknown", "\(before)")

        try certstore(expecting: 0, ["import", made.intermediate.path] + args)
        try #require(t.thumbprints(in: "CA") == [intermediate], "a CA certificate without key goes to LocalMachine/CA")
        let after = try view()
        #expect(after.count == 1 && after.first?["thumbprint"] as? String == leaf, "\(after)")
        #expect(after.first?["status"] as? String == "Valid", "\(after)")
        #expect(after.first?["rootCAType"] as? String == "GroupPolicy", "the type of the root in Root, not of the intermediate: \(after)")
    }

    @Test("--root-ca-type, --status, --services, --domain without --view exchange: usage error (exit 64), nothing on stdout")
    func exchangeOptionsNeedTheView() throws {
        let s = try ExchangeStore.build("exv-usage")
        let before = try DirectorySnapshot.take(s.t.root)
        for option in [["--root-ca-type", "ThirdParty"], ["--status", "Valid"], ["--services", "SMTP"], ["--domain", "mail.contoso.com"]] {
            for view in [[], ["--view", "certificate"]] {
                let result = try certstore(expecting: 64, ["list"] + view + option + s.args)
                #expect(result.stdout.isEmpty, "\(result)")
                #expect(result.stderr.contains("--view exchange"), "says where the option belongs: \(result)")
            }
        }
        let bogusView = try certstore(expecting: 64, ["list", "--view", "exchnage"] + s.args)
        #expect(bogusView.stdout.isEmpty, "\(bogusView)")
        let after = try DirectorySnapshot.take(s.t.root)
        #expect(after == before, "usage errors change nothing:\n\(before.differences(to: after))")
    }

    /// The store index and the kept chain verdicts (`.cache/My.index`, `.cache/My.chains`) only make the view
    /// faster: every format, with and without filters, prints the same bytes from a cold and from a warm cache.
    @Test("cold and warm: byte-identical output in every format, and the warm run takes every verdict from the cache")
    func coldAndWarmIdentical() throws {
        let s = try ExchangeStore.build("exv-warm")
        let cache = s.t.root.appendingPathComponent("LocalMachine/.cache", isDirectory: true)
        let chains = cache.appendingPathComponent("My.chains")
        let variants: [[String]] = [["--format", "table"], ["--format", "list"], ["--format", "json"], ["--format", "csv"],
                                    ["--format", "json", "--domain", "mail.contoso.com"], ["--status", "Valid"],
                                    ["--format", "list", "--property", "thumbprint,status,rootCAType"]]
        // selfSigned's NotBefore is the moment it was made: a verdict computed within two seconds of it is
        // rightly not reused (`ChainCache`), so the cold runs start a little later.
        Thread.sleep(forTimeInterval: 3)
        for variant in variants {
            try? FileManager.default.removeItem(at: cache)
            let cold = try certstore(expecting: 0, ["list", "--view", "exchange"] + variant + s.args)
            try #require(!cold.stdout.isEmpty, "\(variant)")
            let written = try #require(try? FileManager.default.attributesOfItem(atPath: chains.path), "the view keeps its verdicts")
            let warm = try certstore(expecting: 0, ["list", "--view", "exchange"] + variant + s.args)
            #expect(warm.stdout == cold.stdout, "\(variant)")
            #expect(warm.stderr == cold.stderr, "\(variant)")
            // Not rewritten: nothing had to be verified afresh.
            let after = try FileManager.default.attributesOfItem(atPath: chains.path)
            #expect(after[.systemFileNumber] as? Int == written[.systemFileNumber] as? Int, "\(variant)")
        }
    }

    /// Whatever happened to the cache or behind it, the warm answer is the cold one (`.cache` deleted first).
    @Test("a damaged or stale cache gives the answer of no cache", arguments: ["flip", "truncate", "garbage", "root-removed", "key-removed", "rebound"])
    func staleOrDamagedCache(change: String) throws {
        let s = try ExchangeStore.build("exv-stale-\(change)")
        let cache = s.t.root.appendingPathComponent("LocalMachine/.cache", isDirectory: true)
        let arguments = ["list", "--view", "exchange", "--format", "json"] + s.args
        let before = try certstore(expecting: 0, arguments).stdout
        for name in ["My.index", "My.chains"] {
            try #require(FileManager.default.fileExists(atPath: cache.appendingPathComponent(name).path), "\(name)")
        }
        switch change {
        case "flip", "truncate", "garbage":
            for name in ["My.index", "My.chains"] {
                let url = cache.appendingPathComponent(name)
                var bytes = [UInt8](try Data(contentsOf: url))
                switch change {
                case "flip": bytes[bytes.count / 2] ^= 0x20
                case "truncate": bytes = Array(bytes.prefix(bytes.count * 2 / 3))
                default: bytes = (0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
                }
                try Data(bytes).write(to: url)
            }
        case "root-removed":
            // The trusted CA leaves Root: the certificates it issued become Untrusted.
            try FileManager.default.removeItem(at: s.t.root.appendingPathComponent("LocalMachine/Root/\(s.pki.ca.thumbprint).cer"))
        case "key-removed":
            let keys = s.t.root.appendingPathComponent("LocalMachine/Keys", isDirectory: true)
            let identifier = try #require(try parseJSONArray(certstore(expecting: 0, ["list", "--format", "json", "--thumbprint",
                                                                                        s.trusted.thumbprint] + s.args).stdout)
                .first?["publicKeySha256"] as? String)
            try FileManager.default.removeItem(at: keys.appendingPathComponent("\(identifier).key"))
        default:
            try certstore(expecting: 0, ["enable", s.trusted.thumbprint, "--services", "IMAP,POP"] + s.args)
        }
        let warm = try certstore(expecting: 0, arguments).stdout
        try FileManager.default.removeItem(at: cache)
        let cold = try certstore(expecting: 0, arguments).stdout
        #expect(warm == cold)
        if !["flip", "truncate", "garbage"].contains(change) {
            #expect(warm != before, "the change shows in the view")
        }
    }

    @Test("a pending request is listed after the certificates as Get-ExchangeCertificate shows it: Status PendingRequest, IsSelfSigned False, RootCAType Unknown, no services; --status/--thumbprint/--domain/--services find or exclude it; completed, it is Valid")
    func pendingRequest() throws {
        let s = try ExchangeStore.build("exv-pending")
        let csr = s.t.path("new.csr")
        try certstore(expecting: 0, ["request", "--subject", "CN=new.contoso.com, O=Contoso Ltd", "--dns-name", "new.contoso.com",
                                     "--dns-name", "autodiscover.contoso.com", "--exportable", "--out", csr.path] + s.args)
        let pending = try #require(try parseJSONArray(certstore(expecting: 0, ["list", "--store", "REQUEST", "--format", "json"] + s.args).stdout)
            .first?["thumbprint"] as? String)
        let rows = try s.json()
        #expect(rows.compactMap { $0["thumbprint"] as? String } == s.expectedOrder + [pending], "\(rows)")
        let request = try #require(row(rows, pending))
        #expect(request["status"] as? String == "PendingRequest")
        #expect(request["isSelfSigned"] as? Bool == false, "the dummy certificate is self-signed; Exchange says False")
        #expect(request["rootCAType"] as? String == "Unknown")
        #expect(request["services"] as? [String] == [])
        #expect(request["hasPrivateKey"] as? Bool == true)
        #expect(request["privateKeyExportable"] as? Bool == false, "Exchange stops at PendingRequest")
        #expect(request["subject"] as? String == "CN=new.contoso.com, O=Contoso Ltd")
        #expect(request["certificateDomains"] as? [String] == ["new.contoso.com", "autodiscover.contoso.com"])
        // The self-signed certificate of My still says True.
        #expect(row(rows, s.selfSigned.thumbprint)?["isSelfSigned"] as? Bool == true)
        #expect(row(rows, s.trusted.thumbprint)?["isSelfSigned"] as? Bool == false)

        #expect(try s.listed(["--status", "pendingrequest"]) == [pending])
        #expect(try s.listed(["--thumbprint", pending]) == [pending])
        #expect(try s.listed(["--domain", "autodiscover.contoso.com"]).last == pending)
        #expect(try s.listed(["--services", "SMTP"]).contains(pending) == false)
        #expect(try s.listed(["--root-ca-type", "ThirdParty"]).contains(pending) == false)
        let table = try certstore(expecting: 0, ["list", "--view", "exchange", "--property", "Thumbprint,Status,IsSelfSigned"] + s.args)
        #expect(table.stdout.contains(pending) && table.stdout.contains("PendingRequest"), "\(table)")

        // Completed: the request is consumed, and the certificate is listed as any other (Valid, ThirdParty).
        let issued = s.pki.directory.appendingPathComponent("new.pem")
        try openssl(["x509", "-req", "-in", csr.path, "-CA", s.pki.ca.pem.path, "-CAkey", try #require(s.pki.ca.key).path,
                     "-CAcreateserial", "-days", "90", "-copy_extensions", "copyall", "-out", issued.path], in: s.pki.directory)
        try certstore(expecting: 0, ["complete", issued.path] + s.args)
        let after = try s.json()
        #expect(!after.contains { $0["status"] as? String == "PendingRequest" }, "\(after)")
        let completed = try #require(after.first { $0["subject"] as? String == "CN=new.contoso.com, O=Contoso Ltd" }, "\(after)")
        #expect(completed["status"] as? String == "Valid" && completed["rootCAType"] as? String == "ThirdParty" && completed["isSelfSigned"] as? Bool == false)
        #expect(completed["privateKeyExportable"] as? Bool == true, "what was chosen at request time applies once completed")
        let gone = try certstore(expecting: 1, ["list", "--view", "exchange", "--thumbprint", pending] + s.args)
        #expect(gone.stderr.contains("was not found"), "\(gone)")
    }
}
