import ArgumentParser
import CertStore
import Foundation

struct ServiceConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-config",
        abstract: "Print the configuration lines that point a daemon at certstore's service files, never weakening what is configured.",
        discussion: """
            Daemons: postfix and exim4 read SMTP's files, dovecot IMAP's (it serves POP with them too), nginx, \
            apache2 and haproxy IIS's (web). certstore keeps <location>/Services/<SERVICE>/current/\
            {cert,chain,fullchain,privkey}.pem in step with the bindings (a new version directory, then one atomic \
            rename of the `current` link).

            The live configuration is read first — `postconf -n -x`, `doveconf -n -P`, `exim -bP`, or for nginx, \
            apache2 and haproxy the file named with --config — and only the lines that must change are printed: \
            certificate and key parameters that do not name the service's files, and a security level that is \
            absent or weaker than certstore's minimum (postfix may, dovecot ssl = yes, exim's STARTTLS advertised). \
            A stricter level (encrypt, dane, verify, secure, fingerprint, ssl = required) is kept, with a comment \
            saying so. When the daemon's tool is not installed or cannot read the default configuration, the full \
            recommended lines are printed with a comment naming the command tried.

            --check compares instead: exit 0 when the live configuration reads the bound service's files at \
            certstore's levels, 1 with one `drift:` line per difference; a configuration that cannot be read is \
            an error (66).

            After a change, executables in <location>/Hooks/ run with CERTSTORE_SERVICE, CERTSTORE_OLD_THUMBPRINT, \
            CERTSTORE_NEW_THUMBPRINT, CERTSTORE_SERVICE_DIR, CERTSTORE_ROOT and CERTSTORE_LOCATION set — the place \
            for `postfix reload` (and `postqueue -f`, the KB's Retry-Queue); dist/hooks/ has examples. Each send \
            connector has its own files under Services/Connectors/<slug>/ and, on postfix, its own smtp transport \
            (--master-cf) that its address spaces are routed to (--transport-map): outbound TLS presents exactly \
            what `connector resolve` says, and fails (mail defers) when that is a certificate without a key.
            """)

    @Argument(help: ArgumentHelp("postfix, dovecot, exim4, nginx, apache2 or haproxy.", valueName: "daemon"))
    var daemon: String

    @Option(name: [.customLong("config"), .customLong("config-dir")], help: ArgumentHelp(
        "The live configuration: postfix's directory (postconf -c), dovecot's or exim's file (doveconf -c, exim -C), the nginx, apache2 or haproxy file holding the server block.",
        valueName: "path"))
    var config: String?

    @Flag(help: "Compare the live configuration with what the bindings require: exit 0 in line, 1 on drift.")
    var check = false

    @Flag(help: "postfix: print the master.cf transport of each send connector instead (its files, its TLS policy).")
    var masterCf = false

    @Flag(help: "postfix: print the transport map routing each send connector's address spaces to its transport instead.")
    var transportMap = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if masterCf && transportMap { throw ValidationError("--master-cf and --transport-map exclude each other") }
        if check && (masterCf || transportMap) { throw ValidationError("--check compares main.cf; --master-cf and --transport-map print") }
    }

    func run() throws {
        try Failure.run(global) {
            guard let which = ServiceConfig.Daemon(name: daemon) else {
                throw CertStoreError(.usage, "unknown daemon \"\(daemon)\"", hint: "use postfix, dovecot, exim4, nginx, apache2 or haproxy")
            }
            if check, global.format != .table, global.format != .json {
                throw CertStoreError(.usage, "--check prints text or json", hint: "drop --format, or use --format json")
            }
            let store = try global.openStore()
            if masterCf || transportMap {
                guard which == .postfix else { throw CertStoreError(.usage, "--master-cf and --transport-map are for postfix") }
                let connectors = try ConnectorManager(store: store).connectors()
                Terminal.out(masterCf ? PostfixTransports.masterEntries(connectors, files: ServiceFiles(store: store))
                                      : PostfixTransports.transportMap(connectors), terminator: "")
                return
            }
            let live = try ServiceConfig.readLive(which, config: config)
            let plan = try ServiceConfig.plan(which, store: store, live: live)
            guard check else {
                Terminal.out(plan.text, terminator: "")
                return
            }
            guard case .read(let configuration) = live else {
                if case .unavailable(let tried, let reason) = live {
                    throw CertStoreError(.inputUnreadable, "cannot check \(which.rawValue): its live configuration could not be read (tried \(tried): \(reason))",
                                         hint: which.readsNamedFile ? "name the file with --config" : "install \(which.rawValue), or name its configuration with --config")
                }
                return
            }
            if global.format == .json {
                Terminal.outRaw(Self.json(plan, source: configuration.source))
            } else if plan.drifts.isEmpty {
                Terminal.out("in line: \(which.rawValue) (\(configuration.source)) reads \(plan.service.rawValue)'s files at the levels certstore requires")
            } else {
                for drift in plan.drifts {
                    Terminal.out("drift: \(drift.setting)\(drift.live.map { " = " + $0 } ?? " not set"): \(drift.reason) (certstore requires \(drift.required))")
                }
                Terminal.err("\(which.rawValue) (\(configuration.source)): \(plan.drifts.count) drift\(plan.drifts.count == 1 ? "" : "s"); "
                             + "`\(global.commandPrefix) service-config \(which.rawValue)\(config.map { " --config " + ShellQuote.quote($0) } ?? "")` prints the lines that fix \(plan.drifts.count == 1 ? "it" : "them")")
            }
            if !plan.drifts.isEmpty { throw ExitCode(1) }
        }
    }

    /// `{"daemon", "service", "source", "inLine", "drifts": [{"setting", "live", "required", "reason"}]}`.
    static func json(_ plan: ServiceConfig.Plan, source: String) -> String {
        struct Report: Encodable {
            let daemon: ServiceConfig.Daemon
            let service: String
            let source: String
            let inLine: Bool
            let drifts: [ServiceConfig.Drift]
        }
        let report = Report(daemon: plan.daemon, service: plan.service.rawValue, source: source, inLine: plan.drifts.isEmpty, drifts: plan.drifts)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
