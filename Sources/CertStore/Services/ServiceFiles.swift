import Foundation

/// The files a Linux daemon reads for a bound service, kept in step with the bindings:
///
/// ```
/// <location>/Services/<SERVICE>/current -> v<stamp>-<thumbprint8>   (a symbolic link, switched atomically)
/// <location>/Services/<SERVICE>/v…/cert.pem, chain.pem, fullchain.pem, privkey.pem, thumbprint
/// ```
///
/// A new version directory is written and flushed, then one `rename` of a symbolic link switches the
/// service over, so a daemon reloading at any moment reads a complete, matching certificate and key. The
/// key file is 0600 root, or 0400 owned by the service's configured account (and nobody else).
public struct ServiceFiles: Sendable {
    /// What changed for one service.
    public struct Change: Sendable, Equatable {
        public let service: ExchangeService
        public let oldThumbprint: String?
        public let newThumbprint: String?
        public let directory: String
    }

    public let store: CertificateStore
    public init(store: CertificateStore) { self.store = store }

    public var directory: URL { store.directory.appendingPathComponent("Services", isDirectory: true) }

    public func currentLink(_ service: ExchangeService) -> URL {
        directory.appendingPathComponent(service.rawValue).appendingPathComponent("current")
    }

    /// The certificate each bindable service presents now, among those bound to it with a usable key, ranked
    /// by: trusted CA-issued (chain to Root, not self-signed); then time-valid; then, for SMTP, being the
    /// default SMTP certificate; then the newest NotBefore — Exchange's STARTTLS preference.
    public static func choose(_ service: ExchangeService, bindings: ServiceBindings, resolver: ConnectorResolver) -> StoreEntry? {
        let bound = bindings.thumbprints(for: service)
        let candidates = resolver.personal.filter { bound.contains($0.thumbprint) && ExchangeCertificateValidity.evaluate($0) == .valid }
        func rank(_ entry: StoreEntry) -> (Int, Int, Int, Date) {
            let chain = resolver.chainResult(for: entry)
            let trusted = chain.outcome == .valid && !entry.properties.isSelfSigned ? 1 : 0
            let timeValid = entry.properties.isTimeValid(at: resolver.now) ? 1 : 0
            let isDefault = service == .smtp && bindings.defaultSmtpCertificate == entry.thumbprint ? 1 : 0
            return (trusted, timeValid, isDefault, entry.properties.notBefore ?? .distantPast)
        }
        return candidates.max { a, b in
            let (x, y) = (rank(a), rank(b))
            return (x.0, x.1, x.2) != (y.0, y.1, y.2) ? (x.0, x.1, x.2) < (y.0, y.1, y.2) : x.3 < y.3
        }
    }

    /// The thumbprint a service's files hold now (nil when it has none).
    public func deployedThumbprint(_ service: ExchangeService) -> String? {
        let file = currentLink(service).appendingPathComponent("thumbprint")
        guard let bytes = try? FileSystem.read(file, limit: 100, followLinks: true) else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Brings every bindable service's files in line with the bindings. Takes the writer lock.
    public func synchronize(now: Date = Date()) throws -> [Change] {
        try store.withWriteLock {
            let bindings = try store.read(ServiceBindings.self)
            let resolver = try ConnectorResolver(store: store, now: now)
            var changes: [Change] = []
            for service in ExchangeService.bindable {
                let chosen = Self.choose(service, bindings: bindings, resolver: resolver)
                let deployed = deployedThumbprint(service)
                let user = bindings.serviceUsers?[service.rawValue]
                if let chosen {
                    if deployed == chosen.thumbprint, filesIntact(service, user: user) { continue }
                    if deployed == chosen.thumbprint {
                        // Same certificate, wrong owner or mode (an account was set or changed): redeploy.
                        try deploy(chosen, for: service, user: user, resolver: resolver, now: now)
                        changes.append(Change(service: service, oldThumbprint: deployed, newThumbprint: chosen.thumbprint,
                                              directory: currentLink(service).path))
                        continue
                    }
                    try deploy(chosen, for: service, user: user, resolver: resolver, now: now)
                } else {
                    guard deployed != nil || FileSystem.exists(currentLink(service)) else { continue }
                    try withdraw(service)
                }
                changes.append(Change(service: service, oldThumbprint: deployed, newThumbprint: chosen?.thumbprint,
                                      directory: currentLink(service).path))
            }
            return changes
        }
    }

    /// The deployed key still has the owner and mode it should (an account change re-deploys).
    private func filesIntact(_ service: ExchangeService, user: String?) -> Bool {
        var info = stat()
        let key = currentLink(service).appendingPathComponent("privkey.pem").path
        guard stat(key, &info) == 0 else { return false }
        // Owned by the service's account when one is set (which must exist), else by whoever runs certstore.
        let expectedOwner: uid_t
        if let user {
            guard let account = Self.account(user) else { return false }
            expectedOwner = account.uid
        } else {
            expectedOwner = geteuid()
        }
        // With an account: root's (certstore's), 0440, the account's group. Without: certstore's, 0600.
        if let user, let account = Self.account(user) {
            return info.st_uid == geteuid() && info.st_gid == account.gid && info.st_mode & 0o777 == 0o440
        }
        return info.st_uid == expectedOwner && info.st_mode & 0o077 == 0 && info.st_mode & 0o400 != 0
    }

    /// Every version's `privkey.pem` of `service` (the live one and those kept for daemons still reading them)
    /// that someone other than certstore's account and the service's group could read or change: with `user`,
    /// anything beyond 0440 with that account's group (or the 0400 owned by it that older versions made);
    /// without, anything beyond 0600. Links and foreign-owned version directories are reported too.
    public func exposedKeys(_ service: ExchangeService, user: String?) -> [(path: String, problem: String)] {
        let folder = directory.appendingPathComponent(service.rawValue, isDirectory: true)
        let account = user.flatMap(Self.account)
        var found: [(String, String)] = []
        for version in ((try? FileSystem.list(folder)) ?? []).filter({ $0.hasPrefix("v") }).sorted() {
            let versionURL = folder.appendingPathComponent(version)
            var info = stat()
            guard lstat(versionURL.path, &info) == 0 else { continue }
            if let problem = DirectoryTrust.problem(versionURL.path, info) { found.append((versionURL.path, problem)); continue }
            let key = versionURL.appendingPathComponent("privkey.pem").path
            guard lstat(key, &info) == 0 else { continue }
            let mode = info.st_mode & 0o7777
            let text = String(mode, radix: 8)
            if (info.st_mode & S_IFMT) != S_IFREG { found.append((key, "\(key) is not a regular file")); continue }
            if mode & 0o007 != 0 { found.append((key, "\(key) is readable or writable by every user (mode \(text))")); continue }
            if mode & 0o222 != 0 && info.st_uid != geteuid() && info.st_uid != 0 { found.append((key, "\(key) can be changed by uid \(info.st_uid) (mode \(text))")); continue }
            if mode & 0o070 != 0 {
                if account == nil || info.st_gid != account!.gid || mode & 0o020 != 0 {
                    found.append((key, "\(key) is open to group \(info.st_gid) (mode \(text))"))
                    continue
                }
            }
            let owners: [uid_t] = [0, geteuid()] + (account.map { [$0.uid] } ?? [])
            if !owners.contains(info.st_uid) { found.append((key, "\(key) belongs to uid \(info.st_uid)")) }
        }
        return found
    }

    private func deploy(_ entry: StoreEntry, for service: ExchangeService, user: String?, resolver: ConnectorResolver, now: Date) throws {
        guard let key = try store.privateKey(for: entry) else {
            throw CertStoreError(.refused, "\(entry.thumbprint) has no usable private key to deploy for \(service.rawValue)")
        }
        let certificate = try entry.loadCertificate()
        let chain = try Exporter(store: store).chain(for: entry).filter { !$0.properties.isSelfSigned }.map { try $0.loadCertificate() }
        let folder = directory.appendingPathComponent(service.rawValue, isDirectory: true)
        try FileSystem.ensureDirectory(folder, mode: 0o755)
        let stamp = now.compactStamp
        var name = "v\(stamp)Z-\(entry.thumbprint.prefix(8))"
        var suffix = 1
        while FileSystem.exists(folder.appendingPathComponent(name)) { suffix += 1; name = "v\(stamp)Z-\(entry.thumbprint.prefix(8))-\(suffix)" }
        let version = folder.appendingPathComponent(name, isDirectory: true)
        try FileSystem.ensureDirectory(version, mode: 0o755)
        let leaf = Array(certificate.pem.utf8)
        let chainPEM = Array(chain.map(\.pem).joined().utf8)
        try FileSystem.writeAtomically(leaf, to: version.appendingPathComponent("cert.pem"), mode: 0o644)
        try FileSystem.writeAtomically(chainPEM, to: version.appendingPathComponent("chain.pem"), mode: 0o644)
        try FileSystem.writeAtomically(leaf + chainPEM, to: version.appendingPathComponent("fullchain.pem"), mode: 0o644)
        try FileSystem.writeAtomically(Array((entry.thumbprint + "\n").utf8), to: version.appendingPathComponent("thumbprint"), mode: 0o644)
        var pem = try key.pkcs8PEM()
        defer { wipe(&pem) }
        let keyURL = version.appendingPathComponent("privkey.pem")
        if let user {
            guard let account = Self.account(user) else {
                throw CertStoreError(.usage, "there is no account \"\(user)\" on this machine", hint: "create it, or bind without --service-user")
            }
            // Root's file, readable by the daemon's group: the daemon can read it, never change its mode or
            // hand it on (an account that owns its key can make it 0644).
            let temp = try FileSystem.writeTemporary(pem, beside: keyURL, mode: 0o440, sync: true)
            guard chown(temp.path, geteuid(), account.gid) == 0, chmod(temp.path, 0o440) == 0 else {
                let code = errno
                unlink(temp.path)
                throw FileSystem.posixError("give \(user) the key file", keyURL, code)
            }
            guard rename(temp.path, keyURL.path) == 0 else { throw FileSystem.posixError("rename into place", keyURL, errno) }
            try FileSystem.syncDirectory(version)
        } else {
            try FileSystem.writeAtomically(pem, to: keyURL, mode: 0o600)
        }
        let previous = Self.linkTarget(folder.appendingPathComponent("current"))
        try switchLink(folder: folder, to: name)
        try prune(folder: folder, keep: [name, previous].compactMap { $0 })
        if let previous, previous != name { try tightenKey(folder: folder, version: previous, user: user) }
    }

    /// Gives the kept previous version's key the owner and mode a new one gets (it may have been deployed
    /// under other rules, or loosened since): opened relative to the service folder, never through a link.
    private func tightenKey(folder: URL, version: String, user: String?) throws {
        let folderFD = open(folder.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folderFD >= 0 else { return }
        defer { close(folderFD) }
        let versionFD = openat(folderFD, version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard versionFD >= 0 else { return }
        defer { close(versionFD) }
        let keyFD = openat(versionFD, "privkey.pem", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard keyFD >= 0 else { return }
        defer { close(keyFD) }
        var info = stat()
        guard fstat(keyFD, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return }
        let url = folder.appendingPathComponent(version).appendingPathComponent("privkey.pem")
        if let user, let account = Self.account(user) {
            guard fchown(keyFD, geteuid(), account.gid) == 0, fchmod(keyFD, 0o440) == 0 else { throw FileSystem.posixError("tighten", url, errno) }
        } else {
            guard fchown(keyFD, geteuid(), getegid()) == 0, fchmod(keyFD, 0o600) == 0 else { throw FileSystem.posixError("tighten", url, errno) }
        }
    }

    private func withdraw(_ service: ExchangeService) throws {
        let folder = directory.appendingPathComponent(service.rawValue, isDirectory: true)
        if FileSystem.exists(currentLink(service)) { try FileSystem.remove(currentLink(service)) }
        try prune(folder: folder, keep: [])
    }

    /// `current.new -> name`, then rename over `current`: the switch is one atomic rename.
    private func switchLink(folder: URL, to name: String) throws {
        let temp = folder.appendingPathComponent(".current.new-\(getpid())")
        unlink(temp.path)
        guard symlink(name, temp.path) == 0 else { throw FileSystem.posixError("create the link", temp, errno) }
        guard rename(temp.path, folder.appendingPathComponent("current").path) == 0 else {
            let code = errno
            unlink(temp.path)
            throw FileSystem.posixError("switch", folder.appendingPathComponent("current"), code)
        }
        try FileSystem.syncDirectory(folder)
    }

    /// Where a `current` link points (the version name), if it is one.
    static func linkTarget(_ link: URL) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let length = readlink(link.path, &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Keeps the live version and the one that was live just before (a daemon may still be reading it);
    /// removes every other version.
    ///
    /// Only what certstore made is removed, and never through a link: each name is `lstat`ed relative to the
    /// service folder opened with `O_NOFOLLOW`, only real directories owned by root (or certstore's account)
    /// are emptied, their files unlinked relative to their own descriptor (`unlinkat`). A planted link
    /// `v… -> /some/dir` is left alone, so it can never make root delete what it points at.
    private func prune(folder: URL, keep: [String]) throws {
        try DirectoryTrust.require(directory)
        try DirectoryTrust.require(folder)
        let folderFD = open(folder.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folderFD >= 0 else {
            if errno == ENOENT { return }
            throw FileSystem.posixError("open", folder, errno)
        }
        defer { close(folderFD) }
        let keepSet = Set(keep)
        for version in try FileSystem.list(folder).filter({ $0.hasPrefix("v") }).sorted() where !keepSet.contains(version) {
            var info = stat()
            guard fstatat(folderFD, version, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) == S_IFDIR,
                  info.st_uid == 0 || info.st_uid == geteuid() else { continue }
            let versionFD = openat(folderFD, version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard versionFD >= 0 else { continue }
            defer { close(versionFD) }
            for file in FileSystem.names(inDirectory: versionFD) {
                var fileInfo = stat()
                guard fstatat(versionFD, file, &fileInfo, AT_SYMLINK_NOFOLLOW) == 0, (fileInfo.st_mode & S_IFMT) != S_IFDIR else { continue }
                guard unlinkat(versionFD, file, 0) == 0 || errno == ENOENT else {
                    throw FileSystem.posixError("remove", folder.appendingPathComponent(version).appendingPathComponent(file), errno)
                }
            }
            unlinkat(folderFD, version, AT_REMOVEDIR)
        }
        guard fsync(folderFD) == 0 else { throw FileSystem.posixError("flush", folder, errno) }
    }

    static func account(_ name: String) -> (uid: uid_t, gid: gid_t)? {
        guard let entry = getpwnam(name) else { return nil }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }
}
