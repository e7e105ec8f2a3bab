import ArgumentParser
import CertStore
import Foundation

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the certificates of a store (Get-ChildItem Cert:\\LocalMachine\\My).",
        discussion: """
            Patterns use PowerShell -like wildcards: * any run, ? one character, [a-z] a range, a backtick \
            escapes; matching is case-insensitive and covers the whole string. \
            Example (KB 4495258 step 3): certstore list --thumbprint 3C5B… --property thumbprint,hasprivatekey
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var tls: SecurityLevelOption

    @Option(help: ArgumentHelp("Only thumbprints matching this pattern.", valueName: "pattern"))
    var thumbprint: String?

    @Option(help: ArgumentHelp("Only subjects (Windows form, CN=…, O=…) matching this pattern.", valueName: "pattern"))
    var subject: String?

    @Option(help: ArgumentHelp("Only issuers matching this pattern.", valueName: "pattern"))
    var issuer: String?

    @Option(help: ArgumentHelp("Only friendly names matching this pattern.", valueName: "pattern"))
    var friendlyName: String?

    @Option(help: ArgumentHelp("Only certificates with a DnsNameList entry matching this pattern.", valueName: "pattern"))
    var dnsName: String?

    @Option(help: ArgumentHelp("Only certificates with an EKU matching this pattern (OID or name); repeat to require several.", valueName: "pattern"))
    var eku: [String] = []

    @Flag(help: "Only certificates whose EKU lists Server Authentication (-SSLServerAuthentication).")
    var sslServerAuthentication = false

    @Option(help: ArgumentHelp("Only certificates expiring within N days (0: already expired).", valueName: "days"))
    var expiringInDays: Int?

    @Flag(help: "Only certificates with a usable private key in the store.")
    var hasPrivateKey = false

    @Flag(help: "Only certificates without a usable private key (the KB 4495258 suspects).")
    var noPrivateKey = false

    @Flag(help: "Include archived certificates (PowerShell's -Force).")
    var includeArchived = false

    @Option(help: ArgumentHelp("Columns to show, like Select-Object -Property (case-insensitive, comma-separated; * for all).", valueName: "names"))
    var property: [String] = []

    @Option(help: ArgumentHelp("certificate (default) or exchange: what Get-ExchangeCertificate shows — certificates with a usable key, newest first, with Services, Status and RootCAType, then pending requests (Status PendingRequest).", valueName: "view"))
    var view: ListView = .certificate

    @Option(help: ArgumentHelp("Exchange view: only this RootCAType (None, ThirdParty, Enterprise, Registry, GroupPolicy, Unknown).", valueName: "type"))
    var rootCAType: String?

    @Option(help: ArgumentHelp("Exchange view: only this Status (Valid, Untrusted, DateInvalid, Invalid, Unknown, PendingRequest).", valueName: "status"))
    var status: String?

    @Option(help: ArgumentHelp("Exchange view: only certificates bound to all these services (SMTP,IIS,IMAP,POP).", valueName: "list"))
    var services: String?

    @Option(help: ArgumentHelp("Exchange view: certificates for this name, the one Exchange would pick first (-DomainName).", valueName: "name"))
    var domain: String?

    func validate() throws {
        if hasPrivateKey && noPrivateKey { throw ValidationError("--has-private-key and --no-private-key exclude each other") }
        if view == .certificate && (rootCAType != nil || status != nil || services != nil || domain != nil) {
            throw ValidationError("--root-ca-type, --status, --services and --domain belong to --view exchange")
        }
    }

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let context = try PropertyContext(store: store, securityLevel: tls.securityLevel)
            let path = try global.storePath()
            var filter = CertificateFilter()
            filter.thumbprint = try thumbprint.map(WildcardPattern.init)
            filter.subject = try subject.map(WildcardPattern.init)
            filter.issuer = try issuer.map(WildcardPattern.init)
            filter.friendlyName = try friendlyName.map(WildcardPattern.init)
            filter.dnsName = try dnsName.map(WildcardPattern.init)
            filter.extendedKeyUsages = try eku.map(WildcardPattern.init)
            filter.sslServerAuthentication = sslServerAuthentication
            filter.expiringInDays = expiringInDays
            filter.hasPrivateKey = hasPrivateKey ? true : (noPrivateKey ? false : nil)
            filter.includeArchived = includeArchived

            if view == .exchange {
                try ExchangeListing(global: global, thumbprint: thumbprint, rootCAType: rootCAType, status: status,
                                    services: services, domain: domain, property: property).run(store: store, filter: filter)
                return
            }
            let columns: [CertificateProperty]
            if !property.isEmpty {
                columns = try CertificateProperty.select(property)
            } else {
                columns = global.format != .table ? CertificateProperty.all
                    : path.name == .request ? CertificateProperty.defaultRequestTable : CertificateProperty.defaultTable
            }
            func warn(_ problems: [StoreProblem]) {
                for problem in problems { Terminal.warn("\(Terminal.sanitize(problem.description)) (skipped; run `certstore check`)") }
            }
            if global.format == .json {
                // Streamed: the store a batch at a time, values computed with the text on all cores.
                // Entries from the index carry their values as JSON text: copied, with the bindings filled in.
                // Their certificate properties are then decoded only if a filter reads them.
                let allColumns = columns.compactMap { CertificateProperty.all.firstIndex(of: $0) }
                let selection = JSONRecordText.TemplateSelection(columns: allColumns)
                let kept = allColumns.count == columns.count
                let appendKept = { @Sendable (entry: StoreEntry, text: JSONRecordText, out: inout [UInt8]) -> Bool in
                    entry.appendKeptJSON(to: &out, writer: text, columns: columns, selection: selection, context: context)
                }
                let writer = JSONListWriter<StoreEntry>(keys: columns.map(\.jsonKey), values: { entry in
                    columns.map { $0.value(of: entry, context: context) }
                }, appendKept: kept ? appendKept : nil)
                let problems = try store.forEachBatch(in: path, lazily: kept && !filter.readsCertificateProperties) { batch in
                    for entry in batch where filter.matches(entry) { writer.add(entry) }
                }
                writer.finish()
                warn(problems)
                return
            }
            // The store a batch at a time here too: only the rows' text outlives a batch.
            var writer = RecordWriter(format: global.format)
            if property.isEmpty { writer.tableHeader = "   PSParentPath: \(path.powerShellPath)" }
            let stream = RowStream(writer, columns: columns.map(\.name))
            let problems = try store.forEachBatch(in: path) { batch in
                for entry in batch where filter.matches(entry) {
                    stream.add(columns.map { (name: $0.name, jsonKey: $0.jsonKey, value: $0.value(of: entry, context: context)) })
                }
            }
            stream.finish()
            warn(problems)
        }
    }
}

enum ListView: String, ExpressibleByArgument, CaseIterable {
    case certificate, exchange
}
