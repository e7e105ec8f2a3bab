import ArgumentParser
import CertStore

struct ConnectorListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List send connectors with the certificate each resolves to now.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let connectors = try ConnectorManager(store: store).connectors()
            let rows = try ConnectorSupport.rows(connectors, store: store)
            let columns = ["Name", "Fqdn", "TlsCertificateName", "ProtocolLoggingLevel", "AddressSpaces", "SmartHosts", "RequireTLS",
                           "Status", "Certificate", "HasPrivateKey"]
            if global.format == .table {
                let narrow = rows.map { row in row.filter { ["Name", "Status", "Certificate", "HasPrivateKey", "TlsCertificateName"].contains($0.name) } }
                RecordWriter(format: .table).write(narrow, columns: ["Name", "TlsCertificateName", "Status", "Certificate", "HasPrivateKey"])
                if rows.isEmpty { Terminal.out("No send connector. Add one with: certstore connector add NAME --tls-certificate-name \"<I>…<S>…\"") }
            } else {
                RecordWriter(format: global.format).write(rows, columns: columns)
            }
        }
    }
}
