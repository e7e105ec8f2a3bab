import ArgumentParser

struct ConnectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connector",
        abstract: "Manage send connectors and see which certificate each one presents.",
        subcommands: [ConnectorAddCommand.self, ConnectorSetCommand.self, ConnectorListCommand.self,
                      ConnectorRemoveCommand.self, ConnectorResolveCommand.self])
}

/// Options shared by `connector add` and `connector set`.
struct ConnectorOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The FQDN the connector presents (used to pick a certificate when no TLSCertificateName is set).", valueName: "fqdn"))
    var fqdn: String?

    @Option(name: .customLong("tls-certificate-name"),
            help: ArgumentHelp("Which certificate to present: <I>issuer<S>subject (the <I> part is optional).", valueName: "name"))
    var tlsCertificateName: String?

    @Option(help: ArgumentHelp("Build the TLSCertificateName from this certificate's issuer and subject, as admins do in PowerShell.", valueName: "thumbprint"))
    var fromCertificate: String?

    @Option(help: ArgumentHelp("Protocol logging: None or Verbose (Set-SendConnector -ProtocolLoggingLevel).", valueName: "level"))
    var protocolLogging: String?

    @Option(help: ArgumentHelp("A recipient domain the connector carries mail for (-AddressSpaces): contoso.com, *.contoso.com or *; repeatable, or comma-separated. Replaces the list.", valueName: "domain"))
    var addressSpace: [String] = []

    @Option(help: ArgumentHelp("Where the connector delivers (-SmartHosts): host, host:port or [address]:port; repeatable. Replaces the list; none means by MX.", valueName: "host"))
    var smartHost: [String] = []

    @Flag(inversion: .prefixedNo, help: "Outbound TLS is mandatory on this connector (-RequireTLS): postfix defers rather than send in clear.")
    var requireTls: Bool? = nil

    func validate() throws {
        if tlsCertificateName != nil && fromCertificate != nil {
            throw ValidationError("--tls-certificate-name and --from-certificate exclude each other")
        }
    }
}
