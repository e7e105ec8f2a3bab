import ArgumentParser
import CertStore
import Foundation

struct HandoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handover",
        abstract: "Move every role of a certificate to its renewal and archive it (one operation).",
        discussion: """
            Every service binding of OLD moves to NEW (when OLD is the default SMTP certificate, NEW replaces it \
            as the default), dependencies recorded by OLD's thumbprint move to NEW, and OLD is archived: hidden \
            from `list` (unless --include-archived), from the Exchange view and from connector resolution, so a \
            send connector whose TLSCertificateName matched OLD picks NEW when both share issuer and subject — \
            and a keyless twin can no longer be picked (KB 4495258). Connectors that would not follow are listed \
            with the exact `certstore connector set` to run. The service files switch and the deploy hooks run.

            Refused, changing nothing (exit 2), when NEW has no usable private key (none in the store, or the TLS \
            stack refuses it), does not cover every DNS name OLD's roles need (its own names, and the FQDN of a \
            connector that selects it by FQDN), or expires before OLD; --force hands over anyway. --dry-run \
            prints the plan and changes nothing. `certstore handover NEW OLD` undoes it: OLD is un-archived and \
            takes everything back.
            """)

    @Argument(help: ArgumentHelp("The certificate handed over from (it is archived).", valueName: "old"), completion: Completions.thumbprints)
    var old: String

    @Argument(help: ArgumentHelp("The certificate that takes over (its renewal).", valueName: "new"), completion: Completions.thumbprints)
    var new: String

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @Flag(help: "Hand over even when the new certificate has no usable key, misses a DNS name or expires before the old one.")
    var force = false

    @OptionGroup var tls: SecurityLevelOption
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("handover")
            let store = try global.openStore()
            let options = Handover.Options(force: force, dryRun: dryRun)
            let outcome = try Handover(store: store, securityLevel: tls.securityLevel)
                .handover(old: try Thumbprint(parsing: old), new: try Thumbprint(parsing: new), options: options)
            defer { Consequences.report(outcome, store: store) }
            Self.report(outcome.value, format: global.format)
            if outcome.value.dryRun && outcome.value.isRefused { throw ExitCode(2) }
        }
    }

    /// What `handover` prints (also after `renew` of a self-signed certificate and a completed renewal).
    static func report(_ plan: Handover.Plan, format: OutputFormat) {
        if format == .json {
            Terminal.outRaw(JSONText.render(json(plan)))
            return
        }
        let verb = plan.dryRun ? (plan.isRefused ? "Would refuse the handover" : "Would hand over") : plan.isUndo ? "Handed back" : "Handed over"
        Terminal.out(Terminal.sanitize("\(verb) from \(plan.old) to \(plan.new)" + (plan.isUndo ? " (undoing the handover to \(plan.old))" : "") + ":"))
        for step in plan.steps { Terminal.out(Terminal.sanitize("  " + step)) }
        for obstacle in plan.obstacles {
            if plan.forced { Terminal.warn("forced despite: \(obstacle)") } else { Terminal.out(Terminal.sanitize("  refused: \(obstacle)")) }
        }
        if !plan.commandsToRun.isEmpty && !plan.dryRun {
            Terminal.warn("a send connector does not follow; run: " + plan.commandsToRun.joined(separator: "; "))
        }
    }

    /// `handover --format json`'s object.
    static func json(_ plan: Handover.Plan) -> [String: Any] {
        [
            "old": plan.old.value, "new": plan.new.value,
            "services": plan.services.map(\.rawValue),
            "replacesDefaultSmtpCertificate": plan.replacesDefaultSmtp,
            "dependencies": plan.dependencies,
            "connectors": plan.connectors.map { ["name": $0.connector, "follows": $0.follows, "command": $0.command ?? NSNull()] as [String: Any] },
            "archives": plan.old.value,
            "unarchives": plan.unarchivesNew ? plan.new.value as Any : NSNull(),
            "undo": plan.isUndo,
            "obstacles": plan.obstacles.map(\.description),
            "forced": plan.forced,
            "dryRun": plan.dryRun,
            "steps": plan.steps,
        ]
    }
}
