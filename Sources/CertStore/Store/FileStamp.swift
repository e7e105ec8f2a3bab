import Foundation

/// The identity of a file as the kernel reports it: device, inode, size, modification and change times.
///
/// A cached result is trusted only while the stamp of every file it came from is unchanged. `ctime` cannot
/// be set from user space, so even a copy that restores the old modification time is noticed.
struct FileStamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: UInt64
    var modified: UInt64
    var changed: UInt64

    /// The stamp of `path` (not following a link), or nil when there is no such file.
    init?(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        self.init(info)
    }

    /// The stamp of `name` in the directory open as `directory` (not following a link): a listing checks
    /// three files per certificate, and resolving each full path again was a third of that cost.
    init?(directory: Int32, name: String) {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        self.init(info)
    }

    private init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = UInt64(info.st_size)
        modified = UInt64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ UInt64(info.st_mtim.tv_nsec)
        changed = UInt64(info.st_ctim.tv_sec) &* 1_000_000_000 &+ UInt64(info.st_ctim.tv_nsec)
    }

    init(device: UInt64, inode: UInt64, size: UInt64, modified: UInt64, changed: UInt64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.modified = modified
        self.changed = changed
    }
}

extension Date {
    /// `20261129T171630` (UTC, no separators): the time part of trash and service version names.
    var compactStamp: String {
        formatted(Date.ISO8601FormatStyle().year().month().day().dateSeparator(.omitted)
            .time(includingFractionalSeconds: false).timeSeparator(.omitted).dateTimeSeparator(.standard))
    }
}
