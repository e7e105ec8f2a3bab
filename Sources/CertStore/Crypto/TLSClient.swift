import COpenSSL
import Foundation

/// A TLS client handshake over a connected socket, only to read what the server presents.
///
/// Verification is off on purpose: the point is to see the certificate a service presents — expired,
/// self-signed or wrong — not to trust it.
public enum TLSClient {
    public struct Handshake: Sendable {
        /// The server's chain as sent, leaf first.
        public let chain: [Certificate]
        public let protocolVersion: String
        public let cipher: String
    }

    public static func handshake(socket fd: Int32, serverName: String?) throws -> Handshake {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw CertStoreError.openssl("creating a TLS context", kind: .internalError) }
        defer { SSL_CTX_free(context) }
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        guard let ssl = SSL_new(context) else { throw CertStoreError.openssl("creating a TLS session", kind: .internalError) }
        defer { SSL_free(ssl) }
        SSL_set_fd(ssl, fd)
        // SNI only for names: an IP literal is not a valid server_name.
        if let serverName, !serverName.isEmpty, serverName.contains(where: \.isLetter), !serverName.contains(":") {
            _ = shim_SSL_set_tlsext_host_name(ssl, serverName)
        }
        guard SSL_connect(ssl) == 1 else {
            let entries = drainOpenSSLErrors().map(\.description).joined(separator: "; ")
            throw CertStoreError(.badData, "the TLS handshake failed" + (entries.isEmpty ? " (the connection was closed or timed out)" : ": \(entries)"))
        }
        var chain: [Certificate] = []
        if let stack = SSL_get_peer_cert_chain(ssl) {
            for index in 0..<shim_sk_X509_num(stack) {
                if let x509 = shim_sk_X509_value(stack, index) { chain.append(try Certificate(borrowing: x509)) }
            }
        }
        if chain.isEmpty, let leaf = SSL_get1_peer_certificate(ssl) { chain.append(try Certificate(taking: leaf)) }
        let version = openSSLString(SSL_get_version(ssl)) ?? "?"
        let cipher = openSSLString(SSL_CIPHER_get_name(SSL_get_current_cipher(ssl))) ?? "?"
        SSL_shutdown(ssl)
        return Handshake(chain: chain, protocolVersion: version, cipher: cipher)
    }
}
