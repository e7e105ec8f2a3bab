import Foundation
import Testing
@testable import CertStore

private let password = Password(Fixtures.pfxPassword)

@Suite("PKCS12File")
struct PKCS12FileTests {
    @Test("leaf and key from openssl pkcs12 -export", arguments: [
        "modern.pfx",   // PBES2/AES-256, SHA-256 MAC
        "legacy.pfx",   // -legacy: RC2-40 certificates, 3DES key
        "des3.pfx",     // 3DES everywhere, SHA-1 MAC
        "iter-key.pfx", "iter-cert.pfx", "iter-mac.pfx",
    ])
    func leafAndKey(file: String) throws {
        let fx = try Fixtures.get()
        let pfx = try PKCS12File(der: try fx.bytes(file), password: password)
        let leaf = try fx.certificate("leaf.pem")
        #expect(pfx.certificates.map(\.certificate.thumbprint) == [leaf.thumbprint])
        #expect(pfx.keys.count == 1)
        let key = try #require(pfx.keys.first).key
        #expect(leaf.matches(key))
        #expect(key.isConsistent)
        // openssl ties the two bags together with the same localKeyID.
        #expect(pfx.certificates.first?.localKeyID != nil)
        #expect(pfx.certificates.first?.localKeyID == pfx.keys.first?.localKeyID)
    }

    @Test("a chain (-certfile) and a Unicode friendly name (-name \"Zürich Mail\")")
    func chainAndFriendlyName() throws {
        let fx = try Fixtures.get()
        let pfx = try PKCS12File(der: try fx.bytes("chain.pfx"), password: password)
        let leaf = try fx.certificate("leaf.pem"), ca = try fx.certificate("ca.pem")
        #expect(Set(pfx.certificates.map(\.certificate.thumbprint)) == [leaf.thumbprint, ca.thumbprint])
        let leafBag = try #require(pfx.certificates.first { $0.certificate.thumbprint == leaf.thumbprint })
        let caBag = try #require(pfx.certificates.first { $0.certificate.thumbprint == ca.thumbprint })
        #expect(leafBag.friendlyName == "Zürich Mail")
        #expect(caBag.friendlyName == nil)
        #expect(pfx.keys.count == 1)
        #expect(pfx.keys.first?.friendlyName == "Zürich Mail")
        #expect(leaf.matches(try #require(pfx.keys.first).key))
    }

    @Test("an empty password (-passout pass:) opens with none given or the empty one")
    func emptyPassword() throws {
        let bytes = try Fixtures.get().bytes("empty-password.pfx")
        for given in [nil, Password("")] {
            let pfx = try PKCS12File(der: bytes, password: given)
            #expect(pfx.certificates.count == 1)
            #expect(pfx.keys.count == 1)
        }
        let error = try #require(throws: CertStoreError.self) { try PKCS12File(der: bytes, password: Password("x")) }
        #expect(error.message.hasPrefix("wrong password or damaged file"))
    }

    @Test("a non-ASCII password")
    func unicodePassword() throws {
        let pfx = try PKCS12File(der: try Fixtures.get().bytes("unicode-password.pfx"), password: Password(Fixtures.unicodePassword))
        #expect(pfx.keys.count == 1)
    }

    @Test("certificate-only (-nokeys) and key-only (-nocerts) files")
    func halves() throws {
        let fx = try Fixtures.get()
        let certOnly = try PKCS12File(der: try fx.bytes("cert-only.pfx"), password: password)
        #expect(certOnly.certificates.map(\.certificate.thumbprint) == [try fx.certificate("leaf.pem").thumbprint])
        #expect(certOnly.keys.isEmpty)

        let keyOnly = try PKCS12File(der: try fx.bytes("key-only.pfx"), password: password)
        #expect(keyOnly.certificates.isEmpty)
        #expect(keyOnly.keys.count == 1)
        #expect(try fx.certificate("leaf.pem").matches(try #require(keyOnly.keys.first).key))
    }

    @Test("a file with no MAC and no encryption needs no password")
    func unprotected() throws {
        let pfx = try PKCS12File(der: try Fixtures.get().bytes("unprotected.pfx"), password: nil)
        #expect(pfx.certificates.count == 1)
        #expect(pfx.keys.count == 1)
    }

    @Test("encrypted contents without a MAC: the right password opens it")
    func encryptedWithoutMAC() throws {
        let pfx = try PKCS12File(der: try Fixtures.get().bytes("encrypted-no-mac.pfx"), password: password)
        #expect(pfx.certificates.count == 1)
        #expect(pfx.keys.count == 1)
    }

    @Test("encrypted contents without a MAC and no password given: passwordRequired")
    func encryptedWithoutMACNoPassword() throws {
        let bytes = try Fixtures.get().bytes("encrypted-no-mac.pfx")
        let error = try #require(throws: CertStoreError.self) { try PKCS12File(der: bytes, password: nil) }
        #expect(error == .passwordRequired)
    }

    @Test("encrypted contents without a MAC and a wrong password: \"wrong password or damaged file\"")
    func encryptedWithoutMACWrongPassword() throws {
        let bytes = try Fixtures.get().bytes("encrypted-no-mac.pfx")
        let error = try #require(throws: CertStoreError.self) { try PKCS12File(der: bytes, password: Password("wrong")) }
        #expect(error.kind == .badData)
        #expect(error.message.hasPrefix("wrong password or damaged file"))
    }

    @Test("a wrong password", arguments: ["modern.pfx", "legacy.pfx", "des3.pfx", "cert-only.pfx", "key-only.pfx"])
    func wrongPassword(file: String) throws {
        let bytes = try Fixtures.get().bytes(file)
        let error = try #require(throws: CertStoreError.self) { try PKCS12File(der: bytes, password: Password("wrong")) }
        #expect(error.kind == .badData)
        #expect(error.message.hasPrefix("wrong password or damaged file"))
        #expect(!error.isPasswordRequired)
    }

    @Test("no password for a protected file: passwordRequired", arguments: ["modern.pfx", "legacy.pfx", "des3.pfx", "chain.pfx"])
    func passwordRequired(file: String) throws {
        let bytes = try Fixtures.get().bytes(file)
        let error = try #require(throws: CertStoreError.self) { try PKCS12File(der: bytes, password: nil) }
        #expect(error == .passwordRequired)
        #expect(error.kind == .badData)
    }

    @Test("truncated and random bytes are bad data", arguments: [0, 1, 2, 3])
    func damaged(variant: Int) throws {
        let bytes = try Fixtures.get().bytes("modern.pfx")
        let input: [UInt8] = switch variant {
        case 0: Array(bytes.prefix(bytes.count / 2))
        case 1: Array(bytes.dropLast(1))
        case 2: pseudoRandomBytes(count: 2_000, seed: 1234)
        default: []
        }
        let error = try #require(throws: CertStoreError.self) { try PKCS12File(der: input, password: password) }
        #expect(error.kind == .badData)
    }

    @Test("a flipped byte inside the MAC-protected contents fails the MAC check")
    func tampered() throws {
        var bytes = try Fixtures.get().bytes("modern.pfx")
        bytes[bytes.count / 2] ^= 0x01
        let error = try #require(throws: CertStoreError.self) { try PKCS12File(der: bytes, password: password) }
        #expect(error.kind == .badData)
    }

    @Test("the iteration limit is checked where the iterations are", arguments: ["iter-key.pfx", "iter-cert.pfx", "iter-mac.pfx", "modern.pfx"])
    func iterationLimit(file: String) throws {
        let bytes = try Fixtures.get().bytes(file)
        let count = file == "modern.pfx" ? 2048 : 3000
        let below = Limits(maxIterations: count - 1, maxFileSize: 1 << 20)
        let error = try #require(throws: CertStoreError.self) { try PKCS12File(der: bytes, password: password, limits: below) }
        #expect(error.kind == .badData)
        #expect(error.message.contains("\(count) key-derivation iterations"))
        #expect(error.message.contains("limit of \(count - 1)"))
        #expect(error.hint?.contains("--max-iterations") == true)

        let exact = Limits(maxIterations: count, maxFileSize: 1 << 20)
        #expect(try PKCS12File(der: bytes, password: password, limits: exact).keys.count == 1)
    }

    @Test("2,000,000 MAC iterations: refused at once by the default limit, accepted by a larger one")
    func hugeIterations() throws {
        let bytes = [UInt8](try Data(contentsOf: try Fixtures.hugeIterationPFX()))
        #expect(Limits.default.maxIterations == 1_000_000)
        let clock = ContinuousClock()
        var error: CertStoreError?
        let elapsed = clock.measure {
            error = #expect(throws: CertStoreError.self) { try PKCS12File(der: bytes, password: password) }
        }
        #expect(error?.message.contains("iterations") == true)
        #expect(error?.message.contains("2000000") == true)
        // Deriving the key would take about a second; the refusal comes before any derivation.
        #expect(elapsed < .milliseconds(500))

        let generous = Limits(maxIterations: 2_000_000, maxFileSize: 1 << 20)
        #expect(try PKCS12File(der: bytes, password: password, limits: generous).keys.count == 1)
    }

    @Test("looksLikePKCS12")
    func sniffing() throws {
        let fx = try Fixtures.get()
        #expect(PKCS12File.looksLikePKCS12(try fx.bytes("modern.pfx")))
        #expect(!PKCS12File.looksLikePKCS12(try fx.bytes("leaf.der")))
        #expect(!PKCS12File.looksLikePKCS12(try fx.bytes("leaf.key.der")))
        #expect(!PKCS12File.looksLikePKCS12([0x30, 0x03, 0x02, 0x01, 0x03]))
    }
}

@Suite("PKCS12Writer")
struct PKCS12WriterTests {
    @Test("round trip through PKCS12File and openssl pkcs12 -info", arguments: PKCS12Writer.Encryption.allCases)
    func roundTrip(encryption: PKCS12Writer.Encryption) throws {
        let fx = try Fixtures.get()
        let leaf = try fx.certificate("leaf.pem"), ca = try fx.certificate("ca.pem"), key = try fx.key("leaf.key")
        let out = try PKCS12Writer.create(key: key, certificate: leaf, chain: [ca], password: Password("export-pw"),
                                          friendlyName: "Zürich Mail", encryption: encryption)

        let back = try PKCS12File(der: out, password: Password("export-pw"))
        #expect(Set(back.certificates.map(\.certificate.thumbprint)) == [leaf.thumbprint, ca.thumbprint])
        #expect(back.certificates.first { $0.certificate.thumbprint == leaf.thumbprint }?.friendlyName == "Zürich Mail")
        #expect(back.keys.count == 1)
        #expect(leaf.matches(try #require(back.keys.first).key))
        let noPassword = try #require(throws: CertStoreError.self) { try PKCS12File(der: out, password: nil) }
        #expect(noPassword == .passwordRequired)

        let file = try Scratch.makeDirectory("writer").appendingPathComponent("out.pfx")
        try Data(out).write(to: file)
        let info = try fx.opensslAllOutput("pkcs12", "-in", file.path, "-info", "-noout", "-passin", "pass:export-pw")
        switch encryption {
        case .modern:
            #expect(info.contains("PBES2, PBKDF2, AES-256-CBC, Iteration 2048"))
            #expect(!info.contains("TripleDES"))
        case .legacy:
            #expect(info.contains("MAC: sha1, Iteration 2048"))
            #expect(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"))
            #expect(!info.contains("PBES2"))
        }
        #expect(throws: ToolFailure.self) {
            try fx.openssl("pkcs12", "-in", file.path, "-info", "-noout", "-passin", "pass:wrong")
        }
    }

    @Test("modern export uses an HMAC-SHA256 MAC, as documented")
    func modernMAC() throws {
        let fx = try Fixtures.get()
        let out = try PKCS12Writer.create(key: try fx.key("leaf.key"), certificate: try fx.certificate("leaf.pem"), chain: [],
                                          password: Password("pw"), friendlyName: nil, encryption: .modern)
        let file = try Scratch.makeDirectory("writer").appendingPathComponent("out.pfx")
        try Data(out).write(to: file)
        let info = try fx.opensslAllOutput("pkcs12", "-in", file.path, "-info", "-noout", "-passin", "pass:pw")
        #expect(info.contains("MAC: sha256, Iteration 2048"))
    }

    @Test("an empty friendly name writes none; RSA keys work too")
    func noFriendlyName() throws {
        let fx = try Fixtures.get()
        let out = try PKCS12Writer.create(key: try fx.key("rsa.key"), certificate: try fx.certificate("rsa.pem"), chain: [],
                                          password: Password("pw"), friendlyName: "", encryption: .legacy)
        let back = try PKCS12File(der: out, password: Password("pw"))
        #expect(back.certificates.count == 1)
        #expect(back.certificates.first?.friendlyName == nil)
        #expect(back.keys.first?.key.typeName == "RSA")
    }
}
