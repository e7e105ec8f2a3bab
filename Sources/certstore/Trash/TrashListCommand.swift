import ArgumentParser
import CertStore

struct TrashListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the trash.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let rows = try Trash(store: try global.openStore()).entries().map { entry -> RecordWriter.Row in
                [(name: "Id", jsonKey: "id", value: .string(entry.id)),
                 (name: "Thumbprint", jsonKey: "thumbprint", value: .string(entry.thumbprint.value)),
                 (name: "Store", jsonKey: "store", value: .string(entry.store.description)),
                 (name: "RemovedAt", jsonKey: "removedAt", value: .date(entry.removedAt)),
                 (name: "KeyInTrash", jsonKey: "keyInTrash", value: .bool(entry.keyFile != nil)),
                 (name: "Forced", jsonKey: "forced", value: .bool(entry.forced)),
                 (name: "Subject", jsonKey: "subject", value: .string(entry.subject))]
            }
            RecordWriter(format: global.format).write(rows, columns: ["Id", "Thumbprint", "Store", "RemovedAt", "KeyInTrash", "Forced", "Subject"])
            if rows.isEmpty && global.format == .table { Terminal.out("The trash is empty.") }
        }
    }
}
