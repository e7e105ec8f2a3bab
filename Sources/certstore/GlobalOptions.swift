import ArgumentParser
import CertStore
import Foundation

/// Options every subcommand takes; they may come before or after the subcommand's arguments.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Store root directory.",
        discussion: "Default: $CERTSTORE_ROOT, else ./Stores when it exists, else /var/lib/certstore.",
        valueName: "dir"))
    var root: String?

    @Option(name: .long, help: ArgumentHelp(
        "The store: LocalMachine/My (default), LocalMachine/CA, LocalMachine/Root, LocalMachine/REQUEST (pending requests); Cert:\\LocalMachine\\My works too.",
        valueName: "store"))
    var store: String = "LocalMachine/My"

    @Option(name: .long, help: ArgumentHelp("Output format: table, list, csv or json (audit also: prometheus).", valueName: "format"))
    var format: OutputFormat = .table

    @Option(name: .long, help: ArgumentHelp("Seconds a writer waits for the store lock before giving up.", valueName: "seconds"))
    var lockTimeout: Double = 10

    @Option(name: .long, help: ArgumentHelp(
        "Largest PBKDF/MAC iteration count accepted in PKCS#12 and encrypted keys (default 1000000, or $CERTSTORE_MAX_ITERATIONS).",
        valueName: "n"))
    var maxIterations: Int?

    /// How suggested commands start: with the same store root when it was named with --root (as an absolute
    /// path), so that a pasted suggestion acts on the store that was looked at.
    var commandPrefix: String {
        guard let root, !root.isEmpty else { return "certstore" }
        return "certstore --root " + ShellQuote.quote(StoreLocation.defaultRoot(explicit: root).standardizedFileURL.path)
    }

    func storePath() throws -> StorePath {
        try StorePath(parsing: store)
    }

    /// For commands that act on the personal store only (enable, disable, prune): `--store` may name its
    /// location, but not another store of it.
    func requirePersonalStore(_ command: String) throws {
        let path = try storePath()
        guard path.name == .my else {
            throw CertStoreError(.usage, "`certstore \(command)` works on \(path.sibling(.my)), not \(path)",
                                 hint: "services bind certificates of the personal store; drop --store or use --store \(path.sibling(.my))")
        }
    }

    /// What a command expects of the store location.
    enum StoreAccess {
        /// It must exist: a misspelt --root must not look like an empty store (exit 66).
        case existing
        /// A writer that may create it (import, connector add): it says so on stderr when it does.
        case creating
        /// The command reports a missing location itself (audit and check answer UNKNOWN).
        case anyway
    }

    func openStore(_ access: StoreAccess = .existing) throws -> StoreLocation {
        let path = try storePath()
        var limits = Limits.default
        if let maxIterations {
            limits.maxIterations = maxIterations
        } else if let env = ProcessInfo.processInfo.environment["CERTSTORE_MAX_ITERATIONS"] {
            guard let value = Int(env.trimmingCharacters(in: .whitespaces)), value >= 1 else {
                throw CertStoreError(.usage, "CERTSTORE_MAX_ITERATIONS=\(env) is not a whole number of at least 1",
                                     hint: "unset it, or set it to an iteration count such as 2000000")
            }
            limits.maxIterations = value
        }
        // A cold look at a big store parses thousands of certificates: show how far it is, on a terminal only.
        let progress = Terminal.Progress("reading certificates")
        // A ./Stores nobody named must pass the store rule (resolveRoot); the source is said when there is no store.
        let rootURL = try StoreLocation.resolveRoot(explicit: root)
        let source = StoreLocation.chooseRoot(explicit: root).source
        let store = StoreLocation(root: rootURL, location: path.location, limits: limits, lockTimeout: lockTimeout,
                                     parseProgress: { done, total in progress.update(done, total) })
        switch access {
        case .existing where !store.exists:
            throw CertStoreError(.inputUnreadable, "there is no store at \(store.directory.path) (root \(rootURL.path), chosen by \(source))",
                                 hint: "check the spelling of --root or $CERTSTORE_ROOT, or run from the directory that holds ./Stores; `certstore import` creates a store")
        case .creating where !store.exists:
            Terminal.err("creating a new store at \(store.directory.path) (root chosen by \(source))")
        default:
            break
        }
        return store
    }

    func validate() throws {
        guard lockTimeout >= 0 else { throw ValidationError("--lock-timeout must be 0 or more seconds") }
        if let maxIterations, maxIterations < 1 { throw ValidationError("--max-iterations must be at least 1") }
    }
}

extension GlobalOptions {
    static let valueOptions: Set<String> = ["--root", "--store", "--format", "--lock-timeout", "--max-iterations"]

    static func movingLeadingGlobals(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            guard valueOptions.contains(name) else { break }
            leading.append(argument)
            if !argument.contains("="), index + 1 < arguments.count {
                leading.append(arguments[index + 1])
                index += 1
            }
            index += 1
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        let rest = Array(arguments[index...])
        // Keep a `--` terminator (and what follows it) last.
        if let dashes = rest.firstIndex(of: "--") {
            return Array(rest[..<dashes]) + leading + Array(rest[dashes...])
        }
        return rest + leading
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, list, csv, json
    /// Prometheus text exposition: `audit` only.
    case prometheus
}
