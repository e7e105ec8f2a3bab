import Foundation
import Testing
@testable import CertStore

@Suite("ChainValidator")
struct ChainValidatorTests {
    struct Certificates {
        let leaf: Certificate, ca: Certificate, other: Certificate, client: Certificate
        init() throws {
            let fx = try Fixtures.get()
            leaf = try fx.certificate("leaf.pem")
            ca = try fx.certificate("ca.pem")
            other = try fx.certificate("other.pem")
            client = try fx.certificate("client.pem")
        }
        /// A moment inside every fixture certificate's validity.
        var inside: Date { (leaf.properties().notBefore ?? Date()).addingTimeInterval(3_600) }
    }

    @Test("a leaf issued by a trusted root is valid; the chain runs leaf → root")
    func valid() throws {
        let c = try Certificates()
        let result = ChainValidator(roots: [c.ca], intermediates: []).validate(c.leaf, at: c.inside)
        #expect(result.outcome == .valid)
        #expect(result.errorCode == 0)
        #expect(result.chain == [c.leaf.thumbprint, c.ca.thumbprint])
        #expect(!result.isUntrustedSelfSigned)
    }

    @Test("no trusted root: Untrusted", arguments: [0, 1, 2])
    func untrusted(variant: Int) throws {
        let c = try Certificates()
        let validator = switch variant {
        case 0: ChainValidator(roots: [], intermediates: [])
        case 1: ChainValidator(roots: [c.other], intermediates: [])
        default: ChainValidator(roots: [], intermediates: [c.ca])  // the issuer is there, but not trusted
        }
        let result = validator.validate(c.leaf, at: c.inside)
        #expect(result.outcome == .untrusted)
        #expect(result.errorCode != 0)
        #expect(!result.errorText.isEmpty)
        #expect(result.chain.first == c.leaf.thumbprint)
    }

    @Test("a self-signed leaf: untrusted unless it is a root itself")
    func selfSigned() throws {
        let c = try Certificates()
        let untrusted = ChainValidator(roots: [], intermediates: []).validate(c.other, at: c.inside)
        #expect(untrusted.outcome == .untrusted)
        #expect(untrusted.isUntrustedSelfSigned)
        let trusted = ChainValidator(roots: [c.other], intermediates: []).validate(c.other, at: c.inside)
        #expect(trusted.outcome == .valid)
        #expect(trusted.chain == [c.other.thumbprint])
    }

    @Test("outside the validity period: DateInvalid")
    func dates() throws {
        let c = try Certificates()
        let properties = c.leaf.properties()
        let validator = ChainValidator(roots: [c.ca], intermediates: [])
        let expired = validator.validate(c.leaf, at: try #require(properties.notAfter).addingTimeInterval(86_400))
        #expect(expired.outcome == .dateInvalid)
        #expect(expired.errorText.contains("expired"))
        let early = validator.validate(c.leaf, at: try #require(properties.notBefore).addingTimeInterval(-86_400))
        #expect(early.outcome == .dateInvalid)
    }

    @Test("server authentication purpose: serverAuth passes, clientAuth-only fails")
    func purpose() throws {
        let c = try Certificates()
        let validator = ChainValidator(roots: [c.ca], intermediates: [])
        #expect(validator.validate(c.leaf, at: c.inside, serverAuthentication: true).outcome == .valid)
        #expect(validator.validate(c.client, at: c.inside, serverAuthentication: false).outcome == .valid)
        let client = validator.validate(c.client, at: c.inside, serverAuthentication: true)
        #expect(client.outcome == .invalid)
        #expect(client.errorCode != 0)
    }
}
