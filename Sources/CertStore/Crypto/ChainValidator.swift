import COpenSSL
import Foundation

/// Builds and verifies a certificate chain with OpenSSL against explicit trust anchors.
public struct ChainValidator: Sendable {
    public struct Result: Sendable, Equatable {
        public enum Outcome: String, Sendable, Equatable {
            /// The chain builds to a trusted root and every certificate is time-valid.
            case valid = "Valid"
            /// Some certificate in the chain is expired or not yet valid.
            case dateInvalid = "DateInvalid"
            /// The chain does not reach a root in `Root` (missing issuer, or an untrusted root).
            case untrusted = "Untrusted"
            /// The chain is broken another way (bad signature, wrong usage, ...).
            case invalid = "Invalid"
        }

        public let outcome: Outcome
        /// OpenSSL's verification error code (0 when valid).
        public let errorCode: Int32
        /// OpenSSL's words for the error, e.g. "certificate has expired".
        public let errorText: String
        /// Thumbprints from the leaf to the last certificate OpenSSL could place.
        public let chain: [Thumbprint]

        /// The leaf is self-signed and not trusted (OpenSSL's "self-signed certificate").
        public var isUntrustedSelfSigned: Bool { errorCode == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT }
    }

    public let roots: [Certificate]
    public let intermediates: [Certificate]

    /// Some intermediate's DSA key inherits its parameters (see `validate`); known once, not per certificate.
    private let inheritingIntermediates: Bool

    public init(roots: [Certificate], intermediates: [Certificate]) {
        self.roots = roots
        self.intermediates = intermediates
        inheritingIntermediates = intermediates.contains { $0.inheritsDSAParameters }
    }

    /// Verifies `certificate` at `time`; with `serverAuthentication`, every certificate must allow TLS server use.
    ///
    /// A certificate whose DSA key inherits its parameters (RFC 3279 §2.3.2, NIST PKITS 4.1.5) has a key OpenSSL
    /// cannot decode, so OpenSSL alone can neither place its issuer nor verify what it signed (nor such a leaf at
    /// all). OpenSSL is then given a copy of it whose key carries the parameters completed along its issuers
    /// (`completedKey(among:)`): everything else — names, times, extensions, purpose, trust — OpenSSL judges as
    /// usual, and only the signatures on those copies (their encoding changed) are checked here instead, on the
    /// original certificates with the completed keys. One that fails makes the chain Invalid.
    public func validate(_ certificate: Certificate, at time: Date = Date(), serverAuthentication: Bool = false) -> Result {
        ERR_clear_error()
        guard let store = X509_STORE_new(), let context = X509_STORE_CTX_new() else {
            return Result(outcome: .invalid, errorCode: -1, errorText: "out of memory", chain: [])
        }
        let completed = inheritingIntermediates || certificate.inheritsDSAParameters
            ? CompletedCopies(leaf: certificate, intermediates: intermediates, roots: roots) : CompletedCopies()
        defer {
            X509_STORE_CTX_free(context)
            X509_STORE_free(store)
        }
        for root in roots { X509_STORE_add_cert(store, root.verifiableX509) }
        if !completed.isEmpty {
            X509_STORE_set_verify_cb(store) { ok, context in
                // A completed copy's own signature cannot verify (its encoding changed): checked on the original.
                guard ok == 0, let context, X509_STORE_CTX_get_error(context) == X509_V_ERR_CERT_SIGNATURE_FAILURE,
                      let current = X509_STORE_CTX_get_current_cert(context), CompletedCopies.isCopy(current) else { return ok }
                return 1
            }
        }
        let untrusted = shim_sk_X509_new_null()
        defer { shim_sk_X509_free(untrusted) }
        for intermediate in intermediates { _ = shim_sk_X509_push(untrusted, completed.x509(for: intermediate)) }
        guard X509_STORE_CTX_init(context, store, completed.x509(for: certificate), untrusted) == 1 else {
            ERR_clear_error()
            return Result(outcome: .invalid, errorCode: -1, errorText: "cannot start chain verification", chain: [])
        }
        if serverAuthentication { X509_STORE_CTX_set_purpose(context, X509_PURPOSE_SSL_SERVER) }
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(context), time_t(time.timeIntervalSince1970))
        let ok = X509_verify_cert(context) == 1
        var code = ok ? 0 : X509_STORE_CTX_get_error(context)
        var chain: [Thumbprint] = []
        if let built = X509_STORE_CTX_get0_chain(context) {
            for index in 0..<shim_sk_X509_num(built) {
                guard let x509 = shim_sk_X509_value(built, index) else { continue }
                if let original = completed.original(of: x509) {
                    chain.append(original.thumbprint)
                } else if let der = try? derEncode("i2d_X509", { i2d_X509(x509, $0) }) {
                    chain.append(Thumbprint(trusted: hexUpper(Digest.sha1(der))))
                }
            }
        }
        ERR_clear_error()
        if !completed.isEmpty, code == 0, !completed.signaturesVerify(chain) {
            code = X509_V_ERR_CERT_SIGNATURE_FAILURE
        }
        // A certificate that inherits its parameters and could not be completed stops OpenSSL without a reason
        // (X509_get_pubkey_parameters): with its issuer in the chain, that issuer did not sign it; without, there is none.
        if code == X509_V_ERR_UNSPECIFIED, completed.hasUncompleted {
            code = chain.count > 1 ? X509_V_ERR_CERT_SIGNATURE_FAILURE : X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        }
        let text = openSSLString(X509_verify_cert_error_string(Int(code))) ?? "error \(code)"
        let outcome: Result.Outcome
        switch code {
        case 0: outcome = .valid
        case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID: outcome = .dateInvalid
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
             X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED:
            outcome = .untrusted
        default: outcome = .invalid
        }
        return Result(outcome: outcome, errorCode: code, errorText: text, chain: chain)
    }
}

/// For `ChainValidator`: copies of the certificates (leaf and intermediates) whose DSA key inherits its
/// parameters, each with its key completed along its issuers, marked so that OpenSSL's verify callback knows them.
/// Owns the copies.
private final class CompletedCopies {
    private var copies: [(original: Certificate, x509: OpaquePointer)] = []
    /// Some certificate inherits its parameters, and no issuer among the authorities proves them.
    private(set) var hasUncompleted = false
    private let authorities: [Certificate]

    /// The mark (ex_data 0, "app data") on a copy.
    private static var mark: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: 0xC0FFEE) }

    /// None: no certificate involved inherits its parameters.
    init() { authorities = [] }

    init(leaf: Certificate, intermediates: [Certificate], roots: [Certificate]) {
        authorities = intermediates + roots
        for certificate in [leaf] + intermediates where certificate.inheritsDSAParameters {
            guard let key = certificate.completedKey(among: authorities) else { hasUncompleted = true; continue }
            guard let copy = X509_dup(certificate.verifiableX509) else { continue }
            guard X509_set_pubkey(copy, key.pkey) == 1, X509_set_ex_data(copy, 0, Self.mark) == 1 else {
                X509_free(copy)
                continue
            }
            copies.append((certificate, copy))
        }
        ERR_clear_error()
    }

    deinit { for copy in copies { X509_free(copy.x509) } }

    var isEmpty: Bool { copies.isEmpty }

    static func isCopy(_ x509: OpaquePointer) -> Bool { X509_get_ex_data(x509, 0) == mark }

    /// What OpenSSL is given for `certificate`: its completed copy, or itself.
    func x509(for certificate: Certificate) -> OpaquePointer {
        copies.first { $0.original === certificate }?.x509 ?? certificate.verifiableX509
    }

    func original(of x509: OpaquePointer) -> Certificate? { copies.first { $0.x509 == x509 }?.original }

    /// Every certificate of `chain` (thumbprints, leaf first) that OpenSSL got as a copy is signed by the next one,
    /// the original certificate checked with the issuer's completed key.
    func signaturesVerify(_ chain: [Thumbprint]) -> Bool {
        let known = copies.map(\.original) + authorities
        for index in chain.indices.dropLast() where copies.contains(where: { $0.original.thumbprint == chain[index] }) {
            guard let subject = known.first(where: { $0.thumbprint == chain[index] }),
                  let issuer = known.first(where: { $0.thumbprint == chain[index + 1] }),
                  subject.namesIssuer(issuer), let key = issuer.completedKey(among: authorities), subject.isSigned(by: key) else { return false }
        }
        return true
    }
}
