import Foundation

/// Postfix configuration for send connectors: one `master.cf` smtp transport per connector, reading the
/// connector's own service files (``ServiceFiles/currentLink(connector:)``), and the transport map lines that
/// route each connector's address spaces to it — so what `connector resolve` says is what postfix presents.
public enum PostfixTransports {
    /// The master.cf service name of a connector's transport.
    public static func transportName(_ connector: SendConnector) -> String { "certstore-\(connector.slug)" }

    /// The `syslog_name` of a connector's transport: its log lines read `postfix/certstore-<slug>/smtp[…]`.
    public static func syslogName(_ connector: SendConnector) -> String { "postfix/\(transportName(connector))" }

    /// `master.cf` entries, one per connector (empty when there is none).
    public static func masterEntries(_ connectors: [SendConnector], files: ServiceFiles) -> String {
        connectors.map { connector in
            let current = files.currentLink(connector: connector).path
            var lines = [
                "# Send connector \"\(connector.name)\": presents the certificate its TLSCertificateName resolves to.",
                "\(transportName(connector)) unix - - n - - smtp",
                "  -o syslog_name=\(syslogName(connector))",
                "  -o smtp_tls_chain_files=\(current)/smtp-client.pem",
                // certstore's policy: empty while the connector works; `encrypt` when Exchange would fail it, so mail defers.
                "  -o smtp_tls_policy_maps=regexp:\(current)/tls-policy",
            ]
            if connector.requireTLS == true { lines.append("  -o smtp_tls_security_level=encrypt") }
            if let fqdn = connector.fqdn { lines.append("  -o smtp_helo_name=\(fqdn)") }
            if connector.protocolLoggingLevel == "Verbose" { lines.append("  -o smtp_tls_loglevel=2") }
            let fallback = (connector.smartHosts ?? []).dropFirst().map(nextHop)
            if !fallback.isEmpty { lines.append("  -o smtp_fallback_relay=\(fallback.joined(separator: ","))") }
            return lines.joined(separator: "\n") + "\n"
        }.joined()
    }

    /// Transport map lines (a `texthash:` or `hash:` table): each address space to its connector's transport and
    /// first smart host (`[host]:port`, no MX lookup, as Exchange's smart hosts), or to MX delivery.
    public static func transportMap(_ connectors: [SendConnector]) -> String {
        var lines: [String] = []
        for connector in connectors {
            let target = "\(transportName(connector)):" + (connector.smartHosts?.first.map(nextHop) ?? "")
            for space in connector.addressSpaces ?? [] {
                let key = space == "*" ? "*" : space.hasPrefix("*.") ? "." + space.dropFirst(2) : space
                lines.append("\(key) \(target)")
                // `*.contoso.com` is the domain and its subdomains in Exchange.
                if space.hasPrefix("*.") { lines.append("\(space.dropFirst(2)) \(target)") }
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// A smart host as a postfix next hop: `[host]:port` (brackets: no MX lookup).
    static func nextHop(_ host: String) -> String {
        if host.hasPrefix("[") { return host }
        if let colon = host.lastIndex(of: ":"), !host[..<colon].contains(":") {
            return "[\(host[..<colon])]:\(host[host.index(after: colon)...])"
        }
        return "[\(host)]"
    }
}
