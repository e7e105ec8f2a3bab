import Foundation
import Testing
@testable import CertStore

/// The JOSE encoding the ACME client signs with, checked against RFC 7515 Appendix A.3 (the ES256 example key and
/// its JWS) and RFC 7638 (the JWK thumbprint; the value for the A.3 key was computed independently with joserfc).
@Suite("ACME: JWS (ES256) and JWK thumbprints")
struct ACMEJWSTests {
    /// RFC 7515 A.3's key (d = jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI) as PKCS#8.
    static let rfc7515KeyPEM = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjpsQnnGQmL+YBIff
        H1136cspYG6+0iY7X1fCE9+E9LKhRANCAAR/zc4ncPbEXUGDy+5v20t7WAczNXvp
        7xO6z248e9FURcfxRM0bvZt+hyzf7bnuufSzaV1uqQskrYpGIyiFiOWt
        -----END PRIVATE KEY-----
        """
    static let signingInput = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    static let signature = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

    func rfcKey() throws -> PrivateKey { try PrivateKey(bytes: Array(Self.rfc7515KeyPEM.utf8), password: nil) }

    @Test("the public key renders as RFC 7515 A.3's JWK, and its RFC 7638 thumbprint is the canonical JSON's SHA-256")
    func jwkAndThumbprint() throws {
        let signer = try JWSSigner(key: try rfcKey())
        #expect(signer.jwk.x == "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")
        #expect(signer.jwk.y == "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")
        #expect(signer.jwk.canonicalJSON == #"{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#)
        #expect(signer.jwk.thumbprint == "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U")
        // RFC 8555 §8.1 and §8.4: token.thumbprint, and the TXT value is its SHA-256, base64url.
        #expect(signer.keyAuthorization(token: "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA")
                == "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U")
        let value = signer.dnsValue(token: "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA")
        #expect(value == Base64URL.encode(Digest.sha256(Array("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U".utf8))))
        #expect(value.count == 43 && !value.contains("=") && !value.contains("+") && !value.contains("/"))
    }

    @Test("RFC 7515 A.3's r||s signature verifies with the key, and a signature of ours has that form and verifies")
    func signatureEncoding() throws {
        let key = try rfcKey()
        let rfcSignature = try #require(Base64URL.decode(Self.signature))
        #expect(rfcSignature.count == 64)
        #expect(key.verifiesES256(rfcSignature, of: Array(Self.signingInput.utf8)))
        var tampered = rfcSignature
        tampered[10] ^= 1
        #expect(!key.verifiesES256(tampered, of: Array(Self.signingInput.utf8)))
        for _ in 0..<20 {  // r or s with leading zero bytes must still be 32 bytes each
            let ours = try key.es256Signature(Array(Self.signingInput.utf8))
            #expect(ours.count == 64)
            #expect(key.verifiesES256(ours, of: Array(Self.signingInput.utf8)))
        }
    }

    @Test("a flattened JWS: protected header with jwk or kid (never both), payload, and a signature over both")
    func flattenedJWS() throws {
        let key = try rfcKey()
        let signer = try JWSSigner(key: key)
        func parts(_ data: Data) throws -> (header: [String: Any], payload: String, signature: [UInt8], input: String) {
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
            let protected = try #require(object["protected"]), payload = try #require(object["payload"])
            let headerBytes = try #require(Base64URL.decode(protected))
            let header = try #require(try JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any])
            let signatureText = try #require(object["signature"])
            let signature = try #require(Base64URL.decode(signatureText))
            return (header, payload, signature, "\(protected).\(payload)")
        }
        let withJWK = try parts(try signer.sign(payload: Data(#"{"termsOfServiceAgreed":true}"#.utf8), url: "https://ca/new-acct", nonce: "n1", key: .jwk))
        #expect(withJWK.header["alg"] as? String == "ES256")
        #expect(withJWK.header["nonce"] as? String == "n1")
        #expect(withJWK.header["url"] as? String == "https://ca/new-acct")
        #expect((withJWK.header["jwk"] as? [String: String])?["x"] == signer.jwk.x)
        #expect(withJWK.header["kid"] == nil)
        #expect(Base64URL.decode(withJWK.payload).map { String(decoding: $0, as: UTF8.self) } == #"{"termsOfServiceAgreed":true}"#)
        #expect(key.verifiesES256(withJWK.signature, of: Array(withJWK.input.utf8)))

        // POST-as-GET: the payload is the empty string (RFC 8555 §6.3), and the account URL is the kid.
        let asGet = try parts(try signer.sign(payload: nil, url: "https://ca/order/1", nonce: "n2", key: .kid("https://ca/acct/7")))
        #expect(asGet.payload == "")
        #expect(asGet.header["kid"] as? String == "https://ca/acct/7")
        #expect(asGet.header["jwk"] == nil)
        #expect(key.verifiesES256(asGet.signature, of: Array(asGet.input.utf8)))
    }

    @Test("only P-256 keys sign ES256")
    func refusesOtherKeys() throws {
        #expect(throws: CertStoreError.self) { try JWSSigner(key: try PrivateKey.generate(.ecP384)) }
        #expect(throws: CertStoreError.self) { try JWSSigner(key: try PrivateKey.generate(.rsa2048)) }
    }

    @Test("--http-01 parsing: standalone, standalone:PORT, webroot:DIR; anything else is a usage error")
    func http01Parsing() throws {
        #expect(try ChallengeMethod(http01: "standalone") == .standalone(port: 80))
        #expect(try ChallengeMethod(http01: "standalone:8080") == .standalone(port: 8080))
        #expect(try ChallengeMethod(http01: "webroot:/var/www/html") == .webroot(directory: "/var/www/html"))
        for bad in ["standalone:0", "standalone:x", "webroot:relative", "ftp", ""] {
            #expect(throws: CertStoreError.self, "\(bad)") { try ChallengeMethod(http01: bad) }
        }
    }
}

/// When `acme renew` renews: RFC 9773's certificate identifier and window, `--days`, and a third of the lifetime.
@Suite("ACME: renewal schedule (RFC 9773 ARI, a third of the lifetime, --days)")
struct RenewalScheduleTests {
    let day: TimeInterval = 86_400

    @Test("RFC 9773 §4.1's example: AKI 69:88:5B:… and serial 0x87654321 give aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    func certificateIdentifier() {
        let aki: [UInt8] = [0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4]
        // The serial's DER content octets: 0x87654321 needs a leading zero to stay positive.
        #expect(RenewalSchedule.certificateIdentifier(authorityKeyIdentifier: aki, serialNumber: [0x00, 0x87, 0x65, 0x43, 0x21])
                == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    }

    @Test("a certificate's serial octets for the identifier are the content octets .NET's SerialNumber shows")
    func serialOctets() throws {
        let key = try PrivateKey.generate(.ecP256)
        let name = try DistinguishedName(windowsForm: "CN=ari.example.com")
        let certificate = try Certificate.selfSigned(subject: name, dnsNames: ["ari.example.com"], key: key,
                                                     notBefore: Date(), notAfter: Date().addingTimeInterval(90 * day))
        let serial = certificate.serialNumberOctets
        #expect(!serial.isEmpty && serial.count <= 21)
        #expect(hexUpper(serial) == certificate.properties().serialNumber)
        #expect(serial[0] < 0x80, "a DER INTEGER's content octets of a positive serial start below 0x80")
    }

    @Test("RFC 9773 §4.2: due once the time chosen uniformly inside the suggested window has come")
    func renewalInfoWindow() {
        let notBefore = Date(timeIntervalSince1970: 1_700_000_000), notAfter = notBefore.addingTimeInterval(90 * day)
        let start = notBefore.addingTimeInterval(60 * day), end = notBefore.addingTimeInterval(62 * day)
        let before = RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: start.addingTimeInterval(-1), window: (start, end), fraction: 0)
        #expect(!before.due)
        let atStart = RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: start, window: (start, end), fraction: 0)
        #expect(atStart.due)
        let middle = RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: start.addingTimeInterval(day), window: (start, end), fraction: 0.75)
        #expect(!middle.due, "the chosen time is 1.5 days into the window")
        #expect(middle.dueFrom == start.addingTimeInterval(1.5 * day))
        let afterEnd = RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: end.addingTimeInterval(1), window: (start, end), fraction: 1)
        #expect(afterEnd.due)
        // A window in the past (the CA wants it replaced now, e.g. after a mass revocation) is due at once.
        let past = RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: notBefore.addingTimeInterval(day),
                                   window: (notBefore.addingTimeInterval(-2 * day), notBefore.addingTimeInterval(-day)), fraction: 0.5)
        #expect(past.due)
        if case .renewalInfo = past.basis {} else { Issue.record("the basis is the window: \(past.basis)") }
    }

    @Test("without a window: due with a third of the lifetime left (90 days: from day 60); --days N overrides")
    func lifetimeAndDays() {
        let notBefore = Date(timeIntervalSince1970: 1_700_000_000), notAfter = notBefore.addingTimeInterval(90 * day)
        #expect(!RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: notBefore.addingTimeInterval(59 * day)).due)
        let due = RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: notBefore.addingTimeInterval(60 * day))
        #expect(due.due)
        #expect(due.basis == .thirdOfLifetime)
        #expect(due.dueFrom == notBefore.addingTimeInterval(60 * day))
        let days = RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: notBefore.addingTimeInterval(10 * day), days: 85,
                                   window: (notAfter, notAfter.addingTimeInterval(day)))
        #expect(days.due, "85 days or fewer left, whatever the window says")
        #expect(days.basis == .days(85))
        #expect(!RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: notBefore.addingTimeInterval(10 * day), days: 30).due)
    }
}

@Suite("ACME: challenge tokens")
struct ACMETokenTests {
    @Test("only base64url bytes pass: a token with / or . (a path from a hostile server) does not")
    func base64URLTokens() {
        #expect("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA".utf8.allSatisfy(ACMEManager.isBase64URLByte))
        for bad in ["../../etc/passwd", "abc/def", "a.b", "a b", "a+b", "a=b", "ä"] {
            #expect(!bad.utf8.allSatisfy(ACMEManager.isBase64URLByte), "\(bad)")
        }
    }
}
