import COpenSSL

extension Certificate {
    /// The keyIdentifier of the Authority Key Identifier extension, or nil when the certificate has none.
    var authorityKeyIdentifier: [UInt8]? {
        guard let identifier = X509_get0_authority_key_id(x509) else { ERR_clear_error(); return nil }
        guard let data = ASN1_STRING_get0_data(identifier) else { return nil }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(identifier))))
    }

    /// The serial number's DER content octets (what RFC 9773's certificate identifier encodes).
    var serialNumberOctets: [UInt8] {
        guard let serial = X509_get0_serialNumber(x509),
              let encoded = try? derEncode("i2d_ASN1_INTEGER", { i2d_ASN1_INTEGER(serial, $0) }) else { return [] }
        return Self.derContent(encoded)
    }
}
