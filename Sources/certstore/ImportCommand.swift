import ArgumentParser
import CertStore
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import certificates and keys: PKCS#12 (modern and legacy), PEM, DER, PKCS#7, key files.",
        discussion: """
            A certificate whose key comes with it (or is already in the store) goes to the target store \
            (--store, default LocalMachine/My); a CA certificate without a key goes to LocalMachine/CA; a \
            root is trusted only when imported with --store LocalMachine/Root. A key given alone re-links \
            the stored certificate it belongs to. Nothing is judged: expired or untrusted certificates are \
            kept (audit judges). A certificate already present is never duplicated. One bad file stops the \
            whole import before anything is written, unless --skip-invalid.

            No keyless end-entity certificate enters LocalMachine/My by accident: a certificate that would land \
            there without a key (none in the files, none in the store, no pending request) — the certificate of a \
            request made on another machine, KB 4495258 — is refused (exit 2), unless --allow-keyless. CA \
            certificates and imports into LocalMachine/CA or LocalMachine/Root are not affected.

            A certificate whose key is a pending request's (`certstore request`) completes that request, as \
            `certstore complete` does: it lands in LocalMachine/My with the request's key, friendly name and \
            exportability, and the request goes to the trash.

            Ctrl-C (SIGINT) or SIGTERM stops the import at the next file: whatever was staged (keys among it) \
            is removed again, nothing is imported, and the exit status is 130. A signal that comes while the \
            staged files are being renamed into place lets the import finish.
            """)

    @Argument(help: ArgumentHelp("Files to import; a directory stands for every file in it and below.", valueName: "file"), completion: .file())
    var files: [String] = []

    @Option(help: ArgumentHelp("Import a certbot lineage (/etc/letsencrypt/live/NAME: cert.pem, chain.pem and privkey.pem of one generation) instead of files, and hand over from the bound certificates it renews (a DNS name in common, earlier expiry): what dist/certbot/deploy-hook runs with $RENEWED_LINEAGE.", valueName: "dir"), completion: .directory)
    var certbotLineage: String?

    @OptionGroup var global: GlobalOptions
    @OptionGroup var passwords: PasswordOptions

    @Option(help: ArgumentHelp("Friendly name for the imported end-entity certificates, not for an issuing CA that comes with them (under 64 characters).", valueName: "name"))
    var friendlyName: String?

    @Flag(help: "Mark imported private keys exportable (export to PKCS#12 is refused otherwise, as on Windows).")
    var exportable = false

    @Flag(help: "Import the readable files and report the others, instead of importing nothing.")
    var skipInvalid = false

    @Flag(help: "Import end-entity certificates into LocalMachine/My even when the store has no key for them (the KB 4495258 certificate; audit reports it).")
    var allowKeyless = false

    @Option(help: ArgumentHelp("For roots imported into LocalMachine/Root: the RootCAType the Exchange view reports (ThirdParty, Enterprise, Registry, GroupPolicy; default ThirdParty).", valueName: "type"))
    var rootCAType: String?

    func validate() throws {
        if certbotLineage != nil && !files.isEmpty {
            throw ValidationError("--certbot-lineage imports one lineage: give no files with it")
        }
        if certbotLineage == nil && files.isEmpty {
            throw ValidationError("Missing expected argument '<file> ...' (or --certbot-lineage)")
        }
    }

    func run() throws {
        try Failure.run(global) {
            let lineage = try certbotLineage.map { try CertbotLineage(directory: $0) }
            let store = try global.openStore(.creating)
            var options = Importer.Options()
            options.target = try global.storePath()
            options.friendlyName = friendlyName
            options.exportable = exportable
            options.skipInvalid = skipInvalid
            options.allowKeyless = allowKeyless
            // certbot renewed this lineage: its certificate takes over from the bound one it renews.
            options.handOverRenewed = lineage != nil
            let progress = Terminal.Progress("reading")
            options.progress = { done, total in progress.update(done, total) }
            if let rootCAType {
                guard let type = ExchangeCertificate.RootCAType.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(rootCAType) == .orderedSame }),
                      type != .none, type != .unknown else {
                    throw CertStoreError(.usage, "unknown root CA type \"\(rootCAType)\"", hint: "use ThirdParty, Enterprise, Registry or GroupPolicy")
                }
                options.rootCAType = type
            }
            options.password = try passwords.resolve()
            if options.password == nil && !passwords.passwordStdin {
                options.askPassword = { file in PasswordOptions.prompt("Password for \(file): ") }
            }
            let cancellation = Cancellation()
            options.cancellation = cancellation
            let interrupts = Interrupts(cancelling: cancellation)
            let outcome = try Importer(store: store).importFiles(lineage?.files ?? files, options: options)
            interrupts.stop()
            if cancellation.isCancelled {
                Terminal.err("the signal came while the import was being committed: it was finished, as listed below")
            }
            let result = outcome.value
            Self.report(result, format: global.format)
            // A key or a chain certificate that arrives changes what services present: the outcome says what.
            Consequences.report(outcome, store: store)
            if let first = result.failures.first {
                // The first failure decides the code: 66 for a file that cannot be read, 65 for bad data.
                throw ExitCode(Failure.exitCode(for: first.kind))
            }
        }
    }

    /// What `import` and `complete` print.
    static func report(_ result: ImportResult, format: OutputFormat) {
        for failure in result.failures {
            Failure.report(CertStoreError(failure.kind, failure.message, hint: failure.hint),
                           prefix: failure.message.contains(failure.file) ? nil : failure.file)
        }
        if !result.committed {
            Terminal.err("nothing was imported: the store is unchanged (use --skip-invalid to import the other files)")
        }
        for warning in result.warnings {
            Terminal.err("warning: " + Terminal.sanitize(warning.message))
            if let hint = warning.hint { Terminal.err("hint: " + hint) }
        }
        switch format {
        case .json:
            let items = result.items.map { item -> [String: Any] in
                ["file": item.file, "thumbprint": item.thumbprint.value, "store": item.store.description, "subject": item.subject,
                 "action": item.action.rawValue, "hasPrivateKey": item.hasPrivateKey]
            }
            let failures = result.failures.map { ["file": $0.file, "kind": $0.kind.rawValue, "message": $0.message, "hint": $0.hint ?? NSNull()] as [String: Any] }
            let warnings = result.warnings.map { ["file": $0.file, "message": $0.message, "hint": $0.hint ?? NSNull()] as [String: Any] }
            let completed = result.completedRequests.map {
                ["request": $0.request.value, "certificate": $0.certificate.value, "trashId": $0.trashID] as [String: Any]
            }
            let object: [String: Any] = [
                "committed": result.committed, "items": items, "failures": failures, "warnings": warnings,
                "completedRequests": completed,
                "renewals": result.renewals.map {
                    ["renewed": $0.renewed.value, "certificate": $0.certificate.value, "handedOver": $0.handedOver,
                     "steps": $0.steps, "commands": $0.commands] as [String: Any]
                },
                "summary": ["added": result.addedCount, "keyAdded": result.keyAddedCount,
                            "alreadyPresent": result.alreadyPresentCount, "updated": result.updatedCount,
                            "completed": result.completedCount, "failed": result.failures.count],
            ]
            assert(JSONSerialization.isValidJSONObject(object), "not a JSON object: \(object)")
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
                Terminal.outRaw(String(decoding: data, as: UTF8.self))
            }
        default:
            let rows = result.items.map { item -> RecordWriter.Row in
                [(name: "Action", jsonKey: "action", value: .string(item.action.rawValue)),
                 (name: "Store", jsonKey: "store", value: .string(item.store.description)),
                 (name: "Thumbprint", jsonKey: "thumbprint", value: .string(item.thumbprint.value)),
                 (name: "HasPrivateKey", jsonKey: "hasPrivateKey", value: .bool(item.hasPrivateKey)),
                 (name: "Subject", jsonKey: "subject", value: .string(item.subject))]
            }
            RecordWriter(format: format).write(rows, columns: ["Action", "Store", "Thumbprint", "HasPrivateKey", "Subject"])
            if result.committed && format == .table {
                Terminal.out("Imported \(result.addedCount) new, \(result.keyAddedCount) re-linked to their key, \(result.alreadyPresentCount) already present" + (result.updatedCount > 0 ? ", \(result.updatedCount) updated" : "")
                             + (result.completedCount > 0 ? ", \(result.completedCount) completing a pending request" : "")
                             + (result.failures.isEmpty ? "." : "; \(result.failures.count) file(s) failed."))
                for completed in result.completedRequests {
                    Terminal.out("Completed the pending request \(completed.request) with \(completed.certificate); the request is in the trash as \(completed.trashID).")
                }
            }
            for renewal in result.renewals where format == .table {
                Terminal.out(renewal.handedOver ? "Renewal of \(renewal.renewed): handed over to \(renewal.certificate):"
                                                : "Renewal of \(renewal.renewed): \(renewal.certificate) did NOT take over:")
                for step in renewal.steps { Terminal.out(Terminal.sanitize("  " + step)) }
                if !renewal.commands.isEmpty {
                    Terminal.warn((renewal.handedOver ? "a send connector does not follow; run: " : "hand over once the cause is understood: ")
                                  + renewal.commands.joined(separator: "; "))
                }
            }
        }
    }
}
