import Foundation

extension Importer {
    /// The files of a certbot lineage (`/etc/letsencrypt/live/NAME`): `fullchain.pem` (the certificate and its chain)
    /// and `privkey.pem` (its key), which certbot keeps as links to the newest files of `archive/NAME/`. What
    /// `import --certbot-lineage` and `dist/certbot/deploy-hook` (certbot's `--deploy-hook`, `$RENEWED_LINEAGE`) import.
    public static func certbotLineageFiles(_ directory: String) throws -> [String] {
        let folder = URL(fileURLWithPath: directory)
        let files = ["fullchain.pem", "privkey.pem"].map { folder.appendingPathComponent($0).path }
        for file in files where !FileManager.default.isReadableFile(atPath: file) {
            throw CertStoreError(.inputUnreadable, "\(file) is missing or unreadable: \(directory) is not a certbot lineage",
                                 hint: "give the lineage's live directory, e.g. /etc/letsencrypt/live/mail.example.org (certbot certificates lists them)")
        }
        return files
    }
}
