import Foundation

/// POSIX file operations with the guarantees the store needs: atomic replacement, durable renames,
/// no symlink following, and modes that do not depend on the caller's umask.
enum FileSystem {
    /// Writes `bytes` to `url` atomically: temp file in the same directory → fsync → rename → fsync dir.
    /// A reader sees the old file or the new one, never half of one, even after `kill -9` or power loss.
    static func writeAtomically(_ bytes: [UInt8], to url: URL, mode: mode_t) throws {
        try writeAtomically(to: url, mode: mode) { write in try bytes.withUnsafeBytes(write) }
    }

    /// `writeAtomically` for contents produced in parts: `produce` hands each part to the function it is given,
    /// so a big file (the store index) is never held whole in memory.
    static func writeAtomically(to url: URL, mode: mode_t, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let temp = try writeTemporary(beside: url, mode: mode, sync: true, produce)
        guard rename(temp.path, url.path) == 0 else {
            let code = errno
            unlink(temp.path)
            throw posixError("rename into place", url, code)
        }
        try syncDirectory(url.deletingLastPathComponent())
    }

    /// Writes `bytes` to a new temporary file beside `url` (exclusive create, no link followed, exact mode
    /// whatever the umask), flushed to disk when `sync` is set. Returns its URL; the caller renames it.
    static func writeTemporary(_ bytes: [UInt8], beside url: URL, mode: mode_t, sync: Bool) throws -> URL {
        try writeTemporary(beside: url, mode: mode, sync: sync) { write in try bytes.withUnsafeBytes(write) }
    }

    /// `writeTemporary` for contents produced in parts.
    static func writeTemporary(beside url: URL, mode: mode_t, sync: Bool,
                               _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> URL {
        let directory = url.deletingLastPathComponent()
        let temp = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw posixError("create", temp, errno) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temp.path) }
        }
        guard fchmod(fd, mode) == 0 else { throw posixError("set the mode of", temp, errno) }
        try produce { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw posixError("write", temp, errno)
                }
                offset += n
            }
        }
        if sync { guard fsync(fd) == 0 else { throw posixError("flush", temp, errno) } }
        ok = true
        return temp
    }

    /// Makes a rename or unlink in `directory` durable.
    static func syncDirectory(_ directory: URL) throws {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw posixError("open", directory, errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw posixError("flush", directory, errno) }
    }

    /// Creates `url` (and missing parents with 0755) with exactly `mode`.
    static func ensureDirectory(_ url: URL, mode: mode_t) throws {
        var info = stat()
        if lstat(url.path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw CertStoreError(.permission, "\(url.path) is not a directory (a symbolic link or a file is in the way)",
                                     hint: "move it aside; certstore never follows links inside a store")
            }
            return
        }
        let parent = url.deletingLastPathComponent()
        if parent.path != url.path { try ensureDirectory(parent, mode: 0o755) }
        guard mkdir(url.path, mode) == 0 || errno == EEXIST else { throw posixError("create the directory", url, errno) }
        guard chmod(url.path, mode) == 0 else { throw posixError("set the mode of", url, errno) }
        try syncDirectory(parent)
    }

    /// Reads a whole file without following a symlink at its last component, up to `limit` bytes.
    /// `input`: a file the user named (import), whose errors are "input unreadable" (exit 66) whatever the cause.
    static func read(_ url: URL, limit: Int, followLinks: Bool = false, input: Bool = false) throws -> [UInt8] {
        try read(path: url.path, limit: limit, followLinks: followLinks, input: input)
    }

    /// As above, for a plain path (listings build paths as strings: a URL costs more than the read).
    static func read(path: String, limit: Int, followLinks: Bool = false, input: Bool = false) throws -> [UInt8] {
        var url: URL { URL(fileURLWithPath: path) }
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followLinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw posixError("read", url, errno, reading: true, input: input) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw posixError("read", url, errno, reading: true, input: input) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CertStoreError(.inputUnreadable, "\(url.path) is not a regular file")
        }
        guard Int(info.st_size) <= limit else {
            throw CertStoreError(.badData, "\(url.path) is \(info.st_size) bytes, larger than the limit of \(limit) bytes",
                                 hint: "certificate files are a few kilobytes; check that this is the right file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError("read", url, errno, reading: true, input: input)
            }
            if n == 0 { break }
            offset += n
        }
        if offset < bytes.count { bytes.removeSubrange(offset...) }  // shrunk meanwhile; never a second copy
        return bytes
    }

    /// Names in a directory (no `.`/`..`), or an empty list when it does not exist.
    static func list(_ directory: URL) throws -> [String] {
        guard let dir = opendir(directory.path) else {
            if errno == ENOENT { return [] }
            throw posixError("list", directory, errno, reading: true)
        }
        defer { closedir(dir) }
        return names(in: dir)
    }

    /// Names in the directory open as `fd` (no `.`/`..`); `fd` stays open and its own.
    static func names(inDirectory fd: Int32) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else { return [] }
        defer { closedir(dir) }
        return names(in: dir)
    }

    /// Every name an open directory stream yields, without `.` and `..`.
    private static func names(in dir: OpaquePointer) -> [String] {
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a staging directory certstore made (trash `.ID.partial`) and the files in it, relative to its
    /// descriptor and never through a link; a link or file in its place is unlinked itself. Absent: nothing.
    static func removeStagingDirectory(_ url: URL) throws {
        var info = stat()
        guard lstat(url.path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return try remove(url) }
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw posixError("open", url, errno) }
        defer { close(fd) }
        for name in names(inDirectory: fd) {
            var entry = stat()
            guard fstatat(fd, name, &entry, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let flags = (entry.st_mode & S_IFMT) == S_IFDIR ? AT_REMOVEDIR : 0
            guard unlinkat(fd, name, flags) == 0 || errno == ENOENT else { throw posixError("remove", url.appendingPathComponent(name), errno) }
        }
        guard rmdir(url.path) == 0 || errno == ENOENT else { throw posixError("remove", url, errno) }
        try syncDirectory(url.deletingLastPathComponent())
    }

    static func exists(_ url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0
    }

    /// Removes a file and makes the removal durable.
    static func remove(_ url: URL) throws {
        guard unlink(url.path) == 0 || errno == ENOENT else { throw posixError("remove", url, errno) }
        try syncDirectory(url.deletingLastPathComponent())
    }

    static func posixError(_ action: String, _ url: URL, _ code: Int32, reading: Bool = false, input: Bool = false,
                           euid: uid_t = geteuid()) -> CertStoreError {
        let reason = String(cString: strerror(code))
        let message = "cannot \(action) \(url.path): \(reason)"
        // An input file (import, diagnose) is the user's to fix, whatever the reason: 66, input unreadable.
        if input {
            return CertStoreError(.inputUnreadable, code == ENOENT ? "cannot \(action) \(url.path): no such file" : message,
                                  hint: code == EACCES || code == EPERM
                                    ? "check that the account running certstore (uid \(euid)) may read the file and every directory above it"
                                    : nil)
        }
        switch code {
        case EROFS:
            return CertStoreError(.writeFailed, message,
                                  hint: "the file system is mounted read-only: remount it read-write, or give --root a store on a writable one")
        case EACCES where euid == 0, EPERM where euid == 0:
            // Root is refused only for reasons the permission bits do not give.
            return CertStoreError(.permission, message,
                                  hint: "root was refused: the file or directory may be immutable or append-only (lsattr; chattr -i -a), on a network file system that maps root to nobody, or denied by a security module (AppArmor, SELinux: see the audit log)")
        case EACCES, EPERM:
            return CertStoreError(.permission, message,
                                  hint: "run as the store's owner (usually root), or check the directory's permissions")
        case ENOSPC, EDQUOT:
            return CertStoreError(.writeFailed, message,
                                  hint: code == ENOSPC ? "the file system has no space left: free some, then run the command again"
                                                       : "the disk quota of the account running certstore is used up: free some space or raise the quota")
        case ELOOP:
            return CertStoreError(.permission, "cannot \(action) \(url.path): it is a symbolic link, which certstore never follows inside a store",
                                  hint: "replace the link with the real file")
        case ENOENT where reading:
            return CertStoreError(.inputUnreadable, "cannot \(action) \(url.path): no such file")
        default:
            return CertStoreError(reading ? .inputUnreadable : .writeFailed, message)
        }
    }
}
