import ArgumentParser
import CertStore
import Foundation

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify the store on disk; --repair removes only provable debris and restores key modes.",
        discussion: """
            Every certificate parses and is named by its SHA-1; every key loads, is named by its public key, is \
            consistent and mode 600 in a 700 directory; bindings and dependencies point at certificates that \
            exist; no symbolic links; no leftovers of interrupted writes. --repair (under the writer lock) \
            deletes temporary files, properties files whose certificate never arrived, half-made trash \
            entries and a key an interrupted `remove --delete-key` left behind (nothing uses it, its copy \
            is in the trash), and chmods keys back; it never deletes a certificate or any other key, and \
            says what it did.

            Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (what is still wrong after any repair).
            """)

    @Flag(help: "Remove debris and restore key file modes.")
    var repair = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var status = Severity.ok
        try Failure.run(global) {
            let store = try global.openStore(.anyway)
            let outcome = try StoreChecker(store: store).run(repair: repair)
            let report = outcome.value
            defer { Consequences.report(outcome, store: store) }
            status = report.status
            if global.format == .json {
                Terminal.outRaw(JSONText.render([
                    "status": report.status.name, "exitCode": report.status.exitCode, "filesChecked": report.filesChecked,
                    "repaired": report.repaired,
                    "findings": report.findings.map { ["severity": $0.severity.name, "check": $0.check, "object": $0.object,
                                                       "title": $0.title, "detail": $0.detail, "fix": $0.fix] as [String: Any] },
                ] as [String: Any]))
                return
            }
            for line in report.repaired { Terminal.out("repaired: \(line)") }
            for finding in report.findings {
                Terminal.out("\(finding.severity.name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(Terminal.sanitize(finding.title)): \(Terminal.sanitize(finding.object))")
                Terminal.out("          \(Terminal.sanitize(finding.detail))")
                for command in finding.fix { Terminal.out("          fix: \(command)") }
            }
            Terminal.out("\(report.status.name): \(report.filesChecked) files checked, \(report.findings.count) finding\(report.findings.count == 1 ? "" : "s")"
                         + (repair ? ", \(report.repaired.count) repair\(report.repaired.count == 1 ? "" : "s")" : ""))
        }
        if status != .ok { throw ExitCode(status.exitCode) }
    }
}
