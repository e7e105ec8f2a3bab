import Foundation

/// The writer lock of one store location: an exclusive `flock` on `<location>/.lock`.
///
/// Readers take no lock: every write is an atomic rename, so they never see a half-written file.
/// The kernel drops the lock when the process dies, so a killed writer never wedges the store.
final class StoreLock {
    private let fd: Int32

    /// Waits up to `timeout` seconds for the lock, then fails with "store is busy".
    init(directory: URL, timeout: Double) throws {
        let url = directory.appendingPathComponent(".lock")
        let fd = open(url.path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystem.posixError("open the lock file", url, errno) }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let code = errno
                close(fd)
                throw FileSystem.posixError("lock", url, code)
            }
            guard Date() < deadline else {
                close(fd)
                throw CertStoreError(.busy, "store is busy: another certstore holds the lock on \(directory.path)",
                                     hint: "wait for it to finish and run the command again, or raise --lock-timeout (now \(timeout) s)")
            }
            usleep(20_000)
        }
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
