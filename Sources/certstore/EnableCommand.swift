import ArgumentParser
import CertStore
import Foundation

struct EnableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable",
        abstract: "Bind services to a certificate in LocalMachine/My (Enable-ExchangeCertificate).",
        discussion: """
            Refused, with Exchange's reason, when the certificate has no private key (PrivateKeyMissing), an \
            unusable one (PrivateKeyNotAccessible), an unsupported key (KeyAlgorithmUnsupported), a key usage \
            without signing (SigningNotSupported), an EKU without Server Authentication \
            (PkixKpServerAuthNotFoundInEnhancedKeyUsage) or a key under 1024 bits (PublicKeyUnsupportedSize). \
            Then the TLS stack decides: OpenSSL loads the certificate, its key and its chain at the \
            security level the daemons run at (the system's, or --security-level) and completes a handshake; \
            a certificate it refuses (a key too small for the level, a SHA-1 signature, a key usage that rules \
            out a TLS server) is refused with the reason and the level. Expiry and self-signed certificates \
            only warn. Services add to those already bound.

            The first SMTP certificate becomes the default SMTP certificate. When another one is the default, \
            Exchange's question "Overwrite the existing default SMTP certificate?" is asked on the terminal, or \
            read from standard input when it is piped (there an empty line is not an answer: nothing changes \
            and the exit status is 64); --overwrite-default answers Yes, --keep-default No. KB 4495258 says: \
            answer No.
            """)

    @Argument(help: ArgumentHelp("The certificate's thumbprint.", valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String

    @Option(help: ArgumentHelp("Services to bind, comma-separated: SMTP, IIS, IMAP, POP.", valueName: "list"), completion: Completions.services)
    var services: String

    @OptionGroup var binding: BindingOptions
    @OptionGroup var tls: SecurityLevelOption
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("enable")
            let store = try global.openStore()
            let list = try ExchangeService.parseList(services)
            let outcome = try BindingManager(store: store).enable(try Thumbprint(parsing: thumbprint), services: list, answer: binding.answer,
                                                                  serviceUser: binding.serviceUser, securityLevel: tls.securityLevel)
            defer { Consequences.report(outcome, store: store) }
            Self.report(outcome.value, services: list, format: global.format)
        }
    }

    /// What `enable` prints (also for `request --self-signed --services`, which binds through the same code).
    static func report(_ result: BindingManager.EnableResult, services list: [ExchangeService], format: OutputFormat) {
        for warning in result.warnings { Terminal.warn(warning) }
        if format == .json {
            Terminal.outRaw(JSONText.render(json(result)))
            return
        }
        let added = result.newlyBound.map(\.rawValue).joined(separator: ", ")
        Terminal.out(result.newlyBound.isEmpty ? "\(result.thumbprint) was already bound to \(list.map(\.rawValue).joined(separator: ", "))."
                                               : "Enabled \(added) on \(result.thumbprint).")
        if list.contains(.smtp) {
            if result.defaultChanged {
                Terminal.out("Default SMTP certificate: \(result.newDefault?.value ?? "none")" + (result.previousDefault.map { " (was \($0))" } ?? " (first SMTP certificate)"))
            } else if let current = result.newDefault {
                Terminal.out("Default SMTP certificate: \(current) (unchanged)")
            }
        }
    }

    /// `enable --format json`'s object.
    static func json(_ result: BindingManager.EnableResult) -> [String: Any] {
        [
            "thumbprint": result.thumbprint.value,
            "servicesAdded": result.newlyBound.map(\.rawValue),
            "servicesAlreadyBound": result.alreadyBound.map(\.rawValue),
            "previousDefaultSmtpCertificate": result.previousDefault?.value ?? NSNull(),
            "defaultSmtpCertificate": result.newDefault?.value ?? NSNull(),
            "warnings": result.warnings,
        ]
    }
}

/// Exchange's confirmation prompts, answered on the terminal or from piped standard input.
enum Confirmation {
    static let choices = "[Y] Yes  [A] Yes to All  [N] No  [L] No to All  [?] Help (default is \"Y\"): "

    @Sendable static func overwriteDefault(_ question: BindingManager.OverwriteQuestion) -> Bool? {
        Terminal.err(question.text)
        while true {
            FileHandle.standardError.write(Data(choices.utf8))
            guard let line = readLine(strippingNewline: true) else {
                Terminal.err("")
                return nil
            }
            if !Terminal.stdinIsTerminal { Terminal.err(line) }  // show the piped answer, as a transcript would
            let answer = line.trimmingCharacters(in: .whitespaces).lowercased()
            // Exchange's default is Yes on Enter; from a pipe an empty line is not taken as consent.
            if answer.isEmpty && !Terminal.stdinIsTerminal { return nil }
            switch answer {
            case "", "y", "yes", "a", "yes to all": return true
            case "n", "no", "l", "no to all": return false
            case "?", "help":
                Terminal.err("Y - make the new certificate the default SMTP (internal transport) certificate.\nN - bind SMTP to it and keep the current default (what KB 4495258 advises).")
            default:
                if !Terminal.stdinIsTerminal { return nil }
            }
        }
    }
}

/// JSON text of a dictionary: sorted keys, pretty, slashes unescaped.
enum JSONText {
    static func render(_ object: Any) -> String {
        // Only JSON types: a Thumbprint or StorePath must go in as its text (`.value`, `.description`).
        assert(JSONSerialization.isValidJSONObject(object), "not a JSON object: \(object)")
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
