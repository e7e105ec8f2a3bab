import Foundation

/// `request` and `request --self-signed`: certificates whose key is made inside the store and never leaves it.
///
/// A request (Exchange's `New-ExchangeCertificate -GenerateRequest`, `certreq -new`) generates a key with
/// OpenSSL, writes it to `Keys/` (0600 from its first byte), and keeps the pending request in
/// `LocalMachine/REQUEST` as Windows does: a dummy self-signed certificate with the request's subject, DNS
/// names and key. The PKCS#10 request is returned (and written to a file when asked). `complete` — or any
/// import of the issued certificate — pairs it with that key by public key (`Importer`).
///
/// A self-signed certificate (`New-ExchangeCertificate` without `-GenerateRequest`) goes straight into `My`
/// with its key and, when services are named, is bound in the same operation through `enable`'s own checks,
/// question and binding code.
public struct Enrollment: Sendable {
    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    /// The names of this machine: Exchange's defaults are CN=<host name> and the DNS names host name and FQDN.
    public struct HostNames: Sendable, Equatable {
        public let hostName: String
        /// The fully qualified name, when the resolver knows one that differs from `hostName`.
        public let fqdn: String?

        public init(hostName: String, fqdn: String?) {
            self.hostName = hostName
            self.fqdn = fqdn
        }

        /// `gethostname` (up to its first dot) and the canonical name `getaddrinfo` gives it (AI_CANONNAME).
        public static var current: HostNames {
            var buffer = [CChar](repeating: 0, count: 256)
            let full = gethostname(&buffer, buffer.count) == 0
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
            let short = String(full.split(separator: ".").first ?? Substring(full))
            var hints = addrinfo()
            hints.ai_flags = AI_CANONNAME
            var info: UnsafeMutablePointer<addrinfo>? = nil
            var canonical: String? = full.contains(".") ? full : nil
            if getaddrinfo(full, nil, &hints, &info) == 0, let info {
                if let name = info.pointee.ai_canonname { canonical = String(cString: name) }
                freeaddrinfo(info)
            }
            let fqdn = canonical.flatMap { $0.contains(".") && $0.lowercased() != short.lowercased() ? $0 : nil }
            return HostNames(hostName: short, fqdn: fqdn)
        }

        /// CN=<host name>.
        var subject: String { "CN=\(hostName)" }
        /// Host name, then FQDN.
        var dnsNames: [String] { [hostName] + (fqdn.map { [$0] } ?? []) }
    }

    /// What a request or a self-signed certificate is for. Names left out take Exchange's defaults.
    public struct Subject: Sendable {
        /// The subject in the Windows form (`CN=mail.contoso.com, O=Contoso, C=US`); nil: CN=<host name>.
        public var subject: String?
        /// The DNS names (subjectAltName); empty: the host name and the FQDN.
        public var dnsNames: [String] = []
        public var keySpec: KeySpec = .default
        /// The friendly name the certificate gets (for a request: when it is completed).
        public var friendlyName: String?
        /// Whether the key may be exported (for a request: once completed). Exchange's default is no.
        public var exportable = false
        public var hostNames: HostNames = .current

        public init(subject: String? = nil, dnsNames: [String] = []) {
            self.subject = subject
            self.dnsNames = dnsNames
        }

        /// Checks the subject, the DNS names and the friendly name (usage errors), without touching a store: a
        /// command line can refuse bad input before it opens or creates one.
        public func check() throws { _ = try resolved() }

        /// The subject as it will be encoded and the checked, de-duplicated DNS names.
        func resolved() throws -> (subject: DistinguishedName, dnsNames: [String]) {
            if let friendlyName { _ = try StoreProperties.validateFriendlyName(friendlyName) }
            let name = try DistinguishedName(windowsForm: subject ?? hostNames.subject)
            guard name.commonName != nil else {
                throw CertStoreError.usage("the subject \"\(subject ?? "")\" has no CN=",
                                           hint: "Exchange needs a common name: e.g. --subject \"CN=mail.contoso.com, O=Contoso, C=US\"")
            }
            var names: [String] = []
            for raw in dnsNames.isEmpty ? hostNames.dnsNames : dnsNames {
                let dnsName = try Self.checkDNSName(raw)
                if !names.contains(where: { $0.caseInsensitiveCompare(dnsName) == .orderedSame }) { names.append(dnsName) }
            }
            return (name, names)
        }

        /// A DNS name for a certificate: ASCII letters, digits and hyphens in labels of 1–63 characters, at most
        /// 253 in all, optionally `*.` first (a wildcard). Internationalised names go in their xn-- form.
        static func checkDNSName(_ raw: String) throws -> String {
            let name = raw.trimmingCharacters(in: .whitespaces)
            let hint = "a DNS name is labels of letters, digits and hyphens separated by dots (mail.contoso.com, *.contoso.com); write an internationalised name in its xn-- form"
            guard !name.isEmpty else { throw CertStoreError.usage("an empty --dns-name", hint: hint) }
            guard name.utf8.count <= 253 else { throw CertStoreError.usage("the DNS name \"\(name)\" is longer than 253 characters", hint: hint) }
            var labels = name.split(separator: ".", omittingEmptySubsequences: false)
            if labels.first == "*" && labels.count > 1 { labels.removeFirst() }
            for label in labels {
                let bytes = Array(label.utf8)
                guard !bytes.isEmpty, bytes.count <= 63, bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-"),
                      bytes.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == UInt8(ascii: "-") }) else {
                    throw CertStoreError.usage("\"\(name)\" is not a DNS name", hint: hint)
                }
            }
            return name
        }
    }

    /// Where the PKCS#10 request is written besides being returned: PEM, or DER (`--der`).
    public struct RequestFile: Sendable {
        public let path: String
        public let der: Bool
        public init(path: String, der: Bool) {
            self.path = path
            self.der = der
        }
    }

    /// What `request` made.
    public struct RequestResult: Sendable {
        /// The pending request's entry in `REQUEST` (its dummy certificate's thumbprint).
        public let thumbprint: Thumbprint
        public let store: StorePath
        public let subject: String
        public let dnsNames: [String]
        public let keySpec: KeySpec
        /// The key file's name in `Keys/` (without `.key`).
        public let publicKeyIdentifier: String
        public let request: CertificateRequest
        /// The file the request was written to, if one was asked for.
        public let file: RequestFile?
        /// The certificate this request renews (`renew`): completing it hands over from that one.
        public let renews: Thumbprint?
    }

    /// How long the dummy certificate of a pending request is valid (it only carries the key; nothing uses it).
    static let dummyValidity: TimeInterval = 365 * 86_400

    /// Makes a pending request: one operation (see `OperationOutcome`). The key is generated before the lock is
    /// taken; under it, the key, the dummy certificate and (when asked) the request file are written, the key
    /// and the certificate in one durable batch with the certificate last (its commit point). A request file
    /// that cannot be written leaves the store as it was.
    public func request(_ subject: Subject, file: RequestFile? = nil, now: Date = Date()) throws -> OperationOutcome<RequestResult> {
        let (name, dnsNames) = try subject.resolved()
        if let file { try Self.checkRequestFile(file.path) }
        let key = try PrivateKey.generate(subject.keySpec)
        return try request(name: name, dnsNames: dnsNames, keySpec: subject.keySpec, key: key, keyIsStored: false,
                           properties: StoreProperties(friendlyName: subject.friendlyName ?? "", archived: false, exportable: subject.exportable,
                                                       importedAt: now, source: "certstore request"),
                           file: file, now: now)
    }

    /// The request operation for a key made (or, `keyIsStored`, already in `Keys/`: `renew --reuse-key`) by the
    /// caller; `check` runs first under the lock (a refusal there writes nothing).
    func request(name: DistinguishedName, dnsNames: [String], keySpec: KeySpec, key: PrivateKey, keyIsStored: Bool,
                 properties: StoreProperties, file: RequestFile?, now: Date,
                 check: () throws -> Void = {}) throws -> OperationOutcome<RequestResult> {
        let request = try CertificateRequest(subject: name, dnsNames: dnsNames, key: key)
        let dummy = try Certificate.selfSigned(subject: name, dnsNames: dnsNames, key: key,
                                               notBefore: now, notAfter: now.addingTimeInterval(Self.dummyValidity))
        let path = StorePath(trustedLocation: store.location, name: .request)
        return try store.perform(now: now) {
            try check()
            let batch = WriteBatch(anchor: store.directory)
            if !keyIsStored { try store.writeKey(key, batch: batch) }
            try store.writeCertificate(dummy, properties: properties, in: path, batch: batch)
            if let file {
                try OutputFile.write(file.der ? request.der : Array(request.pem.utf8), to: file.path, secret: false, overwrite: false)
            }
            do {
                try batch.commit()
            } catch {
                // The store did not take the request: a request file for it would name a key nobody has.
                if let file { unlink(file.path) }
                throw error
            }
            return RequestResult(thumbprint: dummy.thumbprint, store: path, subject: dummy.properties().subjectString,
                                 dnsNames: dnsNames, keySpec: keySpec, publicKeyIdentifier: key.publicKeyIdentifier,
                                 request: request, file: file, renews: properties.renews)
        }
    }

    /// Refuses a request file that exists or is a link before any key is made (written without overwriting).
    static func checkRequestFile(_ path: String) throws {
        var info = stat()
        if lstat(path, &info) == 0 {
            throw CertStoreError(.refused, "\(path) exists already", hint: "choose another --out: a request file is never overwritten")
        }
    }
}
