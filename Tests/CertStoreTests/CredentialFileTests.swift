import Foundation
import Testing
@testable import CertStore

@Suite("CredentialFile")
struct CredentialFileTests {
    static func read(_ name: String, password: String? = nil, limits: Limits = .default) throws -> CredentialFile {
        try CredentialFile(bytes: try Fixtures.get().bytes(name), password: password.map(Password.init), limits: limits)
    }

    static func thumbprints(_ file: CredentialFile) -> [Thumbprint] { file.certificates.map(\.value.thumbprint) }

    @Test("recognised formats", arguments: [
        // file, format, certificates (leaf/ca), keys
        ("leaf-bundle.pem", CredentialFile.Format.pem, ["leaf.pem"], 1),
        ("two-certs.pem", .pem, ["leaf.pem", "ca.pem"], 0),
        ("leaf.pem", .pem, ["leaf.pem"], 0),
        ("leaf-text.pem", .pem, ["leaf.pem"], 0),       // `openssl x509 -text` output around the PEM
        ("ca-trusted.pem", .pem, ["ca.pem"], 0),        // BEGIN TRUSTED CERTIFICATE
        ("leaf.key", .pem, [], 1),
        ("rsa-trad.pem", .pem, [], 1),
        ("leaf.der", .der, ["leaf.pem"], 0),
        ("bundle.p7b", .pkcs7, ["leaf.pem", "ca.pem"], 0),
        ("bundle-der.p7b", .pkcs7, ["leaf.pem", "ca.pem"], 0),
        ("leaf.key.der", .derKey, [], 1),
        ("leaf-sec1.der", .derKey, [], 1),
        ("unprotected.pfx", .pkcs12, ["leaf.pem"], 1),
    ])
    func formats(file: String, format: CredentialFile.Format, certificates: [String], keys: Int) throws {
        let fx = try Fixtures.get()
        let credential = try Self.read(file)
        #expect(credential.format == format)
        #expect(Self.thumbprints(credential) == (try certificates.map { try fx.certificate($0).thumbprint }))
        #expect(credential.keys.count == keys)
        if keys == 1, file.hasPrefix("leaf") || file.hasSuffix(".pfx") {
            #expect(try fx.certificate("leaf.pem").matches(try #require(credential.keys.first).value))
        }
    }

    @Test("PKCS#12 with a password, friendly names carried through")
    func pkcs12() throws {
        let credential = try Self.read("chain.pfx", password: Fixtures.pfxPassword)
        #expect(credential.format == .pkcs12)
        #expect(credential.certificates.count == 2)
        #expect(credential.keys.count == 1)
        #expect(credential.certificates.contains { $0.friendlyName == "Zürich Mail" })
        #expect(credential.keys.first?.friendlyName == "Zürich Mail")
    }

    @Test("protected files without a password: passwordRequired", arguments: ["modern.pfx", "leaf-enc.pem", "leaf-enc.der", "leaf-trad-enc.pem"])
    func passwordRequired(file: String) throws {
        let error = try #require(throws: CertStoreError.self) { try Self.read(file) }
        #expect(error == .passwordRequired)
    }

    @Test("encrypted keys with the right password", arguments: ["leaf-enc.pem", "leaf-enc.der", "leaf-trad-enc.pem"])
    func encryptedKeys(file: String) throws {
        let credential = try Self.read(file, password: Fixtures.keyPassword)
        #expect(credential.keys.count == 1)
        #expect(try Fixtures.get().certificate("leaf.pem").matches(try #require(credential.keys.first).value))
    }

    @Test("encrypted keys with a wrong password", arguments: ["leaf-enc.pem", "leaf-enc.der", "leaf-trad-enc.pem"])
    func encryptedKeysWrongPassword(file: String) throws {
        let error = try #require(throws: CertStoreError.self) { try Self.read(file, password: "nope") }
        #expect(error.kind == .badData)
        #expect(error.message.contains("wrong password"))
    }

    @Test("PEM with Windows line endings")
    func crlf() throws {
        let fx = try Fixtures.get()
        let text = try fx.text("leaf-bundle.pem").replacingOccurrences(of: "\n", with: "\r\n")
        let credential = try CredentialFile(bytes: Array(text.utf8), password: nil)
        #expect(Self.thumbprints(credential) == [try fx.certificate("leaf.pem").thumbprint])
        #expect(credential.keys.count == 1)
    }

    @Test("a CSR alone: no certificate or private key")
    func csrOnly() throws {
        let error = try #require(throws: CertStoreError.self) { try Self.read("leaf.csr") }
        #expect(error.kind == .badData)
        #expect(error.message.contains("no certificate or private key"))
        #expect(error.message.contains("CERTIFICATE REQUEST"))
    }

    @Test("an empty file")
    func empty() throws {
        let error = try #require(throws: CertStoreError.self) { try CredentialFile(bytes: [], password: nil) }
        #expect(error.kind == .badData)
        #expect(error.message.contains("empty"))
    }

    @Test("garbage is unrecognised", arguments: [1, 2, 3])
    func garbage(seed: UInt64) throws {
        var bytes = pseudoRandomBytes(count: 1_000, seed: seed)
        bytes[0] = 0x30  // even when it starts like a DER SEQUENCE
        let error = try #require(throws: CertStoreError.self) { try CredentialFile(bytes: bytes, password: nil) }
        #expect(error.kind == .badData)
    }

    @Test("plain text is unrecognised")
    func text() throws {
        let error = try #require(throws: CertStoreError.self) {
            try CredentialFile(bytes: Array("hello, this is not a certificate\n".utf8), password: nil)
        }
        #expect(error.kind == .badData)
        #expect(error.message.hasPrefix("unrecognised or damaged file"))
    }

    @Test("a PEM header with no complete block")
    func incompletePEM() throws {
        let fx = try Fixtures.get()
        let truncated = Array(try fx.bytes("leaf.pem").dropLast(30))
        let error = try #require(throws: CertStoreError.self) { try CredentialFile(bytes: truncated, password: nil) }
        #expect(error.kind == .badData)
        #expect(error.message.contains("no complete PEM block"))
    }

    @Test("a damaged certificate in a PEM names the block")
    func damagedPEMCertificate() throws {
        let fx = try Fixtures.get()
        let der = try fx.bytes("leaf.der")
        let damaged = Fixtures.pem(Array(der.prefix(der.count - 20)), label: "CERTIFICATE") + (try fx.bytes("leaf.key"))
        let error = try #require(throws: CertStoreError.self) { try CredentialFile(bytes: damaged, password: nil) }
        #expect(error.kind == .badData)
        #expect(error.message.hasPrefix("PEM block 1 (CERTIFICATE)"))
    }

    @Test("files above the size limit are refused before parsing")
    func sizeLimit() throws {
        let bytes = try Fixtures.get().bytes("leaf.der")
        let error = try #require(throws: CertStoreError.self) {
            try CredentialFile(bytes: bytes, password: nil, limits: Limits(maxIterations: 1_000_000, maxFileSize: bytes.count - 1))
        }
        #expect(error.kind == .badData)
        #expect(error.message.contains("larger than the limit"))
        _ = try CredentialFile(bytes: bytes, password: nil, limits: Limits(maxIterations: 1_000_000, maxFileSize: bytes.count))
    }
}

/// Callers branch on what an error is (`CertStoreError.cause`), never on its message text; and only
/// `Sources/CertStore/Crypto/` speaks to OpenSSL.
@Suite("CredentialFile: typed errors, OpenSSL only in Crypto/")
struct CredentialFileStructureTests {
    @Test("only Sources/CertStore/Crypto/ imports COpenSSL")
    func openSSLOnlyInCrypto() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/CertStore")
        let files = try #require(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") && !$0.hasPrefix("Crypto/") }
        #expect(!files.isEmpty)
        let offenders = try files.filter { file in
            try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
                .split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces) == "import COpenSSL" }
        }
        #expect(offenders.isEmpty, "\(offenders)")
    }

    @Test("password and iteration errors carry their cause", arguments: [
        ("modern.pfx", nil, CertStoreError.Cause.passwordRequired), ("modern.pfx", "wrong", .wrongPassword),
        ("leaf-enc.der", nil, .passwordRequired), ("leaf-enc.der", "wrong", .wrongPassword),
        ("leaf-enc.pem", nil, .passwordRequired), ("encrypted-no-mac.pfx", "wrong", .wrongPassword),
    ] as [(String, String?, CertStoreError.Cause)])
    func causes(file: String, password: String?, cause: CertStoreError.Cause) throws {
        let error = try #require(throws: CertStoreError.self) { try CredentialFileTests.read(file, password: password) }
        #expect(error.cause == cause, "\(error.message)")
        #expect(error.kind == .badData)
    }

    @Test("an iteration count over the limit carries its cause, in PKCS#12 and in a DER key")
    func iterationCause() throws {
        let limits = Limits(maxIterations: 1000, maxFileSize: 1 << 20)
        for file in ["iter-key.pfx", "leaf-enc.der"] {
            let error = try #require(throws: CertStoreError.self) {
                try CredentialFileTests.read(file, password: file.hasSuffix(".pfx") ? Fixtures.pfxPassword : Fixtures.keyPassword, limits: limits)
            }
            #expect(error.cause == .iterationLimit, "\(file): \(error.message)")
        }
    }
}
