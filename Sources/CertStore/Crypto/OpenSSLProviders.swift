import COpenSSL

/// The OpenSSL providers certstore needs, loaded once per process.
public enum OpenSSLProviders {
    /// Version of the libcrypto actually loaded, e.g. "OpenSSL 3.0.19 27 Jan 2026".
    public static var version: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }

    /// Loads "default" and then "legacy" (RC2-40, which older Windows PKCS#12 exports use).
    ///
    /// Loading any provider explicitly turns off OpenSSL's implicit fallback to "default", so
    /// "default" goes first: loading "legacy" first opens a window in which other threads cannot
    /// fetch AES or PKCS12KDF. A Swift global is initialised exactly once, thread-safely.
    public static func loadLegacy() -> Result<Void, CertStoreError> { legacyLoadResult }
}

private let legacyLoadResult: Result<Void, CertStoreError> = {
    ERR_clear_error()
    guard OSSL_PROVIDER_load(nil, "default") != nil else {
        return .failure(.openssl("loading the OpenSSL default provider", kind: .internalError))
    }
    guard OSSL_PROVIDER_load(nil, "legacy") != nil else {
        let entries = drainOpenSSLErrors().map(\.description).joined(separator: "; ")
        return .failure(CertStoreError(
            .badData,
            "legacy RC2-40 encryption: the OpenSSL legacy provider could not be loaded (\(entries))",
            hint: "install Debian's libssl3 package (it ships ossl-modules/legacy.so) or re-export the file with AES"))
    }
    return .success(())
}()
