import ArgumentParser
import CertStore
import Foundation

struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a certificate, refusing while anything would break; it goes to the trash.",
        discussion: """
            Refused (exit 2), naming each dependent, when the certificate is the default SMTP certificate, is \
            bound to a service, is a registered dependency, issues a bound certificate, or when a connector that \
            resolves to it today would afterwards resolve to nothing usable. When a connector falls through to a \
            usable twin instead (the KB 4495258 fix: keyless old certificate, renewed one present), removal goes \
            ahead and says which certificate the connector uses from now on. The key stays unless --delete-key, \
            and is never deleted while another certificate uses it. Removing a pending request from \
            LocalMachine/REQUEST cancels it: its key, made for that request, goes to the trash with it without \
            --delete-key. `certstore restore` undoes a removal, key included.

            An interrupted removal is finished by running it again: a certificate whose files are already \
            in its newest trash entry is taken out of the store without a second trash entry, and \
            --delete-key of a certificate already removed deletes the key the interruption left behind \
            (exit 0) when its newest trash entry holds that key and no certificate uses it.
            """)

    @Argument(help: ArgumentHelp("The certificate's thumbprint.", valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String

    @Flag(help: "Show what would happen and change nothing.")
    var dryRun = false

    @Flag(help: "Remove even though something depends on it (it still goes to the trash).")
    var force = false

    @Flag(help: "Also move the private key to the trash (refused while another certificate uses the key); a pending request's key goes without it.")
    var deleteKey = false

    @OptionGroup var global: GlobalOptions

    private func keyNote(_ plan: RemovalPlan, future: Bool) -> String {
        if plan.deletesKey { return " and its private key." }
        return plan.entry.keyStatus == .missing ? "." : (future ? "; its private key stays." : "; its private key stays in the store.")
    }

    private func reportFinished(_ entry: TrashEntry) throws {
        if global.format == .json {
            Terminal.outRaw(JSONText.render([
                "thumbprint": entry.thumbprint.value, "subject": entry.subject, "store": entry.store.description, "allowed": true,
                "blockers": [String](), "notes": [String](), "deletesKey": true, "dryRun": dryRun, "trashId": entry.id,
                "finishedInterruptedRemoval": true,
            ] as [String: Any]))
            return
        }
        let what = "\(entry.thumbprint) (\(Terminal.sanitize(entry.subject))) from \(entry.store)"
        if dryRun {
            Terminal.out("\(what) was already removed, by a removal interrupted before it deleted the private key; would delete the key (its copy is in the trash as \(entry.id)).")
            Terminal.out("Nothing was changed (--dry-run).")
        } else {
            Terminal.out("Finished an interrupted removal: \(what) was already removed; deleted its private key, left behind by the interruption.")
            Terminal.out("In the trash as \(entry.id); undo with: certstore restore \(entry.id)")
        }
    }

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let outcome = try Remover(store: store).remove(try Thumbprint(parsing: thumbprint), in: try global.storePath(),
                                                           deleteKey: deleteKey, force: force, dryRun: dryRun)
            defer { Consequences.report(outcome, store: store) }
            let removal = outcome.value
            guard let plan = removal.plan else {
                if let entry = removal.trash { try reportFinished(entry) }
                return
            }
            let trash = removal.trash
            if global.format == .json {
                Terminal.outRaw(JSONText.render([
                    "thumbprint": plan.entry.thumbprint.value, "subject": plan.entry.properties.subjectString, "store": plan.entry.store.description,
                    "allowed": plan.isAllowed, "blockers": plan.hardBlockers + plan.blockers, "notes": plan.notes,
                    "deletesKey": plan.deletesKey, "dryRun": dryRun, "trashId": trash?.id ?? NSNull(),
                ] as [String: Any]))
                if dryRun && !plan.isAllowed { throw ExitCode(2) }
                return
            }
            let what = "\(plan.entry.thumbprint) (\(Terminal.sanitize(plan.entry.properties.subjectString))) from \(plan.entry.store)"
            if dryRun {
                if plan.isAllowed {
                    Terminal.out("Would remove \(what)" + keyNote(plan, future: true))
                    for note in plan.notes { Terminal.out("  - \(note)") }
                    Terminal.out("Nothing was changed (--dry-run).")
                } else {
                    Terminal.out("Would refuse to remove \(what): it would break")
                    for blocker in plan.hardBlockers + plan.blockers { Terminal.out("  - \(blocker)") }
                    Terminal.out("Nothing was changed (--dry-run).")
                    throw ExitCode(2)
                }
                return
            }
            for blocker in plan.blockers {
                Terminal.warn(Terminal.paint("FORCED:", .red, forStderr: true) + " this removal breaks: \(blocker)")
            }
            Terminal.out("Removed \(what)" + keyNote(plan, future: false))
            for note in plan.notes { Terminal.out("  - \(note)") }
            if let trash { Terminal.out("In the trash as \(trash.id); undo with: certstore restore \(trash.id)") }
        }
    }
}
