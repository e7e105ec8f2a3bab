import ArgumentParser
import CertStore
import Foundation

struct ConnectorResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Show, step by step, which certificate a connector presents and whether TLS can work.",
        discussion: """
            With a TLSCertificateName, Exchange takes the certificates whose subject matches, keeps the valid ones \
            (time-valid, chain to LocalMachine/Root), then the first whose issuer matches in store order — without \
            checking for a private key. Without one, it picks by FQDN: exact then wildcard names, key present, \
            Server Authentication, newest NotBefore first, CA-issued before self-signed.

            The verdict is the one `audit` gives for the connector: Works, NoCredentials (the chosen \
            certificate has no usable key: KB 4495258), UnknownCredentials (it has a key but is not enabled for \
            SMTP: KB 4051498), TlsCertificateNotFound, TlsCertificateNameSyntaxInvalid, or NoCertificate (no \
            name and nothing qualifies for the FQDN).

            Exit status, as audit's severity for the connector: 0 Works; 1 Works only by store order (a keyless \
            twin shares its issuer and subject), or NoCertificate; 2 outbound TLS fails (NoCredentials, \
            UnknownCredentials, not found, invalid syntax); 3 the connector does not exist or the store cannot \
            be read.
            """)

    @Argument(help: ArgumentHelp("The connector's name.", valueName: "name"))
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var code: Int32 = 0
        do {
            try resolve(&code)
        } catch let exit as ExitCode where exit.rawValue != 64 {
            throw ExitCode(3)  // audit-style: the answer is UNKNOWN
        }
        if code != 0 { throw ExitCode(code) }
    }

    private func resolve(_ code: inout Int32) throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let connector = try ConnectorManager(store: store).connector(named: name)
            let selection = try ConnectorResolver(store: store).resolve(connector)
            let verdict = ConnectorVerdict(connector: connector, selection: selection, bindings: try BindingManager(store: store).bindings())
            code = verdict.severity.exitCode
            if global.format == .json {
                var object = json(connector, selection)
                object["verdict"] = verdict.outcome.rawValue
                object["usable"] = verdict.works
                Terminal.outRaw(JSONText.render(object))
            } else {
                printText(connector, selection, verdict)
            }
        }
    }

    private func json(_ connector: SendConnector, _ selection: CertificateSelection) -> [String: Any] {
        func describe(_ entry: StoreEntry) -> [String: Any] {
            ["thumbprint": entry.thumbprint.value, "subject": entry.properties.subjectString, "issuer": entry.properties.issuerString,
             "hasPrivateKey": entry.hasPrivateKey, "notBefore": entry.properties.notBefore.map(RecordWriter.dateText) ?? NSNull(),
             "notAfter": entry.properties.notAfter.map(RecordWriter.dateText) ?? NSNull()]
        }
        var method: Any = NSNull()
        switch selection.method {
        case .tlsCertificateName: method = "TlsCertificateName"
        case .fqdn(let name): method = "Fqdn:\(name)"
        case nil: break
        }
        return [
            "name": connector.name, "tlsCertificateName": connector.tlsCertificateName ?? NSNull(), "fqdn": connector.fqdn ?? NSNull(),
            "status": selection.status.rawValue, "method": method, "syntaxError": selection.syntaxError ?? NSNull(),
            "steps": selection.steps.map { describe($0.entry).merging(["accepted": $0.accepted, "verdict": $0.verdict]) { a, _ in a } },
            "chosen": selection.chosen.map(describe) ?? NSNull(), "usable": selection.isUsable,
            "twins": selection.twins.map(describe), "keylessTwin": selection.hasKeylessTwin,
        ]
    }

    private func printText(_ connector: SendConnector, _ selection: CertificateSelection, _ verdict: ConnectorVerdict) {
        Terminal.out("Send connector:     \(connector.name)")
        Terminal.out("TlsCertificateName: \(connector.tlsCertificateName ?? "(none)")")
        if let fqdn = connector.fqdn { Terminal.out("Fqdn:               \(fqdn)") }
        switch selection.method {
        case .tlsCertificateName:
            Terminal.out("Rule:               by TlsCertificateName: matching subject, valid, matching issuer, first in store order (no key check)")
        case .fqdn(let name):
            Terminal.out("Rule:               by FQDN \(name): exact then wildcard, key present, newest NotBefore, CA-issued before self-signed")
        case nil:
            Terminal.out("Rule:               none: \(selection.syntaxError ?? "invalid TlsCertificateName")")
        }
        Terminal.out("")
        if selection.steps.isEmpty { Terminal.out("  No certificate in LocalMachine/My matches.") }
        for (index, step) in selection.steps.enumerated() {
            let mark = step.accepted ? Terminal.paint("→", .bold) : " "
            Terminal.out("\(mark) \(index + 1). \(step.entry.thumbprint)  HasPrivateKey \(step.entry.hasPrivateKey ? "True" : "False")  NotBefore \(step.entry.properties.notBefore.map(RecordWriter.dateText) ?? "?")")
            Terminal.out("     \(Terminal.sanitize(step.entry.properties.subjectString))")
            Terminal.out("     \(step.verdict)")
        }
        Terminal.out("")
        Terminal.out("Status: \(selection.status.rawValue)")
        guard let chosen = selection.chosen else {
            Terminal.out(Terminal.paint("CRITICAL:", .red) + " no certificate: outbound TLS has nothing to present" + (selection.status == .syntaxInvalid ? " (the TlsCertificateName is invalid)" : ""))
            return
        }
        Terminal.out("Chosen: \(chosen.thumbprint) (HasPrivateKey: \(chosen.hasPrivateKey ? "True" : "False"))")
        if !chosen.hasPrivateKey {
            Terminal.out(Terminal.paint("CRITICAL:", .red) + " outbound TLS will fail with \"TLS negotiation failed with error NoCredentials\" (KB 4495258)")
        } else if verdict.outcome == .unknownCredentials {
            Terminal.out(Terminal.paint("CRITICAL:", .red) + " outbound TLS will fail with UnknownCredentials (KB 4051498): \(chosen.thumbprint) has a key but is not enabled for SMTP")
        }
        Terminal.out("Verdict: \(verdict.outcome.rawValue)")
        if selection.hasKeylessTwin {
            let keyless = selection.twins.filter { !$0.hasPrivateKey }
            let keyed = selection.twins.filter(\.hasPrivateKey)
            Terminal.out(Terminal.paint("Twins:", .yellow) + " \(selection.twins.count) certificates share this issuer and subject; \(keyless.count) without a private key. Which one is used depends on store order: the NoCredentials trap.")
            for twin in keyless { Terminal.out("  fix: certstore remove \(twin.thumbprint)") }
            if let next = keyed.first { Terminal.out("  (the connector then uses \(next.thumbprint); `certstore audit` gives the whole plan)") }
        }
    }
}
