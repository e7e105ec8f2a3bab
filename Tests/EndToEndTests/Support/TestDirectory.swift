import Foundation

/// A fresh temporary directory per test, removed when the test is done with it.
final class TestDirectory {
    let url: URL

    init(_ label: String = "test") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("certstore-e2e-\(label)-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        // The unit suite sets the process umask to 000 for a moment; a store root writable by others is refused.
        chmod(url.path, 0o755)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// A store root inside this directory (not created: certstore creates it).
    var root: URL { url.appendingPathComponent("root", isDirectory: true) }
    var rootPath: String { root.path }

    func path(_ name: String) -> URL { url.appendingPathComponent(name) }

    @discardableResult
    func write(_ name: String, _ data: Data) throws -> URL {
        let file = path(name)
        try data.write(to: file)
        return file
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL { try write(name, Data(text.utf8)) }

    /// `<root>/LocalMachine/<store>`.
    func storeDirectory(_ store: String = "My") -> URL {
        root.appendingPathComponent("LocalMachine/\(store)", isDirectory: true)
    }

    /// File names in a store directory (empty when it does not exist).
    func files(in store: String, suffix: String = "") -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: storeDirectory(store).path)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted()
    }

    /// Thumbprints of the `.cer` files in a store.
    func thumbprints(in store: String) -> Set<String> {
        Set(files(in: store, suffix: ".cer").map { String($0.dropLast(4)) })
    }
}

/// Every path under a directory with its type, mode and contents: two snapshots are equal only when
/// nothing was added, removed, changed or re-moded. The store index (`.cache/`) is left out: it is a
/// derived cache that readers may refresh, not store content.
struct DirectorySnapshot: Equatable {
    var entries: [String: String]

    static func take(_ directory: URL) throws -> DirectorySnapshot {
        var entries: [String: String] = [:]
        let base = directory.path
        guard let enumerator = FileManager.default.enumerator(atPath: base) else {
            throw RunnerError("cannot enumerate \(base)")
        }
        while let relative = enumerator.nextObject() as? String {
            if relative.split(separator: "/").contains(".cache") { continue }
            let full = base + "/" + relative
            var info = stat()
            guard lstat(full, &info) == 0 else { throw RunnerError("cannot lstat \(full)") }
            let mode = String(info.st_mode & 0o7777, radix: 8)
            switch info.st_mode & S_IFMT {
            case S_IFDIR: entries[relative] = "dir \(mode)"
            case S_IFREG:
                let data = try Data(contentsOf: URL(fileURLWithPath: full))
                entries[relative] = "file \(mode) \(data.base64EncodedString())"
            case S_IFLNK: entries[relative] = "link \(mode) \((try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? "?")"
            default: entries[relative] = "other \(mode)"
            }
        }
        return DirectorySnapshot(entries: entries)
    }

    /// What changed from `self` to `other`, for failure messages.
    func differences(to other: DirectorySnapshot) -> String {
        var lines: [String] = []
        for key in Set(entries.keys).union(other.entries.keys).sorted() {
            switch (entries[key], other.entries[key]) {
            case (nil, _): lines.append("added: \(key)")
            case (_, nil): lines.append("removed: \(key)")
            case let (a?, b?) where a != b: lines.append("changed: \(key) (\(a.prefix(12))… → \(b.prefix(12))…)")
            default: break
            }
        }
        return lines.isEmpty ? "no differences" : lines.joined(separator: "\n")
    }
}

/// The mode bits of a path (lstat), or nil.
func fileMode(_ url: URL) -> mode_t? {
    var info = stat()
    return lstat(url.path, &info) == 0 ? info.st_mode & 0o7777 : nil
}

func octal(_ mode: mode_t?) -> String { mode.map { "0" + String($0, radix: 8) } ?? "missing" }
