import Foundation
import Testing
@testable import CertStore

/// A per-process scratch area under the system temporary directory, removed when the test process exits.
///
/// Every test that writes anything gets its own fresh directory from `makeDirectory`, so tests can run
/// in parallel without seeing each other's files.
enum Scratch {
    static let root: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("certstore-unit-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        chmod(url.path, 0o755)
        atexit { try? FileManager.default.removeItem(at: Scratch.root) }
        return url
    }()

    /// A new, empty directory that no other test uses.
    static func makeDirectory(_ label: String = "test") throws -> URL {
        let url = root.appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        // One suite sets the process umask to 000 for a moment: never let that make a store root writable by
        // others (certstore refuses such a store).
        chmod(url.path, 0o755)
        return url
    }
}

struct ToolFailure: Error, CustomStringConvertible {
    let command: String
    let status: Int32
    let stderr: String
    var description: String { "`\(command)` exited with \(status): \(stderr)" }
}

struct ToolOutput {
    let stdout: String
    let stderr: String
}

/// Runs `executable` with `arguments`, returning its output; a non-zero exit is an error carrying standard
/// error. Through the library's ChildProcess (posix_spawn), never Foundation.Process (see ChildProcess.swift).
@discardableResult
func runTool(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ToolOutput {
    let result = try ChildProcess(executable: executable, arguments: arguments, environment: environment).wait(timeout: 300)
    let stdout = String(decoding: result.standardOutput, as: UTF8.self)
    let stderr = String(decoding: result.standardError, as: UTF8.self)
    guard result.termination == .exited(0) else {
        throw ToolFailure(command: ([executable] + arguments).joined(separator: " "),
                          status: result.termination.shellStatus ?? -1, stderr: stderr)
    }
    return ToolOutput(stdout: stdout, stderr: stderr)
}

/// Certificates, keys and containers made with the `openssl` command line once per test process, in a
/// private directory, with a private `openssl.cnf` so the system configuration cannot change them.
///
/// Keys are EC P-256 except one RSA-2048 key (the RSA-specific tests need it).
struct Fixtures: Sendable {
    static let opensslPath = "/usr/bin/openssl"
    /// Password of every PKCS#12 file below unless its description says otherwise.
    static let pfxPassword = "Passw0rd!"
    /// Password of the encrypted key files.
    static let keyPassword = "secret"
    static let unicodePassword = "Pässwörd"
    static let leafSubject = "/C=US/ST=Washington/L=Redmond/O=Contoso, Ltd/OU=IT/CN=mail.contoso.com"

    let directory: URL

    private static let shared: Result<Fixtures, any Error> = Result { try Fixtures(generatingIn: Scratch.makeDirectory("fixtures")) }

    /// The shared fixtures (generated on first use, exactly once, thread-safely).
    static func get() throws -> Fixtures { try shared.get() }

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
    func path(_ name: String) -> String { url(name).path }
    func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }
    func text(_ name: String) throws -> String { String(decoding: try bytes(name), as: UTF8.self) }
    func certificate(_ name: String) throws -> Certificate {
        try Certificate(der: try Self.derOfFirstPEMBlock(try bytes(name)))
    }
    func key(_ name: String, password: String? = nil) throws -> PrivateKey {
        try PrivateKey(bytes: try bytes(name), password: password.map(Password.init))
    }

    /// Runs the openssl command line with the fixtures' configuration; returns standard output.
    @discardableResult
    func openssl(_ arguments: String...) throws -> String { try openssl(arguments) }

    @discardableResult
    func openssl(_ arguments: [String]) throws -> String { try Self.openssl(arguments, config: path("openssl.cnf")).stdout }

    /// `openssl pkcs12 -info` and friends report on standard error: both streams, stdout first.
    func opensslAllOutput(_ arguments: String...) throws -> String {
        let output = try Self.openssl(arguments, config: path("openssl.cnf"))
        return output.stdout + output.stderr
    }

    @discardableResult
    static func openssl(_ arguments: [String], config: String) throws -> ToolOutput {
        var environment = ProcessInfo.processInfo.environment
        environment["OPENSSL_CONF"] = config
        return try runTool(opensslPath, arguments, environment: environment)
    }

    /// `openssl x509 -fingerprint` of a PEM certificate, as 40 (SHA-1) or 64 (SHA-256) uppercase hex digits.
    func fingerprint(_ name: String, digest: String = "-sha1") throws -> String {
        let output = try openssl("x509", "-in", path(name), "-noout", "-fingerprint", digest)
        let value = output.split(separator: "=", maxSplits: 1).last.map(String.init) ?? ""
        return value.replacingOccurrences(of: ":", with: "").trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
    }

    /// SHA-256 of the SubjectPublicKeyInfo DER, computed by the openssl command line.
    func publicKeySHA256(ofKey name: String) throws -> String {
        let pub = try Scratch.makeDirectory("pub").appendingPathComponent("pub.der")
        try openssl("pkey", "-in", path(name), "-pubout", "-outform", "DER", "-out", pub.path)
        let output = try openssl("dgst", "-sha256", "-r", pub.path)
        return String(output.prefix(while: { !$0.isWhitespace })).uppercased()
    }

    static func derOfFirstPEMBlock(_ bytes: [UInt8]) throws -> [UInt8] {
        let block = try #require(PEMBlock.all(in: bytes).first)
        return block.der
    }

    // MARK: generation

    static let config = """
        [req]
        distinguished_name = dn
        [dn]
        [ca_ext]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign
        subjectKeyIdentifier = hash
        [leaf_ext]
        basicConstraints = CA:FALSE
        keyUsage = critical,digitalSignature,keyEncipherment
        extendedKeyUsage = serverAuth,clientAuth
        subjectAltName = DNS:mail.contoso.com,DNS:autodiscover.contoso.com,IP:192.0.2.1,email:admin@contoso.com
        authorityKeyIdentifier = keyid
        subjectKeyIdentifier = hash
        [plain_ext]
        basicConstraints = CA:FALSE
        [client_ext]
        basicConstraints = CA:FALSE
        extendedKeyUsage = clientAuth
        [names_ext]
        basicConstraints = CA:FALSE
        subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@contoso.com,URI:https://contoso.com/,IP:2001:db8::1,DNS:web01.contoso.com

        """

    private init(generatingIn directory: URL) throws {
        self.directory = directory
        try Data(Self.config.utf8).write(to: directory.appendingPathComponent("openssl.cnf"))
        let p = path
        let pass = "pass:\(Self.pfxPassword)"
        let ecKey = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]

        // A CA (self-signed, EC) and a leaf it issues (the Exchange-style subject, SANs, EKU, key usage).
        try openssl(ecKey + [p("ca.key")])
        try openssl("req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/O=Contoso/CN=Contoso Test Root",
                    "-days", "3650", "-extensions", "ca_ext", "-set_serial", "0x9A", "-out", p("ca.pem"))
        try openssl(ecKey + [p("leaf.key")])
        try openssl("req", "-new", "-key", p("leaf.key"), "-subj", Self.leafSubject, "-out", p("leaf.csr"))
        try openssl("x509", "-req", "-in", p("leaf.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                    "-set_serial", "0x0A1B2C3D4E5F", "-days", "365", "-extfile", p("openssl.cnf"),
                    "-extensions", "leaf_ext", "-out", p("leaf.pem"))
        try openssl("x509", "-in", p("leaf.pem"), "-outform", "DER", "-out", p("leaf.der"))
        // A client-authentication-only certificate from the same CA, for the same key.
        try openssl("x509", "-req", "-in", p("leaf.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                    "-set_serial", "0x0C", "-days", "30", "-extfile", p("openssl.cnf"),
                    "-extensions", "client_ext", "-out", p("client.pem"))
        // The same key, certified again (a renewal): another certificate, the same public key.
        try openssl("x509", "-req", "-in", p("leaf.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                    "-set_serial", "0x0A1B2C3D4E60", "-days", "730", "-extfile", p("openssl.cnf"),
                    "-extensions", "leaf_ext", "-out", p("leaf-renewed.pem"))
        // The leaf key in every form.
        try openssl("pkey", "-in", p("leaf.key"), "-outform", "DER", "-out", p("leaf.key.der"))
        try openssl("ec", "-in", p("leaf.key"), "-out", p("leaf-sec1.pem"))
        try openssl("ec", "-in", p("leaf.key"), "-outform", "DER", "-out", p("leaf-sec1.der"))
        try openssl("pkcs8", "-topk8", "-in", p("leaf.key"), "-passout", "pass:\(Self.keyPassword)", "-out", p("leaf-enc.pem"))
        try openssl("pkcs8", "-topk8", "-in", p("leaf.key"), "-passout", "pass:\(Self.keyPassword)",
                    "-outform", "DER", "-out", p("leaf-enc.der"))
        try openssl("ec", "-in", p("leaf.key"), "-aes256", "-passout", "pass:\(Self.keyPassword)", "-out", p("leaf-trad-enc.pem"))

        // An unrelated self-signed end-entity certificate and its key.
        try openssl(ecKey + [p("other.key")])
        try openssl("req", "-x509", "-new", "-key", p("other.key"), "-subj", "/CN=other.contoso.com",
                    "-days", "30", "-extensions", "plain_ext", "-out", p("other.pem"))
        try openssl("ec", "-in", p("other.key"), "-outform", "DER", "-out", p("other-sec1.der"))
        // Names with Windows labels, an OID Windows has no label for, UTF-8, and a value that needs quotes.
        try openssl("req", "-x509", "-new", "-utf8", "-key", p("other.key"),
                    "-subj", "/DC=com/DC=contoso/O=Zürich AG/emailAddress=admin@contoso.com/businessCategory=Private Organization/ST=WA/street=1 Main St/CN=web;01",
                    "-days", "30", "-extensions", "names_ext", "-out", p("names.pem"))

        // The same names as BMPString (UTF-16) and T61String (Latin-1 here) instead of UTF8String.
        for (mask, name) in [("pkix", "bmp"), ("nombstr", "t61")] {
            try Data("[req]\ndistinguished_name = dn\nstring_mask = \(mask)\n[dn]\n".utf8).write(to: url("\(name).cnf"))
            try openssl("req", "-x509", "-new", "-utf8", "-config", p("\(name).cnf"), "-key", p("other.key"),
                        "-subj", "/O=Ünïcödé/CN=Zürich Straße", "-days", "30", "-out", p("\(name).pem"))
        }
        // T61String whose bytes are the UTF-8 of the names: without -utf8, openssl takes every byte of the
        // argument as one character, and T61String (nombstr) holds them as they are.
        try openssl("req", "-x509", "-new", "-config", p("t61.cnf"), "-key", p("other.key"),
                    "-subj", "/O=Ünïcödé/CN=Zürich Straße", "-days", "30", "-out", p("t61-utf8.pem"))

        // Ed25519: no separate signature digest.
        try openssl("genpkey", "-algorithm", "ED25519", "-out", p("ed25519.key"))
        try openssl("req", "-x509", "-new", "-key", p("ed25519.key"), "-subj", "/CN=ed.contoso.com",
                    "-days", "30", "-extensions", "plain_ext", "-out", p("ed25519.pem"))
        try openssl("pkcs12", "-export", "-in", p("ed25519.pem"), "-inkey", p("ed25519.key"), "-passout", pass, "-out", p("ed25519.pfx"))

        // The one RSA key: a self-signed certificate with a multi-valued RDN.
        try openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p("rsa.key"))
        try openssl("pkey", "-in", p("rsa.key"), "-traditional", "-out", p("rsa-trad.pem"))
        try openssl("req", "-x509", "-new", "-key", p("rsa.key"), "-subj", "/CN=James+O=Microsoft", "-multivalue-rdn",
                    "-days", "30", "-extensions", "plain_ext", "-out", p("rsa.pem"))

        // PKCS#12 files.
        let leafAndKey = ["pkcs12", "-export", "-in", p("leaf.pem"), "-inkey", p("leaf.key")]
        try openssl(leafAndKey + ["-passout", pass, "-out", p("modern.pfx")])
        try openssl(leafAndKey + ["-passout", pass, "-legacy", "-out", p("legacy.pfx")])
        try openssl(leafAndKey + ["-passout", pass, "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES",
                                  "-macalg", "sha1", "-out", p("des3.pfx")])
        try openssl(leafAndKey + ["-passout", pass, "-certfile", p("ca.pem"), "-name", "Zürich Mail", "-out", p("chain.pfx")])
        try openssl(leafAndKey + ["-passout", "pass:", "-out", p("empty-password.pfx")])
        try openssl(leafAndKey + ["-passout", "pass:\(Self.unicodePassword)", "-out", p("unicode-password.pfx")])
        try openssl("pkcs12", "-export", "-nokeys", "-in", p("leaf.pem"), "-passout", pass, "-out", p("cert-only.pfx"))
        try openssl("pkcs12", "-export", "-nocerts", "-inkey", p("leaf.key"), "-passout", pass, "-out", p("key-only.pfx"))
        try openssl(leafAndKey + ["-passout", pass, "-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-out", p("unprotected.pfx")])
        try openssl(leafAndKey + ["-passout", pass, "-nomac", "-out", p("encrypted-no-mac.pfx")])
        // 3000 iterations in exactly one place each: the key bag, the certificate safe, the MAC.
        try openssl(leafAndKey + ["-passout", pass, "-iter", "3000", "-nomaciter", "-certpbe", "NONE", "-out", p("iter-key.pfx")])
        try openssl(leafAndKey + ["-passout", pass, "-iter", "3000", "-nomaciter", "-keypbe", "NONE", "-out", p("iter-cert.pfx")])
        try openssl(leafAndKey + ["-passout", pass, "-iter", "3000", "-keypbe", "NONE", "-certpbe", "NONE", "-out", p("iter-mac.pfx")])
        // The other certificate with its key, for a second, unrelated import.
        try openssl("pkcs12", "-export", "-in", p("other.pem"), "-inkey", p("other.key"), "-passout", pass, "-out", p("other.pfx"))

        // PEM bundles, PKCS#7, trusted certificates.
        try Data(try bytes("leaf.pem") + bytes("leaf.key")).write(to: url("leaf-bundle.pem"))
        try Data(try bytes("leaf.pem") + bytes("ca.pem")).write(to: url("two-certs.pem"))
        try openssl("crl2pkcs7", "-nocrl", "-certfile", p("leaf.pem"), "-certfile", p("ca.pem"), "-out", p("bundle.p7b"))
        try openssl("crl2pkcs7", "-nocrl", "-certfile", p("leaf.pem"), "-certfile", p("ca.pem"), "-outform", "DER", "-out", p("bundle-der.p7b"))
        try openssl("x509", "-in", p("ca.pem"), "-trustout", "-addtrust", "serverAuth", "-out", p("ca-trusted.pem"))
        try openssl("x509", "-in", p("leaf.pem"), "-text", "-out", p("leaf-text.pem"))
    }

    /// A SEC1 EC key whose private scalar is the leaf's but whose embedded public key is other.pem's:
    /// it "matches" other.pem by public key, yet its halves disagree.
    func inconsistentKeyDER() throws -> [UInt8] {
        let leaf = try bytes("leaf-sec1.der"), other = try bytes("other-sec1.der")
        // SEC1 P-256: ... [1] { BIT STRING { 00 04 X Y } } - the last 65 bytes are the public point.
        let header: [UInt8] = [0xA1, 0x44, 0x03, 0x42, 0x00, 0x04]
        try #require(leaf.count == 121 && other.count == 121)
        try #require(Array(leaf[51..<57]) == header && Array(other[51..<57]) == header)
        return Array(leaf[..<56] + other[56...])
    }

    /// `der` as a PEM block with `label`.
    static func pem(_ der: [UInt8], label: String) -> [UInt8] {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return Array("-----BEGIN \(label)-----\n\(base64)\n-----END \(label)-----\n".utf8)
    }

    // MARK: expensive, made only when a test asks

    private static let hugeIterations: Result<URL, any Error> = Result {
        let fixtures = try get()
        let out = fixtures.url("iter-2M-mac.pfx")
        // Only the MAC carries the 2,000,000 iterations, which keeps generation to about a second.
        try fixtures.openssl("pkcs12", "-export", "-in", fixtures.path("leaf.pem"), "-inkey", fixtures.path("leaf.key"),
                             "-passout", "pass:\(pfxPassword)", "-iter", "2000000", "-keypbe", "NONE", "-certpbe", "NONE",
                             "-out", out.path)
        return out
    }

    /// A PKCS#12 whose MAC asks for 2,000,000 iterations.
    static func hugeIterationPFX() throws -> URL { try hugeIterations.get() }
}

// MARK: small helpers shared by the suites

/// Permission bits of a path (no symlink following).
func fileMode(_ url: URL) throws -> mode_t {
    var info = stat()
    guard lstat(url.path, &info) == 0 else { throw ToolFailure(command: "lstat \(url.path)", status: errno, stderr: "") }
    return info.st_mode & 0o7777
}

/// Deterministic pseudo-random bytes (xorshift), for "random garbage" inputs that are the same every run.
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state >> 24)
    }
}
