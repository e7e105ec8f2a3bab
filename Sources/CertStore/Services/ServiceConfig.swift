import Foundation

/// The configuration lines that point a daemon at the service files certstore maintains.
public enum ServiceConfig {
    public enum Daemon: String, Sendable, CaseIterable {
        case postfix, dovecot, nginx
    }

    /// main.cf comments that say how send connectors reach postfix (nothing when there is none).
    static func connectorLines(_ connectors: [SendConnector]) -> String {
        guard !connectors.isEmpty else { return "" }
        return """
            # Send connectors (\(connectors.count)): each has its own transport reading its own files. Add
            #   certstore service-config postfix --master-cf   to master.cf, write
            #   certstore service-config postfix --transport-map > /etc/postfix/certstore_transport
            # and route the connectors' address spaces through it:
            # transport_maps = texthash:/etc/postfix/certstore_transport

            """
    }

    /// Lines for `daemon`, reading the files of the service it serves (SMTP, IMAP, IIS).
    public static func lines(for daemon: Daemon, store: CertificateStore) throws -> String {
        let files = ServiceFiles(store: store)
        let connectors = try store.read(SendConnectors.self).sendConnectors
        func path(_ service: ExchangeService, _ file: String) -> String {
            files.currentLink(service).appendingPathComponent(file).path
        }
        let header = "# Written by `certstore service-config \(daemon.rawValue)` for \(store.directory.path).\n"
            + "# certstore switches these files atomically when bindings change; reload the daemon from a hook in \(DeployHooks(store: store).directory.path)/.\n"
        switch daemon {
        case .postfix:
            let verbose = connectors.contains { $0.protocolLoggingLevel == "Verbose" }
            return header + """
                # SMTP: the certificate bound with `certstore enable THUMBPRINT --services SMTP`.
                smtpd_tls_chain_files = \(path(.smtp, "privkey.pem")), \(path(.smtp, "fullchain.pem"))
                smtp_tls_chain_files = \(path(.smtp, "privkey.pem")), \(path(.smtp, "fullchain.pem"))
                smtpd_tls_security_level = may
                smtp_tls_security_level = may
                # \(verbose ? "A send connector has protocol logging Verbose" : "Protocol logging: set a connector Verbose for level 2") (Set-SendConnector -ProtocolLoggingLevel).
                smtp_tls_loglevel = \(verbose ? 2 : 1)
                smtpd_tls_loglevel = \(verbose ? 2 : 1)

                """ + connectorLines(connectors)
        case .dovecot:
            return header + """
                # IMAP and POP (one certificate for both in dovecot): IMAP's files, bound with
                # `certstore enable THUMBPRINT --services IMAP,POP`.
                ssl = yes
                ssl_cert = <\(path(.imap, "fullchain.pem"))
                ssl_key = <\(path(.imap, "privkey.pem"))

                """
        case .nginx:
            return header + """
                # Web (IIS): the certificate bound with `certstore enable THUMBPRINT --services IIS`.
                ssl_certificate \(path(.iis, "fullchain.pem"));
                ssl_certificate_key \(path(.iis, "privkey.pem"));

                """
        }
    }
}
