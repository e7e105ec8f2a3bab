import COpenSSL

/// Whether the TLS stack itself would serve a certificate: the verdict of ``TLSServerCheck``.
public struct TLSUsability: Sendable, Hashable, Codable {
    /// The OpenSSL security level the check ran at (the system's, from `/etc/ssl/openssl.cnf` and the
    /// library's built-in default, unless one was asked for).
    public let securityLevel: Int
    /// Why the stack refuses the certificate, in words; nil when it serves it.
    public let problem: String?
    /// OpenSSL's own error text behind ``problem`` (e.g. `ee key too small`), for the expert.
    public let detail: String?

    public var isUsable: Bool { problem == nil }

    public init(securityLevel: Int, problem: String?, detail: String?) {
        self.securityLevel = securityLevel
        self.problem = problem
        self.detail = detail
    }
}

/// Asks OpenSSL whether it would serve TLS with a certificate, its private key and its chain — the way a
/// daemon (Postfix, Dovecot, Exim, nginx) loads them: the certificate and the chain go into an `SSL_CTX`
/// at the security level the system configures (which checks key sizes and signature digests), the key
/// must match, and then a complete handshake in memory with a default client must succeed (which checks
/// what loading does not: key usage that forbids every cipher suite, a key type no protocol version can
/// sign with).
///
/// Exchange's own checks (`ExchangeCertificateValidity`) come first; this one answers "would the daemon
/// start TLS with it", which Debian's OpenSSL (security level 2) refuses for a 1024-bit RSA key that
/// Exchange accepts.
public enum TLSServerCheck {
    /// The security level a TLS server on this machine gets when it sets none (OpenSSL's built-in default,
    /// raised or lowered by the system configuration).
    public static var systemSecurityLevel: Int {
        guard let context = SSL_CTX_new(TLS_server_method()) else { return 1 }
        defer { SSL_CTX_free(context) }
        return Int(SSL_CTX_get_security_level(context))
    }

    /// Judges `certificate` served with `key` and `chain` (issuers, nearest first, without the root as
    /// deployed in `chain.pem`) at `securityLevel` (the system's when nil).
    public static func evaluate(certificate: Certificate, key: PrivateKey, chain: [Certificate],
                                securityLevel: Int? = nil) -> TLSUsability {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let server = SSL_CTX_new(TLS_server_method()) else {
            return TLSUsability(securityLevel: securityLevel ?? 0, problem: "OpenSSL could not create a TLS context", detail: errorText())
        }
        defer { SSL_CTX_free(server) }
        if let securityLevel { SSL_CTX_set_security_level(server, Int32(clamping: securityLevel)) }
        let level = Int(SSL_CTX_get_security_level(server))
        func refused(detail: String? = nil, _ problem: String) -> TLSUsability {
            let text = detail ?? errorText()
            return TLSUsability(securityLevel: level, problem: problem, detail: text.isEmpty ? nil : text)
        }

        if SSL_CTX_use_certificate(server, certificate.x509) != 1 {
            let reason = ERR_GET_REASON(ERR_peek_last_error())
            let detail = errorText()
            return refused(detail: detail, loadProblem(reason, for: certificate, role: "the certificate", level: level))
        }
        for issuer in chain where shim_SSL_CTX_add1_chain_cert(server, issuer.x509) != 1 {
            let reason = ERR_GET_REASON(ERR_peek_last_error())
            let detail = errorText()
            return refused(detail: detail, loadProblem(reason, for: issuer, role: "the chain certificate \(issuer.properties().subject.commonName ?? issuer.thumbprint.value)", level: level))
        }
        if SSL_CTX_use_PrivateKey(server, key.pkey) != 1 || SSL_CTX_check_private_key(server) != 1 {
            return refused("the private key does not belong to the certificate")
        }
        // OpenSSL serves a certificate whatever its key usage says; the clients that verify it refuse one whose
        // key usage or extended key usage rules out a TLS server (OpenSSL's "SSL server" purpose, which the
        // client side of the same library applies).
        if X509_check_purpose(certificate.x509, X509_PURPOSE_SSL_SERVER, 0) != 1 {
            return refused("its key usage or extended key usage does not allow a TLS server: clients that verify the certificate refuse it")
        }
        ERR_clear_error()
        if let problem = handshakeProblem(server: server) {
            return TLSUsability(securityLevel: level, problem: problem.text, detail: problem.detail)
        }
        return TLSUsability(securityLevel: level, problem: nil, detail: nil)
    }

    /// What `SSL_CTX_use_certificate`/`add1_chain_cert` refused (`reason`, read before anything else can touch
    /// the error queue), in words.
    private static func loadProblem(_ reason: Int32, for certificate: Certificate, role: String, level: Int) -> String {
        let needed = requiredBits(level)
        switch reason {
        case SSL_R_EE_KEY_TOO_SMALL, SSL_R_CA_KEY_TOO_SMALL:
            let p = certificate.properties()
            let bits = EVP_PKEY_get_security_bits(X509_get0_pubkey(certificate.x509))
            return "\(role)'s \(p.keyAlgorithm) \(p.publicKeySize)-bit key gives \(bits) bits of security; security level \(level) needs \(needed) (\(example(level)))"
        case SSL_R_CA_MD_TOO_WEAK:
            let p = certificate.properties()
            return "\(role) is signed with \(p.signatureAlgorithm), too weak for security level \(level) (it needs a digest of \(needed) bits or more: SHA-256)"
        default:
            return "OpenSSL refuses \(role) at security level \(level)"
        }
    }

    /// Security bits each level asks for (SSL_CTX_set_security_level(3)).
    private static func requiredBits(_ level: Int) -> Int {
        switch level {
        case ...0: 0
        case 1: 80
        case 2: 112
        case 3: 128
        case 4: 192
        default: 256
        }
    }

    private static func example(_ level: Int) -> String {
        switch level {
        case ...1: "RSA of at least 1024 bits"
        case 2: "RSA of at least 2048 bits, or ECDSA P-256"
        case 3: "RSA of at least 3072 bits, or ECDSA P-256"
        case 4: "RSA of at least 7680 bits, or ECDSA P-384"
        default: "RSA of at least 15360 bits, or ECDSA P-521"
        }
    }

    /// Runs one handshake between `server` and a default client through a BIO pair; nil when it completes.
    private static func handshakeProblem(server: OpaquePointer) -> (text: String, detail: String?)? {
        guard let clientContext = SSL_CTX_new(TLS_client_method()) else { return ("OpenSSL could not create a TLS client", errorText()) }
        defer { SSL_CTX_free(clientContext) }
        // The client judges nothing: only the server's refusal counts here.
        SSL_CTX_set_security_level(clientContext, 0)
        SSL_CTX_set_verify(clientContext, SSL_VERIFY_NONE, nil)
        guard let serverSession = SSL_new(server), let clientSession = SSL_new(clientContext) else {
            return ("OpenSSL could not create a TLS session", errorText())
        }
        defer { SSL_free(serverSession); SSL_free(clientSession) }
        var serverBIO: OpaquePointer? = nil
        var clientBIO: OpaquePointer? = nil
        guard BIO_new_bio_pair(&serverBIO, 0, &clientBIO, 0) == 1, let serverBIO, let clientBIO else {
            return ("OpenSSL could not create a memory transport", errorText())
        }
        SSL_set_bio(serverSession, serverBIO, serverBIO)
        SSL_set_bio(clientSession, clientBIO, clientBIO)
        SSL_set_accept_state(serverSession)
        SSL_set_connect_state(clientSession)

        var serverDone = false
        var clientDone = false
        // A TLS 1.2 or 1.3 handshake needs a handful of flights; the bound only guards against a stall.
        for _ in 0..<32 where !(serverDone && clientDone) {
            if !clientDone {
                let result = SSL_do_handshake(clientSession)
                if result == 1 { clientDone = true } else if !wouldBlock(clientSession, result) { break }
            }
            if !serverDone {
                let result = SSL_do_handshake(serverSession)
                if result == 1 {
                    serverDone = true
                } else if !wouldBlock(serverSession, result) {
                    let detail = errorText()
                    let reason = detail.isEmpty ? "" : detail
                    if reason.contains("no shared cipher") || reason.contains("no suitable signature algorithm") {
                        return ("no TLS version and cipher suite can use this certificate: its key usage or key type rules out every one a default client offers", reason)
                    }
                    return ("a TLS handshake with this certificate fails", reason.isEmpty ? nil : reason)
                }
            }
        }
        if serverDone && clientDone { return nil }
        let detail = errorText()
        return ("a TLS handshake with this certificate does not complete", detail.isEmpty ? nil : detail)
    }

    private static func wouldBlock(_ session: OpaquePointer, _ result: Int32) -> Bool {
        let error = SSL_get_error(session, result)
        return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE
    }

    /// OpenSSL's reason strings, oldest first (e.g. "ee key too small"); drains the queue.
    private static func errorText() -> String {
        drainOpenSSLErrors().map { entry in
            openSSLString(ERR_reason_error_string(entry.code)) ?? entry.message
        }.joined(separator: "; ")
    }
}
