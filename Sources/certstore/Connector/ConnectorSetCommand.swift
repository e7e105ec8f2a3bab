import ArgumentParser
import CertStore

struct ConnectorSetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a send connector (Set-SendConnector).")

    @Argument(help: ArgumentHelp("The connector's name.", valueName: "name"))
    var name: String

    @OptionGroup var options: ConnectorOptions

    @Flag(help: "Remove the TLSCertificateName (Set-SendConnector -TlsCertificateName $null).")
    var clearTlsCertificateName = false

    @Flag(help: "Remove the FQDN.")
    var clearFqdn = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if clearTlsCertificateName && (options.tlsCertificateName != nil || options.fromCertificate != nil) {
            throw ValidationError("--clear-tls-certificate-name cannot be combined with a new name")
        }
        if clearFqdn && options.fqdn != nil { throw ValidationError("--clear-fqdn cannot be combined with --fqdn") }
    }

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let tlsName = try ConnectorSupport.tlsCertificateName(options, store: store)
            let outcome = try ConnectorManager(store: store).set(name) { connector in
                if let fqdn = options.fqdn { connector.fqdn = fqdn }
                if clearFqdn { connector.fqdn = nil }
                if let tlsName { connector.tlsCertificateName = tlsName }
                if clearTlsCertificateName { connector.tlsCertificateName = nil }
                if let level = options.protocolLogging { connector.protocolLoggingLevel = level }
                if !options.addressSpace.isEmpty { connector.addressSpaces = options.addressSpace }
                if !options.smartHost.isEmpty { connector.smartHosts = options.smartHost }
                if let require = options.requireTls { connector.requireTLS = require }
            }
            ConnectorSupport.print(outcome.value, store: store, format: global.format)
            Consequences.report(outcome, store: store)
        }
    }
}
