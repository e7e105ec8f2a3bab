import ArgumentParser
import CertStore

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show every property of one certificate (Format-List *).")

    @Argument(help: ArgumentHelp(
        "The certificate's thumbprint: any case; spaces, colons and the invisible marks Windows copies are ignored.",
        valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String

    @OptionGroup var global: GlobalOptions
    @OptionGroup var tls: SecurityLevelOption

    @Option(help: ArgumentHelp("Properties to show (comma-separated; default all).", valueName: "names"))
    var property: [String] = []

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let context = try PropertyContext(store: store, securityLevel: tls.securityLevel)
            let entry = try store.requireEntry(try Thumbprint(parsing: thumbprint), in: try global.storePath())
            let columns = property.isEmpty ? CertificateProperty.all : try CertificateProperty.select(property)
            let row = columns.map { (name: $0.name, jsonKey: $0.jsonKey, value: $0.value(of: entry, context: context)) }
            let format = global.format == .table && property.isEmpty ? .list : global.format
            if format == .json {
                Terminal.outRaw(RecordWriter.jsonObject(row))
            } else {
                RecordWriter(format: format).write([row], columns: columns.map(\.name))
            }
        }
    }
}
