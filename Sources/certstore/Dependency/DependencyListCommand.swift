import ArgumentParser
import CertStore

struct DependencyListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List registered dependencies and what each names.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let resolver = try ConnectorResolver(store: store)
            let rows = try DependencyManager(store: store).dependencies().map { dependency -> RecordWriter.Row in
                var current: Thumbprint? = dependency.thumbprint
                if let text = dependency.tlsCertificateName, let name = try? TLSCertificateName(parsing: text) {
                    current = resolver.resolve(name: name).chosen?.thumbprint
                }
                let present = current.flatMap { thumbprint in
                    StoreName.allCases.lazy.compactMap { try? store.entry(thumbprint, in: store.path(of: $0)) }.first
                }
                return [
                    (name: "Application", jsonKey: "application", value: .string(dependency.application)),
                    (name: "Thumbprint", jsonKey: "thumbprint", value: dependency.thumbprint.map { .string($0.value) } ?? .null),
                    (name: "TlsCertificateName", jsonKey: "tlsCertificateName", value: dependency.tlsCertificateName.map { .string($0) } ?? .null),
                    (name: "Certificate", jsonKey: "certificate", value: present.map { .string($0.thumbprint.value) } ?? .null),
                    (name: "InStore", jsonKey: "inStore", value: .bool(present != nil)),
                    (name: "HasPrivateKey", jsonKey: "hasPrivateKey", value: .bool(present?.hasPrivateKey ?? false)),
                    (name: "AddedAt", jsonKey: "addedAt", value: .date(dependency.addedAt)),
                ]
            }
            RecordWriter(format: global.format).write(rows, columns: ["Application", "Thumbprint", "TlsCertificateName", "Certificate", "InStore", "HasPrivateKey", "AddedAt"])
            if rows.isEmpty && global.format == .table { Terminal.out("No dependency is registered.") }
        }
    }
}
