import Foundation
import Testing
@testable import CertStore

/// `TLSServerCheck` asks OpenSSL itself: each certificate here is one Exchange's checks accept but a TLS server
/// at the given security level refuses (or serves), made with the openssl command line.
@Suite("TLS usability judged by OpenSSL")
struct TLSServerCheckTests {
    struct PKI: Sendable {
        let directory: URL
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func certificate(_ name: String) throws -> Certificate {
            try Certificate(der: Fixtures.derOfFirstPEMBlock([UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))))
        }
        func key(_ name: String) throws -> PrivateKey {
            try PrivateKey(bytes: [UInt8](try Data(contentsOf: directory.appendingPathComponent(name))), password: nil)
        }
    }

    private static let shared: Result<PKI, any Error> = Result { try makePKI() }
    static func pki() throws -> PKI { try shared.get() }

    static let config = """
        [req]
        distinguished_name = dn
        [dn]
        [ca_ext]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign
        [server_ext]
        basicConstraints = CA:FALSE
        keyUsage = critical,digitalSignature,keyEncipherment
        extendedKeyUsage = serverAuth
        subjectAltName = DNS:mail.contoso.com
        [nonrepudiation_ext]
        basicConstraints = CA:FALSE
        keyUsage = critical,nonRepudiation
        extendedKeyUsage = serverAuth
        subjectAltName = DNS:mail.contoso.com

        """

    private static func makePKI() throws -> PKI {
        let directory = try Scratch.makeDirectory("tls-usability")
        let pki = PKI(directory: directory)
        let p = pki.path
        try Data(config.utf8).write(to: directory.appendingPathComponent("openssl.cnf"))
        func openssl(_ arguments: String...) throws { _ = try Fixtures.openssl(arguments, config: p("openssl.cnf")) }
        func rsa(_ bits: Int, _ name: String) throws {
            try openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)", "-out", p(name))
        }
        func issue(_ name: String, key: String, by ca: String, caKey: String, digest: String = "-sha256",
                   extensions: String = "server_ext", subject: String = "/CN=mail.contoso.com") throws {
            try openssl("req", "-new", "-key", p(key), "-subj", subject, "-out", p("\(name).csr"))
            try openssl("x509", "-req", "-in", p("\(name).csr"), "-CA", p(ca), "-CAkey", p(caKey), digest, "-days", "30",
                        "-extfile", p("openssl.cnf"), "-extensions", extensions, "-out", p(name))
        }
        try rsa(2048, "root.key")
        try openssl("req", "-x509", "-new", "-key", p("root.key"), "-subj", "/CN=Test Root", "-days", "30",
                    "-extensions", "ca_ext", "-out", p("root.pem"))
        try rsa(2048, "good.key")
        try issue("good.pem", key: "good.key", by: "root.pem", caKey: "root.key")
        // Exchange accepts RSA ≥ 1024; Debian's OpenSSL (level 2) refuses it: "ee key too small".
        try rsa(1024, "small.key")
        try issue("small.pem", key: "small.key", by: "root.pem", caKey: "root.key")
        // A SHA-1 signature on the certificate: "ca md too weak" at level ≥ 1 in OpenSSL 3.
        try issue("sha1.pem", key: "good.key", by: "root.pem", caKey: "root.key", digest: "-sha1")
        // nonRepudiation only passes Exchange's "signing" check, but no TLS cipher suite can use the key.
        try issue("nonrepudiation.pem", key: "good.key", by: "root.pem", caKey: "root.key", extensions: "nonrepudiation_ext")
        // An intermediate signed with SHA-1: the chain file is what the daemon refuses.
        try rsa(2048, "inter.key")
        try issue("inter-sha1.pem", key: "inter.key", by: "root.pem", caKey: "root.key", digest: "-sha1",
                  extensions: "ca_ext", subject: "/CN=Weak Intermediate")
        try issue("under-weak.pem", key: "good.key", by: "inter-sha1.pem", caKey: "inter.key")
        try openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p("ec.key"))
        try issue("ec.pem", key: "ec.key", by: "root.pem", caKey: "root.key")
        return pki
    }

    @Test func aSoundCertificateIsUsableAndTheLevelIsReported() throws {
        let pki = try Self.pki()
        for (certificate, key) in [("good.pem", "good.key"), ("ec.pem", "ec.key")] {
            let verdict = TLSServerCheck.evaluate(certificate: try pki.certificate(certificate), key: try pki.key(key), chain: [], securityLevel: 2)
            #expect(verdict.isUsable, "\(certificate): \(verdict.problem ?? "")")
            #expect(verdict.securityLevel == 2)
        }
        let system = TLSServerCheck.evaluate(certificate: try pki.certificate("good.pem"), key: try pki.key("good.key"), chain: [])
        #expect(system.securityLevel == TLSServerCheck.systemSecurityLevel)
    }

    @Test func aSmallRSAKeyIsRefusedAtLevelTwoAndServedAtLevelOne() throws {
        let pki = try Self.pki()
        let certificate = try pki.certificate("small.pem")
        let key = try pki.key("small.key")
        let refused = TLSServerCheck.evaluate(certificate: certificate, key: key, chain: [], securityLevel: 2)
        #expect(!refused.isUsable)
        #expect(refused.problem?.contains("RSA 1024-bit key gives 80 bits of security; security level 2 needs 112") == true, "\(refused.problem ?? "")")
        #expect(refused.detail?.contains("ee key too small") == true, "\(refused.detail ?? "")")
        #expect(TLSServerCheck.evaluate(certificate: certificate, key: key, chain: [], securityLevel: 1).isUsable)
    }

    @Test func aSHA1SignatureIsTooWeak() throws {
        let pki = try Self.pki()
        let verdict = TLSServerCheck.evaluate(certificate: try pki.certificate("sha1.pem"), key: try pki.key("good.key"), chain: [], securityLevel: 2)
        #expect(verdict.problem?.contains("signed with sha1RSA, too weak for security level 2") == true, "\(verdict.problem ?? "")")
        #expect(verdict.detail?.contains("ca md too weak") == true)
        #expect(TLSServerCheck.evaluate(certificate: try pki.certificate("sha1.pem"), key: try pki.key("good.key"), chain: [], securityLevel: 0).isUsable)
    }

    @Test func aWeakChainCertificateIsNamed() throws {
        let pki = try Self.pki()
        let verdict = TLSServerCheck.evaluate(certificate: try pki.certificate("under-weak.pem"), key: try pki.key("good.key"),
                                              chain: [try pki.certificate("inter-sha1.pem")], securityLevel: 2)
        #expect(verdict.problem?.contains("the chain certificate Weak Intermediate is signed with sha1RSA") == true, "\(verdict.problem ?? "")")
        // Without the chain the leaf itself is fine.
        #expect(TLSServerCheck.evaluate(certificate: try pki.certificate("under-weak.pem"), key: try pki.key("good.key"), chain: [], securityLevel: 2).isUsable)
    }

    @Test func aKeyUsageThatRulesOutATLSServerIsRefused() throws {
        let pki = try Self.pki()
        let certificate = try pki.certificate("nonrepudiation.pem")
        // What Exchange's SigningNotSupported check reads: nonRepudiation satisfies it.
        #expect(certificate.properties().keyUsage?.contains(.nonRepudiation) == true)
        #expect(certificate.properties().keyUsage?.contains(.digitalSignature) == false)
        let verdict = TLSServerCheck.evaluate(certificate: certificate, key: try pki.key("good.key"), chain: [], securityLevel: 2)
        #expect(!verdict.isUsable)
        #expect(verdict.problem?.contains("does not allow a TLS server") == true, "\(verdict.problem ?? "")")
    }

    @Test func aKeyOfAnotherCertificateIsRefused() throws {
        let pki = try Self.pki()
        let verdict = TLSServerCheck.evaluate(certificate: try pki.certificate("good.pem"), key: try pki.key("ec.key"), chain: [], securityLevel: 2)
        #expect(verdict.problem == "the private key does not belong to the certificate")
    }
}
