import ArgumentParser
import CertStore
import Foundation

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Pre-flight checks of a whole location: catch NoCredentials before mail queues.",
        discussion: """
            Checks send connectors (a TLSCertificateName that resolves to a certificate without a usable key is \
            CRITICAL: KB 4495258), keyless twins, the default SMTP certificate, every bound certificate (key, \
            expiry, Server Authentication, key size, SHA-1/MD5 signatures, chain), keyless certificates nothing \
            uses, orphan keys, dependencies, leftover temporary files, key file permissions, and the service \
            files daemons read (stale against the bindings, or a key the service's account cannot read). A bound or \
            connector-resolved certificate the TLS stack refuses to serve at the daemons' security level (the \
            system's, or --security-level) is CRITICAL. Every other certificate with a key is judged too (expired, \
            expiring, refused by the TLS stack: WARNING). With --probe (the endpoints saved by `probe ADDRESS \
            --save`) or --probe-url, the live services are read over the wire: a service that presents another \
            certificate than its binding (the reload never happened), one that fails TLS, or one whose certificate \
            expires within the critical window is CRITICAL. Each finding names the fix; a remediation plan closes the report.

            Exit status (monitoring-plugin convention): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. \
            --format prometheus writes the text exposition format for node_exporter's textfile collector \
            (with --output, atomically); when the audit cannot run it writes certstore_audit_up 0 and the error \
            instead. man certstore lists the metrics and their labels.
            """)

    @Option(help: ArgumentHelp("Days left under which a bound certificate is a WARNING.", valueName: "days"))
    var warningDays: Int = 60

    @Option(help: ArgumentHelp("Days left under which a bound certificate is CRITICAL.", valueName: "days"))
    var criticalDays: Int = 30

    @Option(help: ArgumentHelp("Days after which a pending request in LocalMachine/REQUEST is a WARNING.", valueName: "days"))
    var staleRequestDays: Int = 30

    @Flag(help: "Also list the checks that passed.")
    var verbose = false

    @Option(help: ArgumentHelp("Write the report to this file (atomically) instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(help: "Also connect to the live services saved with `certstore probe ADDRESS --save` (probes.json) and compare what each presents with its binding.")
    var probe = false

    @Option(help: ArgumentHelp("Also probe this live service (smtp://HOST[:PORT], imaps://…, https://…); repeatable.", valueName: "address"))
    var probeUrl: [String] = []

    @Option(help: ArgumentHelp("Seconds each probe may take.", valueName: "seconds"))
    var probeTimeout: Double = 10

    @OptionGroup var global: GlobalOptions
    @OptionGroup var tls: SecurityLevelOption

    func validate() throws {
        // A monitoring plugin answers UNKNOWN (3) when it cannot check, including for bad arguments it can see.
        guard criticalDays >= 0, warningDays >= criticalDays else {
            Failure.report(CertStoreError(.usage, "need 0 <= --critical-days <= --warning-days"))
            throw ExitCode(Severity.unknown.exitCode)
        }
        guard staleRequestDays >= 0 else {
            Failure.report(CertStoreError(.usage, "need --stale-request-days >= 0"))
            throw ExitCode(Severity.unknown.exitCode)
        }
    }

    func run() throws {
        var status = Severity.unknown
        do {
            var auditor = Auditor(store: try global.openStore(.anyway))
            auditor.thresholds.warningDays = warningDays
            auditor.thresholds.criticalDays = criticalDays
            auditor.thresholds.staleRequestDays = staleRequestDays
            auditor.commandPrefix = global.commandPrefix
            auditor.securityLevel = tls.securityLevel
            if probe || !probeUrl.isEmpty {
                let saved = probe ? try auditor.store.probeEndpoints().targets() : []
                let extra = try probeUrl.map(Prober.Target.init(parsing:))
                auditor.probeTargets = saved + extra.filter { target in !saved.contains(target) }
                auditor.probeTimeout = probeTimeout
            }
            let report = try auditor.run()
            status = report.status
            let text: String
            switch global.format {
            case .prometheus: text = PrometheusExposition.render(report)
            case .json: text = JSONText.render(json(report)) + "\n"
            case .csv: text = csv(report)
            case .table, .list: text = Terminal.escapeControls(human(report, color: output == nil), keepingColor: output == nil && Terminal.stdoutIsTerminal && Terminal.colorAllowed)
            }
            if let output {
                try OutputFile.write(Array(text.utf8), to: output, secret: false, overwrite: true)
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        } catch let error as CertStoreError {
            // The audit itself could not run: UNKNOWN, as a monitoring plugin says it.
            Failure.report(error)
            if global.format == .prometheus {
                // The metrics say so too (certstore_audit_up 0), replacing findings that are no longer known.
                let location = (try? global.storePath().location) ?? "LocalMachine"
                let text = PrometheusExposition.renderFailure(location: location, error: error.message)
                if let output {
                    try? OutputFile.write(Array(text.utf8), to: output, secret: false, overwrite: true)
                } else {
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            }
            throw ExitCode(Severity.unknown.exitCode)
        }
        if status != .ok { throw ExitCode(status.exitCode) }
    }

    private func json(_ report: AuditReport) -> [String: Any] {
        [
            "status": report.status.name, "exitCode": report.status.exitCode, "location": report.location,
            "checkedAt": RecordWriter.dateText(report.checkedAt),
            "summary": Dictionary(uniqueKeysWithValues: Severity.allCases.map { ($0.name.lowercased(), report.count($0)) }),
            "findings": report.findings.map { f -> [String: Any] in
                ["severity": f.severity.name, "check": f.check, "object": f.object, "title": f.title, "detail": f.detail, "fix": f.fix]
            },
            "remediationPlan": report.remediationPlan,
            "connectors": report.connectors.map { c -> [String: Any] in
                ["name": c.name, "status": c.status.rawValue, "thumbprint": c.thumbprint?.value ?? NSNull(), "usable": c.usable, "keylessTwin": c.keylessTwin]
            },
        ]
    }

    private func csv(_ report: AuditReport) -> String {
        var data = RecordWriter.csvLine(["Severity", "Check", "Object", "Title", "Detail", "Fix"])
        for f in report.findings {
            data += RecordWriter.csvLine([f.severity.name, f.check, f.object, f.title, f.detail, f.fix.joined(separator: "; ")])
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func human(_ report: AuditReport, color: Bool) -> String {
        func paint(_ text: String, _ c: Terminal.Color) -> String { color ? Terminal.paint(text, c) : text }
        func tag(_ severity: Severity) -> String {
            let name = severity.name.padding(toLength: 9, withPad: " ", startingAt: 0)
            switch severity {
            case .critical: return paint(name, .red)
            case .warning, .unknown: return paint(name, .yellow)
            case .ok: return paint(name, .green)
            }
        }
        var out = "certstore audit of \(report.location) at \(RecordWriter.dateText(report.checkedAt))\n\n"
        let shown = report.findings.filter { verbose || $0.severity != .ok }
        for finding in shown {
            out += "\(tag(finding.severity)) \(Terminal.sanitize(finding.title))\n"
            out += "          \(Terminal.sanitize(finding.detail))\n"
            for (index, command) in finding.fix.enumerated() {
                out += "          \(index == 0 ? "fix:" : "    ") \(command)\n"
            }
            out += "\n"
        }
        if shown.isEmpty { out += "Nothing to report.\n\n" }
        let plan = report.remediationPlan
        if !plan.isEmpty {
            out += paint("Remediation plan", .bold) + " (in this order):\n"
            for (index, command) in plan.enumerated() { out += "  \(index + 1). \(command)\n" }
            out += "\n"
        }
        let okCount = report.count(.ok)
        out += "\(tag(report.status).trimmingTrailingSpaces()): \(report.count(.critical)) critical, \(report.count(.warning)) warning\(report.count(.warning) == 1 ? "" : "s"), \(report.count(.unknown)) unknown; \(okCount) check\(okCount == 1 ? "" : "s") OK"
        out += verbose || okCount == 0 ? "\n" : " (--verbose shows them)\n"
        return out
    }
}
