import Foundation

/// What kind of TLS failure a mail daemon logged. Raw values are the stable names `--format json` prints.
public enum MailTLSFailureKind: String, Sendable, Codable, CaseIterable {
    /// A private key file could not be opened or read (missing, permission denied).
    case keyFileUnreadable = "KeyFileUnreadable"
    /// A certificate (or chain) file could not be opened or read.
    case certificateFileUnreadable = "CertificateFileUnreadable"
    /// The key file holds the key of another certificate.
    case keyCertificateMismatch = "KeyCertificateMismatch"
    /// The certificate file was read but holds no certificate the TLS library can load.
    case certificateUnloadable = "CertificateUnloadable"
    /// The key file was read but holds no key the TLS library can load.
    case keyUnloadable = "KeyUnloadable"
    /// Client and server had no cipher suite in common (often: an ECDSA-only certificate and an RSA-only peer).
    case noSharedCipher = "NoSharedCipher"
    /// Client and server had no TLS version in common.
    case protocolVersionMismatch = "ProtocolVersionMismatch"
    /// The peer refused the certificate this machine presented (alert unknown ca, bad certificate, ...).
    case peerRejectedCertificate = "PeerRejectedCertificate"
    /// This machine could not verify the peer's certificate.
    case peerCertificateUntrusted = "PeerCertificateUntrusted"
    /// A client certificate was required and none was presented.
    case clientCertificateMissing = "ClientCertificateMissing"
    /// Any other handshake failure.
    case handshakeFailed = "HandshakeFailed"
    /// The daemon had no working TLS at all (its certificate or key did not load): TLS was required, or offered
    /// without a certificate.
    case tlsUnavailable = "TLSUnavailable"

    /// A failure to load this machine's own certificate or key (the files certstore deploys).
    public var isLoadFailure: Bool {
        [.keyFileUnreadable, .certificateFileUnreadable, .keyCertificateMismatch, .certificateUnloadable, .keyUnloadable].contains(self)
    }

    public var summary: String {
        switch self {
        case .keyFileUnreadable: "private key file missing or unreadable"
        case .certificateFileUnreadable: "certificate file missing or unreadable"
        case .keyCertificateMismatch: "private key does not match the certificate"
        case .certificateUnloadable: "certificate cannot be loaded"
        case .keyUnloadable: "private key cannot be loaded"
        case .noSharedCipher: "no shared cipher"
        case .protocolVersionMismatch: "no shared TLS version"
        case .peerRejectedCertificate: "the peer rejected our certificate"
        case .peerCertificateUntrusted: "the peer's certificate failed verification"
        case .clientCertificateMissing: "no client certificate presented"
        case .handshakeFailed: "TLS handshake failed"
        case .tlsUnavailable: "TLS unavailable"
        }
    }
}

/// Which side of a connection this machine was.
public enum MailTLSDirection: String, Sendable, Codable {
    /// This machine was the server (postfix/smtpd, dovecot's login processes, exim receiving).
    case inbound
    /// This machine was the client (postfix/smtp, exim's smtp transport): a send connector's business.
    case outbound
}

/// The mail daemons whose logs diagnose reads.
public enum MailDaemon: String, Sendable, Codable {
    case postfix, dovecot, exim
}

/// One line's worth of TLS news, before it is tied to the lines around it.
enum MailLogSignal: Equatable {
    /// The daemon failed to load its own certificate or key.
    case load(MailTLSFailureKind, detail: String, paths: [String])
    /// postfix's `TLS library problem: error:…` with the OpenSSL reason; refines what came before in the process.
    case library(reason: String, paths: [String])
    /// postfix's `SSL_accept error from PEER` / `SSL_connect error to PEER`: the reason follows on the next line.
    case handshake(peer: String, direction: MailTLSDirection)
    /// A complete failure.
    case failure(MailTLSFailureKind, detail: String, peer: String?, direction: MailTLSDirection, paths: [String])
    /// A line that follows from an earlier failure of the same process (`TLS initialization failed`, a deferred mail).
    /// `otherwise` is what it is when no earlier failure is known.
    case consequence(otherwise: MailTLSFailureKind?, detail: String, peer: String?, direction: MailTLSDirection)
}

/// Classifies the messages of postfix, dovecot and exim. The wordings are the daemons' own, captured from Debian 12's
/// postfix 3.7, dovecot 2.3.19 and exim 4.96 (GnuTLS) by scripts/capture-mail-logs.sh; exim's OpenSSL build
/// wordings come from its src/tls-openssl.c (`SSL_CTX_use_certificate_chain_file file=%s`,
/// `SSL_CTX_use_PrivateKey_file file=%s`).
enum MailLogClassifier {
    /// The daemon and the process a line is from; nil for lines of other programs.
    static func daemon(of line: MailLogLine) -> (MailDaemon, component: String)? {
        let program = line.program.lowercased()
        if program.hasPrefix("postfix") {
            return (.postfix, String(program.split(separator: "/").last ?? Substring(program)))
        }
        if program.hasPrefix("dovecot") || program == "doveconf" {
            if let colon = line.message.range(of: ": ") {
                let process = line.message[..<colon.lowerBound]
                if !process.contains(" ") { return (.dovecot, String(process.split(separator: "(").first ?? process)) }
            }
            return (.dovecot, program)
        }
        if program.hasPrefix("exim") { return (.exim, "exim") }
        return nil
    }

    static func classify(_ line: MailLogLine, daemon: MailDaemon, component: String) -> MailLogSignal? {
        switch daemon {
        case .postfix: postfix(line.message, component: component)
        case .dovecot: dovecot(line.message, component: component)
        case .exim: exim(line.message)
        }
    }

    static func direction(postfixComponent component: String) -> MailTLSDirection {
        ["smtp", "lmtp"].contains(component) ? .outbound : .inbound
    }

    // MARK: postfix

    static func postfix(_ message: String, component: String) -> MailLogSignal? {
        let direction = direction(postfixComponent: component)
        var text = Substring(message)
        if text.hasPrefix("warning: ") { text = text.dropFirst("warning: ".count) }
        if text.hasPrefix("TLS library problem: ") {
            let error = text.dropFirst("TLS library problem: ".count)
            return .library(reason: openSSLReason(error), paths: fopenPaths(error))
        }
        // tls_certkey.c: `cannot get %s private key from file "%s"`, `cannot get %s certificate from file "%s"`,
        // `error opening chain file: %s: %m`, `key at index %d in %s does not match next certificate`,
        // `error loading private keys and certificates from: %s`.
        if text.hasPrefix("cannot get "), let path = quoted(text) {
            let isKey = text.contains("private key")
            return .load(isKey ? .keyUnloadable : .certificateUnloadable, detail: String(text), paths: [path])
        }
        if text.hasPrefix("error opening chain file: ") {
            let rest = text.dropFirst("error opening chain file: ".count)
            let (path, reason) = splitLast(rest)
            let kind: MailTLSFailureKind = path.lowercased().contains("key") ? .keyFileUnreadable : .certificateFileUnreadable
            return .load(kind, detail: reason.isEmpty ? String(text) : reason, paths: [path])
        }
        if text.hasPrefix("key at index "), let inRange = text.range(of: " in "), let does = text.range(of: " does not match") {
            return .load(.keyCertificateMismatch, detail: String(text), paths: [String(text[inRange.upperBound..<does.lowerBound])])
        }
        if text.hasPrefix("error loading private keys and certificates from: ") {
            var list = text.dropFirst("error loading private keys and certificates from: ".count)
            if let end = list.range(of: ": disabling TLS support") { list = list[..<end.lowerBound] }
            let paths = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return .load(.certificateUnloadable, detail: String(text), paths: paths)
        }
        if text.hasPrefix("SSL_accept error from ") || text.hasPrefix("SSL_connect error to ") {
            let isAccept = text.hasPrefix("SSL_accept")
            var peer = text.dropFirst(isAccept ? "SSL_accept error from ".count : "SSL_connect error to ".count)
            if let colon = peer.range(of: ": ", options: .backwards) { peer = peer[..<colon.lowerBound] }
            return .handshake(peer: String(peer), direction: isAccept ? .inbound : .outbound)
        }
        // Client certificates (smtpd_tls_req_ccert) and verification (smtp_tls_security_level = verify/secure).
        if text.hasPrefix("certificate verification failed for ") || text.hasPrefix("server certificate verification failed for ")
            || text.hasPrefix("client certificate verification failed for ") {
            let after = text[text.range(of: "verification failed for ")!.upperBound...]
            let (peer, reason) = splitPeer(after)
            return .failure(.peerCertificateUntrusted, detail: reason, peer: peer, direction: text.hasPrefix("server") ? .outbound : direction, paths: [])
        }
        if text.hasPrefix("NOQUEUE: abort: TLS from ") {
            let after = text.dropFirst("NOQUEUE: abort: TLS from ".count)
            let (peer, reason) = splitPeer(after)
            if reason.hasPrefix("No client certificate") {
                return .failure(.clientCertificateMissing, detail: reason, peer: peer, direction: .inbound, paths: [])
            }
            return .consequence(otherwise: .peerCertificateUntrusted, detail: reason, peer: peer, direction: .inbound)
        }
        // The delivery agent's verdict on a message (smtp/lmtp): `…, status=deferred (reason)`.
        if let status = text.range(of: ", status=deferred ("), direction == .outbound {
            var reason = text[status.upperBound...]
            if reason.hasSuffix(")") { reason = reason.dropLast() }
            let peer = text.range(of: "relay=").map { text[$0.upperBound...].prefix { $0 != "," } }.map(String.init)
            let lower = reason.lowercased()
            if lower.contains("tls engine is unavailable") {
                return .consequence(otherwise: .tlsUnavailable, detail: String(reason), peer: peer, direction: .outbound)
            }
            if lower.contains("client certificate not trusted") || lower.contains("certificate not trusted") {
                return .failure(.peerRejectedCertificate, detail: String(reason), peer: peer, direction: .outbound, paths: [])
            }
            if lower.contains("no client certificate presented") || lower.contains("client certificate required") {
                return .consequence(otherwise: .clientCertificateMissing, detail: String(reason), peer: peer, direction: .outbound)
            }
            if lower.contains("cannot start tls") || lower.contains("server certificate not verified")
                || lower.contains("server certificate not trusted") || lower.contains("tls is required") {
                let kind: MailTLSFailureKind = lower.contains("certificate not") ? .peerCertificateUntrusted : .handshakeFailed
                return .consequence(otherwise: kind, detail: String(reason), peer: peer, direction: .outbound)
            }
            return nil
        }
        return nil
    }

    // MARK: dovecot

    static func dovecot(_ message: String, component: String) -> MailLogSignal? {
        let direction = MailTLSDirection.inbound
        // Config (master on reload, doveconf at start): `ssl_key: Can't open file /path: No such file or directory`.
        if let open = message.range(of: ": Can't open file ") {
            let setting = message[..<open.lowerBound].split(separator: " ").last.map(String.init) ?? ""
            guard setting.hasPrefix("ssl_") else { return nil }
            var rest = message[open.upperBound...]
            // master adds ` - Also failed to read config by executing doveconf: …` after the reason.
            if let dash = rest.range(of: " - ") { rest = rest[..<dash.lowerBound] }
            let (path, reason) = splitLast(rest)
            let kind: MailTLSFailureKind = setting.contains("key") ? .keyFileUnreadable : .certificateFileUnreadable
            return .load(kind, detail: "\(setting): \(reason)", paths: [path])
        }
        // login processes: `Failed to initialize SSL server context: Can't load SSL private key (ssl_key setting): …`.
        if let range = message.range(of: "Failed to initialize SSL server context: ") {
            var reason = message[range.upperBound...]
            if let tail = reason.range(of: ": user=<") { reason = reason[..<tail.lowerBound] }
            let lower = reason.lowercased()
            let kind: MailTLSFailureKind
            if lower.contains("different cert") || lower.contains("mismatch") { kind = .keyCertificateMismatch }
            else if lower.contains("private key") { kind = .keyUnloadable }
            else { kind = .certificateUnloadable }
            return .failure(kind, detail: String(reason), peer: field("rip", in: message), direction: direction, paths: [])
        }
        if message.contains("TLS initialization failed") {
            return .consequence(otherwise: .tlsUnavailable, detail: "TLS initialization failed", peer: field("rip", in: message), direction: direction)
        }
        // `Disconnected: … SSL_accept() failed: error:0A0000C1:SSL routines::no shared cipher (…): user=<>, rip=…`
        if let range = message.range(of: "SSL_accept() failed: ") {
            var error = message[range.upperBound...]
            if let end = error.range(of: " (") ?? error.range(of: ", ") { error = error[..<end.lowerBound] }
            let reason = openSSLReason(error)
            return .failure(kind(forReason: reason, direction: direction), detail: reason, peer: field("rip", in: message),
                            direction: direction, paths: [])
        }
        return nil
    }

    // MARK: exim

    static func exim(_ message: String) -> MailLogSignal? {
        // Receiving: `TLS error on connection from (helo) [ip] (cert/key setup: cert=/p key=/p): reason` (GnuTLS),
        // `… (SSL_CTX_use_PrivateKey_file file=/p): error:…` (OpenSSL builds), `… (gnutls_handshake): reason`.
        // Sending: `TLS error on connection to host [ip] (…): reason`, and a delivery's
        // `== rcpt R=… T=… defer (-37) H=host [ip]: TLS session: (certificate verification failed): certificate invalid`.
        if let range = message.range(of: "TLS error on connection ") {
            let rest = message[range.upperBound...]
            let direction: MailTLSDirection = rest.hasPrefix("to ") ? .outbound : .inbound
            var body = rest
            if body.hasPrefix("from ") { body = body.dropFirst(5) } else if body.hasPrefix("to ") { body = body.dropFirst(3) }
            // The peer is `(helo) [ip]`, `host [ip]` or `[ip]`: it ends at the first `] (`; the context follows.
            let peer: String
            let contextStart: Substring.Index
            if let bracket = body.range(of: "] (") {
                peer = String(body[..<bracket.lowerBound]) + "]"
                contextStart = bracket.upperBound
            } else if let open = body.range(of: "(") {
                peer = body[..<open.lowerBound].trimmingCharacters(in: .whitespaces)
                contextStart = open.upperBound
            } else {
                return nil
            }
            guard let close = body.range(of: "): ", range: contextStart..<body.endIndex) else { return nil }
            return eximFailure(context: body[contextStart..<close.lowerBound], reason: String(body[close.upperBound...]),
                               peer: peer, direction: direction)
        }
        if message.contains(" defer ("), let tls = message.range(of: ": TLS session: ") {
            let reason = String(message[tls.upperBound...])
            let peer = message.range(of: " H=").map { String(message[$0.upperBound...].prefix { $0 != ":" }) }
            let lower = reason.lowercased()
            let kind: MailTLSFailureKind = lower.contains("verification failed") || lower.contains("certificate invalid")
                ? .peerCertificateUntrusted : kind(forReason: reason, direction: .outbound)
            return .failure(kind, detail: reason, peer: peer, direction: .outbound, paths: [])
        }
        return nil
    }

    private static func eximFailure(context: Substring, reason: String, peer: String, direction: MailTLSDirection) -> MailLogSignal {
        var paths: [String] = []
        for token in context.split(separator: " ") {
            for prefix in ["cert=", "key=", "file="] where token.hasPrefix(prefix) { paths.append(String(token.dropFirst(prefix.count))) }
        }
        let lower = reason.lowercased()
        let setup = context.hasPrefix("cert/key setup") || context.hasPrefix("SSL_CTX_use") || context.contains("file=")
        if setup {
            let isKeyContext = context.contains("PrivateKey")
            let kind: MailTLSFailureKind
            if lower.contains("do not match") || lower.contains("mismatch") { kind = .keyCertificateMismatch }
            else if lower.contains("error while reading file") || lower.contains("no such file") || lower.contains("permission denied") {
                kind = context.hasPrefix("SSL_CTX_use_certificate") ? .certificateFileUnreadable : .keyFileUnreadable
            } else { kind = isKeyContext ? .keyUnloadable : .certificateUnloadable }
            // Complete in one line (and exim's mainlog has no pid to tie lines together).
            return .failure(kind, detail: reason, peer: peer, direction: direction, paths: paths)
        }
        return .failure(self.kind(forReason: reason, direction: direction), detail: reason, peer: peer, direction: direction, paths: paths)
    }

    // MARK: reasons

    /// The failure an OpenSSL or GnuTLS reason string names.
    static func kind(forReason reason: String, direction: MailTLSDirection) -> MailTLSFailureKind {
        let r = reason.lowercased()
        if r.contains("no shared cipher") || r.contains("no cipher match") || r.contains("no supported cipher suites")
            || r.contains("no suitable signature algorithm") || r.contains("insufficient security") {
            return .noSharedCipher
        }
        if r.contains("unsupported protocol") || r.contains("protocol version") || r.contains("wrong version number")
            || r.contains("version too low") || r.contains("no protocols available") || r.contains("unsupported version") {
            return .protocolVersionMismatch
        }
        if r.contains("certificate required") || r.contains("peer did not return a certificate") { return .clientCertificateMissing }
        if r.contains("alert unknown ca") || r.contains("alert bad certificate") || r.contains("alert certificate unknown")
            || r.contains("alert certificate expired") || r.contains("alert certificate revoked") || r.contains("alert unsupported certificate")
            || r.contains("alert access denied") || r.contains("unknown ca") {
            return .peerRejectedCertificate
        }
        if r.contains("certificate verify failed") || r.contains("verification failed") { return .peerCertificateUntrusted }
        if r.contains("key values mismatch") || r.contains("private key mismatch") || r.contains("do not match") { return .keyCertificateMismatch }
        return .handshakeFailed
    }

    /// A load failure's kind, refined by the OpenSSL reason that followed it.
    static func refine(_ kind: MailTLSFailureKind, reason: String) -> MailTLSFailureKind {
        let r = reason.lowercased()
        if r.contains("key values mismatch") || r.contains("private key mismatch") { return .keyCertificateMismatch }
        if r.contains("no such file") || r.contains("permission denied") {
            switch kind {
            case .keyUnloadable: return .keyFileUnreadable
            case .certificateUnloadable: return .certificateFileUnreadable
            default: return kind
            }
        }
        return kind
    }

    /// `error:0A0000C1:SSL routines::no shared cipher:../ssl/statem/statem_srvr.c:2226:` → `no shared cipher`
    /// (OpenSSL 1.1's `error:code:lib:func:reason:file:line:` alike); other text is returned trimmed.
    static func openSSLReason(_ error: Substring) -> String {
        var text = error
        if let start = text.range(of: "error:") { text = text[start.lowerBound...] } else { return error.trimmingCharacters(in: .whitespaces) }
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count >= 5 else { return String(text) }
        var reason = String(fields[4])
        if fields.count > 5, fields[5].hasPrefix(" SSL alert number") { reason += ":" + fields[5] }
        return reason.trimmingCharacters(in: .whitespaces)
    }

    /// `…:calling fopen(/path, r):` → `/path`.
    static func fopenPaths(_ error: Substring) -> [String] {
        guard let start = error.range(of: "fopen("), let end = error.range(of: ", ", range: start.upperBound..<error.endIndex) else { return [] }
        return [String(error[start.upperBound..<end.lowerBound])]
    }

    private static func quoted(_ text: Substring) -> String? {
        guard let open = text.firstIndex(of: "\""), let close = text[text.index(after: open)...].firstIndex(of: "\"") else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    /// `/path: reason` → (`/path`, `reason`), split at the last `: `.
    private static func splitLast(_ text: Substring) -> (String, String) {
        guard let colon = text.range(of: ": ", options: .backwards) else { return (String(text), "") }
        return (String(text[..<colon.lowerBound]), String(text[colon.upperBound...]))
    }

    /// `host[ip]:port: reason` / `host[ip]: reason` → (peer, reason).
    private static func splitPeer(_ text: Substring) -> (String, String) {
        if let bracket = text.firstIndex(of: "]"), let colon = text.range(of: ": ", range: bracket..<text.endIndex) {
            return (String(text[..<colon.lowerBound]), String(text[colon.upperBound...]))
        }
        return splitLast(text)
    }

    /// `rip=127.0.0.1` in dovecot's `user=<>, rip=…, lip=…` tail.
    private static func field(_ name: String, in message: String) -> String? {
        guard let range = message.range(of: ", \(name)=") else { return nil }
        return String(message[range.upperBound...].prefix { $0 != "," && $0 != " " })
    }
}
