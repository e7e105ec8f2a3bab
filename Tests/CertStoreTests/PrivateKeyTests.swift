import COpenSSL
import Foundation
import Testing
@testable import CertStore

@Suite("PrivateKey")
struct PrivateKeyTests {
    @Test("unencrypted formats load and match their certificate", arguments: [
        ("leaf.key", "leaf.pem", "EC", 256),         // PKCS#8 PEM
        ("leaf.key.der", "leaf.pem", "EC", 256),     // PKCS#8 DER
        ("leaf-sec1.pem", "leaf.pem", "EC", 256),    // "EC PRIVATE KEY"
        ("leaf-sec1.der", "leaf.pem", "EC", 256),    // SEC1 DER
        ("rsa.key", "rsa.pem", "RSA", 2048),         // PKCS#8 PEM
        ("rsa-trad.pem", "rsa.pem", "RSA", 2048),    // "RSA PRIVATE KEY"
        ("ed25519.key", "ed25519.pem", "ED25519", 256),
    ])
    func unencrypted(keyFile: String, certificateFile: String, type: String, bits: Int) throws {
        let fx = try Fixtures.get()
        let key = try PrivateKey(bytes: try fx.bytes(keyFile), password: nil)
        let certificate = try fx.certificate(certificateFile)
        #expect(key.typeName == type)
        #expect(key.bits == bits)
        #expect(certificate.matches(key))
        #expect(key.publicKeyIdentifier == certificate.publicKeyIdentifier)
        #expect(key.isConsistent)
    }

    @Test("the traditional RSA PEM really is the traditional form")
    func traditionalRSAFixture() throws {
        #expect(try Fixtures.get().text("rsa-trad.pem").hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        #expect(try Fixtures.get().text("leaf-sec1.pem").hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
    }

    @Test("a password given for an unencrypted key is ignored")
    func passwordForPlainKey() throws {
        let fx = try Fixtures.get()
        let key = try PrivateKey(bytes: try fx.bytes("leaf.key"), password: Password("unused"))
        #expect(try fx.certificate("leaf.pem").matches(key))
    }

    @Test("encrypted keys open with the right password", arguments: ["leaf-enc.pem", "leaf-enc.der", "leaf-trad-enc.pem"])
    func encryptedRightPassword(file: String) throws {
        let fx = try Fixtures.get()
        let key = try PrivateKey(bytes: try fx.bytes(file), password: Password(Fixtures.keyPassword))
        #expect(try fx.certificate("leaf.pem").matches(key))
        #expect(key.publicKeyIdentifier == (try fx.key("leaf.key").publicKeyIdentifier))
    }

    @Test("encrypted keys without a password: passwordRequired", arguments: ["leaf-enc.pem", "leaf-enc.der", "leaf-trad-enc.pem"])
    func encryptedNoPassword(file: String) throws {
        let bytes = try Fixtures.get().bytes(file)
        let error = try #require(throws: CertStoreError.self) { try PrivateKey(bytes: bytes, password: nil) }
        #expect(error == .passwordRequired)
        #expect(error.isPasswordRequired)
        #expect(error.kind == .badData)
    }

    @Test("encrypted keys with a wrong password: bad data, \"wrong password…\"", arguments: ["leaf-enc.pem", "leaf-enc.der", "leaf-trad-enc.pem"])
    func encryptedWrongPassword(file: String) throws {
        let bytes = try Fixtures.get().bytes(file)
        let error = try #require(throws: CertStoreError.self) { try PrivateKey(bytes: bytes, password: Password("not-it")) }
        #expect(error.kind == .badData)
        #expect(error.message.hasPrefix("wrong password"))
        #expect(!error.isPasswordRequired)
    }

    @Test("the iteration limit applies to encrypted PKCS#8 (openssl's default is 2048)", arguments: ["leaf-enc.pem", "leaf-enc.der"])
    func iterationLimit(file: String) throws {
        let bytes = try Fixtures.get().bytes(file)
        let tight = Limits(maxIterations: 2047, maxFileSize: 1 << 20)
        let error = try #require(throws: CertStoreError.self) {
            try PrivateKey(bytes: bytes, password: Password(Fixtures.keyPassword), limits: tight)
        }
        #expect(error.kind == .badData)
        #expect(error.message.contains("2048"))
        #expect(error.message.contains("iterations"))
        // The limit is checked before the password question.
        let noPassword = try #require(throws: CertStoreError.self) { try PrivateKey(bytes: bytes, password: nil, limits: tight) }
        #expect(noPassword.message.contains("iterations"))

        let exact = Limits(maxIterations: 2048, maxFileSize: 1 << 20)
        _ = try PrivateKey(bytes: bytes, password: Password(Fixtures.keyPassword), limits: exact)
    }

    @Test("matches is false for another key", arguments: [
        ("leaf.pem", "other.key"), ("leaf.pem", "rsa.key"), ("rsa.pem", "leaf.key"), ("ca.pem", "leaf.key"),
    ])
    func mismatch(certificateFile: String, keyFile: String) throws {
        let fx = try Fixtures.get()
        let certificate = try fx.certificate(certificateFile), key = try fx.key(keyFile)
        #expect(!certificate.matches(key))
        #expect(certificate.publicKeyIdentifier != key.publicKeyIdentifier)
    }

    @Test("isConsistent is false when the private half does not produce the public half")
    func inconsistent() throws {
        let fx = try Fixtures.get()
        let key = try PrivateKey(bytes: try fx.inconsistentKeyDER(), password: nil)
        #expect(!key.isConsistent)
        // Its public half is other.pem's, so the certificate-level comparison alone cannot tell.
        #expect(key.publicKeyIdentifier == (try fx.certificate("other.pem").publicKeyIdentifier))
        #expect(try fx.key("other.key").isConsistent)
    }

    @Test("pkcs8PEM writes unencrypted PKCS#8 that reads back as the same key", arguments: ["leaf-sec1.pem", "rsa-trad.pem"])
    func pkcs8RoundTrip(file: String) throws {
        let fx = try Fixtures.get()
        let key = try fx.key(file)
        let pem = try key.pkcs8PEM()
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let again = try PrivateKey(bytes: pem, password: nil)
        #expect(again.publicKeyIdentifier == key.publicKeyIdentifier)
        #expect(again.isConsistent)
    }

    @Test("Password.matches compares the bytes")
    func passwordMatches() {
        #expect(Password("abc").matches(Password("abc")))
        #expect(Password("").matches(Password(bytes: [])))
        #expect(!Password("abc").matches(Password("abd")))
        #expect(!Password("abc").matches(Password("abcd")))
        #expect(Password("Zürich").matches(Password(bytes: Array("Zürich".utf8))))
        #expect(Password("").isEmpty && !Password("x").isEmpty)
    }

    @Test("input that is no key is bad data", arguments: [0, 1, 2, 3])
    func notAKey(variant: Int) throws {
        let fx = try Fixtures.get()
        let input: [UInt8] = switch variant {
        case 0: []
        case 1: pseudoRandomBytes(count: 300, seed: 7)
        case 2: try fx.bytes("leaf.pem")        // a certificate
        default: Array(try fx.bytes("leaf.key.der").dropLast(10))
        }
        let error = try #require(throws: CertStoreError.self) { try PrivateKey(bytes: input, password: nil) }
        #expect(error.kind == .badData)
        #expect(error.message.hasPrefix("not a private key"))
    }

    @Test("one reused key-file decoder reads key after key, whatever came before")
    func reusedDecoder() throws {
        let fx = try Fixtures.get()
        let decoder = StoredKeyDecoder()
        let inputs: [(file: String?, bytes: [UInt8], readable: Bool)] = [
            ("leaf.key", try fx.bytes("leaf.key"), true),
            (nil, pseudoRandomBytes(count: 300, seed: 9), false),
            ("rsa.key", try fx.bytes("rsa.key"), true),
            ("leaf-enc.pem", try fx.bytes("leaf-enc.pem"), false),   // encrypted: refused, never prompts
            ("ed25519.key", try fx.bytes("ed25519.key"), true),
            ("other.key", try fx.bytes("other.key"), true),
            ("leaf.key", try fx.bytes("leaf.key"), true),
        ]
        for input in inputs {
            let key = decoder.decode(input.bytes)
            #expect((key != nil) == input.readable, "\(input.file ?? "noise")")
            if let key, let file = input.file {
                let expected = try fx.key(file)
                #expect(key.publicKeyIdentifier == expected.publicKeyIdentifier)
                #expect(key.typeName == expected.typeName)
                #expect(key.isConsistent)
            }
        }
    }

    @Test("EC consistency on prime-order curves agrees with OpenSSL's pairwise check", arguments: ["p256", "p384", "p521", "secp256k1"])
    func ecConsistency(curve: String) throws {
        let directory = try PublicKeyIdentifierTests.made.get()
        let key = try PrivateKey(bytes: Array(try Data(contentsOf: directory.appendingPathComponent("\(curve).key"))), password: nil)
        let context = try #require(EVP_PKEY_CTX_new_from_pkey(nil, key.pkey, nil))
        defer { EVP_PKEY_CTX_free(context) }
        #expect(EVP_PKEY_pairwise_check(context) == 1)
        // secp256k1 is not one of the curves the fast check covers: OpenSSL's check runs instead.
        #expect(key.ecPairwiseConsistent() == (curve == "secp256k1" ? nil : true))
        #expect(key.isConsistent)
    }

    @Test("EC consistency: a private scalar that does not produce the public point is refused, as OpenSSL refuses it")
    func ecInconsistent() throws {
        let key = try PrivateKey(bytes: try Fixtures.get().inconsistentKeyDER(), password: nil)
        #expect(key.ecPairwiseConsistent() == false)
        let context = try #require(EVP_PKEY_CTX_new_from_pkey(nil, key.pkey, nil))
        defer { EVP_PKEY_CTX_free(context) }
        #expect(EVP_PKEY_pairwise_check(context) != 1)
    }
}
