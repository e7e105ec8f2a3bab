import COpenSSL

/// The contents of a PKCS#12 (PFX) file: every certificate and key bag, with its friendly name.
///
/// The bags are walked one by one (rather than through `PKCS12_parse`) so that files with several
/// certificates or keys, key-only and certificate-only files, and friendly names on key bags all come
/// through, and so that every key derivation can be checked against the iteration limit first.
public struct PKCS12File: Sendable {
    public struct CertificateBag: Sendable {
        public let certificate: Certificate
        public let friendlyName: String?
        public let localKeyID: [UInt8]?
    }

    public struct KeyBag: Sendable {
        public let key: PrivateKey
        public let friendlyName: String?
        public let localKeyID: [UInt8]?
    }

    public let certificates: [CertificateBag]
    public let keys: [KeyBag]

    /// Does `bytes` start like a PKCS#12 PFX (a DER SEQUENCE whose first element is INTEGER 3)?
    static func looksLikePKCS12(_ bytes: [UInt8]) -> Bool {
        guard bytes.count > 8, bytes[0] == 0x30 else { return false }
        var index = 1
        let first = bytes[1]
        index += first & 0x80 == 0 ? 1 : 1 + Int(first & 0x7F)
        return index + 2 < bytes.count && bytes[index] == 0x02 && bytes[index + 1] == 0x01 && bytes[index + 2] == 0x03
    }

    /// Reads a PFX. `password` nil means "none given": the empty password (both encodings) is tried, and
    /// `CertStoreError` with kind `.badData` and `passwordRequired == true` tells the caller to ask.
    public init(der: [UInt8], password: Password?, limits: Limits = .default) throws {
        _ = OpenSSLProviders.loadLegacy()  // failure is reported only if a bag really needs RC2
        ERR_clear_error()
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return d2i_PKCS12(nil, &pointer, buffer.count)
        }
        guard let p12 = parsed else {
            throw CertStoreError(.badData, "damaged file: not a readable PKCS#12 structure (\(Self.queueText()))",
                                 hint: "check that the file was copied in binary mode and is complete")
        }
        defer { PKCS12_free(p12) }

        let budget = IterationBudget(limits)
        let macIterations = shim_PKCS12_mac_iterations(p12)
        // Without a password both empty-password encodings may be tried: the MAC can cost twice.
        if macIterations >= 0 { try budget.spend(macIterations, times: password == nil || password!.isEmpty ? 2 : 1) }
        let secret = try Self.verifiedPassword(p12, password: password, hasMAC: macIterations >= 0)

        guard let safes = PKCS12_unpack_authsafes(p12) else {
            throw CertStoreError(.badData, "damaged file: the PKCS#12 contents cannot be read (\(Self.queueText()))")
        }
        defer { shim_sk_PKCS7_pop_free(safes) }

        // Without a MAC nothing has checked the password yet: a decryption failure then means "wrong password"
        // (or, when none was given, "password required") rather than a damaged file.
        let unverified: PasswordState = macIterations >= 0 ? .verified : (password == nil ? .missing : .unverified)
        var walker = BagWalker(secret: secret, budget: budget, passwordState: unverified)
        for index in 0..<shim_sk_PKCS7_num(safes) {
            guard let p7 = shim_sk_PKCS7_value(safes, index) else { continue }
            let bags: OpaquePointer?
            switch shim_PKCS7_type_nid(p7) {
            case NID_pkcs7_data:
                bags = PKCS12_unpack_p7data(p7)
            case NID_pkcs7_encrypted:
                try budget.spend(shim_pbe_iterations(shim_PKCS7_encdata_algorithm(p7)))
                bags = secret.call { PKCS12_unpack_p7encdata(p7, $0, $1) }
                if bags == nil { throw Self.decryptionError("the certificate section", passwordState: unverified) }
            default:
                continue  // enveloped (public-key) safes: not produced by any tool users bring
            }
            guard let bags else { throw Self.decryptionError("a section of the file", passwordState: unverified) }
            defer { shim_sk_PKCS12_SAFEBAG_pop_free(bags) }
            try walker.walk(bags, depth: 0)
        }
        certificates = walker.certificates
        keys = walker.keys
        if certificates.isEmpty && keys.isEmpty {
            throw CertStoreError.badData("the PKCS#12 file holds no certificate and no private key")
        }
    }

    /// The password that opens the MAC: the given one, or for none given the empty password in either
    /// encoding (NULL or "") as Windows and OpenSSL write them.
    private static func verifiedPassword(_ p12: OpaquePointer, password: Password?, hasMAC: Bool) throws -> Secret {
        let candidates: [Secret]
        if let password, !password.isEmpty {
            candidates = [.text(password)]
        } else {
            candidates = [.none, .text(Password(""))]
        }
        guard hasMAC else { return candidates[0] }
        for candidate in candidates {
            ERR_clear_error()
            if candidate.call({ PKCS12_verify_mac(p12, $0, $1) }) == 1 { return candidate }
            let entries = drainOpenSSLErrors()
            if !entries.isEmpty {
                throw CertStoreError(.badData, "the PKCS#12 integrity check cannot be computed: " +
                                     entries.map(\.description).joined(separator: "; "),
                                     hint: "the MAC algorithm is not available in this OpenSSL; re-export the file with SHA-256")
            }
        }
        if password == nil {
            throw CertStoreError.passwordRequired
        }
        throw CertStoreError(.badData, "wrong password or damaged file: MAC verification failed",
                             hint: "check the password; it is the one the file was exported with", cause: .wrongPassword)
    }

    enum PasswordState { case verified, unverified, missing }

    static func decryptionError(_ what: String, passwordState: PasswordState) -> CertStoreError {
        let entries = drainOpenSSLErrors()
        let text = entries.map(\.description).joined(separator: "; ")
        if text.contains("unsupported") || text.contains("RC2") {
            if case .failure(let error) = OpenSSLProviders.loadLegacy() { return error }
            return CertStoreError(.badData, "algorithm not available: \(what) uses encryption this OpenSSL cannot decrypt (\(text))",
                                  hint: "re-export the file with AES-256 (openssl pkcs12 -export without -legacy)")
        }
        switch passwordState {
        case .missing: return .passwordRequired
        case .unverified:
            return CertStoreError(.badData, "wrong password or damaged file: \(what) could not be decrypted (the file has no MAC to tell which)",
                                  hint: "check the password; it is the one the file was exported with", cause: .wrongPassword)
        case .verified: break
        }
        return CertStoreError(.badData, "damaged file: \(what) could not be decrypted" + (text.isEmpty ? "" : " (\(text))"))
    }

    static func queueText() -> String {
        let text = drainOpenSSLErrors().map(\.description).joined(separator: "; ")
        return text.isEmpty ? "no detail from OpenSSL" : text
    }
}

extension CertStoreError {
    /// The file is protected and no password was given: the caller may ask for one and try again.
    public static let passwordRequired = CertStoreError(
        .badData, "the file is password-protected and no password was given",
        hint: "give the password with --password-file FILE, --password-stdin or --password-env VAR", cause: .passwordRequired)

    public var isPasswordRequired: Bool { self == .passwordRequired }
}

/// A PKCS#12 password as OpenSSL's PKCS#12 functions take it: NULL, or a NUL-terminated UTF-8 string.
enum Secret {
    case none
    case text(Password)

    func call<R>(_ body: (UnsafePointer<CChar>?, Int32) -> R) -> R {
        switch self {
        case .none: return body(nil, 0)
        case .text(let password): return password.withCString { body($0, -1) }
        }
    }
}

/// Walks safe bags (recursively through safeContents bags) collecting certificates and keys.
private struct BagWalker {
    let secret: Secret
    let budget: IterationBudget
    var certificates: [PKCS12File.CertificateBag] = []
    var keys: [PKCS12File.KeyBag] = []

    let passwordState: PKCS12File.PasswordState

    init(secret: Secret, budget: IterationBudget, passwordState: PKCS12File.PasswordState) {
        self.secret = secret
        self.budget = budget
        self.passwordState = passwordState
    }

    mutating func walk(_ bags: OpaquePointer, depth: Int) throws {
        guard depth < 8 else { throw CertStoreError.badData("damaged file: PKCS#12 bags nested too deeply") }
        for index in 0..<shim_sk_PKCS12_SAFEBAG_num(bags) {
            guard let bag = shim_sk_PKCS12_SAFEBAG_value(bags, index) else { continue }
            let name = Self.friendlyName(bag)
            let keyID = shim_SAFEBAG_local_key_id(bag).map {
                Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data($0), count: Int(ASN1_STRING_length($0))))
            }
            switch PKCS12_SAFEBAG_get_nid(bag) {
            case NID_certBag:
                guard PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate else { continue }
                guard let x509 = PKCS12_SAFEBAG_get1_cert(bag) else {
                    throw CertStoreError.badData("damaged file: a certificate in the PKCS#12 cannot be read (\(PKCS12File.queueText()))")
                }
                certificates.append(.init(certificate: try Certificate(taking: x509), friendlyName: name, localKeyID: keyID))
            case NID_keyBag:
                guard let info = PKCS12_SAFEBAG_get0_p8inf(bag), let pkey = EVP_PKCS82PKEY(info) else {
                    throw CertStoreError.badData("damaged file: a private key in the PKCS#12 cannot be read (\(PKCS12File.queueText()))")
                }
                keys.append(.init(key: PrivateKey(owning: pkey), friendlyName: name, localKeyID: keyID))
            case NID_pkcs8ShroudedKeyBag:
                try budget.spend(shim_pbe_iterations(shim_SAFEBAG_shrouded_algorithm(bag)))
                guard let info = secret.call({ PKCS12_decrypt_skey(bag, $0, $1) }) else {
                    throw PKCS12File.decryptionError("the private key", passwordState: passwordState)
                }
                defer { PKCS8_PRIV_KEY_INFO_free(info) }
                guard let pkey = EVP_PKCS82PKEY(info) else {
                    throw CertStoreError.badData("damaged file: the private key in the PKCS#12 cannot be read (\(PKCS12File.queueText()))")
                }
                keys.append(.init(key: PrivateKey(owning: pkey), friendlyName: name, localKeyID: keyID))
            case NID_safeContentsBag:
                if let inner = PKCS12_SAFEBAG_get0_safes(bag) { try walk(inner, depth: depth + 1) }
            default:
                continue  // CRL and secret bags carry nothing a certificate store keeps
            }
        }
    }

    /// The bag's friendlyName, decoded from its BMPString here rather than through OpenSSL's UTF-8
    /// conversion, which stops at an embedded U+0000 and gives nothing for a lone surrogate. Control
    /// characters are kept; the importer's `sanitizeFriendlyName` drops them.
    static func friendlyName(_ bag: OpaquePointer) -> String? {
        var length: Int32 = 0
        guard let bytes = shim_SAFEBAG_friendly_name_bmp(bag, &length) else { return nil }
        return decodeUTF16BE(Array(UnsafeBufferPointer(start: bytes, count: Int(max(0, length)))))
    }

    /// UTF-16BE to a string; lone surrogates and an odd trailing byte become U+FFFD.
    static func decodeUTF16BE(_ bytes: [UInt8]) -> String {
        let units = stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        let text = String(decoding: units, as: UTF16.self)
        return bytes.count % 2 == 0 ? text : text + "\u{FFFD}"
    }
}
