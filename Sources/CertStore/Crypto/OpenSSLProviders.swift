import COpenSSL

/// The OpenSSL providers certstore needs, loaded once per process.
public enum OpenSSLProviders {
    /// Version of the libcrypto actually loaded, e.g. "OpenSSL 3.0.19 27 Jan 2026".
    public static var version: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }

    /// Loads "legacy" (RC2-40, which older Windows PKCS#12 exports use) next to the default provider.
    ///
    /// Loading a provider with `OSSL_PROVIDER_load` turns off OpenSSL's implicit fallback to "default" while
    /// other threads may be fetching: loading "default" explicitly first only narrowed that window, and a
    /// SHA-256 fetch on another thread still failed in it once (EVP_Digest, in a CI run). `OSSL_PROVIDER_try_load`
    /// with `retain_fallbacks` keeps the fallback, so there is no window. A Swift global runs exactly once.
    public static func loadLegacy() -> Result<Void, CertStoreError> { legacyLoadResult }
}

private let legacyLoadResult: Result<Void, CertStoreError> = {
    ERR_clear_error()
    guard OSSL_PROVIDER_try_load(nil, "legacy", 1) != nil else {
        let entries = drainOpenSSLErrors().map(\.description).joined(separator: "; ")
        return .failure(CertStoreError(
            .badData,
            "legacy RC2-40 encryption: the OpenSSL legacy provider could not be loaded (\(entries))",
            hint: "install Debian's libssl3 package (it ships ossl-modules/legacy.so) or re-export the file with AES"))
    }
    return .success(())
}()
