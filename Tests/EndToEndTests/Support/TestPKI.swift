import Foundation
import Testing

/// A throwaway PKI made with the `openssl` CLI inside one test's own directory: a CA and whatever
/// certificates a test needs (CA-issued or self-signed, new or reused keys, back-dated, short-lived).
/// Every thumbprint and serial is computed from openssl's own output, never written down.
final class TestPKI {
    struct Cert {
        let name: String
        /// The certificate, PEM.
        let pem: URL
        /// Its private key (PKCS#8 PEM), when this PKI made or was given one.
        let key: URL?
        /// Uppercase SHA-1 of the DER (`openssl x509 -fingerprint -sha1`, colons removed).
        let thumbprint: String
        /// `openssl x509 -serial`, uppercase hex.
        let serial: String
    }

    /// `openssl -subj` form and the Windows form certstore prints.
    static let caSubject = "/C=US/O=Contoso Ltd/CN=Contoso Issuing CA 1"
    static let caName = "CN=Contoso Issuing CA 1, O=Contoso Ltd, C=US"
    static let mailSubject = "/C=US/ST=Washington/L=Redmond/O=Contoso Ltd/CN=mail.contoso.com"
    static let mailName = "CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US"

    let directory: URL
    let ca: Cert
    private var counter = 0

    init(in directory: URL, caSubject: String = TestPKI.caSubject) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key"], in: directory)
        try openssl(["req", "-x509", "-new", "-key", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", caSubject,
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: directory)
        ca = try Self.describe("ca", pem: directory.appendingPathComponent("ca.pem"),
                               key: directory.appendingPathComponent("ca.key"), in: directory)
    }

    private func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// A new EC P-256 key (RSA-2048 with `rsa: true`).
    func newKey(_ name: String, rsa: Bool = false) throws -> URL {
        let args = rsa ? ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "\(name).key"]
                       : ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(name).key"]
        try openssl(args, in: directory)
        return file("\(name).key")
    }

    /// A TLS server certificate: CA-issued (default) or self-signed, valid from now (or `notBeforeDaysAgo`
    /// days ago, through `openssl ca -startdate`) for `days` days.
    func issue(_ name: String, subject: String, key: URL? = nil, days: Int = 365, notBeforeDaysAgo: Int? = nil,
               dnsNames: [String] = [], serverAuth: Bool = true, selfSigned: Bool = false) throws -> Cert {
        counter += 1
        let keyURL = try key ?? newKey(name)
        try openssl(["req", "-new", "-key", keyURL.path, "-out", "\(name).csr", "-subj", subject], in: directory)
        var ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        if serverAuth { ext += "extendedKeyUsage=serverAuth\n" }
        if !dnsNames.isEmpty { ext += "subjectAltName=" + dnsNames.map { "DNS:\($0)" }.joined(separator: ",") + "\n" }
        try Data(ext.utf8).write(to: file("\(name).ext"))
        if let daysAgo = notBeforeDaysAgo {
            precondition(!selfSigned, "back-dated certificates are CA-issued here")
            try issueBackdated(name, daysAgo: daysAgo, days: days)
        } else if selfSigned {
            try openssl(["x509", "-req", "-in", "\(name).csr", "-signkey", keyURL.path, "-days", String(days),
                         "-extfile", "\(name).ext", "-out", "\(name).pem"], in: directory)
        } else {
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                         "-days", String(days), "-extfile", "\(name).ext", "-out", "\(name).pem"], in: directory)
        }
        return try Self.describe(name, pem: file("\(name).pem"), key: keyURL, in: directory)
    }

    /// `openssl ca` with explicit dates (OpenSSL 3.0's `x509` cannot back-date), keeping the request's DN order.
    private func issueBackdated(_ name: String, daysAgo: Int, days: Int) throws {
        let db = file("cadb")
        if !FileManager.default.fileExists(atPath: db.path) {
            try FileManager.default.createDirectory(at: db, withIntermediateDirectories: true)
            try Data().write(to: db.appendingPathComponent("index.txt"))
            try Data(String(format: "%04X\n", 0x1000 + Int.random(in: 0..<0xE000)).utf8).write(to: db.appendingPathComponent("serial"))
            try Data("""
                [ ca ]
                default_ca = CA_default
                [ CA_default ]
                database = \(db.path)/index.txt
                new_certs_dir = \(db.path)
                serial = \(db.path)/serial
                default_md = sha256
                policy = policy_any
                unique_subject = no
                preserve = yes
                email_in_dn = no
                [ policy_any ]
                countryName = optional
                stateOrProvinceName = optional
                localityName = optional
                organizationName = optional
                commonName = supplied

                """.utf8).write(to: file("ca.cnf"))
        }
        let start = Date().addingTimeInterval(-Double(daysAgo) * 86_400)
        let end = start.addingTimeInterval(Double(days) * 86_400)
        try openssl(["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "\(name).csr",
                     "-out", "\(name).pem", "-notext", "-startdate", Self.generalizedTime(start),
                     "-enddate", Self.generalizedTime(end), "-extfile", "\(name).ext"], in: directory)
    }

    static func generalizedTime(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02d%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    private static func describe(_ name: String, pem: URL, key: URL?, in directory: URL) throws -> Cert {
        let serialLine = try openssl(["x509", "-in", pem.path, "-noout", "-serial"], in: directory)
        return Cert(name: name, pem: pem, key: key, thumbprint: try Fixtures.thumbprint(pem, in: directory),
                    serial: try Fixtures.windowsSerial(serialLine))
    }

    /// The name certstore gives the key file: uppercase SHA-256 of the SubjectPublicKeyInfo DER, `.key`.
    func keyFileName(_ key: URL) throws -> String {
        let spki = directory.appendingPathComponent(key.lastPathComponent + ".spki")
        try openssl(["pkey", "-in", key.path, "-pubout", "-outform", "DER", "-out", spki.path], in: directory)
        let line = try openssl(["dgst", "-sha256", spki.path], in: directory)
        return try Fixtures.value(after: "= ", in: line).uppercased() + ".key"
    }

    /// `openssl x509 -enddate -dateopt iso_8601`, as a date.
    func notAfter(_ cert: Cert) throws -> Date {
        let line = try openssl(["x509", "-in", cert.pem.path, "-noout", "-enddate", "-dateopt", "iso_8601"], in: directory)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        let text = try Fixtures.value(after: "=", in: line)
        guard let date = formatter.date(from: text) else { throw RunnerError("unexpected -enddate output: \(line)") }
        return date
    }

    /// The certificate as a bare DER `.cer` (how a keyless certificate gets into a store).
    func cer(_ cert: Cert) throws -> URL {
        let out = file("\(cert.name).cer")
        try openssl(["x509", "-in", cert.pem.path, "-outform", "DER", "-out", out.path], in: directory)
        return out
    }

    /// Certificate and key in one PEM file: one import, certificate with key.
    func withKey(_ cert: Cert) throws -> URL {
        guard let key = cert.key else { throw RunnerError("\(cert.name) has no key") }
        let out = file("\(cert.name)-with-key.pem")
        try (try Data(contentsOf: cert.pem) + Data(contentsOf: key)).write(to: out)
        return out
    }

    /// A PKCS#12 with the certificate, its key and the CA, empty password (what a renewal hands over).
    func pfx(_ cert: Cert) throws -> URL {
        guard let key = cert.key else { throw RunnerError("\(cert.name) has no key") }
        let out = file("\(cert.name).pfx")
        try openssl(["pkcs12", "-export", "-in", cert.pem.path, "-inkey", key.path, "-certfile", "ca.pem",
                     "-out", out.path, "-passout", "pass:"], in: directory)
        return out
    }
}

/// Bytes of a file, or nil when it does not exist.
func fileBytes(_ url: URL) -> Data? { try? Data(contentsOf: url) }

/// A JSON object (what `--format json` prints for one record or a report).
func parseJSONObject(_ text: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    guard let dictionary = object as? [String: Any] else { throw RunnerError("not a JSON object:\n\(text)") }
    return dictionary
}

extension TestPKI {
    /// An intermediate CA (`int.pem`, `CN=<organization> Issuing CA`) issued by this PKI's CA, and an EC server
    /// certificate for `host` issued by the intermediate, all made with the openssl CLI. Returns the files:
    /// the intermediate, the leaf, and the leaf followed by its key (what an import with its key takes).
    func intermediateAndLeaf(host: String, organization: String) throws -> (intermediate: URL, leaf: URL, leafWithKey: URL) {
        let dir = directory
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "int.key"], in: dir)
        try openssl(["req", "-new", "-key", "int.key", "-out", "int.csr", "-subj", "/C=US/O=\(organization)/CN=\(organization) Issuing CA"], in: dir)
        try Data("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n".utf8).write(to: file("int.ext"))
        try openssl(["x509", "-req", "-in", "int.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1825",
                     "-extfile", "int.ext", "-out", "int.pem"], in: dir)
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "leaf.key"], in: dir)
        try openssl(["req", "-new", "-key", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=\(host)"], in: dir)
        try Data("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:\(host)\n".utf8)
            .write(to: file("leaf.ext"))
        try openssl(["x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial", "-days", "365",
                     "-extfile", "leaf.ext", "-out", "leaf.pem"], in: dir)
        let withKey = file("leaf-with-key.pem")
        try (try Data(contentsOf: file("leaf.pem")) + Data(contentsOf: file("leaf.key"))).write(to: withKey)
        return (file("int.pem"), file("leaf.pem"), withKey)
    }
}
