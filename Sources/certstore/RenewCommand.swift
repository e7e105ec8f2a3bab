import ArgumentParser
import CertStore
import Foundation

struct RenewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew a certificate: a self-signed one at once, a CA-issued one with a request that hands over when completed.",
        discussion: """
            Exchange's `Get-ExchangeCertificate -Thumbprint X | New-ExchangeCertificate [-GenerateRequest]`. A \
            self-signed certificate is renewed at once: a new self-signed certificate with the same subject, DNS \
            names and key type (valid five years) goes into LocalMachine/My and the old one hands over to it in \
            the same operation, exactly as `certstore handover OLD NEW` does (bindings, the default SMTP role and \
            dependencies move; the old one is archived; the service files switch and the hooks run).

            A CA-issued certificate gets a pending request in LocalMachine/REQUEST with the same subject, DNS \
            names and key type — a new key made in the store, or the same key with --reuse-key — that \
            remembers what it renews. The request is printed (or written to --out, DER with --der): give it to \
            the same CA, then `certstore complete` (or `import`) what it issues: it joins the request's key and the old \
            one hands over to it automatically. A handover the checks refuse (a name \
            missing, an earlier expiry) is not forced: the completion stands and the command to run is printed.
            """)

    @Argument(help: ArgumentHelp("The certificate to renew (in LocalMachine/My).", valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String

    @Flag(help: "Keep the certificate's key instead of making a new one.")
    var reuseKey = false

    @Option(help: ArgumentHelp("A new key of this type instead of the certificate's: rsa:2048, rsa:3072, rsa:4096, ec:p256 or ec:p384.", valueName: "type"))
    var keyType: String?

    @Option(help: ArgumentHelp("Write the request to this file instead of printing it (never over an existing file).", valueName: "file"), completion: .file())
    var out: String?

    @Flag(help: "Write the request in DER instead of PEM (with --out).")
    var der = false

    @Flag(help: "Self-signed: hand over even when the handover's checks refuse it.")
    var force = false

    @OptionGroup var tls: SecurityLevelOption
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if der && out == nil { throw ValidationError("--der needs --out FILE: a DER request is not printed on a terminal") }
        if reuseKey && keyType != nil { throw ValidationError("--reuse-key keeps the certificate's key; --key-type makes a new one: give one of them") }
    }

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("renew")
            let store = try global.openStore()
            var options = Renewal.Options()
            options.reuseKey = reuseKey
            options.keySpec = try keyType.map(KeySpec.init(parsing:))
            options.file = out.map { Enrollment.RequestFile(path: $0, der: der) }
            options.force = force
            options.securityLevel = tls.securityLevel
            let outcome = try Renewal(store: store).renew(try Thumbprint(parsing: thumbprint), options: options)
            defer { Consequences.report(outcome, store: store) }
            report(outcome.value)
        }
    }

    private func report(_ result: Renewal.Result) {
        if let renewal = result.selfSigned {
            if global.format == .json {
                Terminal.outRaw(JSONText.render([
                    "renewed": result.renewed.value, "thumbprint": renewal.thumbprint.value, "subject": renewal.subject,
                    "dnsNameList": renewal.dnsNames, "keyType": renewal.keySpec.rawValue,
                    "notAfter": renewal.notAfter.map { $0.formatted(.iso8601) } ?? NSNull(),
                    "handover": HandoverCommand.json(renewal.handover),
                ] as [String: Any]))
                return
            }
            Terminal.out(Terminal.sanitize("Renewed the self-signed certificate \(result.renewed) with \(renewal.thumbprint): \(renewal.subject); DNS \(renewal.dnsNames.joined(separator: ", "))"
                                           + (renewal.notAfter.map { "; expires \($0.formatted(.iso8601))" } ?? "")))
            HandoverCommand.report(renewal.handover, format: global.format)
            return
        }
        guard let request = result.request else { return }
        let summary = "Pending request \(request.thumbprint) in \(request.store) renews \(result.renewed) (\(request.keySpec) key \(request.publicKeyIdentifier).key in the store): \(request.subject); DNS \(request.dnsNames.joined(separator: ", "))"
        if global.format == .json {
            var object: [String: Any] = [
                "renewed": result.renewed.value, "thumbprint": request.thumbprint.value, "store": request.store.description,
                "subject": request.subject, "dnsNameList": request.dnsNames, "keyType": request.keySpec.rawValue,
                "publicKeySha256": request.publicKeyIdentifier, "file": request.file?.path ?? NSNull(),
            ]
            if request.file == nil { object["request"] = request.request.pem }
            Terminal.outRaw(JSONText.render(object))
            return
        }
        let next = "Give the request to the CA, then `certstore complete` what it issues: it hands over from \(result.renewed) automatically."
        if let file = request.file {
            Terminal.out(Terminal.sanitize(summary))
            Terminal.out("The request (\(file.der ? "DER" : "PEM")) is in \(Terminal.sanitize(file.path)). " + next)
        } else {
            Terminal.err(Terminal.sanitize(summary))
            Terminal.outRaw(request.request.pem, terminator: "")
            Terminal.err(next)
        }
    }
}
