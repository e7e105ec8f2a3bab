import COpenSSL
import Foundation

/// A PKCS#10 certificate request (owning its `X509_REQ*`), signed by the key it requests a certificate for.
///
/// It holds the subject (RDNs in the order of `DistinguishedName.rdns`, which is the encoded order) and an
/// extension request with the DNS names (subjectAltName), the key usage and Server Authentication: what
/// Exchange's `New-ExchangeCertificate -GenerateRequest` asks a CA for.
public final class CertificateRequest: @unchecked Sendable {
    let request: OpaquePointer
    /// The DER encoding (what `--der` writes).
    public let der: [UInt8]

    init(subject: DistinguishedName, dnsNames: [String], key: PrivateKey) throws {
        ERR_clear_error()
        let name = try X509NameObject(subject)
        let extensions = try ExtensionStack()
        try extensions.append(try TLSServerExtensions.subjectAltName(dnsNames))
        try extensions.append(try TLSServerExtensions.configured(NID_key_usage, TLSServerExtensions.keyUsage(for: key), context: nil))
        try extensions.append(try TLSServerExtensions.configured(NID_ext_key_usage, "serverAuth", context: nil))
        guard let request = X509_REQ_new() else { throw CertStoreError.openssl("X509_REQ_new", kind: .internalError) }
        self.request = request
        guard X509_REQ_set_version(request, 0) == 1,   // v1, the only version PKCS#10 has
              X509_REQ_set_subject_name(request, name.name) == 1,
              X509_REQ_set_pubkey(request, key.pkey) == 1,
              X509_REQ_add_extensions(request, extensions.stack) == 1 else {
            X509_REQ_free(request)
            throw CertStoreError.openssl("building the certificate request", kind: .internalError)
        }
        guard X509_REQ_sign(request, key.pkey, key.signatureDigest) > 0 else {
            X509_REQ_free(request)
            throw CertStoreError.openssl("signing the certificate request", kind: .internalError)
        }
        do {
            der = try derEncode("i2d_X509_REQ") { i2d_X509_REQ(request, $0) }
        } catch {
            X509_REQ_free(request)
            throw error
        }
    }

    deinit { X509_REQ_free(request) }

    /// `-----BEGIN CERTIFICATE REQUEST-----` text (what `request` prints, and what CAs take).
    public var pem: String {
        let bytes = (try? collectMemoryBIO("PEM_write_bio_X509_REQ") { PEM_write_bio_X509_REQ($0, request) }) ?? []
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Certificate {
    /// A self-signed certificate for a TLS server, as Exchange's `New-ExchangeCertificate` makes one: version 3,
    /// a random positive 128-bit serial, the subject as issuer, the DNS names as subjectAltName, key usage
    /// (digitalSignature, plus keyEncipherment for RSA), Server Authentication, a subject key identifier and
    /// basicConstraints CA:FALSE, signed with SHA-256 (SHA-384 for P-384). Windows keeps a pending request's key
    /// with such a certificate in `REQUEST` (the "dummy certificate"); `request --self-signed` puts one in `My`.
    static func selfSigned(subject: DistinguishedName, dnsNames: [String], key: PrivateKey,
                           notBefore: Date, notAfter: Date) throws -> Certificate {
        ERR_clear_error()
        guard let x509 = X509_new() else { throw CertStoreError.openssl("X509_new", kind: .internalError) }
        do {
            let name = try X509NameObject(subject)
            var serial = [UInt8](repeating: 0, count: 16)
            guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw CertStoreError.openssl("RAND_bytes", kind: .internalError) }
            serial[0] &= 0x7F
            serial[0] |= 0x40   // positive, and 16 octets long
            guard let bignum = BN_bin2bn(serial, Int32(serial.count), nil) else { throw CertStoreError.openssl("BN_bin2bn", kind: .internalError) }
            defer { BN_free(bignum) }
            guard X509_set_version(x509, 2) == 1,
                  BN_to_ASN1_INTEGER(bignum, X509_get_serialNumber(x509)) != nil,
                  X509_set_subject_name(x509, name.name) == 1,
                  X509_set_issuer_name(x509, name.name) == 1,
                  ASN1_TIME_set(X509_getm_notBefore(x509), time_t(notBefore.timeIntervalSince1970.rounded(.down))) != nil,
                  ASN1_TIME_set(X509_getm_notAfter(x509), time_t(notAfter.timeIntervalSince1970.rounded(.down))) != nil,
                  X509_set_pubkey(x509, key.pkey) == 1 else {
                throw CertStoreError.openssl("building the certificate", kind: .internalError)
            }
            var context = X509V3_CTX()
            X509V3_set_ctx(&context, x509, x509, nil, nil, 0)
            let extensions = [
                try TLSServerExtensions.configured(NID_basic_constraints, "CA:FALSE", context: &context),
                try TLSServerExtensions.configured(NID_key_usage, TLSServerExtensions.keyUsage(for: key), context: &context),
                try TLSServerExtensions.configured(NID_ext_key_usage, "serverAuth", context: &context),
                try TLSServerExtensions.configured(NID_subject_key_identifier, "hash", context: &context),
                try TLSServerExtensions.subjectAltName(dnsNames),
            ]
            defer { extensions.forEach { X509_EXTENSION_free($0) } }
            for ext in extensions where X509_add_ext(x509, ext, -1) != 1 {
                throw CertStoreError.openssl("adding an extension to the certificate", kind: .internalError)
            }
            guard X509_sign(x509, key.pkey, key.signatureDigest) > 0 else {
                throw CertStoreError.openssl("signing the certificate", kind: .internalError)
            }
        } catch {
            X509_free(x509)
            throw error
        }
        // The DER OpenSSL wrote is parsed again, so the certificate is exactly what the store will hold.
        let built = try Certificate(taking: x509)
        return try Certificate(der: built.der)
    }
}

/// The extensions a TLS server's certificate and request carry.
enum TLSServerExtensions {
    /// digitalSignature for every key, keyEncipherment too for RSA (RSA key transport); critical, as CAs issue it.
    static func keyUsage(for key: PrivateKey) -> String {
        key.typeName == "RSA" ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"
    }

    /// One extension from OpenSSL's configuration syntax (`X509V3_EXT_nconf_nid`); the caller frees it.
    static func configured(_ nid: Int32, _ value: String, context: UnsafeMutablePointer<X509V3_CTX>?) throws -> OpaquePointer {
        guard let ext = X509V3_EXT_nconf_nid(nil, context, nid, value) else {
            throw CertStoreError.openssl("making the extension \(openSSLString(OBJ_nid2sn(nid)) ?? "\(nid)")", kind: .internalError)
        }
        return ext
    }

    /// subjectAltName with one dNSName per name, built name by name (never through OpenSSL's configuration
    /// syntax, whose commas and colons a name could otherwise abuse); the caller frees it.
    static func subjectAltName(_ dnsNames: [String]) throws -> OpaquePointer {
        guard let names = shim_sk_GENERAL_NAME_new_null() else { throw CertStoreError.openssl("sk_GENERAL_NAME_new_null", kind: .internalError) }
        defer { GENERAL_NAMES_free(names) }
        for dnsName in dnsNames {
            guard let general = GENERAL_NAME_new() else { throw CertStoreError.openssl("GENERAL_NAME_new", kind: .internalError) }
            guard let text = ASN1_IA5STRING_new() else {
                GENERAL_NAME_free(general)
                throw CertStoreError.openssl("ASN1_IA5STRING_new", kind: .internalError)
            }
            let bytes = Array(dnsName.utf8)
            guard ASN1_STRING_set(text, bytes, Int32(bytes.count)) == 1 else {
                ASN1_IA5STRING_free(text)
                GENERAL_NAME_free(general)
                throw CertStoreError.openssl("ASN1_STRING_set", kind: .internalError)
            }
            GENERAL_NAME_set0_value(general, GEN_DNS, UnsafeMutableRawPointer(text))
            guard shim_sk_GENERAL_NAME_push(names, general) > 0 else {
                GENERAL_NAME_free(general)
                throw CertStoreError.openssl("sk_GENERAL_NAME_push", kind: .internalError)
            }
        }
        guard let ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, UnsafeMutableRawPointer(names)) else {
            throw CertStoreError.openssl("encoding the subjectAltName extension", kind: .internalError)
        }
        return ext
    }
}

/// An `X509_NAME*` built from a `DistinguishedName`, RDN by RDN in its encoded order (owned).
final class X509NameObject {
    let name: OpaquePointer

    init(_ dn: DistinguishedName) throws {
        guard let name = X509_NAME_new() else { throw CertStoreError.openssl("X509_NAME_new", kind: .internalError) }
        self.name = name   // every stored property is set: a throw below runs deinit, which frees it
        for rdn in dn.rdns {
            for (index, attribute) in rdn.enumerated() {
                guard let object = OBJ_txt2obj(attribute.oid, 1) else {
                    throw CertStoreError.usage("\(attribute.oid) is not an object identifier OpenSSL can encode")
                }
                defer { ASN1_OBJECT_free(object) }
                let bytes = Array(attribute.value.utf8)
                // A new RDN for the first attribute; the others join it (a multi-valued RDN, `A=x + B=y`).
                let ok = X509_NAME_add_entry_by_OBJ(name, object, DistinguishedName.stringType(of: attribute), bytes,
                                                    Int32(bytes.count), -1, index == 0 ? 0 : -1)
                guard ok == 1 else { throw CertStoreError.openssl("adding \(DistinguishedName.label(forOID: attribute.oid))= to the name") }
            }
        }
    }

    deinit { X509_NAME_free(name) }
}

extension DistinguishedName {
    /// The ASN.1 string type an attribute is written as: PrintableString for the country and for values that fit
    /// its alphabet, IA5String for e-mail addresses and domain components, UTF8String otherwise (RFC 5280 §4.1.2.6;
    /// .NET's `X500DistinguishedName` encoder makes the same choice).
    static func stringType(of attribute: NameAttribute) -> Int32 {
        switch attribute.oid {
        case "1.2.840.113549.1.9.1", "0.9.2342.19200300.100.1.25": return V_ASN1_IA5STRING
        default: return isPrintableString(attribute.value) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING
        }
    }
}

/// A `STACK_OF(X509_EXTENSION)` that owns its extensions (a request's extension list).
final class ExtensionStack {
    let stack: OpaquePointer

    init() throws {
        guard let stack = shim_sk_X509_EXTENSION_new_null() else { throw CertStoreError.openssl("sk_X509_EXTENSION_new_null", kind: .internalError) }
        self.stack = stack
    }

    deinit { shim_sk_X509_EXTENSION_pop_free(stack) }

    /// Takes `ext` over: kept by the stack, or freed when it cannot be added.
    func append(_ ext: OpaquePointer) throws {
        guard shim_sk_X509_EXTENSION_push(stack, ext) > 0 else {
            X509_EXTENSION_free(ext)
            throw CertStoreError.openssl("sk_X509_EXTENSION_push", kind: .internalError)
        }
    }
}
