import Foundation
import Testing

/// The whole lifecycle against a real postfix on loopback: a request completed and bound, then renewed through a
/// request the CA (openssl CLI) signs; completing it hands over, the reload hook runs, and postfix serves the
/// renewal — read back by `certstore probe` and by `openssl s_client`. Needs root and Debian's postfix.
@Suite("postfix on loopback: renewal and handover", .serialized)
struct PostfixRenewalTests {
    func sign(_ request: URL, pki: TestPKI, name: String, days: Int) throws -> URL {
        let out = pki.directory.appendingPathComponent("\(name).pem")
        try openssl(["x509", "-req", "-in", request.path, "-CA", pki.ca.pem.path, "-CAkey", try #require(pki.ca.key).path,
                     "-CAcreateserial", "-days", String(days), "-copy_extensions", "copyall", "-out", out.path], in: pki.directory)
        return out
    }

    @Test("request → complete → enable SMTP: postfix serves it; renew → sign → complete: handed over, reloaded, postfix serves the renewal",
          .enabled(if: PostfixTests.available, "needs root and /usr/sbin/postfix (apt-get install postfix)"))
    func renewalReachesPostfix() throws {
        let t = try TestDirectory("pf-renew")
        let pki = try TestPKI(in: t.path("pki"))
        let root = t.rootPath
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root", root])
        let csr = try t.write("mail.csr", certstore(expecting: 0, ["request", "--subject", TestPKI.mailName, "--dns-name", "mail.contoso.com",
                                                                   "--root", root]).stdout)
        let first = try sign(csr, pki: pki, name: "mail-1", days: 30)
        let old = try Fixtures.thumbprint(first, in: t.url)
        try certstore(expecting: 0, ["complete", first.path, "--root", root])
        try certstore(expecting: 0, ["enable", old, "--services", "SMTP", "--root", root])

        let instance = try PostfixTests.Instance(in: t.path("pf"), serviceConfig: "")
        try instance.followStore(root)
        try instance.start()
        let served = try PostfixTests.waitUntilServed(old, port: instance.port, root: root)
        #expect(served.openssl == old, "openssl s_client saw \(served.openssl ?? "nothing")\n\(instance.log())")

        let renewalCSR = try t.write("mail-2.csr", certstore(expecting: 0, ["renew", old, "--root", root]).stdout)
        let second = try sign(renewalCSR, pki: pki, name: "mail-2", days: 90)
        let new = try Fixtures.thumbprint(second, in: t.url)
        let completed = try certstore(expecting: 0, ["complete", second.path, "--root", root])
        #expect(completed.stdout.contains("handed over to \(new)"), "\(completed)")
        #expect(completed.stderr.contains("hook 10-reload-postfix (SMTP): ok"), "\(completed)")
        let renewed = try PostfixTests.waitUntilServed(new, port: instance.port, root: root)
        #expect(renewed.openssl == new, "openssl s_client saw \(renewed.openssl ?? "nothing")\n\(instance.log())")
        #expect(renewed.probe.status == 0, "\(renewed.probe)")
        #expect(renewed.probe.stdout.contains("\"thumbprint\" : \"\(new)\""), "\(renewed.probe)")
    }
}
