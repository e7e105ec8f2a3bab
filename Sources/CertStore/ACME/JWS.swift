import Foundation

/// base64url without padding (RFC 7515 §2), as every JOSE field is encoded.
enum Base64URL {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}

/// An EC P-256 public key as a JSON Web Key (RFC 7517 §6.2), the form ACME's `jwk` header carries.
public struct JSONWebKey: Codable, Sendable, Equatable {
    public let crv: String
    public let kty: String
    public let x: String
    public let y: String

    init(x: [UInt8], y: [UInt8]) {
        crv = "P-256"
        kty = "EC"
        self.x = Base64URL.encode(x)
        self.y = Base64URL.encode(y)
    }

    /// The RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order, no whitespace, base64url.
    /// It is what a key authorization ends with (RFC 8555 §8.1).
    public var thumbprint: String { Base64URL.encode(Digest.sha256(Array(canonicalJSON.utf8))) }

    /// `{"crv":…,"kty":…,"x":…,"y":…}`: the members RFC 7638 §3.2 requires for EC, sorted, without whitespace.
    var canonicalJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

/// An ES256 key that signs JWS for ACME: the account key, or a certificate's key for revocation.
struct JWSSigner: Sendable {
    let key: PrivateKey
    let jwk: JSONWebKey

    init(key: PrivateKey) throws {
        self.key = key
        let (x, y) = try key.p256Coordinates()
        jwk = JSONWebKey(x: x, y: y)
    }

    /// The protected header's key: the JWK itself (newAccount, revocation by the certificate's key) or the
    /// account URL (everything else, RFC 8555 §6.2).
    enum KeyReference: Sendable {
        case jwk
        case kid(String)
    }

    private struct ProtectedHeader: Encodable {
        let alg = "ES256"
        let nonce: String
        let url: String
        let jwk: JSONWebKey?
        let kid: String?
    }

    /// A flattened JWS JSON serialization (RFC 7515 §7.2.2) of `payload` (nil: POST-as-GET, an empty payload).
    func sign(payload: Data?, url: String, nonce: String, key reference: KeyReference) throws -> Data {
        let header: ProtectedHeader
        switch reference {
        case .jwk: header = ProtectedHeader(nonce: nonce, url: url, jwk: jwk, kid: nil)
        case .kid(let account): header = ProtectedHeader(nonce: nonce, url: url, jwk: nil, kid: account)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let protected = Base64URL.encode(try encoder.encode(header))
        let encodedPayload = payload.map { Base64URL.encode($0) } ?? ""
        let signature = try key.es256Signature(Array("\(protected).\(encodedPayload)".utf8))
        return try encoder.encode(["protected": protected, "payload": encodedPayload, "signature": Base64URL.encode(signature)])
    }

    /// RFC 8555 §8.1: token || "." || base64url(JWK thumbprint).
    func keyAuthorization(token: String) -> String { "\(token).\(jwk.thumbprint)" }

    /// RFC 8555 §8.4: the TXT record's value, base64url(SHA-256(key authorization)).
    func dnsValue(token: String) -> String { Base64URL.encode(Digest.sha256(Array(keyAuthorization(token: token).utf8))) }
}
