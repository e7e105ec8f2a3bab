import ArgumentParser

struct ACMECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acme",
        abstract: "Certificates from an ACME CA (RFC 8555: Let's Encrypt, a private CA): register, order, revoke.",
        discussion: """
            The account's ES256 key is kept in the location (ACME/account.key, 0600) and the account and the \
            ACME-managed certificates in acme.json beside bindings.json. An order's key is made in the store as \
            `certstore request` makes it, the CA signs that request, and the chain is completed into LocalMachine/My \
            (its CA certificates into LocalMachine/CA) as `certstore complete` does; a failed order leaves My, the \
            bindings and the service files untouched and takes the pending request and its key to the trash.
            """,
        subcommands: [ACMERegisterCommand.self, ACMEAccountCommand.self, ACMEOrderCommand.self, ACMERenewCommand.self, ACMERevokeCommand.self])
}
