import Foundation
import Testing

/// Certificates, keys and PKCS#12 files made once per test run with the `openssl` CLI, in a private temp
/// directory. Tests only read these files; anything a test writes goes into its own `TestDirectory`.
/// Every thumbprint and serial number here is computed from openssl's own output.
struct Fixtures: Sendable {
    struct Credential: Sendable {
        let certificate: URL
        let key: URL
        /// Uppercase SHA-1 of the DER, from `openssl x509 -fingerprint -sha1` without colons.
        let thumbprint: String
    }

    struct Host: Sendable {
        let pfx: URL
        let thumbprint: String
    }

    static let password = "Corr3ct horse battery"

    let directory: URL
    let passwordFile: URL
    let wrongPasswordFile: URL

    /// EC P-256 CA, `CN=Contoso Test CA, O=Contoso, C=US`.
    let ca: Credential
    /// CA-issued RSA-2048 leaf `mail.contoso.com` with SANs and serverAuth+clientAuth EKUs.
    let leaf: Credential
    let leafCSR: URL
    /// `openssl x509 -noout -serial` of the leaf (uppercase hex).
    let leafSerial: String
    /// Self-signed EC P-256, `CN=selfsigned.example`, CA:FALSE, clientAuth EKU, valid 30 days.
    let selfSigned: Credential
    /// CA-issued EC leaf `old.contoso.com` that expired in 2021.
    let expired: Credential
    /// A key that belongs to no certificate the tests import.
    let strayKey: URL

    /// Leaf + key + CA (via -certfile), OpenSSL 3 defaults (AES-256-CBC, PBKDF2, SHA-256 MAC).
    let modernPFX: URL
    /// The same with `-legacy` (RC2-40 certificates, 3DES key, SHA-1 MAC).
    let legacyPFX: URL
    /// Leaf + key + CA with 3DES for certificates and key and a SHA-1 MAC.
    let tripleDESPFX: URL
    /// Self-signed EC + key, empty password (`-passout pass:`).
    let emptyPasswordPFX: URL
    /// Self-signed EC certificate only (`-nokeys`).
    let certOnlyPFX: URL
    /// Self-signed EC key only (`-nocerts`).
    let keyOnlyPFX: URL
    /// Self-signed EC + key with friendly name "Zürich Mail".
    let zurichPFX: URL
    static let zurichName = "Zürich Mail"

    /// Eight CA-issued EC leaves `hostN.contoso.com`, each in its own PFX with the CA.
    let hosts: [Host]

    static let shared: Result<Fixtures, any Error> = Result { try Fixtures(creatingIn: makeDirectory()) }

    /// The shared fixtures, created on first use (thread-safe: Swift initialises `static let` once).
    static func get() throws -> Fixtures {
        switch shared {
        case .success(let fixtures): return fixtures
        case .failure(let error): throw RunnerError("creating the openssl fixtures failed: \(error)")
        }
    }

    nonisolated(unsafe) private static var cleanupPath: String?

    private static func makeDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("certstore-e2e-fixtures-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        cleanupPath = url.path
        atexit {
            if let path = Fixtures.cleanupPath { try? FileManager.default.removeItem(atPath: path) }
        }
        return url
    }

    private init(creatingIn dir: URL) throws {
        directory = dir
        func file(_ name: String) -> URL { dir.appendingPathComponent(name) }
        func ssl(_ args: [String]) throws { _ = try openssl(args, in: dir) }

        passwordFile = file("password.txt")
        try Data((Self.password + "\n").utf8).write(to: passwordFile)
        wrongPasswordFile = file("wrong-password.txt")
        try Data("not the password\n".utf8).write(to: wrongPasswordFile)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

        // CA
        try ssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
                 "-subj", "/C=US/O=Contoso/CN=Contoso Test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        ca = Credential(certificate: file("ca.pem"), key: file("ca.key"), thumbprint: try Self.thumbprint(file("ca.pem"), in: dir))

        // RSA leaf
        try ssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
                 "-subj", "/C=US/ST=Washington/L=Redmond/O=Contoso Ltd/CN=mail.contoso.com"])
        try Data("""
            subjectAltName=DNS:mail.contoso.com,DNS:autodiscover.contoso.com
            extendedKeyUsage=serverAuth,clientAuth
            keyUsage=critical,digitalSignature,keyEncipherment
            basicConstraints=CA:FALSE

            """.utf8).write(to: file("leaf.ext"))
        try ssl(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "365", "-extfile", "leaf.ext", "-out", "leaf.pem"])
        leaf = Credential(certificate: file("leaf.pem"), key: file("leaf.key"), thumbprint: try Self.thumbprint(file("leaf.pem"), in: dir))
        leafCSR = file("leaf.csr")
        let serialLine = try openssl(["x509", "-in", "leaf.pem", "-noout", "-serial"], in: dir)
        leafSerial = try Self.windowsSerial(serialLine)

        // Self-signed EC
        try ssl(["req", "-x509"] + ec + ["-keyout", "self.key", "-out", "self.pem", "-days", "30",
                 "-subj", "/CN=selfsigned.example",
                 "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=clientAuth"])
        selfSigned = Credential(certificate: file("self.pem"), key: file("self.key"), thumbprint: try Self.thumbprint(file("self.pem"), in: dir))

        // Expired EC leaf: `openssl ca` takes explicit -startdate/-enddate (x509 -not_before needs OpenSSL 3.4+).
        try ssl(["req", "-new"] + ec + ["-keyout", "old.key", "-out", "old.csr", "-subj", "/CN=old.contoso.com"])
        let caDB = file("cadb")
        try FileManager.default.createDirectory(at: caDB, withIntermediateDirectories: true)
        try Data().write(to: caDB.appendingPathComponent("index.txt"))
        try Data("1000\n".utf8).write(to: caDB.appendingPathComponent("serial"))
        try Data("""
            [ ca ]
            default_ca = CA_default
            [ CA_default ]
            database = \(caDB.path)/index.txt
            new_certs_dir = \(caDB.path)
            serial = \(caDB.path)/serial
            default_md = sha256
            policy = policy_any
            unique_subject = no
            x509_extensions = old_ext
            [ policy_any ]
            commonName = supplied
            [ old_ext ]
            basicConstraints = CA:FALSE
            subjectAltName = DNS:old.contoso.com

            """.utf8).write(to: file("ca.cnf"))
        try ssl(["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "old.csr",
                 "-out", "old.pem", "-notext", "-startdate", "20200101000000Z", "-enddate", "20210101000000Z"])
        expired = Credential(certificate: file("old.pem"), key: file("old.key"), thumbprint: try Self.thumbprint(file("old.pem"), in: dir))

        try ssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "stray.key"])
        strayKey = file("stray.key")

        // PKCS#12
        let passout = ["-passout", "file:password.txt"]
        try ssl(["pkcs12", "-export", "-in", "leaf.pem", "-inkey", "leaf.key", "-certfile", "ca.pem", "-out", "modern.pfx"] + passout)
        modernPFX = file("modern.pfx")
        try ssl(["pkcs12", "-export", "-legacy", "-in", "leaf.pem", "-inkey", "leaf.key", "-certfile", "ca.pem", "-out", "legacy.pfx"] + passout)
        legacyPFX = file("legacy.pfx")
        try ssl(["pkcs12", "-export", "-in", "leaf.pem", "-inkey", "leaf.key", "-certfile", "ca.pem", "-out", "3des.pfx",
                 "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"] + passout)
        tripleDESPFX = file("3des.pfx")
        try ssl(["pkcs12", "-export", "-in", "self.pem", "-inkey", "self.key", "-out", "empty-password.p12", "-passout", "pass:"])
        emptyPasswordPFX = file("empty-password.p12")
        try ssl(["pkcs12", "-export", "-in", "self.pem", "-nokeys", "-out", "cert-only.p12"] + passout)
        certOnlyPFX = file("cert-only.p12")
        try ssl(["pkcs12", "-export", "-inkey", "self.key", "-nocerts", "-out", "key-only.p12"] + passout)
        keyOnlyPFX = file("key-only.p12")
        try ssl(["pkcs12", "-export", "-in", "self.pem", "-inkey", "self.key", "-name", Self.zurichName, "-out", "zurich.pfx"] + passout)
        zurichPFX = file("zurich.pfx")

        var hosts: [Host] = []
        for n in 1...8 {
            try ssl(["req", "-new"] + ec + ["-keyout", "host\(n).key", "-out", "host\(n).csr", "-subj", "/CN=host\(n).contoso.com"])
            try ssl(["x509", "-req", "-in", "host\(n).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-days", "90", "-out", "host\(n).pem"])
            try ssl(["pkcs12", "-export", "-in", "host\(n).pem", "-inkey", "host\(n).key", "-certfile", "ca.pem",
                     "-out", "host\(n).pfx"] + passout)
            hosts.append(Host(pfx: file("host\(n).pfx"), thumbprint: try Self.thumbprint(file("host\(n).pem"), in: dir)))
        }
        self.hosts = hosts
    }

    /// `openssl x509 -noout -fingerprint -sha1` without colons, uppercase.
    static func thumbprint(_ certificate: URL, inform: String = "PEM", in dir: URL) throws -> String {
        let line = try openssl(["x509", "-in", certificate.path, "-inform", inform, "-noout", "-fingerprint", "-sha1"], in: dir)
        let hex = try value(after: "=", in: line).replacingOccurrences(of: ":", with: "").uppercased()
        guard hex.count == 40 else { throw RunnerError("unexpected fingerprint output: \(line)") }
        return hex
    }

    /// `SerialNumber` as Windows (and certstore) shows it, from `openssl x509 -noout -serial`: the INTEGER's
    /// content octets, so a serial whose first byte is 0x80 or more keeps the 0x00 DER puts before it. openssl
    /// prints the value without it, which made random serials (`-CAcreateserial`) differ about one run in 256.
    static func windowsSerial(_ serialLine: String) throws -> String {
        var hex = try value(after: "=", in: serialLine).uppercased()
        if hex.count % 2 == 1 { hex = "0" + hex }
        guard let first = hex.first, let nibble = first.hexDigitValue, nibble >= 8 else { return hex }
        return "00" + hex
    }

    static func value(after separator: String, in line: String) throws -> String {
        guard let range = line.range(of: separator) else { throw RunnerError("no \(separator) in \(line)") }
        return line[range.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

let opensslBinary = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") ? "/usr/bin/openssl" : "/usr/local/bin/openssl")

/// Runs `openssl ARGS` in `dir`; throws with its stderr when it fails. Returns stdout.
@discardableResult
func openssl(_ arguments: [String], in dir: URL? = nil, stdin: StandardInput = .null) throws -> String {
    let result = try runProgram(opensslBinary, arguments, stdin: stdin, currentDirectory: dir, timeout: 120)
    guard result.status == 0, !result.timedOut else {
        throw RunnerError("openssl failed:\n\(result)")
    }
    return result.stdout
}

/// Runs `openssl ARGS` and returns the whole result (for checks that expect failure or read stderr).
func opensslResult(_ arguments: [String], in dir: URL) throws -> CommandResult {
    try runProgram(opensslBinary, arguments, currentDirectory: dir, timeout: 60)
}
