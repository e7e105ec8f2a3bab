import Foundation
import Testing

/// The KB 4495258 mail server, built from scratch with openssl and the real binary:
///
/// * the CA `CN=Contoso Issuing CA 1` trusted in `LocalMachine/Root`;
/// * `CN=EXCH01`, self-signed, with its key, enabled for SMTP, IIS, IMAP and POP (the default SMTP certificate);
/// * `mail.contoso.com` from the CA, imported as a bare `.cer`: in the store, no private key;
/// * its renewed twin (same subject and issuer, a new key), made up front but imported only by `importTwin()`,
///   as a `.pfx`, so it comes *after* the keyless one in store (import) order;
/// * the send connector "Outbound to Office 365" whose TLSCertificateName is `<I>issuer<S>subject`.
struct KBMachine {
    static let connector = "Outbound to Office 365"

    let t: TestDirectory
    let pki: TestPKI
    let exch01: TestPKI.Cert
    let keyless: TestPKI.Cert
    let twin: TestPKI.Cert

    var args: [String] { t.rootArgs }
    var tlsCertificateName: String { "<I>\(TestPKI.caName)<S>\(TestPKI.mailName)" }
    var location: URL { t.root.appendingPathComponent("LocalMachine", isDirectory: true) }
    var bindingsFile: URL { location.appendingPathComponent("bindings.json") }
    var connectorsFile: URL { location.appendingPathComponent("connectors.json") }
    func cerFile(_ thumbprint: String, store: String = "My") -> URL { t.storeDirectory(store).appendingPathComponent("\(thumbprint).cer") }
    func jsonFile(_ thumbprint: String, store: String = "My") -> URL { t.storeDirectory(store).appendingPathComponent("\(thumbprint).json") }

    enum Connector { case none, tlsCertificateName, fromCertificate }

    /// Builds the machine. `twinFirst` imports the renewed twin *before* the keyless certificate instead of
    /// leaving it for `importTwin()`.
    static func build(_ label: String, connector: Connector = .tlsCertificateName, twinFirst: Bool = false,
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> KBMachine {
        let t = try TestDirectory(label)
        let pki = try TestPKI(in: t.path("pki"))
        let exch01 = try pki.issue("exch01", subject: "/CN=EXCH01", days: 1825, dnsNames: ["EXCH01", "exch01.contoso.local"], selfSigned: true)
        let keyless = try pki.issue("mail-old", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        let twin = try pki.issue("mail-new", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        let machine = KBMachine(t: t, pki: pki, exch01: exch01, keyless: keyless, twin: twin)
        let args = t.rootArgs

        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + args, sourceLocation: sourceLocation)
        try certstore(expecting: 0, ["import", try pki.withKey(exch01).path] + args, sourceLocation: sourceLocation)
        if twinFirst { try machine.importTwin(sourceLocation: sourceLocation) }
        // On purpose: the KB machine's keyless certificate (certstore refuses it without --allow-keyless).
        let bare = try certstore(expecting: 0, ["import", try pki.cer(keyless).path, "--allow-keyless"] + args, sourceLocation: sourceLocation)
        #expect(bare.stdout.contains("Added"), "\(bare)", sourceLocation: sourceLocation)

        let enabled = try certstore(expecting: 0, ["enable", exch01.thumbprint, "--services", "SMTP,IIS,IMAP,POP"] + args,
                                    sourceLocation: sourceLocation)
        #expect(enabled.stdout.contains("Default SMTP certificate: \(exch01.thumbprint) (first SMTP certificate)"), "\(enabled)",
                sourceLocation: sourceLocation)

        switch connector {
        case .none: break
        case .tlsCertificateName:
            try certstore(expecting: 0, ["connector", "add", Self.connector, "--tls-certificate-name", machine.tlsCertificateName] + args,
                          sourceLocation: sourceLocation)
        case .fromCertificate:
            try certstore(expecting: 0, ["connector", "add", Self.connector, "--from-certificate", keyless.thumbprint] + args,
                          sourceLocation: sourceLocation)
        }
        return machine
    }

    /// Imports the renewed twin with its key (a `.pfx` with the CA, empty password).
    @discardableResult
    func importTwin(sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result = try certstore(expecting: 0, ["import", try pki.pfx(twin).path] + args, sourceLocation: sourceLocation)
        #expect(result.stdout.contains(twin.thumbprint), "\(result)", sourceLocation: sourceLocation)
        return result
    }

    /// `connector resolve --format json` of the KB connector.
    func resolve(expecting status: Int32? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> (CommandResult, [String: Any]) {
        let result = try certstore(["connector", "resolve", Self.connector, "--format", "json"] + args, sourceLocation: sourceLocation)
        if let status { #expect(result.status == status, "expected exit \(status):\n\(result)", sourceLocation: sourceLocation) }
        return (result, try parseJSONObject(result.stdout))
    }

    /// `bindings --format json` → `defaultSmtpCertificate` (nil when none).
    func defaultSmtpCertificate(sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        let result = try certstore(expecting: 0, ["bindings", "--format", "json"] + args, sourceLocation: sourceLocation)
        return try parseJSONObject(result.stdout)["defaultSmtpCertificate"] as? String
    }

    /// Thumbprints bound to SMTP, from `bindings --format json`.
    func smtpThumbprints(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        let result = try certstore(expecting: 0, ["bindings", "--format", "json"] + args, sourceLocation: sourceLocation)
        let services = try parseJSONObject(result.stdout)["services"] as? [String: Any]
        return (services?["SMTP"] as? [[String: Any]] ?? []).compactMap { $0["thumbprint"] as? String }
    }

    /// `audit --format json` (any exit status; callers check it).
    func audit(_ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> (CommandResult, [String: Any]) {
        let result = try certstore(["audit", "--format", "json"] + extra + args, sourceLocation: sourceLocation)
        return (result, try parseJSONObject(result.stdout))
    }

    func snapshot() throws -> DirectorySnapshot { try DirectorySnapshot.take(t.root) }

    /// Every path, mode and byte under the root is as in `before`.
    func expectUnchanged(_ before: DirectorySnapshot, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let after = try snapshot()
        #expect(after == before, "the store changed:\n\(before.differences(to: after))", sourceLocation: sourceLocation)
    }
}

/// The findings of an `audit --format json` report.
func auditFindings(_ report: [String: Any]) -> [[String: Any]] { report["findings"] as? [[String: Any]] ?? [] }

/// The trash ID from "In the trash as ID; undo with: …".
func trashID(in output: String) -> String? {
    guard let start = output.range(of: "In the trash as ") else { return nil }
    let rest = output[start.upperBound...]
    guard let end = rest.firstIndex(of: ";") else { return nil }
    return String(rest[..<end])
}
