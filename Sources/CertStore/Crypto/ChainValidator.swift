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

    public init(roots: [Certificate], intermediates: [Certificate]) {
        self.roots = roots
        self.intermediates = intermediates
    }

    /// Verifies `certificate` at `time`; with `serverAuthentication`, every certificate must allow TLS server use.
    ///
    /// An issuer whose DSA key inherits its parameters (RFC 3279 §2.3.2, NIST PKITS 4.1.5) has a key OpenSSL cannot
    /// decode, so OpenSSL alone neither places it in the chain nor checks what it signed. Such an issuer is
    /// accepted by name while the chain is built, OpenSSL's "unable to decode issuer public key" is set aside
    /// for it, and every signature it made in the built chain is then checked here with its key completed along
    /// its own issuers (`isIssued(by:completingAmong:)`): one that fails makes the chain Invalid.
    public func validate(_ certificate: Certificate, at time: Date = Date(), serverAuthentication: Bool = false) -> Result {
        ERR_clear_error()
        guard let store = X509_STORE_new(), let context = X509_STORE_CTX_new() else {
            return Result(outcome: .invalid, errorCode: -1, errorText: "out of memory", chain: [])
        }
        defer {
            X509_STORE_CTX_free(context)
            X509_STORE_free(store)
        }
        for root in roots { X509_STORE_add_cert(store, root.verifiableX509) }
        X509_STORE_set_check_issued(store) { _, subject, issuer in
            guard let subject, let issuer else { return 0 }
            if X509_check_issued(issuer, subject) == X509_V_OK { return 1 }
            // Names only here: its signatures are checked after the chain is built (see above).
            ERR_clear_error()
            return Certificate.inheritsDSAParameters(issuer)
                && X509_NAME_cmp(X509_get_issuer_name(subject), X509_get_subject_name(issuer)) == 0 ? 1 : 0
        }
        X509_STORE_set_verify_cb(store) { ok, context in
            guard ok == 0, let context, X509_STORE_CTX_get_error(context) == X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY,
                  let issuer = X509_STORE_CTX_get_current_cert(context), Certificate.inheritsDSAParameters(issuer) else { return ok }
            return 1
        }
        let untrusted = shim_sk_X509_new_null()
        defer { shim_sk_X509_free(untrusted) }
        for intermediate in intermediates { _ = shim_sk_X509_push(untrusted, intermediate.verifiableX509) }
        guard X509_STORE_CTX_init(context, store, certificate.verifiableX509, untrusted) == 1 else {
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
                if let x509 = shim_sk_X509_value(built, index),
                   let der = try? derEncode("i2d_X509", { i2d_X509(x509, $0) }) {
                    chain.append(Thumbprint(trusted: hexUpper(Digest.sha1(der))))
                }
            }
        }
        ERR_clear_error()
        if code == 0 || code == X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, !inheritedSignaturesVerify(chain, leaf: certificate) {
            code = X509_V_ERR_CERT_SIGNATURE_FAILURE
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

    /// Whether every certificate of `chain` (thumbprints, leaf first) whose issuer inherits its DSA parameters is
    /// signed by that issuer's completed key. True when there is none such.
    private func inheritedSignaturesVerify(_ chain: [Thumbprint], leaf: Certificate) -> Bool {
        let known = [leaf] + intermediates + roots
        let certificates = chain.map { thumbprint in known.first { $0.thumbprint == thumbprint } }
        let authorities = intermediates + roots
        for index in certificates.indices.dropLast() {
            guard let issuer = certificates[index + 1], issuer.inheritsDSAParameters else { continue }
            guard let subject = certificates[index], subject.isIssued(by: issuer, completingAmong: authorities) else { return false }
        }
        return true
    }
}
