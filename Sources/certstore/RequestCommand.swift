import ArgumentParser
import CertStore
import Foundation

struct RequestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Make a certificate request whose key stays in the store, or a self-signed certificate (New-ExchangeCertificate).",
        discussion: """
            Without --self-signed (New-ExchangeCertificate -GenerateRequest): OpenSSL generates the key inside \
            the store (Keys/, mode 0600 from its first byte; it never leaves), the PKCS#10 request is printed as \
            PEM (or written to --out, DER with --der), and the pending request is kept in LocalMachine/REQUEST \
            as Windows keeps it: a dummy self-signed certificate holding the key, the subject and the DNS names \
            (`certstore list --store LocalMachine/REQUEST`). Give the request to the CA, then bring what it \
            issues back with `certstore complete` (or `certstore import`): it is paired with the key by public \
            key, lands in LocalMachine/My with HasPrivateKey True, and takes the friendly name and exportability \
            chosen here.

            With --self-signed (New-ExchangeCertificate without -GenerateRequest): the certificate (valid five \
            years) goes straight into LocalMachine/My with its key; with --services it is bound in the same \
            operation, checked and asked about exactly as `enable` checks and asks ("Overwrite the existing \
            default SMTP certificate?": --overwrite-default answers Yes, --keep-default No).

            --subject takes the Windows form, most specific first ("CN=mail.contoso.com, O=Contoso, C=US"), and \
            is encoded in the order Windows encodes it (C first, CN last), so it lists back as typed; it must \
            have a CN. Without --subject the subject is CN=<host name>; without --dns-name the DNS names are the \
            host name and its FQDN (Exchange's defaults). Keys: rsa:2048 (the default, Exchange's), rsa:3072, \
            rsa:4096, ec:p256, ec:p384.
            """)

    @Option(help: ArgumentHelp("The subject in the Windows form, e.g. \"CN=mail.contoso.com, O=Contoso, C=US\" (default CN=<host name>).", valueName: "dn"))
    var subject: String?

    @Option(name: .customLong("dns-name"), help: ArgumentHelp("A DNS name for the subjectAltName; repeat, or separate with commas (default: the host name and its FQDN).", valueName: "name"))
    var dnsNames: [String] = []

    @Option(help: ArgumentHelp("rsa:2048 (default), rsa:3072, rsa:4096, ec:p256 or ec:p384.", valueName: "type"))
    var keyType: String = KeySpec.default.rawValue

    @Option(help: ArgumentHelp("Friendly name of the certificate (for a request: given when it is completed; under 64 characters).", valueName: "name"))
    var friendlyName: String?

    @Flag(help: "Mark the private key exportable (for a request: once completed). Exchange's default is not exportable.")
    var exportable = false

    @Option(help: ArgumentHelp("Write the request to this file instead of printing it (never over an existing file).", valueName: "file"), completion: .file())
    var out: String?

    @Flag(help: "Write the request in DER instead of PEM (with --out; New-ExchangeCertificate's -BinaryEncoded).")
    var der = false

    @Flag(help: "Make a self-signed certificate in LocalMachine/My instead of a request.")
    var selfSigned = false

    @Option(help: ArgumentHelp("With --self-signed: services to bind at once, comma-separated: SMTP, IIS, IMAP, POP.", valueName: "list"), completion: Completions.services)
    var services: String?

    /// --overwrite-default/--force, --keep-default, --service-user: with --self-signed --services, as for `enable`.
    @OptionGroup var binding: BindingOptions
    @OptionGroup var tls: SecurityLevelOption
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if der && out == nil { throw ValidationError("--der needs --out FILE: a DER request is not printed on a terminal") }
        if selfSigned && (out != nil || der) { throw ValidationError("--out and --der write a request; a self-signed certificate goes into the store (export it with `certstore export`)") }
        if !selfSigned && (services != nil || binding.isGiven) {
            throw ValidationError("--services, --overwrite-default, --keep-default and --service-user go with --self-signed; a request is bound once it is completed (`certstore enable`)")
        }
    }

    func run() throws {
        try Failure.run(global) {
            let path = try global.storePath()
            guard path.name == .my || path.name == .request else {
                throw CertStoreError(.usage, "`certstore request` puts requests in \(path.location)/REQUEST and self-signed certificates in \(path.location)/My, not \(path)",
                                     hint: "drop --store, or name the location only (--store \(path.location)/My)")
            }
            var subject = Enrollment.Subject(subject: subject, dnsNames: dnsNames.flatMap { $0.split(separator: ",").map(String.init) })
            subject.keySpec = try KeySpec(parsing: keyType)
            subject.friendlyName = friendlyName
            subject.exportable = exportable
            let list = try services.map(ExchangeService.parseList) ?? []
            try subject.check()   // bad input is refused before a store is opened (or created)
            let store = try global.openStore(.creating)
            if selfSigned {
                let outcome = try Enrollment(store: store).selfSigned(subject, services: list, answer: binding.answer, serviceUser: binding.serviceUser,
                                                                      securityLevel: tls.securityLevel)
                defer { Consequences.report(outcome, store: store) }
                report(outcome.value, services: list)
            } else {
                let outcome = try Enrollment(store: store).request(subject, file: out.map { Enrollment.RequestFile(path: $0, der: der) })
                defer { Consequences.report(outcome, store: store) }
                report(outcome.value)
            }
        }
    }

    private func report(_ result: Enrollment.RequestResult) {
        let summary = "Pending request \(result.thumbprint) in \(result.store) (\(result.keySpec) key \(result.publicKeyIdentifier).key in the store): \(result.subject); DNS \(result.dnsNames.joined(separator: ", "))"
        if global.format == .json {
            var object: [String: Any] = [
                "thumbprint": result.thumbprint.value, "store": result.store.description, "subject": result.subject,
                "dnsNameList": result.dnsNames, "keyType": result.keySpec.rawValue, "publicKeySha256": result.publicKeyIdentifier,
                "file": result.file?.path ?? NSNull(),
            ]
            if result.file == nil { object["request"] = result.request.pem }
            Terminal.outRaw(JSONText.render(object))
            return
        }
        if let file = result.file {
            Terminal.out(Terminal.sanitize(summary))
            Terminal.out("The request (\(file.der ? "DER" : "PEM")) is in \(Terminal.sanitize(file.path)): give it to the CA, then `certstore complete` what it issues.")
        } else {
            // The request alone on standard output (`> mail.csr` keeps it clean); the rest on standard error.
            Terminal.err(Terminal.sanitize(summary))
            Terminal.outRaw(result.request.pem, terminator: "")
            Terminal.err("Give the request to the CA, then `certstore complete` what it issues.")
        }
    }

    private func report(_ result: Enrollment.SelfSignedResult, services list: [ExchangeService]) {
        if global.format == .json {
            let object: [String: Any] = [
                "thumbprint": result.thumbprint.value, "store": result.store.description, "subject": result.subject,
                "dnsNameList": result.dnsNames, "keyType": result.keySpec.rawValue,
                "notAfter": result.notAfter.map { $0.formatted(.iso8601) } ?? NSNull(),
                "binding": result.binding.map { EnableCommand.json($0) } ?? NSNull(),
            ]
            Terminal.outRaw(JSONText.render(object))
            return
        }
        Terminal.out(Terminal.sanitize("Created the self-signed certificate \(result.thumbprint) in \(result.store): \(result.subject); DNS \(result.dnsNames.joined(separator: ", "))"
                                       + (result.notAfter.map { "; expires \($0.formatted(.iso8601))" } ?? "")))
        if let binding = result.binding { EnableCommand.report(binding, services: list, format: global.format) }
    }
}
