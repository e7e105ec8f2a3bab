import ArgumentParser
import CertStore
import Foundation

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a certificate as PEM or DER, or with its key and chain as PKCS#12.",
        discussion: """
            PKCS#12 uses AES-256-CBC with PBKDF2 and a SHA-256 MAC; --legacy writes 3DES with a SHA-1 MAC for \
            Windows Server 2016 and older. Only keys imported with --exportable can be exported, as on Windows.
            """)

    @Argument(help: ArgumentHelp("The certificate's thumbprint.", valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String

    @Option(help: ArgumentHelp("Output file; - for standard output (PEM and DER only).", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("pem, der or pfx (default: from the --out extension: .pfx/.p12 → pfx, .der/.cer → der, else pem).", valueName: "kind"))
    var type: String?

    @Flag(help: "Include the issuing chain from LocalMachine/CA and LocalMachine/Root (PEM; PKCS#12 always has it; not with DER).")
    var chain = false

    @Flag(help: "PKCS#12 with 3DES and a SHA-1 MAC, for old Windows importers.")
    var legacy = false

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    @OptionGroup var global: GlobalOptions
    @OptionGroup var passwords: PasswordOptions

    func run() throws {
        try Failure.run(global) {
            let kind: Exporter.Kind
            if let type {
                guard let parsed = Exporter.Kind(rawValue: type.lowercased()) else {
                    throw CertStoreError(.usage, "unknown export type \"\(type)\"", hint: "use pem, der or pfx")
                }
                kind = parsed
            } else {
                kind = Exporter.Kind.inferred(from: out)
            }
            if kind == .der && chain {
                throw CertStoreError(.usage, "a DER file holds one certificate, so --chain cannot apply", hint: "use PEM (--type pem) or PKCS#12 for a chain")
            }
            if kind == .pfx && out == "-" {
                throw CertStoreError(.usage, "a PKCS#12 file is not written to standard output", hint: "give --out FILE.pfx")
            }
            let store = try global.openStore()
            let entry = try store.requireEntry(try Thumbprint(parsing: thumbprint), in: try global.storePath())
            var password = try passwords.resolve()
            if kind == .pfx && password == nil {
                if let first = PasswordOptions.prompt("Password for \(out): ") {
                    guard let second = PasswordOptions.prompt("Repeat the password: "), second.matches(first) else {
                        throw CertStoreError(.usage, "the passwords do not match")
                    }
                    password = first
                }
            }
            let bytes = try Exporter(store: store).export(entry, kind: kind, includeChain: chain, password: password,
                                                          encryption: legacy ? .legacy : .modern)
            if out == "-" {
                FileHandle.standardOutput.write(Data(bytes))
                return
            }
            try OutputFile.write(bytes, to: out, secret: kind == .pfx, overwrite: force)
            Terminal.err("Exported \(entry.thumbprint) as \(kind.rawValue.uppercased()) to \(out)")
        }
    }
}
