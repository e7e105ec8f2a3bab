import Foundation

/// One store location on disk (`<root>/LocalMachine`): its stores, its key directory and its lock.
///
/// A location — Windows' `Cert:\LocalMachine` — holding the stores `My`, `CA`, `Root` and `REQUEST`, the
/// keys they pair with, the bindings and the lock. One store of it is a ``StorePath`` (``path(of:)``); an entry says which with
/// ``StoreEntry/store`` (compare ``StorePath/name`` with ``StoreName``, never text).
///
/// Layout:
/// ```
/// <root>/<Location>/<Store>/<THUMBPRINT>.cer    DER, named by the uppercase SHA-1 of its bytes
/// <root>/<Location>/<Store>/<THUMBPRINT>.json   store properties (friendly name, exportable, ...)
/// <root>/<Location>/Keys/<SPKI-SHA256>.key      PKCS#8 PEM, 0600, directory 0700
/// <root>/<Location>/.lock                        writers hold an exclusive flock
/// ```
public final class StoreLocation: Sendable {
    public let root: URL
    public let location: String
    public let limits: Limits
    /// Seconds a writer waits for the lock before "store is busy".
    public let lockTimeout: Double

    /// Told how far a cold parse of many certificates has come (done, total): the CLI's progress bar.
    public let parseProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
    /// `directory` and `keysDirectory` as paths: a listing joins them with file names thousands of times, and
    /// building URLs cost more than the reads.
    private let directoryPath: String
    private let keysPath: String

    public init(root: URL, location: String = "LocalMachine", limits: Limits = .default, lockTimeout: Double = 10,
                parseProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) {
        self.root = root
        self.location = location
        self.limits = limits
        self.lockTimeout = lockTimeout
        self.parseProgress = parseProgress
        let directory = root.appendingPathComponent(location, isDirectory: true)
        directoryPath = directory.path
        keysPath = directory.appendingPathComponent("Keys", isDirectory: true).path
    }

    /// `--root`, else `$CERTSTORE_ROOT`, else `./Stores` when it exists, else `/var/lib/certstore`.
    public static func defaultRoot(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                                   currentDirectory: String = FileManager.default.currentDirectoryPath) -> URL {
        chooseRoot(explicit: explicit, environment: environment, currentDirectory: currentDirectory).root
    }

    /// The store root and how it was chosen (`--root`, `$CERTSTORE_ROOT`, `./Stores in the current directory`,
    /// `the default`), for messages that must say why a store is not where the user thinks.
    public static func chooseRoot(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                                  currentDirectory: String = FileManager.default.currentDirectoryPath) -> (root: URL, source: String) {
        if let explicit, !explicit.isEmpty { return (URL(fileURLWithPath: explicit, isDirectory: true), "--root") }
        if let env = environment["CERTSTORE_ROOT"], !env.isEmpty { return (URL(fileURLWithPath: env, isDirectory: true), "$CERTSTORE_ROOT") }
        let local = URL(fileURLWithPath: currentDirectory, isDirectory: true).appendingPathComponent("Stores", isDirectory: true)
        var info = stat()
        if stat(local.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return (local, "./Stores in the current directory") }
        return (URL(fileURLWithPath: "/var/lib/certstore", isDirectory: true), "the default (no --root, no $CERTSTORE_ROOT, no ./Stores here)")
    }

    /// Whether the location exists on disk (a store was ever written here).
    public var exists: Bool {
        var info = stat()
        return stat(directory.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// `defaultRoot`, refusing a `./Stores` that nobody chose by name when it breaks the store rule: a symbolic
    /// link (anyone who can write the working directory could have planted it), a directory owned by another
    /// user or writable by others. `--root` and `$CERTSTORE_ROOT` may name a link: the administrator chose it.
    public static func resolveRoot(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                                   currentDirectory: String = FileManager.default.currentDirectoryPath) throws -> URL {
        let root = defaultRoot(explicit: explicit, environment: environment, currentDirectory: currentDirectory)
        let named = !(explicit ?? "").isEmpty || !(environment["CERTSTORE_ROOT"] ?? "").isEmpty
        if !named, root.path != "/var/lib/certstore", let problem = DirectoryTrust.problem(root) {
            throw CertStoreError(.permission, "the default store root ./Stores cannot be trusted: \(problem)",
                                 hint: "name the store with --root DIR if this is really it, or remove ./Stores from \(currentDirectory)")
        }
        return root
    }

    public var directory: URL { root.appendingPathComponent(location, isDirectory: true) }
    public var keysDirectory: URL { directory.appendingPathComponent("Keys", isDirectory: true) }

    /// The store `name` of this location, e.g. `LocalMachine/My` for ``StoreName/my``.
    public func path(of name: StoreName) -> StorePath { StorePath(trustedLocation: location, name: name) }

    public func directory(of store: StorePath) -> URL { directory.appendingPathComponent(store.name.rawValue, isDirectory: true) }

    func certificateURL(_ thumbprint: Thumbprint, in store: StorePath) -> URL {
        directory(of: store).appendingPathComponent(thumbprint.certificateFileName)
    }

    func propertiesURL(_ thumbprint: Thumbprint, in store: StorePath) -> URL {
        directory(of: store).appendingPathComponent(thumbprint.propertiesFileName)
    }

    func keyURL(_ publicKeyIdentifier: String) -> URL {
        keysDirectory.appendingPathComponent("\(publicKeyIdentifier).key")
    }

    // MARK: reading

    /// Every readable certificate in `store`, ordered by thumbprint, plus the files that are not.
    ///
    /// Served from the store index where every file an entry came from is unchanged; everything else is
    /// parsed and checked afresh (on all cores), and the index is saved when the lock is free.
    public func entries(in store: StorePath) throws -> (entries: [StoreEntry], problems: [StoreProblem]) {
        var entries: [StoreEntry] = []
        let problems = try forEachBatch(in: store) { entries += $0 }
        return (entries, problems)
    }

    /// `entries(in:)` a batch at a time, in thumbprint order, so a listing of a big store holds one batch of
    /// entries (and the index file's bytes) rather than every entry at once. Returns the files that are not
    /// readable certificates.
    ///
    /// First the stamps of every entry's files are compared with the index (on all cores); then, batch by
    /// batch, current records are decoded and the others parsed and checked (on all cores), and `body` is
    /// called. Certificates are parsed for the listing only (`Certificate(inventoryDER:)`): an entry reads its
    /// `.cer` again when a caller asks for the certificate itself (chains, export), as one served from the
    /// index always does.
    ///
    /// With `lazily`, entries served from the index decode their certificate properties only when first asked
    /// for: for a listing that writes each entry's kept JSON text (`StoreEntry.appendKeptJSON`) and
    /// rarely looks at them. Callers that use the properties of every entry leave it off: then they are
    /// decoded on all cores up front.
    @discardableResult
    public func forEachBatch(in store: StorePath, batchSize: Int = 4096, lazily: Bool = false,
                             _ body: ([StoreEntry]) throws -> Void) throws -> [StoreProblem] {
        let folder = directory(of: store)
        try refuseLink(folder)
        let names = try FileSystem.list(folder).filter { $0.hasSuffix(".cer") && !$0.hasPrefix(".") }.sorted()
        let indexURL = StoreIndex.url(self, store)
        // The trailer proves the index is whole, not who wrote it: it is believed only when nobody but root (or
        // certstore's account) could have written it.
        let index = indexProblem(indexURL) == nil ? StoreIndex.open(indexURL) : .empty
        let folderPath = folder.path
        // Three stamps per certificate, taken relative to the two directories: on all cores for a big store.
        let folderFD = open(folderPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        let keysFD = open(keysPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        defer {
            if folderFD >= 0 { close(folderFD) }
            if keysFD >= 0 { close(keysFD) }
        }
        // Where each certificate's record is in the index, when it is there and current.
        let lanes = names.count < 2_000 || index.count == 0 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let currentRanges: [Range<Int>?] = concurrentMap(count: names.count, lanes: lanes) { position in
            let thumbprint = String(names[position].dropLast(4))
            guard let range = index.range(thumbprint), let header = index.header(at: range),
                  isCurrent(header, thumbprint: thumbprint, folder: folderFD, keys: keysFD) else { return nil }
            return range
        }
        var current = currentRanges.map { $0 != nil }
        let missCount = current.lazy.filter { !$0 }.count
        let progress = parseProgress.flatMap { report in missCount >= 200 ? ProgressCounter(total: missCount, report: report) : nil }
        defer { progress?.finish() }
        var problems: [StoreProblem] = []
        var next = StoreIndex.Builder(previous: index.bytes)   // the next index, written only if something changed
        var changed = missCount > 0
        for start in stride(from: 0, to: names.count, by: max(1, batchSize)) {
            let batch = start..<min(start + max(1, batchSize), names.count)
            // Current records, decoded on all cores; one that does not decode is parsed instead.
            let positions = batch.filter { current[$0] }
            let decodeLanes = positions.count < 1_000 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
            let reparse = lazily ? LazyProperties.Reparse(folder: folderPath, limit: limits.maxFileSize) : nil
            let decoded: [StoreIndex.Record?] = concurrentMap(count: positions.count, lanes: decodeLanes) { offset in
                currentRanges[positions[offset]].flatMap { index.record(at: $0, reparse: reparse) }
            }
            var records: [Int: StoreIndex.Record] = [:]
            for (offset, record) in decoded.enumerated() {
                if let record { records[positions[offset]] = record } else { current[positions[offset]] = false; changed = true }
            }
            let misses = batch.filter { !current[$0] }
            let fresh = parseConcurrently(misses.map { String(names[$0].dropLast(4)) }, in: store, progress: progress)
            var parsed: [Int: StoreIndex.Record] = [:]
            for (offset, position) in misses.enumerated() {
                switch fresh[offset] {
                case .success(let value):
                    parsed[position] = value
                case .failure(let error):
                    // Removed by a writer while we listed: the certificate is simply gone, not a problem.
                    if !FileSystem.exists(folder.appendingPathComponent(names[position])) { continue }
                    problems.append(StoreProblem(path: "\(store)/\(names[position])", message: error.message))
                }
            }
            var entries: [StoreEntry] = []
            entries.reserveCapacity(batch.count)
            for position in batch {
                let record: StoreIndex.Record
                if let served = records[position], let range = currentRanges[position] {
                    record = served
                    next.appendPrevious(range)
                } else if let fresh = parsed[position] {
                    record = fresh
                    next.append(fresh)
                } else {
                    continue
                }
                let source = CertificateSource(folder: folderPath, thumbprint: record.content.thumbprint, limit: limits.maxFileSize)
                entries.append(StoreEntry(store: store, content: record.content, source: source))
            }
            try body(entries)
        }
        if changed || index.count != next.count { saveIndex(next, to: indexURL) }
        return problems
    }

    /// The certificate with `thumbprint` in `store`, or nil when it is not there. Reads that one file only,
    /// so a lookup costs the same in a store of a hundred certificates or of a hundred thousand.
    public func entry(_ thumbprint: Thumbprint, in store: StorePath) throws -> StoreEntry? {
        try refuseLink(directory(of: store))
        guard FileSystem.exists(certificateURL(thumbprint, in: store)) else { return nil }
        return try readEntry(thumbprint, in: store)
    }

    /// Like `entry`, but a missing certificate is a `notFound` error naming the store.
    public func requireEntry(_ thumbprint: Thumbprint, in store: StorePath) throws -> StoreEntry {
        guard let entry = try entry(thumbprint, in: store) else {
            let elsewhere = StoreName.allCases.map(store.sibling).filter { $0 != store && FileSystem.exists(certificateURL(thumbprint, in: $0)) }
            throw CertStoreError.notFound(
                "the certificate with thumbprint \(thumbprint) was not found in \(store)",
                hint: elsewhere.isEmpty ? "run `certstore list --store \(store)` to see what is there"
                                        : "it is in \(elsewhere.map(\.description).joined(separator: ", ")): add --store \(elsewhere[0])")
        }
        return entry
    }

    func readEntry(_ thumbprint: Thumbprint, in store: StorePath) throws -> StoreEntry {
        let (record, certificate) = try parseRecord(thumbprint.value, in: store)
        return StoreEntry(store: store, content: record.content,
                          source: CertificateSource(parsed: certificate, folder: directory(of: store).path))
    }

    /// Parses one certificate and checks its key. Stamps are taken before reading, so a file that changes
    /// meanwhile is looked at again next time. Paths are plain strings: building URLs cost more than the reads.
    /// With `decoders` (a listing's parsing thread), the certificate is parsed for the listing only
    /// (`Certificate(inventoryDER:)`) and must not leave this store's listing code. `name` is the certificate's
    /// file name without `.cer`, as found on disk: a file whose name is not its SHA-1 is refused.
    private func parseRecord(_ name: String, in store: StorePath, decoders: ParsingDecoders? = nil) throws -> (StoreIndex.Record, Certificate) {
        let folder = "\(directoryPath)/\(store.name.rawValue)"
        let cerPath = "\(folder)/\(name).cer", jsonPath = "\(folder)/\(name).json"
        guard let cerStamp = FileStamp(path: cerPath) else {
            throw CertStoreError.notFound("\(cerPath) disappeared while it was being read")
        }
        let jsonStamp = FileStamp(path: jsonPath)
        let der = try FileSystem.read(path: cerPath, limit: limits.maxFileSize)
        let certificate = try decoders.map { try Certificate(inventoryDER: der, decoder: $0.publicKeys) } ?? Certificate(der: der)
        let properties = certificate.properties()
        assert(decoders == nil || properties == (try? Certificate(der: der))?.properties(),
               "a certificate parsed for a listing has other properties than one parsed in full: \(properties) against \(String(describing: (try? Certificate(der: der))?.properties()))")
        guard properties.thumbprint.value == name else {
            throw CertStoreError.badData("the file name does not match its content (SHA-1 is \(properties.thumbprint))",
                                         hint: "run `certstore check`")
        }
        let keyPath = "\(keysPath)/\(properties.publicKeyIdentifier).key"
        let keyStamp = FileStamp(path: keyPath)
        let storeProperties = jsonStamp == nil ? StoreProperties() : try decodeStoreProperties(path: jsonPath)
        let status = keyStatus(for: certificate, keyPath: keyStamp == nil ? nil : keyPath, decoder: decoders?.storedKeys)
        // `remove --delete-key` unlinks the .cer (the commit point) and then the key. A reader that read the
        // .cer before the one and looked for the key after the other would report a keyless certificate that
        // never existed on disk; with the .cer gone by now, the certificate was simply removed meanwhile (F11).
        if status != .present && FileStamp(path: cerPath) != cerStamp {
            throw CertStoreError.notFound("\(cerPath) disappeared while it was being read")
        }
        // A listing keeps each record's JSON text in the index, ready for the next listing.
        let template = decoders == nil ? nil : JSONRecordTemplate.render(
            StoreEntry(store: store, properties: properties, storeProperties: storeProperties, keyStatus: status,
                       source: CertificateSource(folder: folder, thumbprint: properties.thumbprint, limit: limits.maxFileSize)))
        let record = StoreIndex.Record(cer: cerStamp, json: jsonStamp, key: keyStamp, keyStatus: status,
                                       properties: properties, storeProperties: storeProperties, jsonTemplate: template)
        return (record, certificate)
    }

    /// Are the record's three files as they were? `folder` and `keys` are open directories (-1 when one could
    /// not be opened: then nothing is current, and everything is parsed afresh).
    private func isCurrent(_ header: StoreIndex.Header, thumbprint: String, folder: Int32, keys: Int32) -> Bool {
        guard folder >= 0 else { return false }
        return FileStamp(directory: folder, name: "\(thumbprint).cer") == header.cer
            && FileStamp(directory: folder, name: "\(thumbprint).json") == header.json
            && (keys >= 0 ? FileStamp(directory: keys, name: "\(header.publicKeyIdentifier).key") : nil) == header.key
    }

    /// OpenSSL 3.0 parsing is the cost of a cold listing: spread it over the cores.
    private func parseConcurrently(_ thumbprints: [String], in store: StorePath, progress: ProgressCounter?)
        -> [Result<StoreIndex.Record, CertStoreError>] {
        let results = ResultSlots<StoreIndex.Record>(count: thumbprints.count)
        let workers = thumbprints.count < 64 ? 1 : max(1, Int(ProcessInfo.processInfo.environment["CERTSTORE_PARSE_THREADS"] ?? "") ?? ProcessInfo.processInfo.activeProcessorCount)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let decoders = ParsingDecoders()
            for index in stride(from: worker, to: thumbprints.count, by: workers) {
                defer { progress?.step() }
                do {
                    let (record, _) = try parseRecord(thumbprints[index], in: store, decoders: decoders)
                    results.set(index, .success(record))
                } catch let error as CertStoreError {
                    results.set(index, .failure(error))
                } catch {
                    results.set(index, .failure(.internalError("\(error)")))
                }
            }
        }
        return results.values
    }

    /// Saves the index only if no writer holds the lock right now; a reader never waits, and never fails
    /// because the index could not be written (a read-only store just stays unindexed).
    private func saveIndex(_ index: StoreIndex.Builder, to url: URL) {
        saveCache(to: url) { write in try index.write(write) }
    }

    /// Writes a file of `.cache` (the index, the chain verdicts) the way readers may: only if no writer holds the
    /// lock right now, never into a `.cache` that is a link or that someone else could write, never over a
    /// foreign file; failing silently (derived data: the next reader tries again).
    func saveCache(to url: URL, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) {
        guard FileSystem.exists(directory), let lock = try? StoreLock(directory: directory, timeout: 0) else { return }
        withExtendedLifetime(lock) {
            guard (try? FileSystem.ensureDirectory(url.deletingLastPathComponent(), mode: 0o755)) != nil,
                  indexProblem(url) == nil else { return }
            try? FileSystem.writeAtomically(to: url, mode: 0o644, produce)
        }
    }

    /// Why the index at `url` (and its `.cache` directory) cannot be trusted, or nil when it can (or is absent).
    /// An untrusted index is ignored and never rewritten; `check` and `audit` report why.
    func indexProblem(_ url: URL) -> String? {
        DirectoryTrust.problem(url.deletingLastPathComponent()) ?? DirectoryTrust.fileProblem(url)
    }

    /// The directories of this location certstore reads or writes besides the root, the location and `Keys`
    /// (checked by `checkOwnership` with their own messages): the stores, the trash, the service files.
    var trustedSubdirectories: [URL] {
        let services = directory.appendingPathComponent("Services", isDirectory: true)
        return StoreName.allCases.map { directory.appendingPathComponent($0.rawValue, isDirectory: true) }
            + [directory.appendingPathComponent("Trash", isDirectory: true), services]
            + ExchangeService.bindable.map { services.appendingPathComponent($0.rawValue, isDirectory: true) }
    }

    /// A store directory that is a symbolic link is refused: certstore never follows links inside a store.
    /// The location and its key directory must not be open to other users either (checked on every use).
    private func refuseLink(_ url: URL) throws {
        var info = stat()
        if lstat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
            throw CertStoreError(.permission, "\(url.path) is a symbolic link; certstore never follows links inside a store",
                                 hint: "replace the link with the real directory (`certstore check` lists what else is wrong)")
        }
        try checkOwnership()
    }

    /// Like .NET's store checks: the root, the location and the key directory belong to root or to the
    /// account running certstore, and nobody else can write them (anyone who could would plant certificates
    /// or swap keys). Refused with the command that fixes it.
    func checkOwnership(tightenKeys: Bool = false) throws {
        for (url, keys) in [(root, false), (directory, false), (keysDirectory, true)] {
            var info = stat()
            guard lstat(url.path, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFLNK && url != root {
                throw CertStoreError(.permission, "\(url.path) is a symbolic link; certstore never follows links inside a store",
                                     hint: "replace the link with the real directory")
            }
            guard (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            if info.st_uid != 0 && info.st_uid != geteuid() {
                throw CertStoreError(.permission, "\(url.path) belongs to uid \(info.st_uid), not to root or to you",
                                     hint: "chown root: \(url.path)   (or run certstore as its owner)")
            }
            if info.st_mode & 0o022 != 0 {
                // Others could have planted certificates or swapped keys: tightening now would not undo that.
                throw CertStoreError(.permission, "\(url.path) is writable by other users (mode \(String(info.st_mode & 0o777, radix: 8)))",
                                     hint: "chmod go-w \(url.path), then check what is in it: certstore check")
            }
            if keys && tightenKeys && info.st_mode & 0o077 != 0 {
                // Readable by others (a copy or a git checkout loses modes): a writer closes it before adding keys.
                guard chmod(url.path, 0o700) == 0 else { throw FileSystem.posixError("set the mode of", url, errno) }
            }
        }
        for url in trustedSubdirectories { try DirectoryTrust.require(url) }
    }

    func readStoreProperties(_ thumbprint: Thumbprint, in store: StorePath) throws -> StoreProperties {
        let url = propertiesURL(thumbprint, in: store)
        guard FileSystem.exists(url) else { return StoreProperties() }
        return try decodeStoreProperties(path: url.path)
    }

    private func decodeStoreProperties(path: String) throws -> StoreProperties {
        let bytes = try FileSystem.read(path: path, limit: 1 << 20)
        do {
            return try StoreProperties.decoder.decode(StoreProperties.self, from: Data(bytes))
        } catch {
            throw CertStoreError.badData("its properties file \((path as NSString).lastPathComponent) is not valid JSON", hint: "run `certstore check`")
        }
    }

    /// Derives `HasPrivateKey`: is there a key file for this public key that loads, matches and is consistent?
    public func keyStatus(for certificate: Certificate, identifier: String) -> PrivateKeyStatus {
        let path = keyURL(identifier).path
        return keyStatus(for: certificate, keyPath: FileStamp(path: path) == nil ? nil : path, decoder: nil)
    }

    /// As above, for the key file at `keyPath` (nil: there is none), read with `decoder` (one per thread) when given.
    func keyStatus(for certificate: Certificate, keyPath: String?, decoder: StoredKeyDecoder?) -> PrivateKeyStatus {
        guard let keyPath else { return .missing }
        guard let bytes = try? FileSystem.read(path: keyPath, limit: 1 << 20),
              let key = try? PrivateKey(storedKey: bytes, limits: limits, decoder: decoder) else {
            return FileStamp(path: keyPath) == nil ? .missing : .unreadable
        }
        guard certificate.matches(key) else { return .mismatched }
        return key.isConsistent ? .present : .inconsistent
    }

    /// The stored key for a certificate, when its status is `.present`.
    public func privateKey(for entry: StoreEntry) throws -> PrivateKey? {
        guard entry.keyStatus == .present else { return nil }
        let bytes = try FileSystem.read(keyURL(entry.properties.publicKeyIdentifier), limit: 1 << 20)
        return try PrivateKey(storedKey: bytes, limits: limits)
    }

    /// Every certificate of every store in this location whose public key is `identifier`.
    func certificates(withPublicKey identifier: String) throws -> [StoreEntry] {
        var found: [StoreEntry] = []
        for store in StoreName.allCases.map(path(of:)) {
            found += try entries(in: store).entries.filter { $0.properties.publicKeyIdentifier == identifier }
        }
        return found
    }

    // MARK: writing

    /// Runs `body` holding the location's writer lock, creating the location's directories first.
    func withWriteLock<R>(_ body: () throws -> R) throws -> R {
        try FileSystem.ensureDirectory(directory, mode: 0o755)
        try checkOwnership(tightenKeys: true)
        let lock = try StoreLock(directory: directory, timeout: lockTimeout)
        defer { withExtendedLifetime(lock) {} }
        return try body()
    }

    /// Writes a key file (0600 in a 0700 directory), replacing one that is unusable; staged in `batch` when given.
    /// Named by the key's public key identifier, or by `identifier`: the certificate's, for the key of a
    /// certificate that inherits its DSA parameters (whose SubjectPublicKeyInfo differs from the key's).
    func writeKey(_ key: PrivateKey, identifier: String? = nil, batch: WriteBatch? = nil) throws {
        try FileSystem.ensureDirectory(keysDirectory, mode: 0o700)
        var pem = try key.pkcs8PEM()
        defer { wipe(&pem) }
        let url = keyURL(identifier ?? key.publicKeyIdentifier)
        if let batch {
            try batch.stage(pem, to: url, mode: 0o600, phase: .keys)
        } else {
            try FileSystem.writeAtomically(pem, to: url, mode: 0o600)
        }
    }

    /// Writes a certificate and its properties; the `.cer` goes last, so it is the commit point.
    func writeCertificate(_ certificate: Certificate, properties: StoreProperties, in store: StorePath, batch: WriteBatch? = nil) throws {
        let thumbprint = certificate.thumbprint
        try FileSystem.ensureDirectory(directory(of: store), mode: 0o755)
        if let batch {
            try batch.stage(try properties.encoded(), to: propertiesURL(thumbprint, in: store), mode: 0o644, phase: .properties)
            try batch.stage(certificate.der, to: certificateURL(thumbprint, in: store), mode: 0o644, phase: .certificates)
        } else {
            try FileSystem.writeAtomically(try properties.encoded(), to: propertiesURL(thumbprint, in: store), mode: 0o644)
            try FileSystem.writeAtomically(certificate.der, to: certificateURL(thumbprint, in: store), mode: 0o644)
        }
    }

    func writeStoreProperties(_ properties: StoreProperties, thumbprint: Thumbprint, in store: StorePath, batch: WriteBatch? = nil) throws {
        if let batch {
            try batch.stage(try properties.encoded(), to: propertiesURL(thumbprint, in: store), mode: 0o644, phase: .properties)
        } else {
            try FileSystem.writeAtomically(try properties.encoded(), to: propertiesURL(thumbprint, in: store), mode: 0o644)
        }
    }
}

/// `body` for every index in 0..<count, on `lanes` threads each taking a contiguous share; the results in
/// order. Each lane hands over its results once, not one by one.
package func concurrentMap<T: Sendable>(count: Int, lanes: Int, _ body: @Sendable (Int) -> T) -> [T] {
    let lanes = max(1, min(lanes, count))
    if lanes == 1 { return (0..<count).map(body) }
    let shares = LaneResults<T>(lanes: lanes)
    DispatchQueue.concurrentPerform(iterations: lanes) { lane in
        shares.set(lane, (count * lane / lanes..<count * (lane + 1) / lanes).map(body))
    }
    return shares.joined
}

private final class LaneResults<T>: @unchecked Sendable {
    private var shares: [[T]]
    private let lock = NSLock()

    init(lanes: Int) { shares = Array(repeating: [], count: lanes) }

    func set(_ lane: Int, _ results: [T]) {
        lock.lock()
        shares[lane] = results
        lock.unlock()
    }

    var joined: [T] {
        lock.lock()
        defer { lock.unlock() }
        return shares.flatMap { $0 }
    }
}

/// Result slots filled from several threads, each index by exactly one worker.
final class ResultSlots<Value>: @unchecked Sendable {
    private var slots: [Result<Value, CertStoreError>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<Value, CertStoreError>) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    var values: [Result<Value, CertStoreError>] {
        slots.map { $0 ?? .failure(.internalError("a parse result is missing")) }
    }
}

/// Counts finished items from several threads and reports every whole percent.
final class ProgressCounter: @unchecked Sendable {
    private let total: Int
    private let report: @Sendable (Int, Int) -> Void
    private var done = 0
    private let lock = NSLock()

    init(total: Int, report: @escaping @Sendable (Int, Int) -> Void) {
        self.total = total
        self.report = report
    }

    func step() {
        lock.lock()
        done += 1
        let now = done
        lock.unlock()
        if now * 100 / total != (now - 1) * 100 / total { report(now, total) }
    }

    func finish() { report(total, total) }
}

/// One parsing thread's reusable OpenSSL decoders: building them is most of what OpenSSL 3.0 spends on a
/// certificate or a key file, so a listing builds them once per thread.
final class ParsingDecoders {
    let storedKeys = StoredKeyDecoder()
    let publicKeys = PublicKeyDecoder()
}
