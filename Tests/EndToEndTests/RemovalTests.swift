import Foundation
import Testing

/// `remove`, `prune`, `trash`, `restore` and `disable`: refusals leave the store exactly as it was,
/// overrides are loud and undoable.
@Suite("removal")
struct RemovalTests {
    /// CA `Contoso Issuing CA 1` in Root; `mail.contoso.com` and `relay.contoso.com`, CA-issued, with keys, in My.
    struct Machine {
        let t: TestDirectory
        let pki: TestPKI
        let mail: TestPKI.Cert
        let relay: TestPKI.Cert
        var args: [String] { t.rootArgs }
        var location: URL { t.root.appendingPathComponent("LocalMachine", isDirectory: true) }
        var keys: URL { location.appendingPathComponent("Keys", isDirectory: true) }
        var bindingsFile: URL { location.appendingPathComponent("bindings.json") }

        static func build(_ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Machine {
            let t = try TestDirectory(label)
            let pki = try TestPKI(in: t.path("pki"))
            let mail = try pki.issue("mail", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
            let relay = try pki.issue("relay", subject: "/O=Contoso Ltd/CN=relay.contoso.com", dnsNames: ["relay.contoso.com"])
            try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + t.rootArgs, sourceLocation: sourceLocation)
            try certstore(expecting: 0, ["import", try pki.withKey(mail).path, try pki.withKey(relay).path] + t.rootArgs,
                          sourceLocation: sourceLocation)
            #expect(t.thumbprints(in: "My") == [mail.thumbprint, relay.thumbprint], sourceLocation: sourceLocation)
            return Machine(t: t, pki: pki, mail: mail, relay: relay)
        }

        func snapshot() throws -> DirectorySnapshot { try DirectorySnapshot.take(t.root) }

        func expectUnchanged(_ before: DirectorySnapshot, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let after = try snapshot()
            #expect(after == before, "the store changed:\n\(before.differences(to: after))", sourceLocation: sourceLocation)
        }

        func trash() throws -> [[String: Any]] {
            try parseJSONArray(try certstore(expecting: 0, ["trash", "list", "--format", "json"] + args).stdout)
        }

        func bindings() throws -> [String: Any] {
            try parseJSONObject(try certstore(expecting: 0, ["bindings", "--format", "json"] + args).stdout)
        }

        func smtp() throws -> [String] {
            ((try bindings()["services"] as? [String: Any])?["SMTP"] as? [[String: Any]] ?? []).compactMap { $0["thumbprint"] as? String }
        }

        func hasPrivateKey(_ thumbprint: String) throws -> Bool? {
            let items = try parseJSONArray(try certstore(expecting: 0, ["list", "--format", "json"] + args).stdout)
            return items.first { $0["thumbprint"] as? String == thumbprint }?["hasPrivateKey"] as? Bool
        }
    }

    // MARK: refusals

    @Test("the default SMTP certificate: refused (exit 2), store unchanged; --dry-run --format json says why")
    func defaultSmtpRefused() throws {
        let m = try Machine.build("rm-default")
        try certstore(expecting: 0, ["enable", m.mail.thumbprint, "--services", "SMTP"] + m.args)
        let before = try m.snapshot()
        let refused = try certstore(expecting: 2, ["remove", m.mail.thumbprint] + m.args)
        #expect(refused.stderr.contains("it is the default SMTP certificate"), "\(refused)")
        #expect(refused.stderr.contains("refusing to remove \(m.mail.thumbprint)"), "\(refused)")
        try m.expectUnchanged(before)

        let dry = try certstore(expecting: 2, ["remove", m.mail.thumbprint, "--dry-run", "--format", "json"] + m.args)
        let plan = try parseJSONObject(dry.stdout)
        #expect(plan["allowed"] as? Bool == false, "\(dry)")
        #expect(plan["dryRun"] as? Bool == true)
        #expect(plan["thumbprint"] as? String == m.mail.thumbprint)
        #expect((plan["blockers"] as? [String] ?? []).contains { $0.contains("default SMTP certificate") }, "\(plan)")
        #expect(plan["trashId"] is NSNull)
        try m.expectUnchanged(before)
    }

    @Test("each reason for a refusal is on its own line of stderr")
    func refusalReasonsOnTheirOwnLines() throws {
        let m = try Machine.build("rm-lines")
        try certstore(expecting: 0, ["enable", m.mail.thumbprint, "--services", "SMTP,IIS"] + m.args)
        let refused = try certstore(expecting: 2, ["remove", m.mail.thumbprint] + m.args)
        let lines = refused.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("  - it is the default SMTP certificate") }, "\(refused)")
        #expect(lines.contains { $0.hasPrefix("  - it is bound to IIS, SMTP") || $0.hasPrefix("  - it is bound to SMTP, IIS") }, "\(refused)")
        #expect(!refused.stderr.contains("\\x0A"), "a newline must not be shown escaped: \(refused)")
    }

    @Test("a certificate bound to a service: refused (exit 2) naming the service and the disable command; store unchanged")
    func boundRefused() throws {
        let m = try Machine.build("rm-bound")
        try certstore(expecting: 0, ["enable", m.relay.thumbprint, "--services", "IIS"] + m.args)
        let before = try m.snapshot()
        let refused = try certstore(expecting: 2, ["remove", m.relay.thumbprint] + m.args)
        #expect(refused.stderr.contains("it is bound to IIS"), "\(refused)")
        #expect(refused.stderr.contains("certstore disable \(m.relay.thumbprint)"), "\(refused)")
        try m.expectUnchanged(before)
    }

    @Test("a registered dependency (dependency add \"Postfix relay\" THUMB): refused (exit 2) until the dependency is removed")
    func dependencyRefused() throws {
        let m = try Machine.build("rm-dependency")
        let added = try certstore(expecting: 0, ["dependency", "add", "Postfix relay", m.relay.thumbprint] + m.args)
        #expect(added.stdout.contains("\"Postfix relay\" depends on \(m.relay.thumbprint)"), "\(added)")
        let listed = try parseJSONArray(try certstore(expecting: 0, ["dependency", "list", "--format", "json"] + m.args).stdout)
        #expect(listed.count == 1)
        #expect(listed.first?["application"] as? String == "Postfix relay")
        #expect(listed.first?["certificate"] as? String == m.relay.thumbprint)
        #expect(listed.first?["inStore"] as? Bool == true)

        let before = try m.snapshot()
        let refused = try certstore(expecting: 2, ["remove", m.relay.thumbprint] + m.args)
        #expect(refused.stderr.contains("\"Postfix relay\" depends on it (registered dependency)"), "\(refused)")
        try m.expectUnchanged(before)

        try certstore(expecting: 0, ["dependency", "remove", "Postfix relay"] + m.args)
        try certstore(expecting: 0, ["remove", m.relay.thumbprint] + m.args)
        #expect(!m.t.thumbprints(in: "My").contains(m.relay.thumbprint))
    }

    @Test("the issuer of a bound certificate: refused (exit 2) from Root and from CA, naming the certificate it issues",
          arguments: ["LocalMachine/Root", "Cert:\\LocalMachine\\Root", "LocalMachine/CA"])
    func issuerRefused(_ store: String) throws {
        let m = try Machine.build("rm-issuer")
        try certstore(expecting: 0, ["import", m.pki.ca.pem.path, "--store", "LocalMachine/CA"] + m.args)
        try certstore(expecting: 0, ["enable", m.mail.thumbprint, "--services", "IIS"] + m.args)
        let before = try m.snapshot()
        let refused = try certstore(expecting: 2, ["remove", m.pki.ca.thumbprint, "--store", store] + m.args)
        #expect(refused.stderr.contains("it issues \(m.mail.thumbprint)"), "\(refused)")
        #expect(refused.stderr.contains("bound to IIS"), "\(refused)")
        try m.expectUnchanged(before)
    }

    // MARK: overrides

    @Test("--force overrides a refusal: exit 0, a loud FORCED warning on stderr, trash entry with forced=true, restorable")
    func forceOverrides() throws {
        let m = try Machine.build("rm-force")
        try certstore(expecting: 0, ["enable", m.relay.thumbprint, "--services", "IIS"] + m.args)
        let forced = try certstore(expecting: 0, ["remove", m.relay.thumbprint, "--force"] + m.args)
        #expect(forced.stderr.contains("FORCED"), "\(forced)")
        #expect(forced.stderr.contains("bound to IIS"), "the warning says what breaks: \(forced)")
        #expect(forced.stdout.contains("Removed \(m.relay.thumbprint)"), "\(forced)")
        let id = try #require(trashID(in: forced.stdout), "\(forced)")
        #expect(!m.t.thumbprints(in: "My").contains(m.relay.thumbprint))

        let trash = try m.trash()
        #expect(trash.count == 1)
        #expect(trash.first?["id"] as? String == id)
        #expect(trash.first?["thumbprint"] as? String == m.relay.thumbprint)
        #expect(trash.first?["forced"] as? Bool == true, "\(trash)")

        // What it broke is visible, and restore undoes it.
        let audit = try certstore(["audit", "--format", "json"] + m.args)
        let report = try parseJSONObject(audit.stdout)
        #expect(audit.status == 2, "\(audit)")
        #expect(auditFindings(report).contains { $0["check"] as? String == "bound-not-in-store" && $0["object"] as? String == m.relay.thumbprint },
                "\(report)")
        try certstore(expecting: 0, ["restore", id] + m.args)
        #expect(m.t.thumbprints(in: "My").contains(m.relay.thumbprint))
        #expect(try m.hasPrivateKey(m.relay.thumbprint) == true)
    }

    @Test("--delete-key moves the key into the trash; restore brings it back byte for byte, mode 0600")
    func deleteKeyAndRestore() throws {
        let m = try Machine.build("rm-deletekey")
        let keyFile = m.keys.appendingPathComponent(try m.pki.keyFileName(try #require(m.relay.key)))
        let keyBytes = try #require(fileBytes(keyFile), "the key file is named by the SPKI SHA-256: \(keyFile.lastPathComponent)")

        let removed = try certstore(expecting: 0, ["remove", m.relay.thumbprint, "--delete-key"] + m.args)
        #expect(removed.stdout.contains("and its private key"), "\(removed)")
        let id = try #require(trashID(in: removed.stdout), "\(removed)")
        #expect(fileBytes(keyFile) == nil, "the key left the store")
        let trash = try m.trash()
        #expect(trash.first?["keyInTrash"] as? Bool == true, "\(trash)")
        let inTrash = m.location.appendingPathComponent("Trash/\(id)/\(keyFile.lastPathComponent)")
        #expect(fileBytes(inTrash) == keyBytes)
        #expect(octal(fileMode(inTrash)) == "0600")
        #expect(try m.hasPrivateKey(m.mail.thumbprint) == true, "the other certificate keeps its own key")

        let restored = try certstore(expecting: 0, ["restore", id] + m.args)
        #expect(restored.stdout.contains("with its private key"), "\(restored)")
        #expect(fileBytes(keyFile) == keyBytes, "the key comes back byte for byte")
        #expect(octal(fileMode(keyFile)) == "0600")
        #expect(try m.hasPrivateKey(m.relay.thumbprint) == true)
    }

    @Test("--delete-key is refused (exit 2, even with --force) when another certificate shares the key; plain remove keeps the key")
    func deleteSharedKeyRefused() throws {
        let m = try Machine.build("rm-sharedkey")
        let sharedKey: URL? = m.relay.key
        #expect(sharedKey != nil, "relay was issued with a key file")
        let sibling = try m.pki.issue("relay2", subject: "/O=Contoso Ltd/CN=relay2.contoso.com", key: sharedKey,
                                      dnsNames: ["relay2.contoso.com"])
        try certstore(expecting: 0, ["import", sibling.pem.path] + m.args)
        #expect(try m.hasPrivateKey(sibling.thumbprint) == true, "the stored key pairs with the new certificate")

        let before = try m.snapshot()
        let refused = try certstore(expecting: 2, ["remove", m.relay.thumbprint, "--delete-key"] + m.args)
        #expect(refused.stderr.contains(sibling.thumbprint), "the refusal names the other certificate: \(refused)")
        try m.expectUnchanged(before)
        try certstore(expecting: 2, ["remove", m.relay.thumbprint, "--delete-key", "--force"] + m.args)
        try m.expectUnchanged(before)

        try certstore(expecting: 0, ["remove", m.relay.thumbprint] + m.args)
        #expect(try m.hasPrivateKey(sibling.thumbprint) == true)
        #expect(fileBytes(m.keys.appendingPathComponent(try m.pki.keyFileName(try #require(m.relay.key)))) != nil)
    }

    // MARK: prune

    /// Three keyless certificates: one nothing uses, one a dependency names, one a connector resolves to.
    private static func pruneMachine(_ label: String) throws -> (Machine, unused: TestPKI.Cert, needed: TestPKI.Cert, connected: TestPKI.Cert) {
        let m = try Machine.build(label)
        let unused = try m.pki.issue("old", subject: "/CN=old.contoso.com", dnsNames: ["old.contoso.com"])
        let needed = try m.pki.issue("ldap", subject: "/CN=ldap.contoso.com", dnsNames: ["ldap.contoso.com"])
        let connected = try m.pki.issue("smtp", subject: "/O=Contoso Ltd/CN=smtp.contoso.com", dnsNames: ["smtp.contoso.com"])
        try certstore(expecting: 0, ["import", try m.pki.cer(unused).path, try m.pki.cer(needed).path, try m.pki.cer(connected).path, "--allow-keyless"] + m.args)
        try certstore(expecting: 0, ["dependency", "add", "Postfix relay", needed.thumbprint] + m.args)
        try certstore(expecting: 0, ["connector", "add", "Outbound", "--from-certificate", connected.thumbprint] + m.args)
        return (m, unused, needed, connected)
    }

    @Test("prune --keyless --dry-run lists what would go and what stays, and changes nothing")
    func pruneDryRun() throws {
        let (m, unused, needed, connected) = try Self.pruneMachine("prune-dry")
        let before = try m.snapshot()
        let text = try certstore(expecting: 0, ["prune", "--keyless", "--dry-run"] + m.args)
        #expect(text.stdout.contains("Would remove 1, kept 2. Nothing was changed (--dry-run)."), "\(text)")
        try m.expectUnchanged(before)

        let rows = try parseJSONArray(try certstore(expecting: 0, ["prune", "--keyless", "--dry-run", "--format", "json"] + m.args).stdout)
        let byThumbprint = Dictionary(uniqueKeysWithValues: rows.compactMap { row in (row["thumbprint"] as? String).map { ($0, row) } })
        #expect(Set(byThumbprint.keys) == [unused.thumbprint, needed.thumbprint, connected.thumbprint], "\(rows)")
        #expect(byThumbprint[unused.thumbprint]?["action"] as? String == "WouldRemove")
        #expect(byThumbprint[unused.thumbprint]?["trashId"] is NSNull)
        #expect(byThumbprint[needed.thumbprint]?["action"] as? String == "Kept")
        #expect(byThumbprint[connected.thumbprint]?["action"] as? String == "Kept")
        #expect(byThumbprint[m.mail.thumbprint] == nil, "a certificate with a key is never pruned")
        try m.expectUnchanged(before)
    }

    @Test("prune --keyless removes the unused keyless certificate into the trash and keeps the ones a dependency or a connector needs, saying why")
    func prune() throws {
        let (m, unused, needed, connected) = try Self.pruneMachine("prune")
        let rows = try parseJSONArray(try certstore(expecting: 0, ["prune", "--keyless", "--format", "json"] + m.args).stdout)
        let byThumbprint = Dictionary(uniqueKeysWithValues: rows.compactMap { row in (row["thumbprint"] as? String).map { ($0, row) } })
        #expect(byThumbprint[unused.thumbprint]?["action"] as? String == "Removed", "\(rows)")
        let id = byThumbprint[unused.thumbprint]?["trashId"] as? String
        #expect(id != nil)
        #expect(byThumbprint[needed.thumbprint]?["action"] as? String == "Kept")
        #expect((byThumbprint[needed.thumbprint]?["reason"] as? String)?.contains("\"Postfix relay\" depends on it") == true, "\(rows)")
        #expect(byThumbprint[connected.thumbprint]?["action"] as? String == "Kept")
        #expect((byThumbprint[connected.thumbprint]?["reason"] as? String)?.contains("send connector \"Outbound\"") == true, "\(rows)")

        #expect(m.t.thumbprints(in: "My") == [m.mail.thumbprint, m.relay.thumbprint, needed.thumbprint, connected.thumbprint])
        let trash = try m.trash()
        #expect(trash.map { $0["thumbprint"] as? String } == [unused.thumbprint])
        #expect(trash.first?["id"] as? String == id)

        // Nothing left to prune that may go.
        let again = try certstore(expecting: 0, ["prune", "--keyless"] + m.args)
        #expect(again.stdout.contains("Removed 0, kept 2."), "\(again)")
    }

    // MARK: trash

    @Test("trash empty: --older-than 1 keeps fresh entries, --older-than 0 deletes them, --all deletes every one; neither is exit 64")
    func trashEmpty() throws {
        let m = try Machine.build("trash-empty")
        try certstore(expecting: 0, ["remove", m.mail.thumbprint] + m.args)
        let second = try certstore(expecting: 0, ["remove", m.relay.thumbprint] + m.args)
        let secondID = try #require(trashID(in: second.stdout))
        #expect(try m.trash().count == 2)

        let kept = try certstore(expecting: 0, ["trash", "empty", "--older-than", "1"] + m.args)
        #expect(kept.stdout.contains("Deleted 0 trash entries"), "\(kept)")
        #expect(try m.trash().count == 2)

        let emptied = try certstore(expecting: 0, ["trash", "empty", "--older-than", "0"] + m.args)
        #expect(emptied.stdout.contains("Deleted 2 trash entries"), "\(emptied)")
        #expect(try m.trash().isEmpty)
        try certstore(expecting: 1, ["restore", secondID] + m.args)

        try certstore(expecting: 0, ["remove", m.pki.ca.thumbprint, "--store", "LocalMachine/Root"] + m.args)
        let before = try m.snapshot()
        try certstore(expecting: 64, ["trash", "empty"] + m.args)
        try certstore(expecting: 64, ["trash", "empty", "--all", "--older-than", "3"] + m.args)
        try m.expectUnchanged(before)
        let all = try certstore(expecting: 0, ["trash", "empty", "--all"] + m.args)
        #expect(all.stdout.contains("Deleted 1 trash entry"), "\(all)")
        #expect(try m.trash().isEmpty)
        let trashDirectory = m.location.appendingPathComponent("Trash")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: trashDirectory.path)) ?? [] == [], "nothing left behind, not even hidden staging")
    }

    // MARK: disable

    @Test("disable of the default SMTP certificate while another SMTP certificate is bound: refused (exit 2) unless --new-default THUMB")
    func disableDefaultSmtp() throws {
        let m = try Machine.build("disable-default")
        try certstore(expecting: 0, ["enable", m.mail.thumbprint, "--services", "SMTP"] + m.args)
        try certstore(expecting: 0, ["enable", m.relay.thumbprint, "--services", "SMTP", "--keep-default"] + m.args)
        let bindings = try #require(fileBytes(m.bindingsFile))

        let refused = try certstore(expecting: 2, ["disable", m.mail.thumbprint] + m.args)
        #expect(refused.stderr.contains("--new-default \(m.relay.thumbprint)"), "the hint names the other SMTP certificate: \(refused)")
        #expect(fileBytes(m.bindingsFile) == bindings)
        try certstore(expecting: 2, ["disable", m.mail.thumbprint, "--services", "SMTP"] + m.args)
        #expect(fileBytes(m.bindingsFile) == bindings)

        let notBound = try certstore(expecting: 2, ["disable", m.mail.thumbprint, "--new-default", m.pki.ca.thumbprint] + m.args)
        #expect(notBound.stderr.contains("not bound to SMTP"), "\(notBound)")
        #expect(fileBytes(m.bindingsFile) == bindings)

        let switched = try certstore(expecting: 0, ["disable", m.mail.thumbprint, "--new-default", m.relay.thumbprint] + m.args)
        #expect(switched.stdout.contains("Default SMTP certificate: \(m.relay.thumbprint) (was \(m.mail.thumbprint))"), "\(switched)")
        #expect(try m.bindings()["defaultSmtpCertificate"] as? String == m.relay.thumbprint)
        #expect(try m.smtp() == [m.relay.thumbprint])

        // The last SMTP certificate may go, with a warning: nothing else could take over.
        let last = try certstore(expecting: 0, ["disable", m.relay.thumbprint] + m.args)
        #expect(last.stderr.contains("SMTP has no certificate now"), "\(last)")
        #expect(try m.bindings()["defaultSmtpCertificate"] is NSNull)
    }
}
