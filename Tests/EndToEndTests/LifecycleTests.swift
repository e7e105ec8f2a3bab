import Foundation
import Testing

/// `request`, `complete` and `request --self-signed`: keys made in the store, requests a CA made with the openssl
/// CLI signs at test time, completion by public key, and self-signed certificates bound through `enable`'s code.
@Suite("Lifecycle: request, complete, self-signed")
struct LifecycleTests {
    static let subject = TestPKI.mailName   // "CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US"

    /// The CA of `pki` signs `request` (PEM or DER), copying the requested extensions, as a CA would.
    func sign(_ request: URL, pki: TestPKI, name: String, inform: String = "PEM") throws -> URL {
        let out = pki.directory.appendingPathComponent("\(name).pem")
        try openssl(["x509", "-req", "-inform", inform, "-in", request.path, "-CA", pki.ca.pem.path, "-CAkey", try #require(pki.ca.key).path,
                     "-CAcreateserial", "-days", "90", "-copy_extensions", "copyall", "-out", out.path], in: pki.directory)
        return out
    }

    func list(_ root: String, store: String = "LocalMachine/My") throws -> [[String: Any]] {
        try parseJSONArray(certstore(expecting: 0, ["list", "--root", root, "--store", store, "--format", "json"]).stdout)
    }

    func mode(_ url: URL) -> mode_t {
        var info = stat()
        return stat(url.path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    @Test("request → openssl verifies it → the CA signs → complete: in My with its key, the request consumed, list/show and openssl agree")
    func requestSignComplete() throws {
        let dir = try TestDirectory("lifecycle")
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        let made = try certstore(expecting: 0, ["request", "--root", root, "--subject", Self.subject,
                                                "--dns-name", "mail.contoso.com", "--dns-name", "autodiscover.contoso.com",
                                                "--friendly-name", "Mail 2025", "--exportable"])
        // The request alone on standard output.
        #expect(made.stdout.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----\n"))
        #expect(made.stdout.hasSuffix("-----END CERTIFICATE REQUEST-----\n"))
        #expect(made.stderr.contains("Pending request"))
        let csr = try dir.write("mail.csr", made.stdout)
        let verified = try opensslResult(["req", "-in", csr.path, "-verify", "-noout", "-text"], in: dir.url)
        #expect(verified.status == 0, "\(verified)")
        #expect((verified.stdout + verified.stderr).contains("verify OK"))
        // Encoded as Windows encodes the typed subject: C first, CN last (openssl prints in encoded order).
        #expect(verified.stdout.contains("Subject: C = US, ST = Washington, L = Redmond, O = Contoso Ltd, CN = mail.contoso.com"), "\(verified.stdout)")
        #expect(verified.stdout.contains("DNS:mail.contoso.com, DNS:autodiscover.contoso.com"))
        #expect(verified.stdout.contains("Public-Key: (2048 bit)"))
        #expect(verified.stdout.contains("TLS Web Server Authentication"))

        let pending = try list(root, store: "LocalMachine/REQUEST")
        try #require(pending.count == 1)
        #expect(pending[0]["subject"] as? String == Self.subject)
        #expect(pending[0]["dnsNameList"] as? [String] == ["mail.contoso.com", "autodiscover.contoso.com"])
        #expect(pending[0]["hasPrivateKey"] as? Bool == true)
        #expect(pending[0]["friendlyName"] as? String == "Mail 2025")
        let requestThumbprint = try #require(pending[0]["thumbprint"] as? String)
        let notBefore = try #require(pending[0]["notBefore"] as? String)
        let table = try certstore(expecting: 0, ["list", "--root", root, "--store", "REQUEST"]).stdout
        for column in ["Thumbprint", "Subject", "DnsNameList", "NotBefore", "HasPrivateKey", requestThumbprint, notBefore, "True"] {
            #expect(table.contains(column), "\(column) missing from:\n\(table)")
        }
        #expect(try list(root).isEmpty)

        // The key: in Keys/, 0600 in a 0700 directory, and the request's public key.
        let keyName = try #require(pending[0]["publicKeySha256"] as? String)
        let keyFile = dir.root.appendingPathComponent("LocalMachine/Keys/\(keyName).key")
        #expect(mode(keyFile) == 0o600)
        #expect(mode(keyFile.deletingLastPathComponent()) == 0o700)
        let keyPublic = try openssl(["pkey", "-in", keyFile.path, "-pubout"])
        #expect(keyPublic == (try openssl(["req", "-in", csr.path, "-noout", "-pubkey"])))

        // The CA signs; its answer is a PKCS#7 with the chain.
        let issued = try sign(csr, pki: pki, name: "mail-issued")
        let p7b = dir.path("mail.p7b")
        try openssl(["crl2pkcs7", "-nocrl", "-certfile", issued.path, "-certfile", pki.ca.pem.path, "-out", p7b.path])
        let issuedThumbprint = try Fixtures.thumbprint(issued, in: dir.url)
        let completed = try parseJSONObject(certstore(expecting: 0, ["complete", "--root", root, p7b.path, "--format", "json"]).stdout)
        let items = try #require(completed["items"] as? [[String: Any]])
        let leaf = try #require(items.first { $0["thumbprint"] as? String == issuedThumbprint })
        #expect(leaf["action"] as? String == "Completed")
        #expect(leaf["store"] as? String == "LocalMachine/My")
        #expect(leaf["hasPrivateKey"] as? Bool == true)
        let caItem = try #require(items.first { $0["thumbprint"] as? String == pki.ca.thumbprint })
        #expect(caItem["store"] as? String == "LocalMachine/CA")
        let consumed = try #require(completed["completedRequests"] as? [[String: Any]])
        #expect(consumed.count == 1)
        #expect(consumed.first?["request"] as? String == requestThumbprint)
        #expect(consumed.first?["certificate"] as? String == issuedThumbprint)

        let my = try list(root)
        try #require(my.count == 1)
        #expect(my[0]["thumbprint"] as? String == issuedThumbprint)
        #expect(my[0]["hasPrivateKey"] as? Bool == true)
        #expect(my[0]["friendlyName"] as? String == "Mail 2025")
        #expect(my[0]["privateKeyExportable"] as? Bool == true)
        #expect(my[0]["subject"] as? String == Self.subject)
        #expect(my[0]["issuer"] as? String == TestPKI.caName)
        #expect(my[0]["publicKeySha256"] as? String == keyName)
        #expect(try list(root, store: "LocalMachine/REQUEST").isEmpty)
        #expect(dir.thumbprints(in: "CA") == [pki.ca.thumbprint])
        // The request is in the trash, its key where the certificate needs it.
        let trash = try certstore(expecting: 0, ["trash", "list", "--root", root]).stdout
        #expect(trash.contains(requestThumbprint) && trash.contains("LocalMachine/REQUEST"))
        #expect(FileManager.default.fileExists(atPath: keyFile.path))

        // show and openssl agree on the certificate; the key in the store is its key.
        let shown = try certstore(expecting: 0, ["show", issuedThumbprint, "--root", root]).stdout
        let serial = try Fixtures.windowsSerial(try openssl(["x509", "-in", issued.path, "-noout", "-serial"]))
        #expect(shown.contains(serial))
        #expect(shown.contains("HasPrivateKey            : True"))
        #expect(try openssl(["x509", "-in", issued.path, "-noout", "-pubkey"]) == keyPublic)
        let exported = dir.path("mail.pfx")
        try certstore(expecting: 0, ["export", issuedThumbprint, "--root", root, "--out", exported.path, "--password-env", "PFXPW"],
                      environment: ["PFXPW": "pw"])
        let pfxKey = try openssl(["pkcs12", "-in", exported.path, "-nocerts", "-nodes", "-passin", "pass:pw"])
        #expect(try openssl(["pkey", "-pubout"], stdin: .text(pfxKey)) == keyPublic)

        // Running it again changes nothing and refuses nothing: the certificate is there with its key.
        let again = try certstore(expecting: 0, ["complete", "--root", root, p7b.path])
        #expect(again.stdout.contains("AlreadyPresent"))
    }

    @Test("--out FILE --der with an EC key: the request file is DER, openssl verifies it; an existing --out is refused and nothing is made")
    func requestFileDER() throws {
        let dir = try TestDirectory("lifecycle-der")
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        let out = dir.path("mail.der")
        let made = try certstore(expecting: 0, ["request", "--root", root, "--subject", "CN=mail.contoso.com", "--dns-name", "mail.contoso.com",
                                                "--key-type", "ec:p384", "--out", out.path, "--der"])
        #expect(made.stdout.contains("Pending request"))
        #expect(made.stdout.contains(out.path))
        let bytes = try Data(contentsOf: out)
        #expect(bytes.first == 0x30)   // DER, not PEM
        let text = try opensslResult(["req", "-inform", "DER", "-in", out.path, "-verify", "-noout", "-text"], in: dir.url)
        #expect(text.status == 0 && (text.stdout + text.stderr).contains("verify OK"), "\(text)")
        #expect(text.stdout.contains("NIST CURVE: P-384"))
        #expect(text.stdout.contains("ecdsa-with-SHA384"))

        let before = try DirectorySnapshot.take(dir.root)
        let refused = try certstore(expecting: 2, ["request", "--root", root, "--subject", "CN=other.contoso.com", "--out", out.path, "--der"])
        #expect(refused.stderr.contains("exists already"))
        #expect(try DirectorySnapshot.take(dir.root) == before)
        #expect(try Data(contentsOf: out) == bytes)

        // The CA signs the DER request; a plain import completes it.
        let issued = try sign(out, pki: pki, name: "mail-ec", inform: "DER")
        let imported = try certstore(expecting: 0, ["import", "--root", root, issued.path, "--friendly-name", "Given at import"])
        #expect(imported.stdout.contains("Completed"))
        #expect(imported.stdout.contains("Completed the pending request"))
        let my = try list(root)
        #expect(my.count == 1)
        #expect(my.first?["hasPrivateKey"] as? Bool == true)
        #expect(my.first?["keyAlgorithm"] as? String == "EC")
        #expect(my.first?["publicKeySize"] as? Int == 384)
        #expect(my.first?["friendlyName"] as? String == "Given at import")
        #expect(my.first?["privateKeyExportable"] as? Bool == false)   // not asked for at request time
        #expect(try list(root, store: "LocalMachine/REQUEST").isEmpty)
    }

    @Test("completion on another server (a store without the request's key) is refused, exit 2, nothing written; so is a chain without a leaf")
    func completeWithoutPendingRequest() throws {
        let dir = try TestDirectory("lifecycle-other")
        let pki = try TestPKI(in: dir.path("pki"))
        let here = dir.path("here").path, other = dir.path("other").path
        let csr = dir.path("mail.csr")
        try certstore(expecting: 0, ["request", "--root", here, "--subject", "CN=mail.contoso.com", "--out", csr.path])
        try certstore(expecting: 0, ["request", "--root", other, "--subject", "CN=other.contoso.com", "--out", dir.path("other.csr").path])
        let issued = try sign(csr, pki: pki, name: "mail")
        let before = try DirectorySnapshot.take(URL(fileURLWithPath: other))
        let refused = try certstore(expecting: 2, ["complete", "--root", other, issued.path, pki.ca.pem.path])
        #expect(refused.stderr.contains("no pending request in LocalMachine/REQUEST has the key of CN=mail.contoso.com"))
        #expect(refused.stderr.contains("KB 4495258"))
        #expect(refused.stderr.contains("PKCS#12"))
        #expect(refused.stderr.contains("the machine that made the request"))
        #expect(try DirectorySnapshot.take(URL(fileURLWithPath: other)) == before)

        let onlyCA = try certstore(expecting: 2, ["complete", "--root", here, pki.ca.pem.path])
        #expect(onlyCA.stderr.contains("nothing to complete"))
        let garbage = try dir.write("garbage.cer", "not a certificate")
        try certstore(expecting: 65, ["complete", "--root", here, garbage.path])
        let intoRequest = try certstore(expecting: 64, ["import", "--root", here, "--store", "LocalMachine/REQUEST", issued.path])
        #expect(intoRequest.stderr.contains("pending requests"))
        try certstore(expecting: 64, ["complete", "--root", here, "--store", "LocalMachine/CA", issued.path])
        // Where the key is, the same files complete it.
        try certstore(expecting: 0, ["complete", "--root", here, issued.path, pki.ca.pem.path])
        #expect(try list(here).first?["hasPrivateKey"] as? Bool == true)
    }

    @Test("a pending request is cancelled like any removal: its key goes into the trash with it without --delete-key, and restore brings both back")
    func cancelAndRestore() throws {
        let dir = try TestDirectory("lifecycle-cancel")
        let root = dir.rootPath
        try certstore(expecting: 0, ["request", "--root", root, "--subject", "CN=cancel.contoso.com", "--out", dir.path("c.csr").path])
        let pending = try list(root, store: "REQUEST")
        let thumbprint = try #require(pending.first?["thumbprint"] as? String)
        let key = dir.root.appendingPathComponent("LocalMachine/Keys/\(try #require(pending.first?["publicKeySha256"] as? String)).key")
        let keyBytes = try Data(contentsOf: key)
        let dryRun = try certstore(expecting: 0, ["remove", thumbprint, "--root", root, "--store", "REQUEST", "--dry-run"])
        #expect(dryRun.stdout.contains("Would remove \(thumbprint)") && dryRun.stdout.contains("and its private key."), "\(dryRun)")
        #expect(FileManager.default.fileExists(atPath: key.path))
        let removed = try certstore(expecting: 0, ["remove", thumbprint, "--root", root, "--store", "LocalMachine/REQUEST"])
        #expect(removed.stdout.contains("from LocalMachine/REQUEST and its private key."), "\(removed)")
        #expect(try list(root, store: "REQUEST").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: key.path))
        // The key is in the trash entry, not left behind as an orphan.
        let trash = try certstore(expecting: 0, ["trash", "list", "--root", root, "--format", "json"])
        let entries = try parseJSONArray(trash.stdout)
        #expect(entries.count == 1 && entries.first?["thumbprint"] as? String == thumbprint && entries.first?["keyInTrash"] as? Bool == true, "\(trash)")
        let audit = try certstore(["audit", "--root", root, "--format", "json"])
        #expect(!audit.stdout.contains("orphan-key"), "\(audit)")
        // Removing it again: not found, exit 1.
        try certstore(expecting: 1, ["remove", thumbprint, "--root", root, "--store", "REQUEST"])
        try certstore(expecting: 0, ["restore", thumbprint, "--root", root])
        let restored = try list(root, store: "REQUEST")
        #expect(restored.first?["thumbprint"] as? String == thumbprint)
        #expect(restored.first?["hasPrivateKey"] as? Bool == true)
        #expect(try Data(contentsOf: key) == keyBytes)
        #expect(mode(key) == 0o600)
    }

    @Test("cancelling a renewal request made with --reuse-key keeps the key the certificate in My still uses; --delete-key is refused (exit 2)")
    func cancelSharedKeyRequest() throws {
        let dir = try TestDirectory("lifecycle-cancel-shared")
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        let issued = try pki.issue("mail", subject: "/O=Contoso Ltd/CN=mail.contoso.com", dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--root", root])
        try certstore(expecting: 0, ["import", try pki.withKey(issued).path, "--root", root])
        try certstore(expecting: 0, ["renew", issued.thumbprint, "--reuse-key", "--out", dir.path("renew.csr").path, "--root", root])
        let request = try #require(try list(root, store: "REQUEST").first)
        let thumbprint = try #require(request["thumbprint"] as? String)
        let key = dir.root.appendingPathComponent("LocalMachine/Keys/\(try #require(request["publicKeySha256"] as? String)).key")
        #expect(try list(root).first?["publicKeySha256"] as? String == request["publicKeySha256"] as? String, "the same key")
        let refused = try certstore(expecting: 2, ["remove", thumbprint, "--store", "REQUEST", "--delete-key", "--root", root])
        #expect(refused.stderr.contains("also the key of \(issued.thumbprint)"), "\(refused)")
        let removed = try certstore(expecting: 0, ["remove", thumbprint, "--store", "REQUEST", "--root", root])
        #expect(removed.stdout.contains("its private key stays"), "\(removed)")
        #expect(FileManager.default.fileExists(atPath: key.path))
        #expect(try list(root).first?["hasPrivateKey"] as? Bool == true)
        #expect(try list(root, store: "REQUEST").isEmpty)
    }

    @Test("no keyless end-entity certificate enters My by accident: import and complete refuse it (exit 2, the KB explanation), CA certificates pass, --allow-keyless imports it and audit reports it")
    func keylessRefusedUnlessAllowed() throws {
        let dir = try TestDirectory("lifecycle-keyless")
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        let issued = try pki.issue("mail", subject: "/O=Contoso Ltd/CN=mail.contoso.com", dnsNames: ["mail.contoso.com"])
        // CA certificates are not affected: the CA goes to CA (and a store exists from here on).
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--root", root])
        #expect(dir.thumbprints(in: "CA") == [pki.ca.thumbprint])
        let before = try DirectorySnapshot.take(dir.root)
        let refused = try certstore(expecting: 2, ["import", try pki.cer(issued).path, "--root", root])
        #expect(refused.stderr.contains("is an end-entity certificate for which this store has no private key"), "\(refused)")
        #expect(refused.stderr.contains("KB 4495258"))
        #expect(refused.stderr.contains("The key is on the machine that made the certificate's request"))
        #expect(refused.stderr.contains("PKCS#12") && refused.stderr.contains("--allow-keyless"))
        #expect(refused.stderr.contains("nothing was imported"))
        #expect(try DirectorySnapshot.take(dir.root) == before)
        // The same through complete (no pending request): refused, nothing written.
        try certstore(expecting: 2, ["complete", issued.pem.path, "--root", root])
        #expect(try DirectorySnapshot.take(dir.root) == before)
        // Explicit imports into Root or CA are not affected.
        try certstore(expecting: 0, ["import", issued.pem.path, "--store", "LocalMachine/CA", "--root", root])
        // With its key in the same call it is not keyless.
        let other = dir.path("other").path
        try certstore(expecting: 0, ["import", issued.pem.path, try #require(issued.key).path, "--root", other])
        #expect(try list(other).first?["hasPrivateKey"] as? Bool == true)

        // --allow-keyless: imported without its key, said on stderr, reported by audit.
        let allowed = try certstore(expecting: 0, ["import", issued.pem.path, "--allow-keyless", "--root", root])
        #expect(allowed.stderr.contains("warning:") && allowed.stderr.contains("no private key in this store"), "\(allowed)")
        #expect(try list(root).first?["hasPrivateKey"] as? Bool == false)
        // Audit: CRITICAL, as the certificate KB 4495258 is about (not the WARNING of a keyless leftover).
        let audit = try certstore(["audit", "--root", root, "--format", "json"])
        #expect(audit.status == 2, "\(audit)")
        let finding = try #require(Self.findings(audit).first { $0["check"] as? String == "keyless-imported" }, "\(audit)")
        #expect(finding["severity"] as? String == "CRITICAL" && finding["object"] as? String == issued.thumbprint)
        let detail = finding["detail"] as? String ?? ""
        #expect(detail.contains("KB 4495258") && detail.contains("NoCredentials") && detail.contains("PKCS#12") && detail.contains("the machine that made"), "\(detail)")
        #expect(detail.contains("from \(issued.pem.lastPathComponent)"), "\(detail)")
        #expect(!Self.findings(audit).contains { $0["check"] as? String == "keyless-unused" })
        // Its fix works pasted and leaves the audit OK; restore brings it back, still reported.
        let plan = try OperationTests.followPlan(["--root", root])
        #expect(plan.plan.count == 1 && plan.plan.first?.hasSuffix(" remove \(issued.thumbprint)") == true, "\(plan.plan)")
        #expect(plan.after["status"] as? String == "OK", "\(plan.after)")
        let trashID = try #require(try parseJSONArray(certstore(expecting: 0, ["trash", "list", "--root", root, "--format", "json"]).stdout).first?["id"] as? String)
        try certstore(expecting: 0, ["restore", trashID, "--root", root])
        #expect(try certstore(["audit", "--root", root, "--format", "json"]).status == 2)
        // Once its key is imported it is an ordinary certificate with a key: nothing to report about it.
        try certstore(expecting: 0, ["import", try #require(issued.key).path, "--root", root])
        let paired = try certstore(["audit", "--root", root, "--format", "json"])
        #expect(!paired.stdout.contains("keyless-imported"), "\(paired)")

        // complete --allow-keyless on "another server" does the same.
        let third = dir.path("third").path
        try certstore(expecting: 0, ["request", "--root", third, "--subject", "CN=other.contoso.com", "--out", dir.path("x.csr").path])
        let completed = try certstore(expecting: 0, ["complete", issued.pem.path, "--allow-keyless", "--root", third])
        #expect(completed.stderr.contains("no private key in this store"))
        #expect(try list(third).first?["hasPrivateKey"] as? Bool == false)
        let thirdAudit = try certstore(["audit", "--root", third, "--format", "json"])
        #expect(thirdAudit.status == 2 && Self.findings(thirdAudit).contains { $0["check"] as? String == "keyless-imported" }, "\(thirdAudit)")
    }

    static func findings(_ audit: CommandResult) -> [[String: Any]] {
        ((try? parseJSONObject(audit.stdout))?["findings"] as? [[String: Any]]) ?? []
    }

    @Test("audit: a pending request is listed as checked while young; from --stale-request-days (30 by default) it is a WARNING whose fix cancels it when pasted, key into the trash")
    func staleRequest() throws {
        let dir = try TestDirectory("lifecycle-stale")
        let root = dir.rootPath
        try certstore(expecting: 0, ["request", "--root", root, "--subject", "CN=stale.contoso.com", "--dns-name", "stale.contoso.com", "--out", dir.path("s.csr").path])
        let thumbprint = try #require(try list(root, store: "REQUEST").first?["thumbprint"] as? String)
        // Made just now: within the default 30 days.
        let fresh = try certstore(expecting: 0, ["audit", "--root", root, "--format", "json", "--verbose"])
        let pending = try #require(Self.findings(fresh).first { $0["check"] as? String == "request-pending" }, "\(fresh)")
        #expect(pending["severity"] as? String == "OK" && pending["object"] as? String == thumbprint)
        #expect(!fresh.stdout.contains("request-stale"))
        // Stale from 0 days on.
        let stale = try certstore(expecting: 1, ["audit", "--root", root, "--format", "json", "--stale-request-days", "0"])
        let finding = try #require(Self.findings(stale).first { $0["check"] as? String == "request-stale" }, "\(stale)")
        #expect(finding["severity"] as? String == "WARNING" && finding["object"] as? String == thumbprint)
        #expect((finding["detail"] as? String ?? "").contains("stale.contoso.com"))
        let plan = try OperationTests.followPlan(["--root", root, "--stale-request-days", "0"])
        #expect(plan.plan.count == 1 && plan.plan.first?.hasSuffix(" remove \(thumbprint) --store LocalMachine/REQUEST") == true, "\(plan.plan)")
        #expect(plan.after["status"] as? String == "OK", "\(plan.after)")
        #expect(try list(root, store: "REQUEST").isEmpty)
        // A negative threshold is UNKNOWN (3), as the other thresholds.
        let bad = try certstore(expecting: 3, ["audit", "--root", root, "--stale-request-days=-1"])
        #expect(bad.stderr.contains("--stale-request-days"), "\(bad)")
    }

    @Test("bad input is a usage error (64) and creates no store", arguments: [
        (["--key-type", "rsa:1024"], "unknown key type"),
        (["--key-type", "ed25519"], "unknown key type"),
        (["--subject", "O=Contoso, C=US"], "has no CN="),
        (["--subject", "CN=a, X=b"], "unknown attribute name"),
        (["--subject", "CN=\"open"], "no closing"),
        (["--subject", "CN=a, C=USA"], "two-letter country code"),
        (["--subject", ""], "it is empty"),
        (["--dns-name", "bad name"], "is not a DNS name"),
        (["--dns-name", "zürich.example"], "xn--"),
        (["--friendly-name", String(repeating: "x", count: 64)], "under 64"),
        (["--der"], "--der needs --out"),
        (["--services", "SMTP"], "go with --self-signed"),
        (["--self-signed", "--out", "x.csr"], "a self-signed certificate goes into the store"),
        (["--self-signed", "--services", "FTP"], "FTP"),
        (["--store", "LocalMachine/CA"], "not LocalMachine/CA"),
        (["--self-signed", "--overwrite-default", "--keep-default"], "exclude each other"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let dir = try TestDirectory("lifecycle-usage")
        let result = try certstore(expecting: 64, ["request", "--root", dir.rootPath, "--subject", "CN=mail.contoso.com"] + arguments,
                                   currentDirectory: dir.url)
        #expect(result.stderr.contains(message), "\(result)")
        #expect(!result.stderr.contains("creating a new store"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: dir.root.appendingPathComponent("LocalMachine/Keys").path))
        #expect(!FileManager.default.fileExists(atPath: dir.root.appendingPathComponent("LocalMachine/REQUEST").path))
    }

    @Test("--self-signed without names: Exchange's defaults (CN=<host name>, DNS host name), straight into My with its key")
    func selfSignedDefaults() throws {
        let dir = try TestDirectory("lifecycle-selfsigned")
        let root = dir.rootPath
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let host = String(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: ".").first ?? "")
        try certstore(expecting: 0, ["request", "--root", root, "--self-signed"])
        let my = try list(root)
        try #require(my.count == 1)
        #expect(my[0]["subject"] as? String == "CN=\(host)")
        #expect(my[0]["issuer"] as? String == "CN=\(host)")
        #expect((my[0]["dnsNameList"] as? [String])?.first == host)
        #expect(my[0]["hasPrivateKey"] as? Bool == true)
        #expect(my[0]["isSelfSigned"] as? Bool == true)
        #expect(my[0]["keyAlgorithm"] as? String == "RSA")
        #expect(my[0]["publicKeySize"] as? Int == 2048)
        #expect(my[0]["privateKeyExportable"] as? Bool == false)
        #expect(try list(root, store: "LocalMachine/REQUEST").isEmpty)
        let notAfter = try #require((my[0]["notAfter"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
        #expect(abs(notAfter.timeIntervalSinceNow - 5 * 365 * 86_400) < 3_600)
        // openssl accepts it as a self-signed TLS server certificate.
        let thumbprint = try #require(my[0]["thumbprint"] as? String)
        let pem = dir.path("self.pem")
        try openssl(["x509", "-inform", "DER", "-in", dir.storeDirectory("My").appendingPathComponent("\(thumbprint).cer").path, "-out", pem.path])
        let verified = try opensslResult(["verify", "-purpose", "sslserver", "-CAfile", pem.path, pem.path], in: dir.url)
        #expect(verified.status == 0, "\(verified)")
        // Exchange's view lists it: a usable key.
        let exchange = try certstore(expecting: 0, ["list", "--root", root, "--view", "exchange"]).stdout
        #expect(exchange.contains(thumbprint))
    }

    @Test("--self-signed --services SMTP asks the default-SMTP question exactly as enable does: No keeps, Yes replaces, no answer changes nothing")
    func selfSignedServices() throws {
        let dir = try TestDirectory("lifecycle-services")
        let root = dir.rootPath
        func bindings() throws -> [String: Any] { try parseJSONObject(certstore(expecting: 0, ["bindings", "--root", root, "--format", "json"]).stdout) }
        func created(_ result: CommandResult) throws -> String {
            let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("Created the self-signed certificate ") })
            return String(line.split(separator: " ")[4])
        }
        // The first SMTP certificate becomes the default without a question; its files are deployed at once.
        let first = try certstore(expecting: 0, ["request", "--root", root, "--self-signed", "--subject", "CN=mail.contoso.com",
                                                 "--dns-name", "mail.contoso.com", "--services", "SMTP,IMAP"])
        let a = try created(first)
        #expect(!first.stderr.contains("Overwrite"))
        #expect(first.stdout.contains("Enabled SMTP, IMAP on \(a)."))
        #expect(try bindings()["defaultSmtpCertificate"] as? String == a)
        let deployed = dir.root.appendingPathComponent("LocalMachine/Services/SMTP/current/thumbprint")
        #expect((try? String(contentsOf: deployed, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == a)

        // No: bound, the default kept.
        let no = try certstore(expecting: 0, ["request", "--root", root, "--self-signed", "--subject", "CN=smtp.contoso.com",
                                              "--dns-name", "smtp.contoso.com", "--key-type", "ec:p256", "--services", "SMTP"], stdin: .text("N\n"))
        let b = try created(no)
        // The question enable asks, word for word.
        #expect(no.stderr.contains("Confirm\nOverwrite the existing default SMTP certificate?\n\nCurrent certificate: '\(a)'"))
        #expect(no.stderr.contains("Replace it with certificate: '\(b)'"))
        #expect(no.stdout.contains("Default SMTP certificate: \(a) (unchanged)"))
        var smtp = try #require((try bindings()["services"] as? [String: Any])?["SMTP"] as? [[String: Any]])
        #expect(Set(smtp.compactMap { $0["thumbprint"] as? String }) == [a, b])
        #expect(try bindings()["defaultSmtpCertificate"] as? String == a)

        // Yes: the new one is the default.
        let yes = try certstore(expecting: 0, ["request", "--root", root, "--self-signed", "--subject", "CN=smtp2.contoso.com",
                                               "--dns-name", "smtp2.contoso.com", "--services", "SMTP"], stdin: .text("Y\n"))
        let c = try created(yes)
        #expect(yes.stdout.contains("Default SMTP certificate: \(c) (was \(a))"))
        #expect(try bindings()["defaultSmtpCertificate"] as? String == c)
        smtp = try #require((try bindings()["services"] as? [String: Any])?["SMTP"] as? [[String: Any]])
        #expect(smtp.count == 3)

        // No answer: nothing is written (no certificate, no key).
        let before = try DirectorySnapshot.take(dir.root)
        let unanswered = try certstore(expecting: 64, ["request", "--root", root, "--self-signed", "--subject", "CN=smtp3.contoso.com",
                                                       "--services", "SMTP"])
        #expect(unanswered.stderr.contains("no answer"))
        #expect(try DirectorySnapshot.take(dir.root) == before)
        // --keep-default answers No without asking.
        let kept = try certstore(expecting: 0, ["request", "--root", root, "--self-signed", "--subject", "CN=smtp4.contoso.com",
                                                "--services", "SMTP", "--keep-default", "--format", "json"])
        let object = try parseJSONObject(kept.stdout)
        #expect((object["binding"] as? [String: Any])?["defaultSmtpCertificate"] as? String == c)
        #expect(!kept.stderr.contains("Overwrite"))
    }
}
