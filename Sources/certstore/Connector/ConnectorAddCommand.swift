import ArgumentParser
import CertStore

struct ConnectorAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a send connector (New-SendConnector).")

    @Argument(help: ArgumentHelp("The connector's name, e.g. \"Outbound to Office 365\".", valueName: "name"))
    var name: String

    @OptionGroup var options: ConnectorOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore(.creating)
            let tlsName = try ConnectorSupport.tlsCertificateName(options, store: store)
            let outcome = try ConnectorManager(store: store).add(
                SendConnector(name: name, fqdn: options.fqdn, tlsCertificateName: tlsName, protocolLoggingLevel: options.protocolLogging,
                              addressSpaces: options.addressSpace.isEmpty ? nil : options.addressSpace,
                              smartHosts: options.smartHost.isEmpty ? nil : options.smartHost, requireTLS: options.requireTls))
            ConnectorSupport.print(outcome.value, store: store, format: global.format)
            Consequences.report(outcome, store: store)
        }
    }
}

enum ConnectorSupport {
    /// The TLSCertificateName from --tls-certificate-name, or built from --from-certificate.
    static func tlsCertificateName(_ options: ConnectorOptions, store: StoreLocation) throws -> String? {
        if let thumbprint = options.fromCertificate {
            let entry = try store.requireEntry(try Thumbprint(parsing: thumbprint), in: store.path(of: .my))
            return TLSCertificateName(certificate: entry.properties).description
        }
        return options.tlsCertificateName
    }

    static func rows(_ connectors: [SendConnector], store: StoreLocation) throws -> [RecordWriter.Row] {
        let resolver = try ConnectorResolver(store: store)
        return connectors.map { connector in
            let selection = resolver.resolve(connector)
            return [
                (name: "Name", jsonKey: "name", value: .string(connector.name)),
                (name: "Fqdn", jsonKey: "fqdn", value: connector.fqdn.map { .string($0) } ?? .null),
                (name: "TlsCertificateName", jsonKey: "tlsCertificateName", value: connector.tlsCertificateName.map { .string($0) } ?? .null),
                (name: "ProtocolLoggingLevel", jsonKey: "protocolLoggingLevel", value: .string(connector.protocolLoggingLevel ?? "None")),
                (name: "AddressSpaces", jsonKey: "addressSpaces", value: .list(connector.addressSpaces ?? [])),
                (name: "SmartHosts", jsonKey: "smartHosts", value: .list(connector.smartHosts ?? [])),
                (name: "RequireTLS", jsonKey: "requireTLS", value: .bool(connector.requireTLS ?? false)),
                (name: "Status", jsonKey: "status", value: .string(selection.status.rawValue)),
                (name: "Certificate", jsonKey: "certificate", value: selection.chosen.map { .string($0.thumbprint.value) } ?? .null),
                (name: "HasPrivateKey", jsonKey: "hasPrivateKey", value: .bool(selection.isUsable)),
            ]
        }
    }

    static func print(_ connector: SendConnector, store: StoreLocation, format: OutputFormat) {
        let rows = (try? self.rows([connector], store: store)) ?? []
        if format == .json, let row = rows.first {
            Terminal.outRaw(RecordWriter.jsonObject(row))
        } else {
            RecordWriter(format: format == .table ? .list : format).write(rows, columns: rows.first?.map(\.name) ?? [])
        }
    }
}
