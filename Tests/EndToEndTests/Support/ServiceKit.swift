import Foundation
import Testing

// Helpers for ServicesTests: loopback ports, background TLS servers (openssl s_server and a small python3
// STARTTLS server) that are always stopped, an intermediate CA on top of TestPKI, and PEM inspection.

// MARK: - Loopback

enum Loopback {
    /// A TCP port on 127.0.0.1 that nothing listens on right now (bound to port 0, then released).
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RunnerError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw RunnerError("no free port on 127.0.0.1") }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port.
    static func accepts(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func waitUntilAccepting(_ port: UInt16, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if accepts(port) { return true }
            usleep(20_000)
        }
        return false
    }
}

// MARK: - Background servers

/// A server process a test started; `stop()` (also run on deinit) kills it (SIGKILL: children of the test
/// process may inherit a blocked SIGTERM) and reaps it, so no server outlives its test even when the test fails.
final class BackgroundServer {
    let name: String
    private let process: RunningProcess
    private var result: CommandResult?

    init(_ name: String, _ process: RunningProcess) {
        self.name = name
        self.process = process
    }

    var pid: Int32 { process.processIdentifier }

    /// Stops the server (idempotent) and returns what it printed.
    @discardableResult
    func stop() -> CommandResult {
        if let result { return result }
        kill(process.processIdentifier, SIGKILL)
        let finished = process.wait(timeout: 10)
        result = finished
        return finished
    }

    deinit { stop() }

    /// `openssl s_server -accept 127.0.0.1:PORT -cert CERT -key KEY -quiet` (with `-cert_chain` when given),
    /// on a free port, once it accepts connections. Retries with another port when the port was taken meanwhile.
    static func opensslServer(cert: URL, key: URL, chain: URL? = nil) throws -> (BackgroundServer, UInt16) {
        var lastOutput = ""
        for _ in 0..<3 {
            let port = try Loopback.freePort()
            var arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert.path, "-key", key.path, "-quiet"]
            if let chain { arguments += ["-cert_chain", chain.path] }
            let server = BackgroundServer("openssl s_server :\(port)", try RunningProcess(executable: opensslBinary, arguments: arguments))
            if Loopback.waitUntilAccepting(port) { return (server, port) }
            lastOutput = "\(server.stop())"
        }
        throw RunnerError("openssl s_server did not start:\n\(lastOutput)")
    }
}

// MARK: - A fake mail server (python3)

/// A small python3 server on 127.0.0.1 with one port per listener. Each listener speaks a mode's plaintext
/// part and then hands the socket to TLS (`ssl.SSLContext.wrap_socket(server_side=True)`) with its own
/// certificate chain and key:
///
/// * `smtp`: 220 greeting, EHLO → 250 with STARTTLS, STARTTLS → 220; `smtp-nostarttls`: EHLO → 250 without it;
/// * `imap`: `* OK` greeting, `a1 STARTTLS` → `a1 OK`; `imap-refuse`: → `a1 NO`;
/// * `pop3`: `+OK` greeting, STLS → `+OK`; `pop3-refuse`: → `-ERR`;
/// * `tls`: implicit TLS; `silent`: accepts and never says anything.
///
/// Every line a client sends is appended to `log` as "LISTENER LINE" (and "LISTENER TLS <version>" after a
/// completed handshake), so a test sees exactly what the client said.
final class FakeMailServer {
    struct Listener {
        let name: String
        let mode: String
        let fullchain: URL
        let key: URL
    }

    static let python: URL? = ["/usr/bin/python3", "/usr/local/bin/python3"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }.map { URL(fileURLWithPath: $0) }

    static let script = #"""
        import json, os, socket, ssl, sys, threading

        out, log_path = sys.argv[1], sys.argv[2]
        lock = threading.Lock()

        def log(name, line):
            with lock:
                with open(log_path, "a") as f:
                    f.write(name + " " + line + "\n")

        def readline(c):
            data = b""
            while not data.endswith(b"\n"):
                b = c.recv(1)
                if not b:
                    break
                data += b
            return data.decode("latin-1").rstrip("\r\n")

        def handle(name, mode, ctx, c):
            try:
                c.settimeout(20)
                send = lambda text: c.sendall(text.encode())
                if mode in ("smtp", "smtp-nostarttls"):
                    send("220 fake.contoso.com ESMTP ready\r\n")
                    log(name, readline(c))
                    if mode == "smtp-nostarttls":
                        send("250-fake.contoso.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                        log(name, readline(c))
                        return
                    send("250-fake.contoso.com\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
                    log(name, readline(c))
                    send("220 2.0.0 Ready to start TLS\r\n")
                elif mode in ("imap", "imap-refuse"):
                    send("* OK [CAPABILITY IMAP4rev1 STARTTLS] fake ready\r\n")
                    log(name, readline(c))
                    if mode == "imap-refuse":
                        send("a1 NO STARTTLS is switched off\r\n")
                        return
                    send("a1 OK Begin TLS negotiation now\r\n")
                elif mode in ("pop3", "pop3-refuse"):
                    send("+OK fake POP3 ready\r\n")
                    log(name, readline(c))
                    if mode == "pop3-refuse":
                        send("-ERR STLS is switched off\r\n")
                        return
                    send("+OK Begin TLS negotiation\r\n")
                elif mode == "silent":
                    log(name, "closed " + readline(c))
                    return
                t = ctx.wrap_socket(c, server_side=True)
                log(name, "TLS " + str(t.version()))
                try:
                    t.recv(1)
                except Exception:
                    pass
                t.close()
            except Exception as e:
                log(name, "error " + repr(e))
            finally:
                try:
                    c.close()
                except Exception:
                    pass

        def serve(name, mode, ctx, s):
            while True:
                c, _ = s.accept()
                threading.Thread(target=handle, args=(name, mode, ctx, c), daemon=True).start()

        ports, listeners = {}, []
        for spec in sys.argv[3:]:
            name, mode, cert, key = spec.split("\t")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            ports[name] = s.getsockname()[1]
            listeners.append((name, mode, ctx, s))
        with open(out + ".tmp", "w") as f:
            json.dump(ports, f)
        os.rename(out + ".tmp", out)
        for listener in listeners:
            threading.Thread(target=serve, args=listener, daemon=True).start()
        threading.Event().wait()
        """#

    let server: BackgroundServer
    let ports: [String: UInt16]
    let log: URL

    /// Starts the listeners; files go to `directory`.
    init(_ listeners: [Listener], in directory: URL) throws {
        guard let python = Self.python else { throw RunnerError("python3 is not installed") }
        let scriptURL = directory.appendingPathComponent("fake-mail-server.py")
        try Data(Self.script.utf8).write(to: scriptURL)
        let portsURL = directory.appendingPathComponent("fake-mail-server.ports")
        log = directory.appendingPathComponent("fake-mail-server.log")
        let specs = listeners.map { [$0.name, $0.mode, $0.fullchain.path, $0.key.path].joined(separator: "\t") }
        server = BackgroundServer("fake mail server", try RunningProcess(executable: python, arguments: [scriptURL.path, portsURL.path, log.path] + specs))
        let deadline = Date().addingTimeInterval(10)
        var found: [String: UInt16]? = nil
        while Date() < deadline {
            if let data = try? Data(contentsOf: portsURL),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Int] {
                found = object.mapValues { UInt16($0) }
                break
            }
            usleep(20_000)
        }
        guard let found else {
            throw RunnerError("the fake mail server did not start:\n\(server.stop())")
        }
        ports = found
    }

    func port(_ name: String) throws -> UInt16 {
        guard let port = ports[name] else { throw RunnerError("no listener \(name)") }
        return port
    }

    /// What listener `name` was told, in order.
    func lines(_ name: String) -> [String] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// `lines(name)` once it has at least `count` lines (the server logs a handshake after the client may
    /// already have finished), or whatever it has after `timeout` seconds.
    func lines(_ name: String, atLeast count: Int, timeout: Double = 5) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        var current = lines(name)
        while current.count < count && Date() < deadline {
            usleep(20_000)
            current = lines(name)
        }
        return current
    }

    func stop() { server.stop() }
}

// MARK: - An intermediate CA on top of TestPKI

extension TestPKI {
    /// An intermediate CA issued by this PKI's CA (`CA:TRUE, pathlen:0`), with its key.
    func intermediate(_ name: String = "intermediate", subject: String = "/C=US/O=Contoso Ltd/CN=Contoso Intermediate CA 2") throws -> Cert {
        let key = try newKey(name)
        try openssl(["req", "-new", "-key", key.path, "-out", "\(name).csr", "-subj", subject], in: directory)
        try Data("basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n".utf8)
            .write(to: directory.appendingPathComponent("\(name).ext"))
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-days", "1000", "-extfile", "\(name).ext", "-out", "\(name).pem"], in: directory)
        return try leafDescription(name, key: key)
    }

    /// A TLS server certificate issued by `issuer` (an intermediate from `intermediate()`), with a new key.
    func issue(_ name: String, subject: String, by issuer: Cert, days: Int = 365, dnsNames: [String] = []) throws -> Cert {
        guard let issuerKey = issuer.key else { throw RunnerError("\(issuer.name) has no key") }
        let key = try newKey(name)
        try openssl(["req", "-new", "-key", key.path, "-out", "\(name).csr", "-subj", subject], in: directory)
        var ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        if !dnsNames.isEmpty { ext += "subjectAltName=" + dnsNames.map { "DNS:\($0)" }.joined(separator: ",") + "\n" }
        try Data(ext.utf8).write(to: directory.appendingPathComponent("\(name).ext"))
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", issuer.pem.path, "-CAkey", issuerKey.path, "-CAcreateserial",
                     "-days", String(days), "-extfile", "\(name).ext", "-out", "\(name).pem"], in: directory)
        return try leafDescription(name, key: key)
    }

    private func leafDescription(_ name: String, key: URL) throws -> Cert {
        let pem = directory.appendingPathComponent("\(name).pem")
        let serialLine = try openssl(["x509", "-in", pem.path, "-noout", "-serial"], in: directory)
        return Cert(name: name, pem: pem, key: key, thumbprint: try Fixtures.thumbprint(pem, in: directory),
                    serial: try Fixtures.windowsSerial(serialLine))
    }
}

// MARK: - PEM inspection

enum PEMInspection {
    /// The `-----BEGIN CERTIFICATE-----` blocks of a PEM text, in order.
    static func certificateBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var current: [Substring]? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-----BEGIN CERTIFICATE-----") { current = [line]; continue }
            guard current != nil else { continue }
            current!.append(line)
            if line.hasPrefix("-----END CERTIFICATE-----") {
                blocks.append(current!.joined(separator: "\n") + "\n")
                current = nil
            }
        }
        return blocks
    }

    /// SHA-1 thumbprints (openssl's) of every certificate in a PEM file, in order.
    static func thumbprints(_ file: URL, scratch: URL) throws -> [String] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return try certificateBlocks(text).map { block in
            let line = try openssl(["x509", "-noout", "-fingerprint", "-sha1"], in: scratch, stdin: .text(block))
            return try Fixtures.value(after: "=", in: line).replacingOccurrences(of: ":", with: "").uppercased()
        }
    }

    /// The public key of a private key file and of a certificate, both as `-----BEGIN PUBLIC KEY-----` PEM.
    static func publicKey(ofKey key: URL, scratch: URL) throws -> String {
        try openssl(["pkey", "-in", key.path, "-pubout"], in: scratch)
    }

    static func publicKey(ofCertificate certificate: URL, scratch: URL) throws -> String {
        try openssl(["x509", "-in", certificate.path, "-noout", "-pubkey"], in: scratch)
    }
}

/// Whether a process exists (and is not a zombie).
func processIsAlive(_ pid: pid_t) -> Bool {
    guard pid > 0, kill(pid, 0) == 0 else { return false }
    let status = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    guard let close = status.lastIndex(of: ")") else { return true }
    return !status[status.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}
