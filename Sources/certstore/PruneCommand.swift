import ArgumentParser
import CertStore

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove every keyless certificate in LocalMachine/My that nothing needs (into the trash).")

    @Flag(help: "Prune certificates without a private key (required: the only kind of pruning).")
    var keyless = false

    @Flag(help: "Show what would be removed and kept; change nothing.")
    var dryRun = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard keyless else { throw ValidationError("say what to prune: --keyless") }
    }

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("prune")
            let store = try global.openStore()
            let outcome = try Remover(store: store).pruneKeyless(dryRun: dryRun)
            let result = outcome.value
            defer { Consequences.report(outcome, store: store) }
            var rows: [RecordWriter.Row] = []
            func row(_ action: String, _ entry: StoreEntry, _ reason: String, _ trashID: String?) -> RecordWriter.Row {
                [(name: "Action", jsonKey: "action", value: .string(action)),
                 (name: "Thumbprint", jsonKey: "thumbprint", value: .string(entry.thumbprint.value)),
                 (name: "Subject", jsonKey: "subject", value: .string(entry.properties.subjectString)),
                 (name: "Reason", jsonKey: "reason", value: .string(reason)),
                 (name: "TrashId", jsonKey: "trashId", value: trashID.map { .string($0) } ?? .null)]
            }
            for (plan, trash) in result.removed {
                rows.append(row(dryRun ? "WouldRemove" : "Removed", plan.entry,
                                (["no private key and nothing needs it"] + plan.notes).joined(separator: "; "), trash?.id))
            }
            for plan in result.kept { rows.append(row("Kept", plan.entry, plan.blockers.joined(separator: "; "), nil)) }
            for entry in result.damagedKeys {
                rows.append(row("Kept", entry, "a key file exists but is \(entry.keyStatus.rawValue.lowercased()): investigate with `certstore show \(entry.thumbprint)`", nil))
            }
            let columns = ["Action", "Thumbprint", "Subject", "Reason", "TrashId"]
            if global.format == .table {
                RecordWriter(format: .list).write(rows, columns: columns)
                Terminal.out("\(dryRun ? "Would remove" : "Removed") \(result.removed.count), kept \(result.kept.count + result.damagedKeys.count)." + (dryRun ? " Nothing was changed (--dry-run)." : ""))
            } else {
                RecordWriter(format: global.format).write(rows, columns: columns)
            }
        }
    }
}
