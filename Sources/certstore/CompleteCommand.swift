import ArgumentParser
import CertStore
import Foundation

struct CompleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complete",
        abstract: "Complete pending requests with the certificates the CA issued (Import-ExchangeCertificate, certreq -accept).",
        discussion: """
            Each issued certificate (PEM, DER, or the CA's PKCS#7 chain) is paired with a pending request of \
            LocalMachine/REQUEST by its public key: it lands in LocalMachine/My with HasPrivateKey True and \
            the friendly name and exportability chosen at request time, the CA certificates that come with it \
            go to LocalMachine/CA as on import, and the request goes to the trash (`certstore restore` brings \
            it back). One operation: when any end-entity certificate of the files matches no pending request \
            — the request was made on another machine, whose store holds the key — nothing is imported and the \
            exit status is 2 (KB 4495258: the certificate would land without its key). Bring a PKCS#12 with \
            the key to `certstore import` instead. Running it again after an interruption finishes it.
            """)

    @Argument(help: ArgumentHelp("The files the CA issued: the certificate, its chain, or a PKCS#7 (.p7b) with both.", valueName: "file"), completion: .file())
    var files: [String]

    @Option(help: ArgumentHelp("Friendly name instead of the one chosen at request time (under 64 characters).", valueName: "name"))
    var friendlyName: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("complete")
            let store = try global.openStore()
            var options = Importer.Options()
            options.target = try global.storePath()
            options.friendlyName = friendlyName
            options.completing = true
            let outcome = try Importer(store: store).importFiles(files, options: options)
            ImportCommand.report(outcome.value, format: global.format)
            Consequences.report(outcome, store: store)
            if let first = outcome.value.failures.first { throw ExitCode(Failure.exitCode(for: first.kind)) }
        }
    }
}
