import Foundation
import Testing
@testable import CertStore

/// Issue 13's "Also" findings, at the library's level.
@Suite("hardening (unit)")
struct HardeningUnitTests {
    @Test("Also: the default SMTP certificate changing while the overwrite question is open is a refusal (exit 2), not 'store busy' (75)")
    func defaultChangedWhileAskingIsRefused() throws {
        let (t, thumbprints) = try ServicesUnitTests.storeWithCertificates(3)
        let manager = BindingManager(store: t.store)
        _ = try manager.enable(thumbprints[0], services: [.smtp], answer: .overwrite)
        let store = t.store
        let other = thumbprints[2]
        // While this prompt is open, another enable makes a third certificate the default.
        let answer = BindingManager.OverwriteAnswer.ask { _ in
            _ = try? BindingManager(store: store).enable(other, services: [.smtp], answer: .overwrite)
            return true
        }
        do {
            _ = try manager.enable(thumbprints[1], services: [.smtp], answer: answer)
            Issue.record("the second enable succeeded although the default changed under its question")
        } catch let error as CertStoreError {
            #expect(error.kind == .refused, "\(error.kind): \(error.message)")
            #expect(error.message.contains("changed while the question was open"))
        }
        #expect(try manager.bindings().defaultSmtpCertificate == other)
    }

    // MARK: a PKCS#12 MAC iteration count of 2^64

    /// A DER element: tag, length, contents.
    static func der(_ tag: UInt8, _ contents: [UInt8]) -> [UInt8] {
        let count = contents.count
        let length: [UInt8] = count < 0x80 ? [UInt8(count)]
            : count < 0x100 ? [0x81, UInt8(count)] : count < 0x10000 ? [0x82, UInt8(count >> 8), UInt8(count & 0xFF)]
            : [0x83, UInt8(count >> 16), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
        return [tag] + length + contents
    }

    /// The elements inside one constructed DER element (definite lengths only).
    static func children(_ bytes: ArraySlice<UInt8>) throws -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let start = index
            index += 1
            var length = Int(bytes[index])
            index += 1
            if length & 0x80 != 0 {
                let octets = length & 0x7F
                length = 0
                for _ in 0..<octets { length = length << 8 | Int(bytes[index]); index += 1 }
            }
            index += length
            guard index <= bytes.endIndex else { throw CertStoreError.badData("truncated DER") }
            result.append(bytes[start..<index])
        }
        return result
    }

    static func contents(_ element: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let first = element.startIndex + 1
        let octets = element[first] & 0x80 != 0 ? Int(element[first] & 0x7F) : 0
        return element[(first + 1 + octets)...]
    }

    /// `pfx` with its MacData's iteration count replaced by the DER INTEGER `iterations` (contents octets).
    static func withMACIterations(_ pfx: [UInt8], _ iterations: [UInt8]) throws -> [UInt8] {
        let outer = try children(pfx[...])
        let parts = try children(contents(try #require(outer.first)))
        #expect(parts.count == 3, "version, authSafe, macData")
        let mac = try children(contents(parts[2]))
        let newMac = der(0x30, Array(mac[0]) + Array(mac[1]) + der(0x02, iterations))
        return der(0x30, Array(parts[0]) + Array(parts[1]) + newMac)
    }

    @Test("Also: a PKCS#12 whose MAC asks for 2^64 iterations is refused as too many, never taken for a file without a MAC")
    func macIterationOverflow() throws {
        let fx = try Fixtures.get()
        let original = try fx.bytes("modern.pfx")
        // Sanity: the rewrite itself keeps a readable file.
        _ = try PKCS12File(der: try Self.withMACIterations(original, [0x08, 0x00]), password: Password(Fixtures.pfxPassword))
        for count in [[0x01, 0, 0, 0, 0, 0, 0, 0, 0], [0x00, 0x80, 0, 0, 0, 0, 0, 0, 0], [0xFF]] as [[UInt8]] {
            let forged = try Self.withMACIterations(original, count)
            do {
                _ = try PKCS12File(der: forged, password: Password(Fixtures.pfxPassword))
                Issue.record("a MAC iteration count of \(count) was accepted (taken for 'no MAC')")
            } catch let error as CertStoreError {
                #expect(error.kind == .badData && error.message.contains("iterations"), "\(count): \(error.message)")
                #expect(!error.message.contains("no MAC"), "\(error.message)")
            }
        }
    }
}
