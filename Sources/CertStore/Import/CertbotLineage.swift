import Foundation

/// A certbot lineage: `/etc/letsencrypt/live/NAME`, whose `cert.pem`, `chain.pem`, `fullchain.pem` and
/// `privkey.pem` are symbolic links to the newest numbered files of `/etc/letsencrypt/archive/NAME`.
///
/// certbot renews a lineage by adding numbered files and moving the links; its `--deploy-hook` gets the
/// lineage's directory in `$RENEWED_LINEAGE`. Reading the links once, here, pins one generation: a renewal
/// that moves them while certstore imports cannot pair one generation's certificate with another's key.
public struct CertbotLineage: Sendable, Equatable {
    /// The lineage directory as given (`/etc/letsencrypt/live/NAME`).
    public let directory: String
    /// The lineage's name: the directory's last component (certbot's `--cert-name`).
    public let name: String
    /// The end-entity certificate (`cert.pem`), links resolved.
    public let certificate: String
    /// The issuing chain (`chain.pem`), links resolved; nil when the lineage has none.
    public let chain: String?
    /// The private key (`privkey.pem`), links resolved.
    public let privateKey: String

    /// The files an import reads, certificate first.
    public var files: [String] { [certificate] + (chain.map { [$0] } ?? []) + [privateKey] }

    /// Reads the lineage at `directory`.
    ///
    /// Throws `inputUnreadable` (exit 66, like any unreadable input) when it is not a lineage (no `cert.pem` or no
    /// `privkey.pem`) or a member cannot be read — certbot keeps keys readable by root only.
    public init(directory: String) throws {
        var trimmed = directory
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.directory = trimmed
        name = (trimmed as NSString).lastPathComponent
        guard Self.kind(of: trimmed) == S_IFDIR else {
            throw CertStoreError(.inputUnreadable, "\(trimmed) is not a directory, so not a certbot lineage",
                                          hint: "give the lineage's directory, for example /etc/letsencrypt/live/mail.example.org ($RENEWED_LINEAGE in a deploy hook)")
        }
        func member(_ file: String, required: Bool) throws -> String? {
            let path = trimmed + "/" + file
            guard Self.kind(of: path) == S_IFREG else {
                guard required else { return nil }
                throw CertStoreError(.inputUnreadable, "\(trimmed) has no \(file): it is not a certbot lineage (or a link in it points nowhere)",
                                              hint: "certbot lineages are the directories under /etc/letsencrypt/live; `certbot certificates` lists them")
            }
            // Resolve the link now: the import reads exactly this generation even if certbot moves the links.
            let resolved = (path as NSString).resolvingSymlinksInPath
            guard access(resolved, R_OK) == 0 else {
                throw CertStoreError(.inputUnreadable, "cannot read \(path) (\(resolved)): \(String(cString: strerror(errno)))",
                                     hint: "certbot keeps its keys readable by root only: run certstore as root (a deploy hook runs as root)")
            }
            return resolved
        }
        certificate = try member("cert.pem", required: true)!
        chain = try member("chain.pem", required: false)
        privateKey = try member("privkey.pem", required: true)!
    }

    /// The file type behind `path`, links followed; nil when nothing is there (or a link dangles).
    private static func kind(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }
}
