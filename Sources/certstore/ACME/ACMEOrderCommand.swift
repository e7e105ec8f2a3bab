import ArgumentParser
import CertStore
import Foundation

struct ACMEOrderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order",
        abstract: "Order a certificate from the account's ACME server, complete it into LocalMachine/My, and bind it.",
        discussion: """
            The key is generated in the store (a pending request, as `certstore request` makes), the names are \
            proven by http-01 (certstore's own listener, or files in a web server's document root) or dns-01 (a \
            hook command), the order is finalized with the request's CSR, and the chain \
            (application/pem-certificate-chain) is completed into LocalMachine/My. With --services the \
            certificate is bound as `certstore enable` binds (the default SMTP certificate is kept unless \
            --overwrite-default). With --replaces, the new certificate takes over from the old one as `certstore \
            handover` does, under the completion's lock (a handover that would break something is not forced: the \
            report says why and gives the command). The certificate is recorded as ACME-managed with its account and challenge \
            settings. The dns-01 hook runs as `CMD add NAME VALUE` before validation and `CMD remove NAME VALUE` \
            after it (NAME like _acme-challenge.mail.example.org, VALUE the TXT record's text); a non-zero exit \
            fails the order. A failed order exits 2 and changes nothing but the trash, which receives its key.
            """)

    @Option(name: .customLong("dns-name"), parsing: .upToNextOption,
            help: ArgumentHelp("The names to certify; the first is the subject's CN.", valueName: "name"))
    var dnsNames: [String] = []

    @Option(help: ArgumentHelp("Key type: rsa:2048 (default), rsa:3072, rsa:4096, ec:p256, ec:p384.", valueName: "type"))
    var keyType: String?

    @Option(name: .customLong("http-01"),
            help: ArgumentHelp("Prove the names by http-01: standalone[:PORT] (certstore listens, port 80 by default) or webroot:DIR (a web server serves DIR).", valueName: "method"))
    var http01: String?

    @Option(name: .customLong("dns-01-hook"),
            help: ArgumentHelp("Prove the names by dns-01: CMD add NAME VALUE / CMD remove NAME VALUE set and delete the TXT record.", valueName: "cmd"))
    var dns01Hook: String?

    @Option(help: ArgumentHelp("Services to bind once issued, comma-separated: SMTP, IIS, IMAP, POP.", valueName: "list"), completion: Completions.services)
    var services: String?

    @Option(help: ArgumentHelp("A certificate of LocalMachine/My the new one replaces: once issued, it takes over (handover) its bindings, default SMTP role, dependencies and connectors, and the old one is archived.", valueName: "thumbprint"),
            completion: Completions.thumbprints)
    var replaces: String?

    @Flag(help: "Make it the default SMTP certificate when another one is (otherwise the default is kept).")
    var overwriteDefault = false

    @Option(help: ArgumentHelp("Friendly name of the certificate (under 64 characters).", valueName: "name"))
    var friendlyName: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if dnsNames.isEmpty { throw ValidationError("give at least one --dns-name") }
        if http01 != nil && dns01Hook != nil { throw ValidationError("--http-01 and --dns-01-hook exclude each other") }
    }

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("acme order")
            var request = ACMEManager.OrderRequest(dnsNames: dnsNames)
            if let keyType { request.keySpec = try KeySpec(parsing: keyType) }
            if let dns01Hook {
                guard !dns01Hook.trimmingCharacters(in: .whitespaces).isEmpty else { throw CertStoreError(.usage, "an empty --dns-01-hook") }
                request.challenge = .dnsHook(command: dns01Hook)
            } else if let http01 {
                request.challenge = try ChallengeMethod(http01: http01)
            }
            if let services { request.services = try ExchangeService.parseList(services) }
            request.overwriteDefault = overwriteDefault
            request.friendlyName = friendlyName
            if let replaces { request.renews = try Thumbprint(parsing: replaces) }
            let store = try global.openStore()
            let result = try ACMEManager(store: store).order(request)
            for problem in result.cleanupProblems { Terminal.warn(problem) }
            if global.format == .json {
                Terminal.outRaw(JSONText.render([
                    "thumbprint": result.thumbprint.value, "dnsNames": result.dnsNames,
                    "notAfter": result.notAfter.map { $0.formatted(.iso8601) as Any } ?? NSNull(),
                    "services": result.binding?.value.newlyBound.map(\.rawValue) ?? [],
                    "challenge": request.challenge.description, "badNonceRetries": result.badNonceRetries,
                    "replaced": result.handover.map { $0.renewed.value as Any } ?? NSNull(),
                    "handedOver": result.handover?.handedOver ?? false,
                    "handoverSteps": result.handover?.steps ?? [], "commands": result.handover?.commands ?? [],
                ]))
            } else {
                Terminal.out("Issued \(result.thumbprint) for \(result.dnsNames.joined(separator: ", "))"
                             + (result.notAfter.map { ", valid until \($0.formatted(.iso8601))" } ?? ""))
                Terminal.out("In LocalMachine/My with its key; proven by \(request.challenge).")
                if let handover = result.handover {
                    Terminal.out(handover.handedOver ? "Handed over from \(handover.renewed):" : "Not handed over from \(handover.renewed):")
                    for step in handover.steps { Terminal.out("  \(step)") }
                    for command in handover.commands { Terminal.out("  run: \(command)") }
                }
                if let binding = result.binding?.value { EnableCommand.report(binding, services: request.services, format: global.format) }
            }
            Consequences.report(result.request, store: store)
            Consequences.report(result.completion, store: store)
            if let binding = result.binding { Consequences.report(binding, store: store) }
        }
    }
}
