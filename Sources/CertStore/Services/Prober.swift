import Foundation

/// `probe`: connect to a live service, speak just enough of its protocol to start TLS, and compare the
/// certificate it presents with the store and the service's binding.
public struct Prober: Sendable {
    public struct Target: Sendable, Equatable, CustomStringConvertible {
        public enum Scheme: String, Sendable, CaseIterable {
            case smtp, smtps, submission, imap, imaps, pop3, pop3s, https
        }
        public let scheme: Scheme
        public let host: String
        public let port: UInt16

        /// `smtp://mail.contoso.com[:25]` (STARTTLS), `smtps://` (465), `submission://` (587, STARTTLS),
        /// `imap://` (143, STARTTLS), `imaps://` (993), `pop3://` (110, STLS), `pop3s://` (995), `https://` (443).
        public init(parsing text: String) throws {
            guard let range = text.range(of: "://"), let scheme = Scheme(rawValue: text[..<range.lowerBound].lowercased()) else {
                throw CertStoreError.usage("not a service address: \"\(text)\"",
                                           hint: "use SCHEME://HOST[:PORT] with one of " + Scheme.allCases.map(\.rawValue).joined(separator: ", "))
            }
            var rest = String(text[range.upperBound...])
            if let slash = rest.firstIndex(of: "/") { rest = String(rest[..<slash]) }
            var host = rest
            var port: UInt16? = nil
            let bad = CertStoreError.usage("not a service address: \"\(text)\"", hint: "for example smtp://127.0.0.1:25 or smtp://[::1]:25")
            if rest.hasPrefix("[") {  // [::1] or [::1]:25
                guard let close = rest.firstIndex(of: "]") else { throw bad }
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                let after = rest[rest.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":"), let value = UInt16(after.dropFirst()) else { throw bad }
                    port = value
                }
            } else if let colon = rest.firstIndex(of: ":") {
                host = String(rest[..<colon])
                guard let value = UInt16(rest[rest.index(after: colon)...]) else { throw bad }
                port = value
            }
            guard !host.contains("["), !host.contains("]"), !(host.contains(":") && !rest.hasPrefix("[")) else { throw bad }
            guard !host.isEmpty, port != 0 else { throw CertStoreError.usage("not a service address: \"\(text)\"", hint: "for example smtp://127.0.0.1:25") }
            self.scheme = scheme
            self.host = host
            self.port = port ?? scheme.defaultPort
        }

        public var description: String { "\(scheme.rawValue)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

        /// The certstore service whose binding this address should present.
        public var service: ExchangeService {
            switch scheme {
            case .smtp, .smtps, .submission: .smtp
            case .imap, .imaps: .imap
            case .pop3, .pop3s: .pop
            case .https: .iis
            }
        }
    }

    public struct Result: Sendable {
        public let target: Target
        public let handshake: TLSClient.Handshake
        public let leaf: CertificateProperties
        /// Where the presented certificate is in the store (any store of the location), if it is.
        public let inStore: StoreEntry?
        /// What certstore deployed for the service, if anything.
        public let boundThumbprint: Thumbprint?
        public let severity: Severity
        public let findings: [String]
    }

    public let store: StoreLocation
    public var timeout: Double = 10
    public var now = Date()

    public init(store: StoreLocation) { self.store = store }

    /// `timeout` is a deadline for the whole probe (connection, plaintext exchange, TLS handshake), not for each
    /// read: a server that drips a byte now and then cannot keep a probe running.
    public func probe(_ target: Target) throws -> Result {
        let started = DispatchTime.now()
        let connection = try Connection(host: target.host, port: target.port, timeout: timeout)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let deadline = SocketDeadline(fd: connection.fd, seconds: max(0, timeout - elapsed))
        defer {
            _ = deadline.cancel()
            connection.close()
        }
        let handshake: TLSClient.Handshake
        do {
            try startTLS(target.scheme, on: connection)
            handshake = try TLSClient.handshake(socket: connection.fd, serverName: target.host)
        } catch {
            if deadline.cancel() {
                throw CertStoreError(.badData, "timed out: \(target) did not complete its greeting and TLS handshake within \(String(format: "%g", timeout)) s",
                                     hint: "--timeout is the deadline for the whole probe: connection, greeting, STARTTLS and handshake")
            }
            throw error
        }
        _ = deadline.cancel()
        guard let leafCertificate = handshake.chain.first else {
            throw CertStoreError(.badData, "\(target) completed TLS without presenting a certificate")
        }
        let leaf = leafCertificate.properties()
        let my = store.path(of: .my)
        let inStore = StoreName.allCases.lazy.compactMap { try? store.entry(leaf.thumbprint, in: my.sibling($0)) }.first
        let bound = ServiceFiles(store: store).deployedThumbprint(target.service)
        var severity = Severity.ok
        var findings: [String] = []
        func raise(_ level: Severity, _ text: String) {
            if level > severity { severity = level }
            findings.append(text)
        }
        if let bound, bound != leaf.thumbprint {
            raise(.warning, "\(target.service.rawValue) is bound to \(bound), but the service presents \(leaf.thumbprint): reload the daemon (or point it at certstore's files: certstore service-config)")
        } else if bound == nil {
            raise(.warning, "certstore has no \(target.service.rawValue) binding deployed on this store to compare with")
        }
        if inStore == nil { raise(.warning, "the presented certificate \(leaf.thumbprint) is not in \(store.location)") }
        if let notAfter = leaf.notAfter {
            let days = Int(notAfter.timeIntervalSince(now) / 86_400)
            if notAfter < now { raise(.critical, "the presented certificate expired on \(notAfter.formatted(.iso8601))") }
            else if days < 30 { raise(.critical, "the presented certificate expires in \(days) days") }
            else if days < 60 { raise(.warning, "the presented certificate expires in \(days) days") }
        }
        if !ConnectorResolver.matches(target.host, names: leaf.dnsNameList + [leaf.subject.commonName].compactMap { $0 }, wildcard: false)
            && !ConnectorResolver.matches(target.host, names: leaf.dnsNameList, wildcard: true) && target.host.contains(where: \.isLetter) {
            raise(.warning, "the presented certificate does not name \(target.host)")
        }
        return Result(target: target, handshake: handshake, leaf: leaf, inStore: inStore, boundThumbprint: bound,
                      severity: severity, findings: findings)
    }

    /// The plaintext part: greeting, capabilities, STARTTLS (or nothing for implicit TLS).
    private func startTLS(_ scheme: Target.Scheme, on connection: Connection) throws {
        switch scheme {
        case .smtps, .imaps, .pop3s, .https:
            return
        case .smtp, .submission:
            try expect(connection.readSMTPReply(), "220", "greeting")
            try connection.send("EHLO \(ConnectorResolver.localHostName)\r\n")
            let capabilities = try connection.readSMTPReply()
            try expect(capabilities, "250", "EHLO")
            guard capabilities.contains(where: { $0.uppercased().dropFirst(4).hasPrefix("STARTTLS") }) else {
                throw CertStoreError(.refused, "the SMTP server does not offer STARTTLS")
            }
            try connection.send("STARTTLS\r\n")
            try expect(connection.readSMTPReply(), "220", "STARTTLS")
        case .imap:
            let greeting = try connection.readLine()
            guard greeting.hasPrefix("* OK") else { throw CertStoreError(.badData, "unexpected IMAP greeting: \(greeting)") }
            try connection.send("a1 STARTTLS\r\n")
            while true {
                let line = try connection.readLine()
                if line.hasPrefix("a1 ") {
                    guard line.uppercased().hasPrefix("A1 OK") else { throw CertStoreError(.refused, "the IMAP server refused STARTTLS: \(line)") }
                    return
                }
            }
        case .pop3:
            let greeting = try connection.readLine()
            guard greeting.hasPrefix("+OK") else { throw CertStoreError(.badData, "unexpected POP3 greeting: \(greeting)") }
            try connection.send("STLS\r\n")
            let reply = try connection.readLine()
            guard reply.hasPrefix("+OK") else { throw CertStoreError(.refused, "the POP3 server refused STLS: \(reply)") }
        }
    }

    private func expect(_ reply: [String], _ code: String, _ step: String) throws {
        guard let last = reply.last, last.hasPrefix(code) else {
            throw CertStoreError(.badData, "unexpected answer to \(step): \(reply.joined(separator: " | "))")
        }
    }
}

extension Prober.Target.Scheme {
    var defaultPort: UInt16 {
        switch self {
        case .smtp: 25
        case .smtps: 465
        case .submission: 587
        case .imap: 143
        case .imaps: 993
        case .pop3: 110
        case .pop3s: 995
        case .https: 443
        }
    }
}

/// A TCP connection with a timeout on connect, reads and writes, and line reading for the plaintext part.
final class Connection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(host: String, port: UInt16, timeout: Double) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw CertStoreError(.notFound, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let info = node {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd >= 0 {
                var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    self.fd = fd
                    return
                }
                lastError = String(cString: strerror(errno))
                Glibc.close(fd)
            }
            node = info.pointee.ai_next
        }
        throw CertStoreError(.notFound, "cannot connect to \(host):\(port): \(lastError)")
    }

    func close() { Glibc.close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            guard n > 0 else { throw CertStoreError(.badData, "the connection closed while sending") }
            offset += n
        }
    }

    func readLine() throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count < 16 * 1024 else { throw CertStoreError(.badData, "the server sent a line longer than 16 KiB") }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            guard n > 0 else { throw CertStoreError(.badData, n == 0 ? "the server closed the connection" : "no answer from the server (timed out)") }
            buffer += chunk.prefix(n)
        }
    }

    /// An SMTP reply: lines `NNN-…` up to the final `NNN …`.
    func readSMTPReply() throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { return lines }
            guard lines.count < 200 else { throw CertStoreError(.badData, "the SMTP reply is too long") }
        }
    }
}

/// Shuts a socket down when a deadline passes, so that no read on it (the plaintext part's or OpenSSL's inside
/// the handshake) outlives the deadline, however slowly the peer drips bytes. `cancel` stops it and says
/// whether it had already fired; after `cancel` returns it never touches the descriptor.
final class SocketDeadline: @unchecked Sendable {
    private let lock = NSLock()
    private var finished = false
    private var fired = false

    init(fd: Int32, seconds: Double) {
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            lock.withLock {
                guard !finished else { return }
                fired = true
                shutdown(fd, Int32(SHUT_RD))  // reads end at once; a write (a TLS alert) must not raise SIGPIPE
            }
        }
    }

    func cancel() -> Bool {
        lock.withLock {
            finished = true
            return fired
        }
    }
}
