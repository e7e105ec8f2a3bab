import Foundation
import Testing

@Suite("export")
struct ExportTests {
    @Test("PEM to a file: openssl reads it and computes the same thumbprint")
    func exportPEMFile() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("exportpem")
        try seedModernPFX(into: t, f)
        let out = t.path("leaf-out.pem")
        try certstore(expecting: 0, ["export", f.leaf.thumbprint.lowercased(), "--out", out.path] + t.rootArgs)
        #expect(try Fixtures.thumbprint(out, in: t.url) == f.leaf.thumbprint)
        let text = try String(contentsOf: out, encoding: .utf8)
        #expect(text.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(!text.contains("PRIVATE KEY"), "a PEM certificate export never carries the key")
    }

    @Test("DER to stdout (--out -): openssl reads the bytes, same thumbprint")
    func exportDERToStdout() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("exportder")
        try seedModernPFX(into: t, f)
        let result = try certstore(expecting: 0, ["export", f.leaf.thumbprint, "--out", "-", "--type", "der"] + t.rootArgs)
        #expect(result.stdoutData.first == 0x30, "DER starts with a SEQUENCE")
        let der = try t.write("stdout.der", result.stdoutData)
        #expect(try Fixtures.thumbprint(der, inform: "DER", in: t.url) == f.leaf.thumbprint)
    }

    @Test("PFX export is refused (exit 2) when the key was not imported --exportable")
    func exportPFXRefusedWhenNotExportable() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("exportrefused")
        try seedModernPFX(into: t, f)
        let out = t.path("refused.pfx")
        let result = try certstore(expecting: 2, ["export", f.leaf.thumbprint, "--out", out.path,
                                                  "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(result.stderr.contains("exportable"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: out.path), "nothing is written when refused")
        // A keyless certificate cannot go to PKCS#12 either.
        try certstore(expecting: 0, ["import", f.expired.certificate.path, "--allow-keyless"] + t.rootArgs)
        try certstore(expecting: 2, ["export", f.expired.thumbprint, "--out", out.path, "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test("after import --exportable: PFX (and --legacy PFX) readable by openssl, mode 0600, with key and chain")
    func exportPFXAfterExportableImport() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("exportpfx")
        try seedModernPFX(into: t, f, extra: ["--exportable"])
        let exportPassword = "Export pw 2"
        let passwordFile = try t.write("export-password.txt", exportPassword + "\n")
        for (name, extra) in [("modern.pfx", [String]()), ("legacy.pfx", ["--legacy"])] {
            let out = t.path(name)
            try certstore(expecting: 0, ["export", f.leaf.thumbprint, "--out", out.path,
                                         "--password-file", passwordFile.path] + extra + t.rootArgs, umask000: true)
            #expect(octal(fileMode(out)) == "0600", "\(name) holds a private key")
            let info = try opensslResult(["pkcs12", "-info", "-noout", "-in", out.path, "-passin", "pass:" + exportPassword], in: t.url)
            #expect(info.status == 0, "\(info)")
            if extra.isEmpty {
                #expect(info.stderr.contains("AES-256-CBC"), "\(info)")
            } else {
                #expect(info.stderr.contains("3DES") || info.stderr.contains("TripleDES"), "\(info)")
            }
            // The key and the whole chain are inside, and the key belongs to the certificate.
            let pem = try openssl(["pkcs12", "-in", out.path, "-passin", "pass:" + exportPassword, "-nodes"], in: t.url)
            #expect(pem.contains("PRIVATE KEY"))
            #expect(pem.components(separatedBy: "BEGIN CERTIFICATE").count - 1 == 2, "leaf + CA")
            let wrong = try opensslResult(["pkcs12", "-info", "-noout", "-in", out.path, "-passin", "pass:wrong"], in: t.url)
            #expect(wrong.status != 0, "the export is really protected by the password")
            // And certstore reads its own export back.
            let back = try TestDirectory("exportback")
            try certstore(expecting: 0, ["import", out.path, "--password-file", passwordFile.path] + back.rootArgs)
            #expect(back.thumbprints(in: "My") == [f.leaf.thumbprint])
            #expect(back.thumbprints(in: "CA") == [f.ca.thumbprint])
        }
    }

    @Test("re-importing the original PFX with --exportable (what the refusal's hint says) allows the export")
    func reimportWithExportable() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("reexportable")
        try seedModernPFX(into: t, f)
        let again = try seedModernPFX(into: t, f, extra: ["--exportable"])
        #expect(again.stdout.contains("Updated"), "re-import with --exportable reports the change: \(again)")
        try certstore(expecting: 0, ["export", f.leaf.thumbprint, "--out", t.path("x.pfx").path,
                                     "--password-file", f.passwordFile.path] + t.rootArgs)
    }

    @Test("an existing --out is not overwritten without --force (exit 2)")
    func exportRefusesOverwrite() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("overwrite")
        try seedModernPFX(into: t, f)
        let out = try t.write("existing.pem", "keep me\n")
        let refused = try certstore(expecting: 2, ["export", f.leaf.thumbprint, "--out", out.path] + t.rootArgs)
        #expect(refused.stderr.contains("--force"), "\(refused)")
        #expect(try String(contentsOf: out, encoding: .utf8) == "keep me\n")
        try certstore(expecting: 0, ["export", f.leaf.thumbprint, "--out", out.path, "--force"] + t.rootArgs)
        #expect(try Fixtures.thumbprint(out, in: t.url) == f.leaf.thumbprint)
    }

    @Test("export of an unknown thumbprint: exit 1, no file")
    func exportUnknown() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("export404")
        try seedModernPFX(into: t, f)
        let out = t.path("none.pem")
        try certstore(expecting: 1, ["export", f.selfSigned.thumbprint, "--out", out.path] + t.rootArgs)
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
