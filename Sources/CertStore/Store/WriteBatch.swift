import CLinux
import Foundation

/// Many files written with the guarantees of `FileSystem.writeAtomically`, for the cost of a few flushes.
///
/// Files are staged as temporary files, then one `syncfs` makes all their data durable, then they are
/// renamed into place phase by phase, each phase made durable (directory `fsync`) before the next starts.
/// Writing keys, then properties, then certificates as three phases keeps the `.cer` the commit point: after
/// a crash, a certificate is either absent or whole, and its key is never behind it. Bulk imports went
/// from five flushes per certificate to about six per call.
final class WriteBatch {
    enum Phase: Int, CaseIterable, Comparable {
        case keys, properties, certificates
        static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private struct Staged {
        let temp: URL
        let final: URL
    }

    private var staged: [Phase: [Staged]] = [:]
    private let anchor: URL

    /// `anchor` is any directory on the store's file system (the location directory).
    init(anchor: URL) { self.anchor = anchor }

    deinit {
        // Never committed (an error happened): leave nothing behind.
        for list in staged.values { for file in list { unlink(file.temp.path) } }
    }

    func stage(_ bytes: [UInt8], to url: URL, mode: mode_t, phase: Phase) throws {
        let temp = try FileSystem.writeTemporary(bytes, beside: url, mode: mode, sync: false)
        staged[phase, default: []].append(Staged(temp: temp, final: url))
    }

    var isEmpty: Bool { staged.values.allSatisfy(\.isEmpty) }

    func commit() throws {
        guard !isEmpty else { return }
        let fd = open(anchor.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystem.posixError("open", anchor, errno) }
        defer { close(fd) }
        guard certstore_syncfs(fd) == 0 else { throw FileSystem.posixError("flush the file system of", anchor, errno) }
        for phase in Phase.allCases {
            guard let files = staged[phase], !files.isEmpty else { continue }
            var directories = Set<String>()
            for file in files {
                guard rename(file.temp.path, file.final.path) == 0 else { throw FileSystem.posixError("rename into place", file.final, errno) }
                directories.insert(file.final.deletingLastPathComponent().path)
            }
            staged[phase] = nil
            for directory in directories.sorted() { try FileSystem.syncDirectory(URL(fileURLWithPath: directory)) }
        }
    }
}
