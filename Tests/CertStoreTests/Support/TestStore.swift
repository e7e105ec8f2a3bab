import Foundation
import Testing
@testable import CertStore

/// A certificate store in a fresh temporary root, with shortcuts for importing fixture files.
struct TestStore {
    let root: URL
    let store: StoreLocation
    let fixtures: Fixtures

    init(lockTimeout: Double = 10, limits: Limits = .default) throws {
        fixtures = try Fixtures.get()
        root = try Scratch.makeDirectory("store")
        store = StoreLocation(root: root, limits: limits, lockTimeout: lockTimeout)
    }

    static let my = StorePath.personal
    static let ca = StorePath.personal.sibling(.ca)
    static let rootStore = StorePath.personal.sibling(.root)

    /// Options with the fixtures' PFX password, then `configure`. Keyless end-entity certificates are allowed into
    /// My (`allowKeyless`): these tests place bare fixture certificates on purpose (the KB 4495258 certificate, keys
    /// re-linked later); the refusal itself is tested with it off (`ImporterTests`, "keyless").
    static func options(password: String? = Fixtures.pfxPassword, _ configure: (inout Importer.Options) -> Void = { _ in }) -> Importer.Options {
        var options = Importer.Options()
        options.allowKeyless = true
        options.password = password.map(Password.init)
        configure(&options)
        return options
    }

    /// Imports fixture files (by name) or absolute paths.
    @discardableResult
    func importFiles(_ names: [String], options: Importer.Options = TestStore.options()) throws -> ImportResult {
        try Importer(store: store).importFiles(names.map { $0.hasPrefix("/") ? $0 : fixtures.path($0) }, options: options).value
    }

    func entry(_ certificateFile: String, in storePath: StorePath = TestStore.my) throws -> StoreEntry? {
        try store.entry(fixtures.certificate(certificateFile).thumbprint, in: storePath)
    }

    /// File names in a store directory (sorted; hidden files included).
    func files(in storePath: StorePath) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: store.directory(of: storePath).path).sorted()
    }

    func keyFile(for certificateFile: String) throws -> URL {
        store.keysDirectory.appendingPathComponent("\(try fixtures.certificate(certificateFile).publicKeyIdentifier).key")
    }

    struct FileState: Equatable, CustomStringConvertible {
        let kind: String
        let mode: mode_t
        let contents: [UInt8]
        var description: String { "\(kind) \(String(mode, radix: 8)) \(contents.count) bytes" }
    }

    /// Every path under the root with its type, permission bits and contents (the `.cache/` index left out:
    /// it is derived data readers may refresh).
    func snapshot() throws -> [String: FileState] {
        var result: [String: FileState] = [:]
        func walk(_ url: URL, _ relative: String) throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path) where name != ".cache" {
                let child = url.appendingPathComponent(name)
                let path = relative.isEmpty ? name : "\(relative)/\(name)"
                var info = stat()
                try #require(lstat(child.path, &info) == 0)
                let mode = info.st_mode & 0o7777
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    result[path] = FileState(kind: "dir", mode: mode, contents: [])
                    try walk(child, path)
                case S_IFREG:
                    result[path] = FileState(kind: "file", mode: mode, contents: [UInt8](try Data(contentsOf: child)))
                default:
                    result[path] = FileState(kind: "other", mode: mode, contents: [])
                }
            }
        }
        try walk(root, "")
        return result
    }
}
