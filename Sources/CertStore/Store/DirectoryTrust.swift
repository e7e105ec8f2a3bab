import Foundation

/// The one rule for every directory certstore reads or writes inside a store (the root, the location, `My`,
/// `CA`, `Root`, `Keys`, `Trash` and its entries, `Services` and each service's folder, `.cache`): it is a real
/// directory (never followed through a symbolic link), owned by root or by the account running certstore, and
/// writable by nobody else. Anyone else who could write it could plant certificates, forge the index, swap
/// keys, or aim root's writes and deletions outside the store with a link.
enum DirectoryTrust {
    /// Why `url` must not be trusted, or nil when it is a trusted directory or does not exist.
    static func problem(_ url: URL) -> String? {
        var info = stat()
        guard lstat(url.path, &info) == 0 else { return nil }
        return problem(url.path, info)
    }

    /// As above, from an `lstat` already taken.
    static func problem(_ path: String, _ info: stat) -> String? {
        switch info.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK: return "\(path) is a symbolic link; certstore never follows links inside a store"
        default: return "\(path) is not a directory"
        }
        if info.st_uid != 0 && info.st_uid != geteuid() { return "\(path) belongs to uid \(info.st_uid), not to root or to you" }
        if info.st_mode & 0o022 != 0 {
            return "\(path) is writable by other users (mode \(String(info.st_mode & 0o777, radix: 8)))"
        }
        return nil
    }

    /// The command that makes `url` trusted again (shown as a hint and as the fix of a finding).
    static func fix(_ url: URL) -> String {
        var info = stat()
        let path = ShellQuote.quote(url.path)
        if lstat(url.path, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR {
            return "mv \(path) /root/   (then let certstore recreate the directory)"
        }
        return "chown root: \(path) && chmod go-w \(path)   (then check what is in it: certstore check)"
    }

    /// Throws "permission denied" (exit 77) when `url` exists and is not trusted.
    static func require(_ url: URL) throws {
        if let problem = problem(url) {
            throw CertStoreError(.permission, problem, hint: fix(url) + "; anyone who can write it could make certstore, running as root, read, write or delete outside the store")
        }
    }

    /// A regular file certstore relies on (the store index): a real file owned by root or certstore's account
    /// and writable by nobody else. Nil when it is trusted or does not exist.
    static func fileProblem(_ url: URL) -> String? {
        var info = stat()
        guard lstat(url.path, &info) == 0 else { return nil }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return "\(url.path) is not a regular file" }
        if info.st_uid != 0 && info.st_uid != geteuid() { return "\(url.path) belongs to uid \(info.st_uid), not to root or to you" }
        if info.st_mode & 0o022 != 0 { return "\(url.path) is writable by other users (mode \(String(info.st_mode & 0o777, radix: 8)))" }
        return nil
    }
}

extension StoreLocation {
    /// `check` and `audit`: every directory of this location that breaks `DirectoryTrust`'s rule, and every
    /// store index that is ignored because someone else could have written it, as CRITICAL findings.
    /// `skippingLinksOf`: directories whose symbolic links the caller reports itself.
    func trustFindings(skippingLinksOf reported: Set<String> = []) -> (store: [Finding], index: [Finding]) {
        var findings: [Finding] = []
        var checked: [(URL, String)] = [(root, "the store root"), (directory, "the location")]
        checked.append((keysDirectory, "the key directory"))
        checked += trustedSubdirectories.map { ($0, "a store directory") }
        for (url, what) in checked {
            var info = stat()
            guard lstat(url.path, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFLNK && (url == root || reported.contains(url.lastPathComponent)) { continue }
            if url == root && (info.st_mode & S_IFMT) == S_IFLNK { continue }
            var problem = DirectoryTrust.problem(url.path, info)
            // The key directory's mode has its own, repairable finding (key-directory-permissions).
            if url == keysDirectory, problem != nil, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == 0 || info.st_uid == geteuid() { problem = nil }
            guard let problem else { continue }
            findings.append(Finding(.critical, check: "untrusted-directory", object: url.path,
                title: "\(what) can be changed by someone else", detail: "\(problem); certstore refuses to use this location until it is fixed",
                fix: [DirectoryTrust.fix(url)]))
        }
        var index: [Finding] = []
        let cache = directory.appendingPathComponent(".cache", isDirectory: true)
        if let problem = DirectoryTrust.problem(cache) {
            index.append(Finding(.critical, check: "untrusted-index", object: cache.path, title: "the store index directory can be changed by someone else",
                                 detail: "\(problem); the index is ignored (every certificate is parsed afresh) and never rewritten",
                                 fix: [DirectoryTrust.fix(cache)]))
        } else {
            for name in StoreName.allCases.map(\.rawValue) {
                let url = cache.appendingPathComponent("\(name).index")
                guard let problem = DirectoryTrust.fileProblem(url) else { continue }
                index.append(Finding(.critical, check: "untrusted-index", object: url.path, title: "a store index can be changed by someone else",
                                     detail: "\(problem); it is ignored (its checksum proves it is whole, not who wrote it) and never rewritten",
                                     fix: ["rm \(ShellQuote.quote(url.path))   (derived data: the next listing rebuilds it)"]))
            }
            let chains = cache.appendingPathComponent(ChainCache.fileName)
            if let problem = DirectoryTrust.fileProblem(chains) {
                index.append(Finding(.critical, check: "untrusted-index", object: chains.path, title: "the kept chain verdicts can be changed by someone else",
                                     detail: "\(problem); they are ignored (every chain is verified afresh) and never rewritten",
                                     fix: ["rm \(ShellQuote.quote(chains.path))   (derived data: the next Exchange view rebuilds it)"]))
            }
        }
        return (findings, index)
    }
}
