import Foundation

extension Enrollment {
    /// Exchange's self-signed certificates are valid for five years.
    public static let selfSignedValidity: TimeInterval = 5 * 365 * 86_400

    /// What `request --self-signed` made.
    public struct SelfSignedResult: Sendable {
        public let thumbprint: Thumbprint
        public let store: StorePath
        public let subject: String
        public let dnsNames: [String]
        public let keySpec: KeySpec
        public let notAfter: Date?
        /// The services bound in the same operation (nil when none were named).
        public let binding: BindingManager.EnableResult?
    }

    /// Makes a self-signed certificate in `My` with its key: one operation (see `OperationOutcome`). With
    /// `services`, it is checked, and the default-SMTP question asked, exactly as `enable` does — before the lock
    /// — and bound under the same lock that writes it; a refusal writes nothing.
    public func selfSigned(_ subject: Subject, services: [ExchangeService] = [], answer: BindingManager.OverwriteAnswer = .keep,
                           serviceUser: String? = nil, securityLevel: Int? = nil, now: Date = Date()) throws -> OperationOutcome<SelfSignedResult> {
        let (name, dnsNames) = try subject.resolved()
        try BindingManager.checkServiceUser(serviceUser)
        let key = try PrivateKey.generate(subject.keySpec)
        let certificate = try Certificate.selfSigned(subject: name, dnsNames: dnsNames, key: key,
                                                     notBefore: now, notAfter: now.addingTimeInterval(Self.selfSignedValidity))
        let my = StorePath(trustedLocation: store.location, name: .my)
        let properties = StoreProperties(friendlyName: subject.friendlyName ?? "", archived: false, exportable: subject.exportable,
                                         importedAt: now, source: "certstore request --self-signed")
        var prepared: BindingManager.PreparedBinding? = nil
        let bindings = BindingManager(store: store)
        if !services.isEmpty {
            // The entry as the store will hold it, judged before anything is written.
            let entry = StoreEntry(store: my, properties: certificate.properties(), storeProperties: properties, keyStatus: .present,
                                   source: CertificateSource(parsed: certificate, folder: store.directory(of: my).path))
            let tls = TLSServerCheck.evaluate(certificate: certificate, key: key, chain: [], securityLevel: securityLevel)
            prepared = try bindings.prepare(entry, tls: tls, services: services, answer: answer, serviceUser: serviceUser, now: now)
        }
        return try store.perform(now: now) {
            let batch = WriteBatch(anchor: store.directory)
            try store.writeKey(key, batch: batch)
            try store.writeCertificate(certificate, properties: properties, in: my, batch: batch)
            try batch.commit()
            let binding = try prepared.map { try bindings.bind($0) }
            let properties = certificate.properties()
            return SelfSignedResult(thumbprint: certificate.thumbprint, store: my, subject: properties.subjectString,
                                    dnsNames: dnsNames, keySpec: subject.keySpec, notAfter: properties.notAfter, binding: binding)
        }
    }
}
