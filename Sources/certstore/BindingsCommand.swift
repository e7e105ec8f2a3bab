import ArgumentParser
import CertStore
import Foundation

struct BindingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bindings",
        abstract: "Show which certificate each service uses, and the default SMTP certificate.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let bindings = try BindingManager(store: store).bindings()
            let personal = BindingManager(store: store).personal
            func entry(_ thumbprint: Thumbprint) -> StoreEntry? { try? store.entry(thumbprint, in: personal) }
            if global.format == .json {
                var services: [String: Any] = [:]
                for service in ExchangeService.bindable {
                    services[service.rawValue] = bindings.thumbprints(for: service).map { thumbprint -> [String: Any] in
                        let e = entry(thumbprint)
                        return ["thumbprint": thumbprint.value, "subject": e?.properties.subjectString ?? NSNull(),
                                "notAfter": e?.properties.notAfter.map { RecordWriter.dateText($0) } ?? NSNull(),
                                "hasPrivateKey": e?.hasPrivateKey ?? false, "inStore": e != nil,
                                "isDefaultSmtpCertificate": service == .smtp && bindings.defaultSmtpCertificate == thumbprint]
                    }
                }
                Terminal.outRaw(JSONText.render(["defaultSmtpCertificate": bindings.defaultSmtpCertificate?.value ?? NSNull(), "services": services] as [String: Any]))
                return
            }
            var rows: [RecordWriter.Row] = []
            for service in ExchangeService.bindable {
                for thumbprint in bindings.thumbprints(for: service) {
                    let e = entry(thumbprint)
                    rows.append([
                        (name: "Service", jsonKey: "service", value: .string(service.rawValue)),
                        (name: "Thumbprint", jsonKey: "thumbprint", value: .string(thumbprint.value)),
                        (name: "Default", jsonKey: "isDefault", value: .bool(service == .smtp && bindings.defaultSmtpCertificate == thumbprint)),
                        (name: "HasPrivateKey", jsonKey: "hasPrivateKey", value: .bool(e?.hasPrivateKey ?? false)),
                        (name: "NotAfter", jsonKey: "notAfter", value: .date(e?.properties.notAfter)),
                        (name: "Subject", jsonKey: "subject", value: .string(e?.properties.subjectString ?? "(not in \(personal))")),
                    ])
                }
            }
            RecordWriter(format: global.format).write(rows, columns: ["Service", "Thumbprint", "Default", "HasPrivateKey", "NotAfter", "Subject"])
            if global.format == .table {
                if rows.isEmpty { Terminal.out("No service is bound. Bind one with: certstore enable THUMBPRINT --services SMTP") }
                Terminal.out("Default SMTP certificate: \(bindings.defaultSmtpCertificate?.value ?? "none")")
            }
        }
    }
}
