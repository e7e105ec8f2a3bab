import Foundation

/// `check`: verifies a location file by file, and with `repair` removes only what is provably debris.
///
/// Debris is what an interrupted write leaves: temporary files (`.NAME.tmp-…`), a `.json` whose `.cer` never
/// arrived (the `.cer` is written last), half-made or half-deleted trash entries, and a key that an interrupted
/// `remove --delete-key` did not get to delete (no certificate uses it and the newest trash entry of a
/// certificate with that key holds a byte-identical copy). Key files and key directories get their modes
/// back. Any other key, a certificate or a document is never deleted by a repair.
public struct StoreChecker: Sendable {
    public struct Report: Sendable {
        public var findings: [Finding] = []
        /// What `--repair` did, one line per action.
        public var repaired: [String] = []
        public var status: Severity { findings.map(\.severity).max() ?? .ok }
        public var filesChecked = 0
        /// Of those, the files the store index vouched for (not read again; see `IndexVouchers`).
        public var vouchedByIndex = 0
    }

    /// What the store index vouches for, so that `check` need not parse every certificate and load every key
    /// again (issue 13: 52.7 s at 50,000 certificates). A record was made by parsing its files; while a file
    /// keeps the stamp (device, inode, size, mtime, ctime) the record took before reading it, it is the file
    /// that was checked then:
    ///
    /// * a `.cer` with its record's stamp is a certificate OpenSSL parsed, whose SHA-1 is its name, with the
    ///   recorded public key identifier (a record is only ever made for such a file);
    /// * its `.json` with the recorded stamp decoded as store properties;
    /// * a key file with the recorded stamp, of a record whose `.cer` is vouched for and whose key status is
    ///   Present, loaded, matched that certificate and passed the consistency check.
    ///
    /// Everything else (no index, an index `check` reports as untrusted, no record, any other stamp, another key
    /// status) is read and checked afresh, exactly as without an index. Modes and links are always looked at.
    struct IndexVouchers {
        /// Thumbprint → public key identifier, per store.
        var certificates: [StoreName: [String: String]] = [:]
        /// Thumbprints whose `.json` is vouched for, per store.
        var properties: [StoreName: Set<String>] = [:]
        /// Key identifiers whose key file is vouched for.
        var keys: Set<String> = []
    }

    /// The vouchers of every store's index; none when the location or the index is not trusted.
    func indexVouchers(trusted: Bool) -> IndexVouchers {
        var vouchers = IndexVouchers()
        guard trusted else { return vouchers }
        let keysFD = open(store.keysDirectory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        defer { if keysFD >= 0 { close(keysFD) } }
        for name in StoreName.allCases {
            let path = StorePath(trustedLocation: store.location, name: name)
            let url = StoreIndex.url(store, path)
            guard store.indexProblem(url) == nil else { continue }
            let index = StoreIndex.open(url)
            guard index.count > 0 else { continue }
            let folderFD = open(store.directory(of: path).path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            guard folderFD >= 0 else { continue }
            defer { close(folderFD) }
            let thumbprints = Array(index.ranges.keys)
            let lanes = thumbprints.count < 2_000 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
            // Per record: (public key identifier, .json vouched, key vouched), or nil when its .cer has changed.
            let verdicts: [(String, Bool, Bool)?] = concurrentMap(count: thumbprints.count, lanes: lanes) { position in
                let thumbprint = thumbprints[position]
                guard let range = index.range(thumbprint), let (header, status) = index.headerAndKeyStatus(at: range),
                      FileStamp(directory: folderFD, name: "\(thumbprint).cer") == header.cer else { return nil }
                let json = header.json != nil && FileStamp(directory: folderFD, name: "\(thumbprint).json") == header.json
                let key = status == .present && keysFD >= 0 && header.key != nil
                    && FileStamp(directory: keysFD, name: "\(header.publicKeyIdentifier).key") == header.key
                return (header.publicKeyIdentifier, json, key)
            }
            var certificates: [String: String] = [:]
            var properties = Set<String>()
            for (position, verdict) in verdicts.enumerated() {
                guard let (identifier, json, key) = verdict else { continue }
                certificates[thumbprints[position]] = identifier
                if json { properties.insert(thumbprints[position]) }
                if key { vouchers.keys.insert(identifier) }
            }
            vouchers.certificates[name] = certificates
            vouchers.properties[name] = properties
        }
        return vouchers
    }

    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    /// Checks the location; with `repair`, one operation (see `OperationOutcome`) that removes debris under the
    /// lock and brings the service files in line afterwards.
    public func run(repair: Bool, now: Date = Date()) throws -> OperationOutcome<Report> {
        guard FileSystem.exists(store.directory) else {
            var report = Report()
            report.findings.append(Finding(.unknown, check: "location-missing", object: store.directory.path,
                                           title: "no store location at \(store.directory.path)", detail: "nothing to check"))
            return .unchanged(report)
        }
        return repair ? try store.perform(now: now) { try check(repair: true) } : .unchanged(try check(repair: false))
    }

    private func check(repair: Bool) throws -> Report {
        var report = Report()
        var allThumbprints = Set<Thumbprint>()
        var publicKeys = Set<String>()
        // A key is only ever called debris when every certificate was read: one that was not might use it.
        var everyCertificateRead = true
        var newestTrashEntries: [String: TrashEntry]?

        func debris(_ url: URL, _ title: String, _ detail: String) {
            if repair {
                do {
                    try removeTree(url)
                    report.repaired.append("removed \(url.path) (\(title))")
                    return
                } catch {
                    report.repaired.append("could not remove \(url.path): \(error)")
                }
            }
            report.findings.append(Finding(.warning, check: "debris", object: url.path, title: title, detail: detail,
                                           fix: ["certstore check --repair"]))
        }

        // Who may write the location's directories and its index (links of the stores, Keys and Trash are
        // reported below).
        let trust = store.trustFindings(skippingLinksOf: Set(StoreName.allCases.map(\.rawValue) + ["Keys", "Trash"]))
        report.findings += trust.store + trust.index
        if !trust.store.isEmpty { everyCertificateRead = false }
        let vouchers = indexVouchers(trusted: trust.store.isEmpty && trust.index.isEmpty)

        // Certificates.
        for storeName in StoreName.allCases {
            let path = store.path(of: storeName)
            let vouchedCertificates = vouchers.certificates[storeName] ?? [:]
            let vouchedProperties = vouchers.properties[storeName] ?? []
            let folder = store.directory(of: path)
            if isSymlink(folder) {
                everyCertificateRead = false
                report.findings.append(Finding(.critical, check: "symlink", object: folder.path, title: "a store directory is a symbolic link",
                                               detail: "certstore never follows links inside a store; \(folder.path) was not checked",
                                               fix: ["ls -l \(ShellQuote.quote(folder.path))   (then replace it with the real directory)"]))
                continue
            }
            let names = try FileSystem.list(folder)
            let present = Set(names)
            // What the index does not vouch for is read again, on all cores.
            let unvouched = names.filter { $0.hasSuffix(".cer") && !$0.hasPrefix(".") && vouchedCertificates[String($0.dropLast(4))] == nil }
            let readings = readCertificates(unvouched, in: folder)
            for file in names.sorted() {
                let url = folder.appendingPathComponent(file)
                report.filesChecked += 1
                if isSymlink(url) {
                    everyCertificateRead = false
                    report.findings.append(Finding(.critical, check: "symlink", object: url.path, title: "a symbolic link is inside the store",
                                                   detail: "certstore never follows links in a store; something put \(url.path) there",
                                                   fix: ["ls -l \(ShellQuote.quote(url.path))   (then replace it with the real file or remove it)"]))
                    continue
                }
                if file.hasPrefix(".") && file.contains(".tmp-") {
                    debris(url, "a temporary file from an interrupted write", "\(file) was never renamed into place")
                } else if file.hasSuffix(".cer") {
                    let thumbprint = String(file.dropLast(4))
                    if let identifier = vouchedCertificates[thumbprint] {
                        report.vouchedByIndex += 1
                        if let vouched = Thumbprint(canonical: thumbprint) { allThumbprints.insert(vouched) }
                        publicKeys.insert(identifier)
                        continue
                    }
                    switch readings[file] ?? readCertificate(url) {
                    case .success(let certificate):
                        if certificate.thumbprint.certificateFileName != file {
                            report.findings.append(Finding(.critical, check: "name-mismatch", object: url.path,
                                title: "a certificate file's name does not match its content",
                                detail: "\(file) holds the certificate \(certificate.thumbprint)",
                                // It was in the store already, key or not: put back what was there (a keyless one too).
                                fix: ["certstore import \(ShellQuote.quote(url.path)) --store \(path)\(storeName == .my ? " --allow-keyless" : "")   (then remove the misnamed file)"]))
                        }
                        allThumbprints.insert(certificate.thumbprint)
                        publicKeys.insert(certificate.publicKeyIdentifier)
                    case .failure(let error):
                        everyCertificateRead = false
                        report.findings.append(Finding(.critical, check: "unreadable-certificate", object: url.path,
                            title: "a certificate file cannot be read", detail: error.message,
                            fix: ["certstore restore \(thumbprint)   (if a good copy is in the trash), or re-import the original"]))
                    }
                } else if file.hasSuffix(".json") {
                    let stem = String(file.dropLast(5))
                    if vouchedProperties.contains(stem) {
                        report.vouchedByIndex += 1
                    } else if !present.contains("\(stem).cer") {
                        debris(url, "properties without a certificate", "\(file) belongs to no .cer (an import interrupted before its commit point)")
                    } else if let thumbprint = Thumbprint(canonical: stem), (try? store.readStoreProperties(thumbprint, in: path)) == nil {
                        report.findings.append(Finding(.critical, check: "unreadable-properties", object: url.path,
                            title: "a properties file is not valid JSON", detail: "\(file) cannot be read; certstore will not overwrite it",
                            fix: ["fix or delete \(ShellQuote.quote(url.path)) (it only holds the friendly name and flags)"]))
                    }
                } else {
                    report.findings.append(Finding(.warning, check: "unknown-file", object: url.path, title: "an unexpected file is in a store",
                                                   detail: "\(file) is neither a certificate nor its properties", fix: ["mv \(ShellQuote.quote(url.path)) /root/"]))
                }
            }
        }

        // Keys.
        let keys = store.keysDirectory
        var info = stat()
        if lstat(keys.path, &info) == 0 {
            if (info.st_mode & S_IFMT) != S_IFDIR {
                report.findings.append(Finding(.critical, check: "symlink", object: keys.path, title: "the key directory is not a directory",
                                               detail: "\(keys.path) is a link or a file; certstore refuses to use it"))
            } else {
                if info.st_mode & 0o077 != 0 {
                    if repair, chmod(keys.path, 0o700) == 0 {
                        report.repaired.append("chmod 700 \(keys.path)")
                    } else {
                        report.findings.append(Finding(.critical, check: "key-directory-permissions", object: keys.path,
                            title: "the key directory is open to other users", detail: "mode \(String(info.st_mode & 0o777, radix: 8)); it must be 700",
                            fix: ["certstore check --repair"]))
                    }
                }
                let keyFiles = try FileSystem.list(keys).sorted()
                let keyReadings = readKeys(keyFiles.filter { $0.hasSuffix(".key") && !$0.hasPrefix(".") && !vouchers.keys.contains(String($0.dropLast(4))) })
                for file in keyFiles {
                    let url = keys.appendingPathComponent(file)
                    report.filesChecked += 1
                    if isSymlink(url) {
                        report.findings.append(Finding(.critical, check: "symlink", object: url.path, title: "a symbolic link is in the key directory",
                                                       detail: "certstore never reads a key through a link"))
                        continue
                    }
                    if file.hasPrefix(".") && file.contains(".tmp-") {
                        debris(url, "a temporary key file from an interrupted write", "\(file) was never renamed into place")
                        continue
                    }
                    guard file.hasSuffix(".key") else {
                        report.findings.append(Finding(.warning, check: "unknown-file", object: url.path, title: "an unexpected file is in the key directory",
                                                       detail: file))
                        continue
                    }
                    if lstat(url.path, &info) == 0, info.st_mode & 0o077 != 0 {
                        if repair, chmod(url.path, 0o600) == 0 {
                            report.repaired.append("chmod 600 \(url.path)")
                        } else {
                            report.findings.append(Finding(.critical, check: "key-file-permissions", object: url.path,
                                title: "a private key file is readable by other users", detail: "mode \(String(info.st_mode & 0o777, radix: 8)); it must be 600",
                                fix: ["certstore check --repair"]))
                        }
                    }
                    let identifier = String(file.dropLast(4))
                    if vouchers.keys.contains(identifier) {
                        report.vouchedByIndex += 1
                        continue
                    }
                    let reading = keyReadings[file] ?? readKey(url, named: identifier)
                    guard case .loaded(let keyIdentifier, let nameMatches, let consistent) = reading else {
                        report.findings.append(Finding(.critical, check: "unreadable-key", object: url.path, title: "a private key file cannot be read",
                                                       detail: "\(file) is not an unencrypted private key OpenSSL can load",
                                                       fix: ["certstore import KEY.pem   (the right key replaces it)"]))
                        continue
                    }
                    // The key of a certificate that inherits its DSA parameters is filed under the certificate's identifier.
                    if !nameMatches {
                        report.findings.append(Finding(.critical, check: "key-name-mismatch", object: url.path,
                            title: "a key file holds another key than its name says",
                            detail: "\(file) holds the key \(keyIdentifier): swapped or copied behind certstore's back",
                            fix: ["certstore import \(ShellQuote.quote(url.path))   (files it under its right name), then remove the misnamed file"]))
                    } else if !consistent {
                        report.findings.append(Finding(.critical, check: "inconsistent-key", object: url.path, title: "a private key fails its consistency check",
                                                       detail: "\(file): the private and public halves do not agree"))
                    } else if !publicKeys.contains(identifier) {
                        if everyCertificateRead {
                            if newestTrashEntries == nil { newestTrashEntries = Trash(store: store).newestEntriesByPublicKey() }
                            if let entry = try? Trash(store: store).entryLeavingKey(identifier, newest: newestTrashEntries ?? [:]) {
                                debris(url, "a private key left behind by an interrupted `remove --delete-key`",
                                       "\(file) belongs to no certificate and its copy is in the trash entry \(entry.id) (\(entry.thumbprint), removed with --delete-key): the removal was interrupted before it deleted the key")
                                continue
                            }
                        }
                        report.findings.append(Finding(.warning, check: "orphan-key", object: url.path, title: "a private key belongs to no certificate",
                                                       detail: "\(file) is kept (a repair deletes a key only when an interrupted `remove --delete-key` left it)"))
                    }
                }
            }
        }

        // Location documents and what they point at.
        for name in try FileSystem.list(store.directory).sorted() where name.hasPrefix(".") && name.contains(".tmp-") {
            debris(store.directory.appendingPathComponent(name), "a temporary file from an interrupted write", name)
        }
        do {
            let bindings = try store.read(ServiceBindings.self)
            for thumbprint in bindings.allBoundThumbprints.union([bindings.defaultSmtpCertificate].compactMap { $0 }).sorted()
            where !allThumbprints.contains(thumbprint) {
                report.findings.append(Finding(.critical, check: "binding-dangling", object: thumbprint.value,
                    title: "bindings.json names a certificate that is not in the store",
                    detail: "\(thumbprint) is bound to \(bindings.services(of: thumbprint).sorted().map(\.rawValue).joined(separator: ", "))" + (bindings.defaultSmtpCertificate == thumbprint ? " and is the default SMTP certificate" : ""),
                    fix: ["certstore restore \(thumbprint)", "certstore disable \(thumbprint)"]))
            }
        } catch let error as CertStoreError {
            report.findings.append(Finding(.critical, check: "unreadable-document", object: ServiceBindings.fileName, title: "bindings.json cannot be read", detail: error.message))
        }
        for read in [{ _ = try store.read(SendConnectors.self) }, { _ = try store.read(Dependencies.self) }] as [() throws -> Void] {
            do { try read() } catch let error as CertStoreError {
                report.findings.append(Finding(.critical, check: "unreadable-document", object: store.directory.path, title: "a location document cannot be read", detail: error.message))
            }
        }
        if let dependencies = try? store.read(Dependencies.self) {
            for dependency in dependencies.dependencies {
                if let thumbprint = dependency.thumbprint, !allThumbprints.contains(thumbprint) {
                    report.findings.append(Finding(.warning, check: "dependency-dangling", object: thumbprint.value,
                        title: "a dependency names a certificate that is not in the store", detail: "\"\(dependency.application)\" → \(thumbprint)",
                        fix: ["certstore dependency remove \(ShellQuote.quote(dependency.application)) \(thumbprint)"]))
                }
            }
        }

        // Trash staging left by an interrupted remove, restore or empty.
        let trash = store.directory.appendingPathComponent("Trash")
        if isSymlink(trash) {
            report.findings.append(Finding(.critical, check: "symlink", object: trash.path, title: "the trash is a symbolic link",
                                           detail: "certstore never follows links inside a store; it was not checked"))
            report.findings.sort { $0.severity != $1.severity ? $0.severity > $1.severity : $0.object < $1.object }
            return report
        }
        for name in try FileSystem.list(trash).sorted() {
            let url = trash.appendingPathComponent(name)
            if name.hasPrefix(".") && (name.hasSuffix(".partial") || name.hasSuffix(".deleting")) {
                debris(url, "a half-written or half-deleted trash entry", name)
                continue
            }
            // Inside a committed entry: a temporary file a write into it left (never part of what restore puts back).
            var info = stat()
            guard !name.hasPrefix("."), lstat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            for file in ((try? FileSystem.list(url)) ?? []).sorted() where file.hasPrefix(".") && file.contains(".tmp-") {
                debris(url.appendingPathComponent(file), "a temporary file inside the trash entry \(name)", "\(file) was never renamed into place")
            }
        }
        report.findings.sort { $0.severity != $1.severity ? $0.severity > $1.severity : $0.object < $1.object }
        return report
    }

    /// A certificate file read for `check`: its SHA-1 and public key identifier, or why it cannot be read.
    struct CertificateReading: Sendable {
        let thumbprint: Thumbprint
        let publicKeyIdentifier: String
    }

    /// What loading a key file told: it does not load, or its public key identifier, whether that (or, for a key
    /// filed under the certificate that inherits its DSA parameters, its parameterless one) is the file's name, and
    /// whether its halves agree (only asked when the name matches).
    enum KeyReading: Sendable {
        case unreadable
        case loaded(publicKeyIdentifier: String, nameMatches: Bool, consistent: Bool)
    }

    private func readCertificate(_ url: URL) -> Result<CertificateReading, CertStoreError> {
        do {
            let certificate = try Certificate(der: try FileSystem.read(url, limit: store.limits.maxFileSize))
            return .success(CertificateReading(thumbprint: certificate.thumbprint, publicKeyIdentifier: certificate.publicKeyIdentifier))
        } catch let error as CertStoreError {
            return .failure(error)
        } catch {
            return .failure(.internalError("\(error)"))
        }
    }

    /// `readCertificate` for every file of `names` in `folder`, on all cores (a store others could not vouch
    /// for is parsed whole: OpenSSL 3.0 is most of a cold check).
    private func readCertificates(_ names: [String], in folder: URL) -> [String: Result<CertificateReading, CertStoreError>] {
        let lanes = names.count < 64 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let results = concurrentMap(count: names.count, lanes: lanes) { readCertificate(folder.appendingPathComponent(names[$0])) }
        return Dictionary(uniqueKeysWithValues: zip(names, results))
    }

    private func readKey(_ url: URL, named identifier: String) -> KeyReading {
        guard let bytes = try? FileSystem.read(url, limit: 1 << 20),
              let key = try? PrivateKey(bytes: bytes, password: nil, limits: store.limits) else { return .unreadable }
        let nameMatches = key.publicKeyIdentifier == identifier || key.parameterlessIdentifiers.contains(identifier)
        return .loaded(publicKeyIdentifier: key.publicKeyIdentifier, nameMatches: nameMatches, consistent: nameMatches && key.isConsistent)
    }

    /// `readKey` for every key file of `names` in the key directory, on all cores.
    private func readKeys(_ names: [String]) -> [String: KeyReading] {
        let keys = store.keysDirectory
        let lanes = names.count < 64 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let results = concurrentMap(count: names.count, lanes: lanes) { readKey(keys.appendingPathComponent(names[$0]), named: String(names[$0].dropLast(4))) }
        return Dictionary(uniqueKeysWithValues: zip(names, results))
    }

    private func isSymlink(_ url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// Removes a file, or a directory of files (trash staging), without following links.
    private func removeTree(_ url: URL) throws {
        var info = stat()
        guard lstat(url.path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in try FileSystem.list(url) { try removeTree(url.appendingPathComponent(name)) }
            guard rmdir(url.path) == 0 else { throw FileSystem.posixError("remove", url, errno) }
            try FileSystem.syncDirectory(url.deletingLastPathComponent())
        } else {
            try FileSystem.remove(url)
        }
    }
}
