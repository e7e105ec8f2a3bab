import Foundation

/// `<location>/Trash`: where `remove` and `prune` put what they take away, so `restore` can bring it back.
///
/// An entry is staged in a hidden directory and renamed into place, so it is complete or absent.
public struct Trash: Sendable {
    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    var directory: URL { store.directory.appendingPathComponent("Trash", isDirectory: true) }

    public func entries() throws -> [TrashEntry] {
        try DirectoryTrust.require(directory)
        return try FileSystem.list(directory).filter { !$0.hasPrefix(".") }.sorted().compactMap { name in
            // A plain file, or a real directory without a manifest, is not an entry (`check` reports it); a link is
            // refused by `readEntry`.
            let folder = directory.appendingPathComponent(name)
            var info = stat()
            guard lstat(folder.path, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG else { return nil }
            if (info.st_mode & S_IFMT) == S_IFDIR && !FileSystem.exists(folder.appendingPathComponent("manifest.json")) { return nil }
            return try readEntry(name)
        }
    }

    /// The entries whose ID passes `include`, skipping any whose manifest cannot be read or that fails
    /// `readEntry`'s checks: for the lookups a writer makes on its own account, which a damaged entry elsewhere
    /// in the trash must not block.
    func readableEntries(_ include: (String) -> Bool = { _ in true }) -> [TrashEntry] {
        guard DirectoryTrust.problem(directory) == nil else { return [] }  // never through a link or a foreign trash
        return ((try? FileSystem.list(directory)) ?? []).filter { !$0.hasPrefix(".") && include($0) }.sorted().compactMap { name in
            try? readEntry(name)
        }
    }

    /// One entry's manifest, refused unless the entry is a real directory owned by root (or certstore's account)
    /// that nobody else can write, and every manifest field that becomes part of a path is exactly what
    /// certstore writes: the ID is the directory's name, the thumbprint 40 hexadecimal digits, the key file
    /// 64 hexadecimal digits and `.key`, the store one of this location's. A manifest is data, never a path.
    private func readEntry(_ name: String) throws -> TrashEntry {
        let folder = directory.appendingPathComponent(name)
        var info = stat()
        guard lstat(folder.path, &info) == 0 else {
            throw CertStoreError.notFound("nothing in the trash is called \(name.debugDescription)", hint: "`certstore trash list` shows the IDs")
        }
        if let problem = DirectoryTrust.problem(folder.path, info) {
            throw CertStoreError(.permission, "the trash entry \(name.debugDescription) cannot be trusted: \(problem)",
                                 hint: "move it aside (mv \(ShellQuote.quote(folder.path)) /root/) and find out who put it there")
        }
        let manifest = folder.appendingPathComponent("manifest.json")
        let entry: TrashEntry.Manifest
        do {
            entry = try StoreProperties.decoder.decode(TrashEntry.Manifest.self, from: Data(try FileSystem.read(manifest, limit: 1 << 20)))
        } catch let error as CertStoreError {
            throw error
        } catch {
            throw CertStoreError.badData("the trash entry \(name.debugDescription) has a manifest.json that is not valid",
                                         hint: "move it aside (mv \(ShellQuote.quote(folder.path)) /root/)")
        }
        func damaged(_ field: String, _ value: String) -> CertStoreError {
            CertStoreError.badData("the trash entry \(name.debugDescription) is damaged: its manifest's \(field) \(value.debugDescription) is not what certstore writes",
                                   hint: "certstore never uses a manifest's fields as paths; move the entry aside (mv \(ShellQuote.quote(folder.path)) /root/) and find out who changed it")
        }
        guard entry.id == name else { throw damaged("id", entry.id) }
        guard let thumbprint = Thumbprint(canonical: entry.thumbprint) else { throw damaged("thumbprint", entry.thumbprint) }
        if let keyFile = entry.keyFile {
            guard keyFile.hasSuffix(".key"), Self.isHex(String(keyFile.dropLast(4)), count: 64) else { throw damaged("keyFile", keyFile) }
        }
        guard let path = try? StorePath(parsing: entry.store), path.location == store.location, path.description == entry.store else {
            throw damaged("store", entry.store)
        }
        return TrashEntry(id: entry.id, thumbprint: thumbprint, store: path, subject: entry.subject, notAfter: entry.notAfter,
                          removedAt: entry.removedAt, keyFile: entry.keyFile, forced: entry.forced, notes: entry.notes)
    }

    /// Exactly `count` uppercase hexadecimal digits (thumbprints and key names are written that way).
    static func isHex(_ text: String, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) }
    }

    /// By trash ID, or the newest entry for a thumbprint.
    public func find(_ reference: String) throws -> TrashEntry {
        let all = try entries()
        if let exact = all.first(where: { $0.id == reference }) { return exact }
        if let thumbprint = try? Thumbprint(parsing: reference),
           let newest = all.filter({ $0.thumbprint == thumbprint }).max(by: { $0.removedAt < $1.removedAt }) {
            return newest
        }
        throw CertStoreError.notFound("nothing in the trash is called \(reference)", hint: "`certstore trash list` shows the IDs")
    }

    /// Moves a certificate (and, when asked, its key) into a new trash entry. Caller holds the lock.
    ///
    /// Resumable: a `remove`/`prune` killed after committing the entry but before unlinking the `.cer` leaves
    /// the certificate both in the store and in the trash. When the newest entry for this certificate already
    /// holds exactly the files about to be moved, the re-run finishes that removal (the unlinks) and reports
    /// that entry instead of making a second copy.
    func put(_ entry: StoreEntry, plan: RemovalPlan, forced: Bool, now: Date) throws -> TrashEntry {
        let cer = store.certificateURL(entry.thumbprint, in: entry.store)
        let json = store.propertiesURL(entry.thumbprint, in: entry.store)
        let key = store.keyURL(entry.properties.publicKeyIdentifier)
        let keyFile = plan.deletesKey && FileSystem.exists(key) ? key.lastPathComponent : nil
        if let committed = try committedEntry(for: entry, keyFile: keyFile) {
            try unlinkOriginals(cer: cer, json: json, key: keyFile == nil ? nil : key)
            return committed
        }

        try FileSystem.ensureDirectory(directory, mode: 0o700)
        let stamp = now.compactStamp
        var id = "\(stamp)Z-\(entry.thumbprint.shortForm)"
        var suffix = 1
        while FileSystem.exists(directory.appendingPathComponent(id)) { suffix += 1; id = "\(stamp)Z-\(entry.thumbprint.shortForm)-\(suffix)" }

        let staging = directory.appendingPathComponent(".\(id).partial")
        // We hold the lock: a staging directory already there is a dead run's (killed within this second), with
        // whatever it had copied. It is cleared, never reused: its leftovers must not end up in this entry.
        try FileSystem.removeStagingDirectory(staging)
        try FileSystem.ensureDirectory(staging, mode: 0o700)
        try copy(cer, into: staging, mode: 0o644)
        if FileSystem.exists(json) { try copy(json, into: staging, mode: 0o644) }
        if keyFile != nil { try copy(key, into: staging, mode: 0o600) }
        let manifest = TrashEntry(id: id, thumbprint: entry.thumbprint, store: entry.store,
                                  subject: entry.properties.subjectString, notAfter: entry.properties.notAfter,
                                  removedAt: now, keyFile: keyFile, forced: forced, notes: plan.blockers + plan.notes)
        let bytes = Array(try StoreProperties.encoder.encode(manifest)) + [0x0A]
        try FileSystem.writeAtomically(bytes, to: staging.appendingPathComponent("manifest.json"), mode: 0o600)
        let final = directory.appendingPathComponent(id)
        guard rename(staging.path, final.path) == 0 else { throw FileSystem.posixError("move into the trash", final, errno) }
        try FileSystem.syncDirectory(directory)
        try unlinkOriginals(cer: cer, json: json, key: keyFile == nil ? nil : key)
        return manifest
    }

    /// The .cer is the commit point: once it is gone the certificate is gone. Then its properties and the key.
    private func unlinkOriginals(cer: URL, json: URL, key: URL?) throws {
        try FileSystem.remove(cer)
        if FileSystem.exists(json) { try FileSystem.remove(json) }
        if let key { try FileSystem.remove(key) }
    }

    /// The newest complete entry for this certificate when it already holds byte for byte what `put` is about
    /// to move (the `.cer`, the `.json` or its absence, the key or its absence): left by a removal killed after
    /// its commit of the entry. A re-imported certificate has a new `.json` (`importedAt`), so it never matches.
    private func committedEntry(for entry: StoreEntry, keyFile: String?) throws -> TrashEntry? {
        // IDs are "<stamp>Z-<first 8 of the thumbprint>[-n]": only those manifests need reading.
        guard let newest = readableEntries({ $0.contains("Z-\(entry.thumbprint.shortForm)") })
            .filter({ $0.thumbprint == entry.thumbprint && $0.store == entry.store })
            .max(by: { ($0.removedAt, $0.id) < ($1.removedAt, $1.id) }),
              newest.keyFile == keyFile else { return nil }
        let folder = directory.appendingPathComponent(newest.id)
        var pairs = [(store.certificateURL(entry.thumbprint, in: entry.store), folder.appendingPathComponent(entry.thumbprint.certificateFileName)),
                     (store.propertiesURL(entry.thumbprint, in: entry.store), folder.appendingPathComponent(entry.thumbprint.propertiesFileName))]
        if let keyFile { pairs.append((store.keysDirectory.appendingPathComponent(keyFile), folder.appendingPathComponent(keyFile))) }
        for (original, copy) in pairs where try contents(original) != contents(copy) { return nil }
        return newest
    }

    /// A file's bytes, or nil when it does not exist.
    private func contents(_ url: URL) throws -> [UInt8]? {
        FileSystem.exists(url) ? try FileSystem.read(url, limit: store.limits.maxFileSize) : nil
    }

    // MARK: keys left behind by an interrupted `remove --delete-key`

    /// For each public key (SHA-256 of the SPKI), the newest trash entry of a certificate with that key.
    /// Entries that cannot be read are skipped.
    func newestEntriesByPublicKey() -> [String: TrashEntry] {
        var newest: [String: TrashEntry] = [:]
        for entry in readableEntries() {
            let identifier: String
            if let keyFile = entry.keyFile, keyFile.hasSuffix(".key") {
                identifier = String(keyFile.dropLast(4))
            } else {
                let url = directory.appendingPathComponent(entry.id).appendingPathComponent(entry.thumbprint.certificateFileName)
                guard let der = try? FileSystem.read(url, limit: store.limits.maxFileSize),
                      let certificate = try? Certificate(der: der) else { continue }
                identifier = certificate.publicKeyIdentifier
            }
            if let other = newest[identifier], (other.removedAt, other.id) > (entry.removedAt, entry.id) { continue }
            newest[identifier] = entry
        }
        return newest
    }

    /// The trash entry whose removal left the key `identifier` behind: `remove --delete-key` was killed after
    /// unlinking the `.cer` but before unlinking the key. It is the newest trash entry of a certificate with this
    /// key, made with `--delete-key`, holding the same bytes as `Keys/<identifier>.key`; nil when there is none.
    /// The caller checks that no certificate of the location uses the key.
    func entryLeavingKey(_ identifier: String, newest: [String: TrashEntry]) throws -> TrashEntry? {
        let name = "\(identifier).key"
        guard let entry = newest[identifier], entry.keyFile == name else { return nil }
        let kept = store.keysDirectory.appendingPathComponent(name)
        guard let bytes = try contents(kept) else { return nil }
        return try contents(directory.appendingPathComponent(entry.id).appendingPathComponent(name)) == bytes ? entry : nil
    }

    /// Finishes a `remove --delete-key` that was killed after its commit point: unlinks its `.json` if still
    /// there (the same bytes as the entry's copy) and the key. Caller holds the lock and has checked
    /// `entryLeavingKey` and that no certificate uses the key.
    func finishKeyDeletion(_ entry: TrashEntry, in path: StorePath) throws {
        let folder = directory.appendingPathComponent(entry.id)
        let json = store.propertiesURL(entry.thumbprint, in: path)
        if let bytes = try contents(json), try contents(folder.appendingPathComponent(json.lastPathComponent)) == bytes {
            try FileSystem.remove(json)
        }
        if let keyFile = entry.keyFile { try FileSystem.remove(store.keysDirectory.appendingPathComponent(keyFile)) }
    }

    /// Puts a trash entry back exactly (the same bytes) and deletes it from the trash: one operation (see
    /// `OperationOutcome`), which says what the certificate's return changes for services and connectors.
    public func restore(_ reference: String, now: Date = Date()) throws -> OperationOutcome<TrashEntry> {
        try store.perform(now: now) {
            let entry = try find(reference)
            let path = entry.store
            let folder = directory.appendingPathComponent(entry.id)
            let cer = store.certificateURL(entry.thumbprint, in: path)
            let json = folder.appendingPathComponent(entry.thumbprint.propertiesFileName)
            let storedJSON = store.propertiesURL(entry.thumbprint, in: path)
            // A restore killed after writing the .cer (its commit point) but before deleting the entry: the same
            // .cer and the same (or no) .json are in the store. The re-run finishes it; anything else is refused.
            let resuming = FileSystem.exists(cer)
            if resuming {
                let cerCopy = folder.appendingPathComponent(entry.thumbprint.certificateFileName)
                let storedProperties = try contents(storedJSON), savedProperties = try contents(json)
                guard try contents(cer) == contents(cerCopy), storedProperties == nil || savedProperties == storedProperties else {
                    throw CertStoreError(.refused, "\(entry.thumbprint) is already in \(entry.store); the trash entry \(entry.id) was left as it is",
                                         hint: "remove the certificate from the store first, or empty this trash entry")
                }
            }
            // What is written back is checked first: the .cer is the certificate its name says, the key is that
            // certificate's key under its right name. A trash entry is only as trustworthy as its bytes.
            let der = try FileSystem.read(folder.appendingPathComponent(entry.thumbprint.certificateFileName), limit: store.limits.maxFileSize)
            let certificate = try Certificate(der: der)
            guard certificate.thumbprint == entry.thumbprint else {
                throw CertStoreError.badData("the trash entry \(entry.id) holds a certificate whose SHA-1 is \(certificate.thumbprint), not \(entry.thumbprint)",
                                             hint: "the entry was changed behind certstore's back; nothing was restored")
            }
            var keyBytes: [UInt8]?
            defer { if keyBytes != nil { wipe(&keyBytes!) } }
            if let keyFile = entry.keyFile {
                keyBytes = try FileSystem.read(folder.appendingPathComponent(keyFile), limit: 1 << 20)
                let key = try? PrivateKey(storedKey: keyBytes!, limits: store.limits)
                guard keyFile == "\(certificate.publicKeyIdentifier).key", let key, certificate.matches(key) else {
                    throw CertStoreError.badData("the trash entry \(entry.id) holds a private key that is not \(entry.thumbprint)'s key",
                                                 hint: "the entry was changed behind certstore's back; nothing was restored")
                }
            }
            try FileSystem.ensureDirectory(store.directory(of: path), mode: 0o755)
            if let keyFile = entry.keyFile, let keyBytes {
                let target = store.keysDirectory.appendingPathComponent(keyFile)
                if !FileSystem.exists(target) {
                    try FileSystem.ensureDirectory(store.keysDirectory, mode: 0o700)
                    try FileSystem.writeAtomically(keyBytes, to: target, mode: 0o600)
                }
            }
            if FileSystem.exists(json) && !(resuming && FileSystem.exists(storedJSON)) {
                try FileSystem.writeAtomically(try FileSystem.read(json, limit: 1 << 20), to: storedJSON, mode: 0o644)
            }
            if !resuming {
                try FileSystem.writeAtomically(der, to: cer, mode: 0o644)
            }
            try delete(entry)
            return entry
        }
    }

    /// Deletes trash entries removed more than `days` days ago (all when nil). Returns what was deleted.
    /// What `empty` deleted, and what it kept because it holds the last copy of a private key.
    public struct Emptied: Sendable {
        public let deleted: [TrashEntry]
        /// Entries made by `remove --delete-key` whose key is nowhere else (not in `Keys/`): kept unless
        /// `includingKeys`, since deleting them would destroy the last copy of a private key.
        public let keptForKeys: [TrashEntry]
    }

    /// Deletes trash entries removed more than `days` days ago (all when nil): one operation. An entry holding
    /// the only copy of a private key is kept unless `includingKeys` says that is meant.
    public func empty(olderThanDays days: Int?, includingKeys: Bool = false, now: Date = Date()) throws -> OperationOutcome<Emptied> {
        try store.perform(now: now) {
            let cutoff = days.map { now.addingTimeInterval(-Double($0) * 86_400) }
            let due = try entries().filter { cutoff == nil || $0.removedAt < cutoff! }
            let kept = includingKeys ? [] : due.filter(holdsOnlyKeyCopy)
            let doomed = due.filter { entry in !kept.contains { $0.id == entry.id } }
            for entry in doomed { try delete(entry) }
            return Emptied(deleted: doomed, keptForKeys: kept)
        }
    }

    /// Whether the entry holds a private key that `Keys/` no longer has (byte for byte).
    func holdsOnlyKeyCopy(_ entry: TrashEntry) -> Bool {
        guard let keyFile = entry.keyFile else { return false }
        guard let bytes = try? contents(directory.appendingPathComponent(entry.id).appendingPathComponent(keyFile)) else { return false }
        return (try? contents(store.keysDirectory.appendingPathComponent(keyFile))) != bytes
    }

    /// Renames the entry aside first, so a crash never leaves half an entry under its real name.
    private func delete(_ entry: TrashEntry) throws {
        let folder = directory.appendingPathComponent(entry.id)
        let doomed = directory.appendingPathComponent(".\(entry.id).deleting")
        guard rename(folder.path, doomed.path) == 0 else { throw FileSystem.posixError("remove from the trash", folder, errno) }
        try FileSystem.syncDirectory(directory)
        for name in try FileSystem.list(doomed) { try FileSystem.remove(doomed.appendingPathComponent(name)) }
        guard rmdir(doomed.path) == 0 else { throw FileSystem.posixError("remove", doomed, errno) }
        try FileSystem.syncDirectory(directory)
    }

    private func copy(_ source: URL, into folder: URL, mode: mode_t) throws {
        let bytes = try FileSystem.read(source, limit: store.limits.maxFileSize)
        try FileSystem.writeAtomically(bytes, to: folder.appendingPathComponent(source.lastPathComponent), mode: mode)
    }
}
