import Foundation

/// One store location on disk (`<root>/LocalMachine`): its stores, its key directory and its lock.
///
/// Layout:
/// ```
/// <root>/<Location>/<Store>/<THUMBPRINT>.cer    DER, named by the uppercase SHA-1 of its bytes
/// <root>/<Location>/<Store>/<THUMBPRINT>.json   store properties (friendly name, exportable, ...)
/// <root>/<Location>/Keys/<SPKI-SHA256>.key      PKCS#8 PEM, 0600, directory 0700
/// <root>/<Location>/.lock                        writers hold an exclusive flock
/// ```
public final class CertificateStore: Sendable {
    public let root: URL
    public let location: String
    public let limits: Limits
    /// Seconds a writer waits for the lock before "store is busy".
    public let lockTimeout: Double

    public init(root: URL, location: String = "LocalMachine", limits: Limits = .default, lockTimeout: Double = 10) {
        self.root = root
        self.location = location
        self.limits = limits
        self.lockTimeout = lockTimeout
    }

    /// `--root`, else `$CERTSTORE_ROOT`, else `./Stores` when it exists, else `/var/lib/certstore`.
    public static func defaultRoot(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                                   currentDirectory: String = FileManager.default.currentDirectoryPath) -> URL {
        if let explicit, !explicit.isEmpty { return URL(fileURLWithPath: explicit, isDirectory: true) }
        if let env = environment["CERTSTORE_ROOT"], !env.isEmpty { return URL(fileURLWithPath: env, isDirectory: true) }
        let local = URL(fileURLWithPath: currentDirectory, isDirectory: true).appendingPathComponent("Stores", isDirectory: true)
        var info = stat()
        if stat(local.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { return local }
        return URL(fileURLWithPath: "/var/lib/certstore", isDirectory: true)
    }

    public var directory: URL { root.appendingPathComponent(location, isDirectory: true) }
    public var keysDirectory: URL { directory.appendingPathComponent("Keys", isDirectory: true) }

    public func directory(of store: StorePath) -> URL { directory.appendingPathComponent(store.store, isDirectory: true) }

    func certificateURL(_ thumbprint: String, in store: StorePath) -> URL {
        directory(of: store).appendingPathComponent("\(thumbprint).cer")
    }

    func propertiesURL(_ thumbprint: String, in store: StorePath) -> URL {
        directory(of: store).appendingPathComponent("\(thumbprint).json")
    }

    func keyURL(_ publicKeyIdentifier: String) -> URL {
        keysDirectory.appendingPathComponent("\(publicKeyIdentifier).key")
    }

    // MARK: reading

    /// Every readable certificate in `store`, ordered by thumbprint, plus the files that are not.
    public func entries(in store: StorePath) throws -> (entries: [StoreEntry], problems: [StoreProblem]) {
        let names = try FileSystem.list(directory(of: store)).filter { $0.hasSuffix(".cer") }.sorted()
        var entries: [StoreEntry] = []
        var problems: [StoreProblem] = []
        for name in names {
            let thumbprint = String(name.dropLast(4))
            do {
                entries.append(try readEntry(thumbprint, in: store))
            } catch let error as CertStoreError {
                problems.append(StoreProblem(path: "\(store)/\(name)", message: error.message))
            }
        }
        return (entries, problems)
    }

    /// The certificate with `thumbprint` in `store`, or nil when it is not there.
    public func entry(_ thumbprint: Thumbprint, in store: StorePath) throws -> StoreEntry? {
        guard FileSystem.exists(certificateURL(thumbprint.value, in: store)) else { return nil }
        return try readEntry(thumbprint.value, in: store)
    }

    /// Like `entry`, but a missing certificate is a `notFound` error naming the store.
    public func requireEntry(_ thumbprint: Thumbprint, in store: StorePath) throws -> StoreEntry {
        guard let entry = try entry(thumbprint, in: store) else {
            let elsewhere = StorePath.stores.map(store.sibling).filter { $0 != store && FileSystem.exists(certificateURL(thumbprint.value, in: $0)) }
            throw CertStoreError.notFound(
                "the certificate with thumbprint \(thumbprint) was not found in \(store)",
                hint: elsewhere.isEmpty ? "run `certstore list --store \(store)` to see what is there"
                                        : "it is in \(elsewhere.map(\.description).joined(separator: ", ")): add --store \(elsewhere[0])")
        }
        return entry
    }

    func readEntry(_ thumbprint: String, in store: StorePath) throws -> StoreEntry {
        let der = try FileSystem.read(certificateURL(thumbprint, in: store), limit: limits.maxFileSize)
        let certificate = try Certificate(der: der)
        let properties = certificate.properties()
        guard properties.thumbprint == thumbprint else {
            throw CertStoreError.badData("the file name does not match its content (SHA-1 is \(properties.thumbprint))",
                                         hint: "run `certstore check`")
        }
        return StoreEntry(store: store, certificate: certificate, properties: properties,
                          storeProperties: try readStoreProperties(thumbprint, in: store),
                          keyStatus: keyStatus(for: certificate, identifier: properties.publicKeyIdentifier))
    }

    func readStoreProperties(_ thumbprint: String, in store: StorePath) throws -> StoreProperties {
        let url = propertiesURL(thumbprint, in: store)
        guard FileSystem.exists(url) else { return StoreProperties() }
        let bytes = try FileSystem.read(url, limit: 1 << 20)
        do {
            return try StoreProperties.decoder.decode(StoreProperties.self, from: Data(bytes))
        } catch {
            throw CertStoreError.badData("its properties file \(url.lastPathComponent) is not valid JSON", hint: "run `certstore check`")
        }
    }

    /// Derives `HasPrivateKey`: is there a key file for this public key that loads, matches and is consistent?
    public func keyStatus(for certificate: Certificate, identifier: String) -> PrivateKeyStatus {
        let url = keyURL(identifier)
        guard FileSystem.exists(url) else { return .missing }
        guard let bytes = try? FileSystem.read(url, limit: 1 << 20),
              let key = try? PrivateKey(bytes: bytes, password: nil, limits: limits) else { return .unreadable }
        guard certificate.matches(key) else { return .mismatched }
        return key.isConsistent ? .present : .inconsistent
    }

    /// The stored key for a certificate, when its status is `.present`.
    public func privateKey(for entry: StoreEntry) throws -> PrivateKey? {
        guard entry.keyStatus == .present else { return nil }
        let bytes = try FileSystem.read(keyURL(entry.properties.publicKeyIdentifier), limit: 1 << 20)
        return try PrivateKey(bytes: bytes, password: nil, limits: limits)
    }

    /// Every certificate of every store in this location whose public key is `identifier`.
    func certificates(withPublicKey identifier: String) throws -> [StoreEntry] {
        var found: [StoreEntry] = []
        for store in StorePath.stores.map({ StorePath(trustedLocation: location, store: $0) }) {
            found += try entries(in: store).entries.filter { $0.properties.publicKeyIdentifier == identifier }
        }
        return found
    }

    // MARK: writing

    /// Runs `body` holding the location's writer lock, creating the location's directories first.
    func withWriteLock<R>(_ body: () throws -> R) throws -> R {
        try FileSystem.ensureDirectory(directory, mode: 0o755)
        let lock = try StoreLock(directory: directory, timeout: lockTimeout)
        defer { withExtendedLifetime(lock) {} }
        return try body()
    }

    /// Writes a key file (0600 in a 0700 directory), replacing one that is unusable.
    func writeKey(_ key: PrivateKey) throws {
        try FileSystem.ensureDirectory(keysDirectory, mode: 0o700)
        var pem = try key.pkcs8PEM()
        defer { wipe(&pem) }
        try FileSystem.writeAtomically(pem, to: keyURL(key.publicKeyIdentifier), mode: 0o600)
    }

    /// Writes a certificate and its properties; the `.cer` goes last, so it is the commit point.
    func writeCertificate(_ certificate: Certificate, properties: StoreProperties, in store: StorePath) throws {
        let thumbprint = certificate.thumbprint
        try FileSystem.ensureDirectory(directory(of: store), mode: 0o755)
        try FileSystem.writeAtomically(try properties.encoded(), to: propertiesURL(thumbprint, in: store), mode: 0o644)
        try FileSystem.writeAtomically(certificate.der, to: certificateURL(thumbprint, in: store), mode: 0o644)
    }

    func writeStoreProperties(_ properties: StoreProperties, thumbprint: String, in store: StorePath) throws {
        try FileSystem.writeAtomically(try properties.encoded(), to: propertiesURL(thumbprint, in: store), mode: 0o644)
    }
}
