import ArgumentParser
import CertStore

/// How a certificate is bound to services, shared by `enable` and `request --self-signed --services` (which binds
/// through `enable`'s code): Exchange's question "Overwrite the existing default SMTP certificate?" answered ahead,
/// and the account the daemon runs as. One group, so both commands take the same flags with the same help.
struct BindingOptions: ParsableArguments {
    @Flag(name: [.customLong("overwrite-default"), .customLong("force")],
          help: "When SMTP is bound and another certificate is the default: answer Yes, make this the default SMTP certificate (Exchange's -Force).")
    var overwriteDefault = false

    @Flag(help: "When SMTP is bound and another certificate is the default: answer No, keep the current default SMTP certificate.")
    var keepDefault = false

    @Option(help: ArgumentHelp("The account the daemon runs as (postfix, dovecot, www-data): it alone may read the service's key file (\"\" clears it).", valueName: "user"))
    var serviceUser: String?

    func validate() throws {
        if overwriteDefault && keepDefault { throw ValidationError("--overwrite-default and --keep-default exclude each other") }
    }

    /// Whether any of these options was given.
    var isGiven: Bool { overwriteDefault || keepDefault || serviceUser != nil }

    /// The answer to the default-SMTP question: given on the command line, or asked (terminal or standard input).
    var answer: BindingManager.OverwriteAnswer {
        overwriteDefault ? .overwrite : keepDefault ? .keep : .ask(Confirmation.overwriteDefault)
    }
}
