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
            KB's Retry-Queue); dist/hooks/ has examples. dovecot serves IMAP and POP with IMAP's certificate. \
            Each send connector has its own files under Services/Connectors/<slug>/ and, on postfix, its own smtp \
            transport (--master-cf) that its address spaces are routed to (--transport-map): outbound TLS presents \
            exactly what `connector resolve` says, and fails (mail defers) when that is a certificate without a key.
            """)

    @Argument(help: ArgumentHelp("postfix, dovecot or nginx.", valueName: "daemon"))
    var daemon: String

    @Flag(help: "postfix: print the master.cf transport of each send connector instead (its files, its TLS policy).")
    var masterCf = false

    @Flag(help: "postfix: print the transport map routing each send connector's address spaces to its transport instead.")
    var transportMap = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if masterCf && transportMap { throw ValidationError("--master-cf and --transport-map exclude each other") }
    }

    func run() throws {
        try Failure.run(global) {
            guard let which = ServiceConfig.Daemon(rawValue: daemon.lowercased()) else {
                throw CertStoreError(.usage, "unknown daemon \"\(daemon)\"", hint: "use postfix, dovecot or nginx")
            }
            let store = try global.openStore()
            if masterCf || transportMap {
                guard which == .postfix else { throw CertStoreError(.usage, "--master-cf and --transport-map are for postfix") }
                let connectors = try ConnectorManager(store: store).connectors()
                Terminal.out(masterCf ? PostfixTransports.masterEntries(connectors, files: ServiceFiles(store: store))
                                      : PostfixTransports.transportMap(connectors), terminator: "")
                return
            }
            Terminal.out(try ServiceConfig.lines(for: which, store: store), terminator: "")
        }
    }
}
