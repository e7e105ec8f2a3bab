import COpenSSL
import Foundation
import Testing
@testable import CertStore

/// RFC 3279 §2.3.2: a DSA certificate may leave its parameters out; they are the issuer's. The PKCS#12 files of
/// NIST PKITS 4.1.5 (DSAParametersInheritedCACert.p12, ValidDSAParameterInheritanceTest5EE.p12) hold such
/// certificates with their keys. The same PKI, made here: a DSA CA (parameters in its key), an intermediate CA
/// and an end-entity certificate whose SubjectPublicKeyInfo omits them (the openssl command line makes the
/// keys and certificates; OpenSSL's API takes the parameters out and signs again), and one PKCS#12 per
/// certificate with its key.
@Suite("DSA keys with inherited parameters")
struct InheritedDSAParametersTests {
    struct PKI: Sendable {
        let directory: URL
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    }

    private static let shared: Result<PKI, any Error> = Result { try makePKI() }
    static func pki() throws -> PKI { try shared.get() }

    private static func makePKI() throws -> PKI {
        let fixtures = try Fixtures.get()
        let directory = try Scratch.makeDirectory("dsa-inherited")
        let pki = PKI(directory: directory)
        let p = pki.path
        try fixtures.openssl("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048", "-out", p("params.pem"))
        for name in ["ca", "inter", "ee"] { try fixtures.openssl("genpkey", "-paramfile", p("params.pem"), "-out", p("\(name).key")) }
        try fixtures.openssl("req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/O=PKITS-like/CN=DSA CA", "-days", "30",
                             "-extensions", "ca_ext", "-set_serial", "1", "-out", p("ca.pem"))
        try fixtures.openssl("req", "-new", "-key", p("inter.key"), "-subj", "/O=PKITS-like/CN=DSA Parameters Inherited CA", "-out", p("inter.csr"))
        try fixtures.openssl("x509", "-req", "-in", p("inter.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-set_serial", "2",
                             "-days", "30", "-extfile", fixtures.path("openssl.cnf"), "-extensions", "ca_ext", "-out", p("inter-full.pem"))
        try fixtures.openssl("req", "-new", "-key", p("ee.key"), "-subj", "/O=PKITS-like/CN=Valid DSA Parameter Inheritance EE", "-out", p("ee.csr"))
        try fixtures.openssl("x509", "-req", "-in", p("ee.csr"), "-CA", p("inter-full.pem"), "-CAkey", p("inter.key"), "-set_serial", "3",
                             "-days", "30", "-extfile", fixtures.path("openssl.cnf"), "-extensions", "plain_ext", "-out", p("ee-full.pem"))
        let caKey = try PrivateKey(bytes: [UInt8](try Data(contentsOf: directory.appendingPathComponent("ca.key"))), password: nil)
        let interKey = try PrivateKey(bytes: [UInt8](try Data(contentsOf: directory.appendingPathComponent("inter.key"))), password: nil)
        let eeKey = try PrivateKey(bytes: [UInt8](try Data(contentsOf: directory.appendingPathComponent("ee.key"))), password: nil)
        let inter = try withoutParameters(p("inter-full.pem"), signedBy: caKey)
        let ee = try withoutParameters(p("ee-full.pem"), signedBy: interKey)
        try Data(Fixtures.pem(inter, label: "CERTIFICATE")).write(to: directory.appendingPathComponent("inter.pem"))
        try Data(Fixtures.pem(ee, label: "CERTIFICATE")).write(to: directory.appendingPathComponent("ee.pem"))
        try Data(try pkcs12(certificate: inter, key: interKey)).write(to: directory.appendingPathComponent("DSAParametersInheritedCACert.p12"))
        try Data(try pkcs12(certificate: ee, key: eeKey)).write(to: directory.appendingPathComponent("ValidDSAParameterInheritanceTest5EE.p12"))
        return pki
    }

    /// The certificate in `pemPath` with its DSA parameters left out of the SubjectPublicKeyInfo, signed again by `issuerKey`.
    private static func withoutParameters(_ pemPath: String, signedBy issuerKey: PrivateKey) throws -> [UInt8] {
        let der = try Fixtures.derOfFirstPEMBlock([UInt8](try Data(contentsOf: URL(fileURLWithPath: pemPath))))
        let x509 = try #require(der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var pointer = buffer.baseAddress
            return d2i_X509(nil, &pointer, buffer.count)
        })
        defer { X509_free(x509) }
        let spki = try #require(X509_get_X509_PUBKEY(x509))
        var keyBytes: UnsafePointer<UInt8>? = nil
        var keyLength: Int32 = 0
        try #require(X509_PUBKEY_get0_param(nil, &keyBytes, &keyLength, nil, spki) == 1)
        let copy = try #require(CRYPTO_memdup(keyBytes, Int(keyLength), #fileID, #line))
        try #require(X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_dsa), V_ASN1_UNDEF, nil, copy.assumingMemoryBound(to: UInt8.self), keyLength) == 1)
        try #require(X509_sign(x509, issuerKey.pkey, EVP_sha256()) > 0)
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509(x509, &out)
        try #require(length > 0)
        defer { shim_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    /// A PKCS#12 (fixtures' password, with a MAC) holding `certificate` and `key`, made bag by bag:
    /// `PKCS12_create` and `openssl pkcs12 -export` refuse a certificate whose key OpenSSL cannot decode.
    private static func pkcs12(certificate der: [UInt8], key: PrivateKey) throws -> [UInt8] {
        let x509 = try #require(der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var pointer = buffer.baseAddress
            return d2i_X509(nil, &pointer, buffer.count)
        })
        defer { X509_free(x509) }
        var bags: OpaquePointer? = nil
        try #require(PKCS12_add_cert(&bags, x509) != nil)
        try #require(PKCS12_add_key(&bags, key.pkey, 0, 2048, -1, Fixtures.pfxPassword) != nil)
        defer { shim_sk_PKCS12_SAFEBAG_pop_free(bags) }
        var safes: OpaquePointer? = nil
        try #require(PKCS12_add_safe(&safes, bags, -1, 2048, Fixtures.pfxPassword) == 1)
        defer { shim_sk_PKCS7_pop_free(safes) }
        let p12 = try #require(PKCS12_add_safes(safes, 0))
        defer { PKCS12_free(p12) }
        try #require(PKCS12_set_mac(p12, Fixtures.pfxPassword, -1, nil, 0, 2048, EVP_sha256()) == 1)
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PKCS12(p12, &out)
        try #require(length > 0)
        defer { shim_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    private func entry(_ t: TestStore, _ pemPath: String, in store: StorePath = TestStore.my) throws -> StoreEntry? {
        let certificate = try Certificate(der: Fixtures.derOfFirstPEMBlock([UInt8](try Data(contentsOf: URL(fileURLWithPath: pemPath)))))
        return try t.store.entry(certificate.thumbprint, in: store)
    }

    @Test("the made certificates really leave the parameters out, and OpenSSL alone cannot pair their keys")
    func fixturesAreWhatTheySay() throws {
        let pki = try Self.pki()
        let ee = try Certificate(der: Fixtures.derOfFirstPEMBlock([UInt8](try Data(contentsOf: URL(fileURLWithPath: pki.path("ee.pem"))))))
        #expect(ee.inheritsDSAParameters)
        let full = try Certificate(der: Fixtures.derOfFirstPEMBlock([UInt8](try Data(contentsOf: URL(fileURLWithPath: pki.path("ee-full.pem"))))))
        #expect(!full.inheritsDSAParameters)
    }

    @Test("the issuers already in the store: each PKCS#12 imports with its key (HasPrivateKey), check finds nothing wrong")
    func issuersInTheStore() throws {
        let pki = try Self.pki()
        let t = try TestStore()
        try t.importFiles([pki.path("ca.pem")])
        for file in ["DSAParametersInheritedCACert.p12", "ValidDSAParameterInheritanceTest5EE.p12"] {
            let result = try t.importFiles([pki.path(file)])
            #expect(result.committed && result.failures.isEmpty, "\(file): \(result.failures.map(\.message))")
            #expect(result.warnings.isEmpty, "\(file): \(result.warnings.map(\.message))")
            #expect(result.items.count == 1 && result.items.first?.hasPrivateKey == true, "\(file)")
        }
        #expect(try entry(t, pki.path("inter.pem"))?.keyStatus == .present)
        #expect(try entry(t, pki.path("ee.pem"))?.keyStatus == .present)
        let report = try StoreChecker(store: t.store).run(repair: false).value
        #expect(!report.findings.contains { $0.severity == .critical }, "\(report.findings.map(\.title))")
        // The stored key is the one imported.
        let eeEntry = try #require(try entry(t, pki.path("ee.pem")))
        let stored = try #require(try t.store.privateKey(for: eeEntry))
        #expect(stored.publicKeyIdentifier == (try PrivateKey(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: pki.path("ee.key")))), password: nil)).publicKeyIdentifier)
    }

    @Test("the issuers in the same import: every key pairs")
    func issuersInTheInput() throws {
        let pki = try Self.pki()
        let t = try TestStore()
        let result = try t.importFiles([pki.path("ca.pem"), pki.path("DSAParametersInheritedCACert.p12"), pki.path("ValidDSAParameterInheritanceTest5EE.p12")])
        #expect(result.committed && result.failures.isEmpty, "\(result.failures.map(\.message))")
        #expect(result.warnings.isEmpty)
        #expect(try entry(t, pki.path("inter.pem"))?.hasPrivateKey == true)
        #expect(try entry(t, pki.path("ee.pem"))?.hasPrivateKey == true)
    }

    @Test("no issuer anywhere: the certificate is imported all the same, the unpaired key reported precisely")
    func noIssuer() throws {
        let pki = try Self.pki()
        let t = try TestStore()
        let result = try t.importFiles([pki.path("ValidDSAParameterInheritanceTest5EE.p12")])
        #expect(result.committed && result.failures.isEmpty, "\(result.failures.map(\.message))")
        #expect(result.items.map(\.action) == [.added])
        #expect(result.items.first?.hasPrivateKey == false)
        #expect(try entry(t, pki.path("ee.pem"))?.keyStatus == .missing)
        let warning = try #require(result.warnings.first)
        #expect(warning.message.contains("inherits its DSA parameters"))
        #expect(warning.message.contains("CN=DSA Parameters Inherited CA, O=PKITS-like"))
    }

    @Test("a key given alone for a stored certificate that inherits its parameters re-links it (KeyAdded), once its issuer proves the parameters")
    func keyAloneForStoredCertificate() throws {
        let pki = try Self.pki()
        let t = try TestStore()
        try t.importFiles([pki.path("ca.pem"), pki.path("DSAParametersInheritedCACert.p12"), pki.path("ee.pem")])
        #expect(try entry(t, pki.path("ee.pem"))?.keyStatus == .missing)
        let result = try t.importFiles([pki.path("ee.key")])
        #expect(result.committed && result.failures.isEmpty, "\(result.failures.map(\.message))")
        #expect(result.items.map(\.action) == [.keyAdded])
        #expect(result.items.first?.hasPrivateKey == true)
        let ee = try #require(try entry(t, pki.path("ee.pem")))
        #expect(ee.keyStatus == .present)
        // Filed under the certificate's (parameterless) identifier, which check knows.
        #expect(FileManager.default.fileExists(atPath: t.store.keysDirectory.appendingPathComponent("\(ee.properties.publicKeyIdentifier).key").path))
        let report = try StoreChecker(store: t.store).run(repair: false).value
        #expect(!report.findings.contains { $0.severity != .ok && $0.check != "store-files-ok" }, "\(report.findings.map(\.title))")
        // Given again: already there.
        #expect(try t.importFiles([pki.path("ee.key")]).items.map(\.action) == [.alreadyPresent])
    }

    @Test("a key given alone when no issuer in the store proves the inherited parameters: refused precisely, nothing written")
    func keyAloneWithoutIssuer() throws {
        let pki = try Self.pki()
        let t = try TestStore()
        try t.importFiles([pki.path("ee.pem")])
        let keys = t.store.keysDirectory
        let before = (try? FileManager.default.contentsOfDirectory(atPath: keys.path)) ?? []
        let result = try t.importFiles([pki.path("ee.key")])
        #expect(!result.committed && result.items.isEmpty)
        let error = try #require(result.failures.first)
        #expect(error.message.contains("inherits its DSA parameters") && error.message.contains("nothing was imported"), "\(error.message)")
        #expect(error.message.contains("CN=DSA Parameters Inherited CA, O=PKITS-like"))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: keys.path)) ?? []) == before)
        #expect(try entry(t, pki.path("ee.pem"))?.keyStatus == .missing)
    }

    @Test("PKCS#12 export of a certificate that inherits its parameters: key, certificate and chain; it imports again with its key",
          arguments: PKCS12Writer.Encryption.allCases)
    func pkcs12Export(encryption: PKCS12Writer.Encryption) throws {
        let pki = try Self.pki()
        let t = try TestStore()
        try t.importFiles([pki.path("ca.pem"), pki.path("DSAParametersInheritedCACert.p12"), pki.path("ValidDSAParameterInheritanceTest5EE.p12")],
                          options: TestStore.options { $0.exportable = true; $0.friendlyName = "PKITS 4.1.5" })
        let ee = try #require(try entry(t, pki.path("ee.pem")))
        #expect(ee.hasPrivateKey)
        let pfx = try Exporter(store: t.store).export(ee, kind: .pfx, includeChain: true, password: Password("export"), encryption: encryption)
        let file = try PKCS12File(der: pfx, password: Password("export"))
        #expect(file.certificates.first?.certificate.thumbprint == ee.thumbprint)
        #expect(file.certificates.first?.friendlyName == "PKITS 4.1.5")
        // The chain is what `Exporter.chain` finds in CA and Root: here the root (the intermediate came with its
        // key, so it is in My).
        let chain = try Exporter(store: t.store).chain(for: ee)
        #expect(file.certificates.map(\.certificate.thumbprint) == [ee.thumbprint] + chain.map(\.thumbprint))
        let key = try #require(file.keys.first)
        #expect(file.keys.count == 1 && key.localKeyID != nil && key.localKeyID == file.certificates.first?.localKeyID)
        let original = try PrivateKey(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: pki.path("ee.key")))), password: nil)
        #expect(key.key.publicKeyIdentifier == original.publicKeyIdentifier, "the key with its parameters")
        // OpenSSL reads it (MAC and encryption), and a fresh store with the CA pairs it again.
        let exported = try Scratch.makeDirectory("dsa-export").appendingPathComponent("ee.pfx")
        try Data(pfx).write(to: exported)
        _ = try Fixtures.get().openssl("pkcs12", "-in", exported.path, "-info", "-noout", "-passin", "pass:export")
        let fresh = try TestStore()
        try fresh.importFiles([pki.path("ca.pem"), pki.path("inter.pem")])
        let result = try fresh.importFiles([exported.path], options: TestStore.options(password: "export"))
        #expect(result.committed && result.warnings.isEmpty, "\(result.warnings.map(\.message))")
        #expect(try entry(fresh, pki.path("ee.pem"))?.keyStatus == .present)
    }

    /// Each PEM block's certificate, in order.
    private func pemThumbprints(_ bytes: [UInt8]) throws -> [Thumbprint] {
        try PEMBlock.all(in: bytes).filter { $0.label == "CERTIFICATE" }.map { try Certificate(der: $0.der).thumbprint }
    }

    @Test("a chain through an issuer that inherits its DSA parameters (EE ← CA without parameters ← DSA root): export's chain has both issuers, the PEM chain all three, and OpenSSL's verdict agrees")
    func chainThroughInheritingIssuer() throws {
        let pki = try Self.pki()
        let t = try TestStore()
        // The root and the intermediate as bare certificates (they go to CA), the end entity with its key.
        try t.importFiles([pki.path("ca.pem"), pki.path("inter.pem"), pki.path("ValidDSAParameterInheritanceTest5EE.p12")],
                          options: TestStore.options { $0.exportable = true })
        let ee = try #require(try entry(t, pki.path("ee.pem")))
        #expect(ee.hasPrivateKey)
        let inter = try #require(try entry(t, pki.path("inter.pem"), in: TestStore.my.sibling(.ca)))
        let root = try Certificate(der: Fixtures.derOfFirstPEMBlock([UInt8](try Data(contentsOf: URL(fileURLWithPath: pki.path("ca.pem"))))))
        let interCertificate = try inter.loadCertificate()
        #expect(interCertificate.inheritsDSAParameters)
        // The intermediate's own key cannot be decoded alone: the plain check cannot tell, the completing one can.
        let eeCertificate = try ee.loadCertificate()
        #expect(!eeCertificate.isIssued(by: interCertificate))
        #expect(eeCertificate.isIssued(by: interCertificate, completingAmong: [interCertificate, root]))
        #expect(!eeCertificate.isIssued(by: interCertificate, completingAmong: [interCertificate]), "without the root nothing proves the parameters")
        #expect(!eeCertificate.isIssued(by: root, completingAmong: [interCertificate, root]), "the root did not sign the end entity")

        let exporter = Exporter(store: t.store)
        #expect(try exporter.chain(for: ee).map(\.thumbprint) == [inter.thumbprint, root.thumbprint])
        #expect(try exporter.chain(for: inter).map(\.thumbprint) == [root.thumbprint])
        let pem = try exporter.export(ee, kind: .pem, includeChain: true, password: nil, encryption: .modern)
        #expect(try pemThumbprints(pem) == [ee.thumbprint, inter.thumbprint, root.thumbprint])
        // PKCS#12: key, certificate and the whole chain.
        let pfx = try exporter.export(ee, kind: .pfx, includeChain: true, password: Password("export"), encryption: .modern)
        #expect(try PKCS12File(der: pfx, password: Password("export")).certificates.map(\.certificate.thumbprint)
                == [ee.thumbprint, inter.thumbprint, root.thumbprint])

        // Without the root the chain stops at the intermediate (named, but its key cannot be completed)…
        let noRoot = try TestStore()
        try noRoot.importFiles([pki.path("inter.pem"), pki.path("ee.pem")])
        let bare = try #require(try entry(noRoot, pki.path("ee.pem")))
        #expect(try Exporter(store: noRoot.store).chain(for: bare).isEmpty)

        // …and OpenSSL's chain verification (Status, chain checks) goes through the same issuer.
        let validator = ChainValidator(roots: [root], intermediates: [interCertificate])
        let verdict = validator.validate(eeCertificate)
        #expect(verdict.outcome == .valid, "\(verdict)")
        #expect(verdict.chain == [ee.thumbprint, inter.thumbprint, root.thumbprint], "\(verdict)")
        let withoutRoot = ChainValidator(roots: [], intermediates: [interCertificate]).validate(eeCertificate)
        #expect(withoutRoot.outcome == .untrusted, "\(withoutRoot)")
        // The intermediate itself, its parameters completed from the root.
        #expect(validator.validate(interCertificate).outcome == .valid)

        // A forgery: the same names, signed by a key that is not the intermediate's (the end entity's own, same
        // parameters). Neither the chain walk nor the verdict accepts it.
        let eeKey = try PrivateKey(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: pki.path("ee.key")))), password: nil)
        let forged = try Certificate(der: try Self.withoutParameters(pki.path("ee-full.pem"), signedBy: eeKey))
        #expect(forged.inheritsDSAParameters && forged.namesIssuer(interCertificate))
        #expect(!forged.isIssued(by: interCertificate, completingAmong: [interCertificate, root]))
        let forgedVerdict = validator.validate(forged)
        #expect(forgedVerdict.outcome == .invalid && forgedVerdict.errorCode == X509_V_ERR_CERT_SIGNATURE_FAILURE, "\(forgedVerdict)")
    }
}
