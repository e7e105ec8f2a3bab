import ArgumentParser
import CertStore
import Foundation

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Read the certificate a live service presents (STARTTLS or TLS) and compare it with the store.",
        discussion: """
            Addresses: smtp://HOST[:25] and submission://HOST[:587] (STARTTLS), smtps://HOST[:465], \
            imap://HOST[:143] (STARTTLS), imaps://HOST[:993], pop3://HOST[:110] (STLS), pop3s://HOST[:995], \
            https://HOST[:443]. The certificate is read, not trusted: verification is off so an expired or \
            self-signed one is still shown. It is compared with what certstore deployed for the service \
            (SMTP, IMAP, POP or IIS).

            Exit status: 0 OK (the bound certificate is served); 1 WARNING (another certificate is served — the \
            daemon was not reloaded —, nothing is deployed for the service to compare with, the certificate is \
            not in the store, expires within 60 days, or does not name the host); 2 CRITICAL (the protocol or \
            the handshake failed or timed out after connecting, or the certificate is expired or expires within \
            30 days); 3 UNKNOWN (cannot resolve or connect); 64 bad address.
            """)

    @Argument(help: ArgumentHelp("The service address, e.g. smtp://127.0.0.1:25.", valueName: "address"))
    var address: String

    @Option(help: ArgumentHelp("Seconds the whole probe may take (connection, greeting, STARTTLS, handshake).", valueName: "seconds"))
    var timeout: Double = 10

    @Flag(help: "Remember the address in probes.json, so that `certstore audit --probe` checks it.")
    var save = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var status = Severity.ok
        do {
            if global.format == .prometheus {
                throw CertStoreError(.usage, "--format prometheus is only for `certstore audit`", hint: "use table or json")
            }
            let target = try Prober.Target(parsing: address)
            if save {
                let outcome = try global.openStore(.creating).saveProbeEndpoint(target)
                Terminal.err(outcome.value ? "saved \(target) for `certstore audit --probe`" : "\(target) is saved already")
            }
            var prober = Prober(store: try global.openStore())
            prober.timeout = timeout
            let result: Prober.Result
            do {
                result = try prober.probe(target)
            } catch let error as CertStoreError where error.kind == .notFound {
                Failure.report(error)
                throw ExitCode(Severity.unknown.exitCode)
            } catch let error as CertStoreError {
                Failure.report(error)
                throw ExitCode(Severity.critical.exitCode)
            }
            status = result.severity
            let leaf = result.leaf
            if global.format == .json {
                Terminal.outRaw(JSONText.render([
                    "address": target.description, "service": target.service.rawValue, "status": result.severity.name,
                    "thumbprint": leaf.thumbprint.value, "subject": leaf.subjectString, "issuer": leaf.issuerString,
                    "notAfter": leaf.notAfter.map(RecordWriter.dateText) ?? NSNull(), "dnsNameList": leaf.dnsNameList,
                    "chain": result.handshake.chain.map(\.thumbprint.value), "protocol": result.handshake.protocolVersion,
                    "cipher": result.handshake.cipher, "inStore": result.inStore?.store.description ?? NSNull(),
                    "hasPrivateKeyInStore": result.inStore?.hasPrivateKey ?? NSNull(),
                    "boundThumbprint": result.boundThumbprint?.value ?? NSNull(), "isBoundCertificate": result.boundThumbprint == leaf.thumbprint,
                    "findings": result.findings,
                ] as [String: Any]))
            } else {
                Terminal.out("\(target) (\(target.service.rawValue)) presents:")
                Terminal.out("  Thumbprint  \(leaf.thumbprint)")
                Terminal.out("  Subject     \(Terminal.sanitize(leaf.subjectString))")
                Terminal.out("  Issuer      \(Terminal.sanitize(leaf.issuerString))")
                Terminal.out("  NotAfter    \(leaf.notAfter.map(RecordWriter.dateText) ?? "?")")
                Terminal.out("  DnsNameList \(leaf.dnsNameList.joined(separator: ", "))")
                Terminal.out("  Chain       \(result.handshake.chain.count) certificate(s), \(result.handshake.protocolVersion), \(result.handshake.cipher)")
                Terminal.out("  In store    \(result.inStore.map { "\($0.store) (HasPrivateKey \($0.hasPrivateKey ? "True" : "False"))" } ?? "no")")
                Terminal.out("  Bound       \(result.boundThumbprint.map { $0 == leaf.thumbprint ? "yes: \($0)" : "no: certstore deployed \($0)" } ?? "nothing deployed for \(target.service.rawValue)")")
                for finding in result.findings { Terminal.out("  - \(finding)") }
                Terminal.out("\(result.severity.name)")
            }
        } catch let error as CertStoreError {
            Failure.report(error)
            throw ExitCode(error.kind == .usage ? 64 : Severity.unknown.exitCode)
        }
        if status != .ok { throw ExitCode(status.exitCode) }
    }
}
