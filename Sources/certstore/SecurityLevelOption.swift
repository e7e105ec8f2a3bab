import ArgumentParser

/// `--security-level N`: the OpenSSL security level the TLS daemons run at, for the commands that judge
/// whether the TLS stack would serve a certificate (enable, audit, list/show with TlsUsable).
struct SecurityLevelOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The OpenSSL security level the daemons run at (0-5), to judge whether the TLS stack serves a certificate. Default: the system's (/etc/ssl/openssl.cnf, Debian: 2).",
        valueName: "N"))
    var securityLevel: Int?

    func validate() throws {
        if let securityLevel, !(0...5).contains(securityLevel) {
            throw ValidationError("--security-level takes 0 to 5 (OpenSSL's levels), not \(securityLevel)")
        }
    }
}
