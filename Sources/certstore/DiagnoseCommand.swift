import ArgumentParser
import CertStore
import Foundation

struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Find TLS failures in Exchange protocol logs and postfix, dovecot or exim logs, and explain each against the store.",
        discussion: """
            Reads each log in the format its first lines show: Exchange send and receive protocol logs; syslog \
            files such as /var/log/mail.log (RFC 3339 or traditional timestamps), journalctl -o short or \
            short-iso output, postfix's maillog_file, dovecot's log_path file and exim's mainlog. A file in no \
            known format is an error (exit 65). Files, or directories of *.log; streaming, in bounded memory.

            Exchange logs: \
            For every "TLS negotiation failed with error …" row it takes the session's "Sending certificate" \
            block (six rows, or the newer single row), finds the certificate in the store (by thumbprint, else \
            serial and issuer, else issuer and subject) and says why: no private key (KB 4495258), key present but \
            SMTP not enabled (UnknownCredentials, KB 4051498), or not in this store — with the commands that fix \
            it. Malformed lines are reported with their line numbers and skipped.

            Mail daemon logs: missing or unreadable key and certificate files, a key that belongs to another \
            certificate, files that do not load, no shared cipher or TLS version, a peer that rejected the \
            certificate, failed verification of the peer's certificate, missing client certificates, other \
            handshake failures. Each is tied to the binding (SMTP for postfix/smtpd and exim, IMAP/POP for \
            dovecot) or, outbound (postfix/smtp), the send connectors, the certificate and the files, with the \
            commands that fix it.

            Exit status: 0 no TLS failure found; 1 TLS failures found; 65 a file is in no known log format; \
            66 a log cannot be read.
            """)

    @Option(name: [.customLong("protocol-log"), .customLong("log")], parsing: .upToNextOption,
            help: ArgumentHelp("Log files or directories: Exchange protocol logs (SEND*.log, RECV*.log), mail.log, journalctl output, dovecot or exim logs.", valueName: "path"))
    var logs: [String]

    @OptionGroup var global: GlobalOptions

    /// A suggested certstore command acts on the store that was looked at (`--root` when it was named).
    func prefixed(_ command: String) -> String {
        command.hasPrefix("certstore ") ? global.commandPrefix + command.dropFirst("certstore".count) : command
    }

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("name at least one log with --log (or --protocol-log)") }
    }

    func run() throws {
        var found = false
        try Failure.run(global) {
            let result = try LogDiagnoser(store: try global.openStore()).diagnose(logs)
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

    private func json(_ all: LogDiagnoser.Result) -> [String: Any] {
        let result = all.exchange
        func certificate(_ c: LoggedCertificate?) -> Any {
            guard let c else { return NSNull() }
            return ["subject": c.subject ?? NSNull(), "issuer": c.issuer ?? NSNull(), "serialNumber": c.serialNumber ?? NSNull(),
                    "thumbprint": c.thumbprint ?? NSNull(), "alternateNames": c.alternateNames] as [String: Any]
        }
        return [
            "files": all.files.map(\.name), "linesRead": result.linesRead + all.mail.linesRead, "sessions": result.sessions,
            "failures": all.failures, "malformedLines": all.malformedCount,
            "formats": all.files.map { ["file": $0.name, "format": $0.format?.rawValue ?? NSNull()] as [String: Any] },
            "groups": result.groups.map { g -> [String: Any] in
                [
                    "source": "exchange", "connector": g.connector, "error": g.error, "count": g.count,
                    "first": ["dateTime": g.first.dateTime, "file": g.first.file, "line": g.first.line, "session": g.first.session],
                    "last": ["dateTime": g.last.dateTime, "file": g.last.file, "line": g.last.line, "session": g.last.session],
                    "certificate": certificate(g.first.certificate),
                    "diagnosis": [
                        "cause": g.diagnosis.cause.rawValue, "matchedBy": g.diagnosis.matchedBy.rawValue,
                        "thumbprint": g.diagnosis.entry?.thumbprint.value ?? NSNull(), "store": g.diagnosis.entry?.store.description ?? NSNull(),
                        "hasPrivateKey": g.diagnosis.entry?.hasPrivateKey ?? NSNull(),
                        "twins": g.diagnosis.candidates.map(\.thumbprint.value), "trashId": g.diagnosis.trashed?.id ?? NSNull(),
                        "explanation": g.diagnosis.explanation, "fix": g.diagnosis.fix.map(prefixed),
                    ] as [String: Any],
                ]
            } + all.mail.groups.map(mailJSON),
        ]
    }

    private func mailJSON(_ g: MailLogDiagnoser.Group) -> [String: Any] {
        func occurrence(_ f: MailLogDiagnoser.Failure) -> [String: Any] {
            ["dateTime": f.timestamp, "file": f.file, "line": f.line, "host": f.host ?? NSNull(), "pid": f.pid ?? NSNull(),
             "peer": f.peer ?? NSNull(), "message": f.message]
        }
        let d = g.diagnosis
        return [
            "source": g.daemon.rawValue, "program": g.program, "direction": g.direction.rawValue, "kind": g.kind.rawValue,
            "error": g.kind.rawValue, "detail": g.detail, "count": g.count, "consequences": g.consequences,
            "connector": d.connectors.count == 1 ? d.connectors[0].name : NSNull(),
            "services": g.services.map(\.rawValue), "paths": g.paths,
            "first": occurrence(g.first), "last": occurrence(g.last),
            "diagnosis": [
                "cause": g.kind.rawValue, "services": d.services.map(\.rawValue),
                "thumbprint": d.entry?.thumbprint.value ?? NSNull(), "store": d.entry?.store.description ?? NSNull(),
                "hasPrivateKey": d.entry?.hasPrivateKey ?? NSNull(),
                "connectors": d.connectors.map { ["name": $0.name, "thumbprint": $0.thumbprint?.value ?? NSNull(), "hasPrivateKey": $0.hasPrivateKey ?? NSNull()] as [String: Any] },
                "files": d.files.map { ["path": $0.path, "serviceFolder": $0.serviceFolder ?? NSNull(), "version": $0.version ?? NSNull(),
                                        "thumbprint": $0.thumbprint?.value ?? NSNull(), "state": $0.state] as [String: Any] },
                "explanation": d.explanation, "fix": d.fix.map(prefixed),
            ] as [String: Any],
        ]
    }

    private func printText(_ all: LogDiagnoser.Result) {
        let result = all.exchange, mail = all.mail
        let files = all.files.count == 1 ? "1 file" : "\(all.files.count) files"
        var counts: [String] = []
        if !result.files.isEmpty { counts.append("\(result.linesRead) rows, \(result.sessions) sessions") }
        if mail.linesRead > 0 || result.files.isEmpty {
            let daemons = mail.daemons.map(\.rawValue).sorted()
            counts.append("\(mail.linesRead) log lines" + (daemons.isEmpty ? ", none from postfix, dovecot or exim" : " (\(mail.mailLines) from \(daemons.joined(separator: ", ")))"))
        }
        if all.malformedCount > 0 { counts.append("\(all.malformedCount) malformed lines skipped") }
        if result.sessionsForgotten > 0 { counts.append("\(result.sessionsForgotten) sessions that never ended forgotten") }
        Terminal.out("\(all.failures) TLS failure\(all.failures == 1 ? "" : "s") in \(files) (\(counts.joined(separator: ", ")))")
        let formats = Dictionary(grouping: all.files.compactMap { $0.format?.label }, by: { $0 }).keys.sorted()
        if formats.count > 1 || formats.first.map({ $0 != LogFormat.exchangeProtocolLog.label }) == true {
            Terminal.out("formats: " + formats.joined(separator: ", "))
        }
        printMail(mail)
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
            for (index, command) in d.fix.map(prefixed).enumerated() { Terminal.out("  \(index == 0 ? "fix:" : "    ") \(command)") }
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

    private func printMail(_ mail: MailLogDiagnoser.Result) {
        for group in mail.groups {
            let d = group.diagnosis
            let target = group.direction == .inbound
                ? (d.services.isEmpty ? "" : " (\(d.services.map(\.rawValue).joined(separator: ", ")), inbound)")
                : " (outbound)"
            Terminal.out("")
            Terminal.out(Terminal.paint("\(group.program)\(target): \(group.kind.summary) [\(group.kind.rawValue)]", .bold) + "  ×\(group.count)"
                         + (group.consequences > 0 ? " (+\(group.consequences) lines that followed from it)" : ""))
            func at(_ f: MailLogDiagnoser.Failure) -> String {
                "\(f.timestamp) (\(f.file):\(f.line)" + (f.pid.map { ", pid \($0)" } ?? "") + (f.peer.map { ", peer \(Terminal.sanitize($0))" } ?? "") + ")"
            }
            Terminal.out("  first \(at(group.first))" + (group.count > 1 ? ", last \(group.last.timestamp)" : ""))
            Terminal.out("  logged: " + Terminal.sanitize(group.first.message))
            if group.first.message != group.detail { Terminal.out("  reason: " + Terminal.sanitize(group.detail)) }
            for file in d.files {
                Terminal.out("  file: \(Terminal.sanitize(file.path)): \(file.state)" + (file.thumbprint.map { ", holds \($0)" } ?? "")
                             + (file.serviceFolder.map { " [Services/\(Terminal.sanitize($0))]" } ?? " [not certstore's]"))
            }
            if let entry = d.entry {
                Terminal.out("  In the store: \(entry.store) \(entry.thumbprint)  HasPrivateKey \(entry.hasPrivateKey ? "True" : "False")")
            }
            for c in d.connectors {
                Terminal.out("  Send connector \(Terminal.sanitize(c.name)): " + (c.thumbprint.map { "\($0)  HasPrivateKey \(c.hasPrivateKey == true ? "True" : "False")" } ?? "resolves to no certificate"))
            }
            Terminal.out("  " + Terminal.paint("Why:", .yellow) + " " + Terminal.sanitize(d.explanation))
            for (index, command) in d.fix.map(prefixed).enumerated() { Terminal.out("  \(index == 0 ? "fix:" : "    ") \(Terminal.sanitize(command))") }
        }
    }
}
