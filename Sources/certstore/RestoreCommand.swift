import ArgumentParser
import CertStore
import Foundation

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Bring a removed certificate back from the trash, exactly as it was.",
        discussion: """
            Refused (exit 2) when the certificate is in its store again, unless it is the same certificate \
            with the same properties: then an interrupted restore is finished (what is missing is written \
            from the trash entry, and the entry is deleted).
            """)

    @Argument(help: ArgumentHelp("A trash ID from `certstore trash list`, or a thumbprint (its newest trash entry).", valueName: "id"))
    var reference: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let outcome = try Trash(store: store).restore(reference)
            let entry = outcome.value
            defer { Consequences.report(outcome, store: store) }
            if global.format == .json {
                Terminal.outRaw(JSONText.render(["restored": true, "id": entry.id, "thumbprint": entry.thumbprint.value, "store": entry.store.description,
                                              "subject": entry.subject, "keyRestored": entry.keyFile != nil] as [String: Any]))
                return
            }
            Terminal.out("Restored \(entry.thumbprint) (\(Terminal.sanitize(entry.subject))) to \(entry.store)" + (entry.keyFile != nil ? " with its private key." : "."))
        }
    }
}
