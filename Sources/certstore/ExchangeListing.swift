import ArgumentParser
import CertStore
import Foundation

/// `list --view exchange`: the Get-ExchangeCertificate view, formatted.
struct ExchangeListing {
    let global: GlobalOptions
    let thumbprint: String?
    let rootCAType: String?
    let status: String?
    let services: String?
    let domain: String?
    let property: [String]

    /// Format-List order of Get-ExchangeCertificate's documented properties.
    static let columns: [(name: String, value: @Sendable (ExchangeCertificate) -> PropertyValue)] = [
        ("Thumbprint", { .string($0.thumbprint.value) }),
        ("Services", { .flags(names: $0.services.sorted().map(\.rawValue), mask: $0.servicesMask) }),
        ("Subject", { .string($0.entry.properties.subjectString) }),
        ("Status", { .string($0.status.rawValue) }),
        ("RootCAType", { .string($0.rootCAType.rawValue) }),
        ("IsSelfSigned", { .bool($0.isSelfSigned) }),
        ("CertificateDomains", { .list($0.certificateDomains) }),
        ("HasPrivateKey", { .bool($0.entry.hasPrivateKey) }),
        ("PrivateKeyExportable", { .bool($0.privateKeyExportable) }),
        ("PublicKeySize", { .int($0.entry.properties.publicKeySize) }),
        ("NotBefore", { .date($0.entry.properties.notBefore) }),
        ("NotAfter", { .date($0.entry.properties.notAfter) }),
        ("Issuer", { .string($0.entry.properties.issuerString) }),
        ("SerialNumber", { .string($0.entry.properties.serialNumber) }),
        ("FriendlyName", { .string($0.entry.storeProperties.friendlyName) }),
    ]

    func run(store: StoreLocation, filter: CertificateFilter) throws {
        try global.requirePersonalStore("list --view exchange")
        let view = try ExchangeCertificateView(store: store)
        var certificates: [ExchangeCertificate]
        var exchangeFilter = ExchangeCertificateView.Filter()
        do {
            exchangeFilter.rootCAType = try rootCAType.map { value in
                guard let type = ExchangeCertificate.RootCAType.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(value) == .orderedSame }) else {
                    throw CertStoreError(.usage, "unknown RootCAType \"\(value)\"", hint: "use " + ExchangeCertificate.RootCAType.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return type
            }
            exchangeFilter.status = try status.map { value in
                guard let found = ExchangeCertificate.Status.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(value) == .orderedSame }) else {
                    throw CertStoreError(.usage, "unknown Status \"\(value)\"", hint: "use " + ExchangeCertificate.Status.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return found
            }
            exchangeFilter.services = Set(try services.map(ExchangeService.parseList) ?? [])
            exchangeFilter.domain = domain
        }
        if let thumbprint, let exact = try? Thumbprint(parsing: thumbprint) {
            // Get-ExchangeCertificate -Thumbprint: a keyless certificate is an error, not an empty list; the
            // other filters still apply to the one certificate found.
            let found = try view.certificate(exact)
            certificates = view.certificates(exchangeFilter).contains { $0.thumbprint == found.thumbprint } && filter.matches(found.entry)
                ? [found] : []
        } else {
            certificates = view.certificates(exchangeFilter).filter { filter.matches($0.entry) }
        }
        var selected = Self.columns
        if !property.isEmpty {
            let names = property.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
            selected = try names.filter { !$0.isEmpty }.map { name in
                guard let column = Self.columns.first(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) else {
                    throw CertStoreError(.usage, "unknown property \"\(name)\" in the Exchange view",
                                         hint: "properties are: " + Self.columns.map(\.name).joined(separator: ", "))
                }
                return column
            }
        } else if global.format == .table {
            selected = Array(Self.columns.prefix(3))
        }
        let rows = certificates.map { certificate in
            selected.map { (name: $0.name, jsonKey: $0.name.prefix(1).lowercased() + $0.name.dropFirst(), value: $0.value(certificate)) }
        }
        RecordWriter(format: global.format).write(rows, columns: selected.map(\.name))
    }
}
