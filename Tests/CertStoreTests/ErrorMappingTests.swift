import Foundation
import Testing
@testable import CertStore

/// An errno becomes the error kind (exit status) and hint of its cause: a read-only file system is not a
/// permission problem, root refused access has other causes than a non-root user, and an input file that
/// cannot be read is "input unreadable" (66), not a store permission problem (77).
@Suite("errno → error kind and hint")
struct ErrorMappingTests {
    let url = URL(fileURLWithPath: "/var/lib/certstore/LocalMachine/My/X.cer")

    @Test("a read-only file system: write failed (73), never 'run as the store's owner'", arguments: [uid_t(0), uid_t(1000)])
    func readOnlyFileSystem(euid: uid_t) {
        let error = FileSystem.posixError("create", url, EROFS, euid: euid)
        #expect(error.kind == .writeFailed)
        #expect(error.hint?.contains("read-only") == true, "\(error.hint ?? "")")
        #expect(error.hint?.contains("owner") != true)
    }

    @Test("access refused to root: permission (77), with root's causes, not 'run as the store's owner'", arguments: [EACCES, EPERM])
    func refusedToRoot(code: Int32) {
        let error = FileSystem.posixError("create", url, code, euid: 0)
        #expect(error.kind == .permission)
        #expect(error.hint?.contains("run as the store's owner") != true, "\(error.hint ?? "")")
        #expect(error.hint?.contains("immutable") == true, "\(error.hint ?? "")")
    }

    @Test("access refused to another user: permission (77), run as the store's owner")
    func refusedToUser() {
        let error = FileSystem.posixError("create", url, EACCES, euid: 1000)
        #expect(error.kind == .permission)
        #expect(error.hint?.contains("run as the store's owner") == true)
    }

    @Test("an input file that cannot be read: input unreadable (66), whatever the reason", arguments: [EACCES, EPERM, ENOENT, EIO])
    func unreadableInput(code: Int32) {
        let error = FileSystem.posixError("read", URL(fileURLWithPath: "/home/admin/mail.pfx"), code, reading: true, input: true, euid: 1000)
        #expect(error.kind == .inputUnreadable)
        #expect(error.hint?.contains("store's owner") != true)
    }

    @Test("a full file system: write failed, says so", arguments: [ENOSPC, EDQUOT])
    func fullFileSystem(code: Int32) {
        let error = FileSystem.posixError("write", url, code, euid: 0)
        #expect(error.kind == .writeFailed)
        #expect(error.hint?.contains("space") == true || error.hint?.contains("quota") == true, "\(error.hint ?? "")")
    }
}
