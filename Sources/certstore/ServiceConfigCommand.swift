import ArgumentParser
import CertStore

struct ServiceConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-config",
        abstract: "Print the configuration lines that point postfix, dovecot or nginx at certstore's service files.",
        discussion: """
            certstore keeps <location>/Services/<SERVICE>/current/{cert,chain,fullchain,privkey}.pem in step with \
            the bindings (a new version directory, then one atomic rename of the `current` link). postfix reads \
            SMTP's files, dovecot IMAP's, nginx IIS's (web). After a change, executables in <location>/Hooks/ run \
            with CERTSTORE_SERVICE, CERTSTORE_OLD_THUMBPRINT, CERTSTORE_NEW_THUMBPRINT, CERTSTORE_SERVICE_DIR, \
            CERTSTORE_ROOT and CERTSTORE_LOCATION set — the place for `postfix reload` (and `postqueue -f`, the \
            KB's Retry-Queue); dist/hooks/ has examples. dovecot serves IMAP and POP with IMAP's certificate.
            """)

    @Argument(help: ArgumentHelp("postfix, dovecot or nginx.", valueName: "daemon"))
    var daemon: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            guard let which = ServiceConfig.Daemon(rawValue: daemon.lowercased()) else {
                throw CertStoreError(.usage, "unknown daemon \"\(daemon)\"", hint: "use postfix, dovecot or nginx")
            }
            Terminal.out(try ServiceConfig.lines(for: which, store: try global.openStore()), terminator: "")
        }
    }
}
