import ArgumentParser
import CertStore
import Foundation

struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Find TLS failures in Exchange SMTP protocol logs and explain each against the store.",
        discussion: """
            Reads send and receive protocol logs (files, or directories of *.log), streaming, in bounded memory. \
            For every "TLS negotiation failed with error …" row it takes the session's "Sending certificate" \
            block (six rows, or the newer single row), finds the certificate in the store (by thumbprint, else \
            serial and issuer, else issuer and subject) and says why: no private key (KB 4495258), key present but \
            SMTP not enabled (UnknownCredentials, KB 4051498), or not in this store — with the commands that fix \
            it. Malformed lines are reported with their line numbers and skipped.

            Exit status: 0 no TLS failure found; 1 TLS failures found; 66 a log cannot be read.
            """)

    @Option(name: .customLong("protocol-log"), parsing: .upToNextOption,
            help: ArgumentHelp("Protocol log files or directories (SEND*.log, RECV*.log).", valueName: "path"))
    var logs: [String]

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("name at least one log with --protocol-log") }
    }

    func run() throws {
        var found = false
        try Failure.run(global) {
            let result = try ProtocolLogDiagnoser(store: try global.openStore()).diagnose(logs)
            found = result.failures > 0
            for bad in result.malformed {
                Terminal.warn("\(bad.file):\(bad.line): malformed line skipped (\(bad.reason))")
            }
            if result.malformedCount > result.malformed.count {
                Terminal.warn("\(result.malformedCount - result.malformed.count) more malformed lines skipped")
            }
            if global.format == .json {
                Terminal.outRaw(JSONText.render(json(result)))
            } else {
                printText(result)
            }
        }
        if found { throw ExitCode(1) }
    }

    private func json(_ result: ProtocolLogDiagnoser.Result) -> [String: Any] {
        func certificate(_ c: LoggedCertificate?) -> Any {
            guard let c else { return NSNull() }
            return ["subject": c.subject ?? NSNull(), "issuer": c.issuer ?? NSNull(), "serialNumber": c.serialNumber ?? NSNull(),
                    "thumbprint": c.thumbprint ?? NSNull(), "alternateNames": c.alternateNames] as [String: Any]
        }
        return [
            "files": result.files, "linesRead": result.linesRead, "sessions": result.sessions, "failures": result.failures,
            "malformedLines": result.malformedCount,
            "groups": result.groups.map { g -> [String: Any] in
                [
                    "connector": g.connector, "error": g.error, "count": g.count,
                    "first": ["dateTime": g.first.dateTime, "file": g.first.file, "line": g.first.line, "session": g.first.session],
                    "last": ["dateTime": g.last.dateTime, "file": g.last.file, "line": g.last.line, "session": g.last.session],
                    "certificate": certificate(g.first.certificate),
                    "diagnosis": [
                        "cause": g.diagnosis.cause.rawValue, "matchedBy": g.diagnosis.matchedBy.rawValue,
                        "thumbprint": g.diagnosis.entry?.thumbprint.value ?? NSNull(), "store": g.diagnosis.entry?.store.description ?? NSNull(),
                        "hasPrivateKey": g.diagnosis.entry?.hasPrivateKey ?? NSNull(),
                        "twins": g.diagnosis.candidates.map(\.thumbprint.value), "trashId": g.diagnosis.trashed?.id ?? NSNull(),
                        "explanation": g.diagnosis.explanation, "fix": g.diagnosis.fix,
                    ] as [String: Any],
                ]
            },
        ]
    }

    private func printText(_ result: ProtocolLogDiagnoser.Result) {
        let files = result.files.count == 1 ? "1 file" : "\(result.files.count) files"
        Terminal.out("\(result.failures) TLS failure\(result.failures == 1 ? "" : "s") in \(files) (\(result.linesRead) rows, \(result.sessions) sessions" + (result.malformedCount > 0 ? ", \(result.malformedCount) malformed lines skipped" : "") + (result.sessionsForgotten > 0 ? ", \(result.sessionsForgotten) sessions that never ended forgotten" : "") + ")")
        for group in result.groups {
            let d = group.diagnosis
            Terminal.out("")
            Terminal.out(Terminal.paint("\(group.connector): TLS negotiation failed with error \(group.error)", .bold) + "  ×\(group.count)")
            Terminal.out("  first \(group.first.dateTime) (\(group.first.file):\(group.first.line), session \(group.first.session))"
                         + (group.count > 1 ? ", last \(group.last.dateTime)" : ""))
            if let c = group.first.certificate {
                Terminal.out("  Sending certificate: \(Terminal.sanitize(c.subject ?? "?"))")
                Terminal.out("    issuer \(Terminal.sanitize(c.issuer ?? "?")), serial \(c.serialNumber ?? "?"), thumbprint \(c.thumbprint ?? "?")")
            } else {
                Terminal.out("  Sending certificate: none logged")
            }
            if let entry = d.entry {
                Terminal.out("  In the store: \(entry.store) \(entry.thumbprint)  HasPrivateKey \(entry.hasPrivateKey ? "True" : "False")  (matched by \(d.matchedBy.rawValue))")
            }
            Terminal.out("  " + Terminal.paint("Why:", .yellow) + " " + Terminal.sanitize(d.explanation))
            for (index, command) in d.fix.enumerated() { Terminal.out("  \(index == 0 ? "fix:" : "    ") \(command)") }
        }
        if result.groups.count > 1 {
            Terminal.out("")
            Terminal.out("By connector:")
            for (connector, groups) in Dictionary(grouping: result.groups, by: \.connector).sorted(by: { $0.key < $1.key }) {
                let byError = Dictionary(grouping: groups, by: \.error).map { "\($0.key) \($0.value.reduce(0) { $0 + $1.count })" }.sorted()
                Terminal.out("  \(connector): \(groups.reduce(0) { $0 + $1.count }) (\(byError.joined(separator: ", ")))")
            }
            Terminal.out("By certificate:")
            for (thumbprint, groups) in Dictionary(grouping: result.groups, by: { $0.thumbprint ?? "(none logged)" }).sorted(by: { $0.key < $1.key }) {
                Terminal.out("  \(thumbprint): \(groups.reduce(0) { $0 + $1.count })")
            }
        }
    }
}
