import ArgumentParser
import CertStore

@main
struct CertStoreCommand: ParsableCommand {
    /// Global options may also come before the subcommand (`certstore --root DIR list`): they are moved
    /// behind it, where every subcommand's option group reads them.
    static func main() {
        let arguments = GlobalOptions.movingLeadingGlobals(Array(CommandLine.arguments.dropFirst()))
        // swift-argument-parser suggests options, not subcommands: `certstore lsit` would only be "unexpected".
        if let suggestion = subcommandSuggestion(arguments) { exit(withError: ValidationError(suggestion)) }
        main(arguments)
    }

    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "certstore",
        abstract: "A Windows-style certificate store for Linux servers, indexed by SHA-1 thumbprint.",
        discussion: """
            The store lives under --root (default: $CERTSTORE_ROOT, else ./Stores when it exists, \
            else /var/lib/certstore), one folder per location (LocalMachine) and store (My, CA, Root, REQUEST).

            Exit status: 0 success; 1 not found; 2 refused; 3 acme renew did not complete every renewal; 64 usage error; 65 bad data or wrong \
            password; 66 input file unreadable; 70 internal error; 73 write failed; 75 store busy; \
            77 permission denied.
            """,
        version: "certstore \(version) (\(OpenSSLProviders.version))",
        subcommands: [
            ListCommand.self, ShowCommand.self, ImportCommand.self, ExportCommand.self,
            RequestCommand.self, CompleteCommand.self, RenewCommand.self, HandoverCommand.self,
            EnableCommand.self, DisableCommand.self, BindingsCommand.self,
            ConnectorCommand.self, DependencyCommand.self,
            RemoveCommand.self, PruneCommand.self, TrashCommand.self, RestoreCommand.self,
            AuditCommand.self, DiagnoseCommand.self, CheckCommand.self,
            ServiceConfigCommand.self, ProbeCommand.self, DeployCommand.self,
            ACMECommand.self,
        ]
    )
}
