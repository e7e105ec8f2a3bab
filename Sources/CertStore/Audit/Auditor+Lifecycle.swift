import Foundation

/// Audit findings about the certificate lifecycle: pending requests left waiting, and certificates put into `My`
/// without their key on purpose (`--allow-keyless`).
extension Auditor {
    /// Every end-entity certificate imported into `My` with `--allow-keyless` whose key is still not here, that has
    /// not expired and that nothing uses yet is CRITICAL: it is the KB 4495258 certificate waiting for a connector to select it. (Used
    /// ones are CRITICAL already, as bound or resolved certificates without a key.)
    func checkKeylessImports(connectors: SendConnectors, dependencies: Dependencies, context: Context, report: inout AuditReport) {
        let used = context.bindings.allBoundThumbprints.union(dependencies.dependencies.compactMap(\.thumbprint))
            .union(connectors.sendConnectors.compactMap { context.resolver.resolve($0).chosen?.thumbprint })
        for entry in context.personal where entry.keyStatus == .missing && !used.contains(entry.thumbprint) && Self.isKeylessImport(entry, now: context.now) {
            guard let importedAt = entry.storeProperties.keylessImportedAt else { continue }
            let source = entry.storeProperties.source.map { " from \($0)" } ?? ""
            report.findings.append(Finding(.critical, check: "keyless-imported", object: entry.thumbprint.value,
                title: "a certificate imported without its private key (--allow-keyless) is in LocalMachine/My",
                detail: "\(context.name(entry)) was imported\(source) on \(importedAt.formatted(.iso8601)) with HasPrivateKey False: its key is on the machine that made the certificate's request. "
                    + "A send connector whose TLSCertificateName names its issuer and subject (a renewal keeps both) can select it, since the selection makes no private-key check, and outbound TLS then fails with NoCredentials (KB 4495258: 421 4.4.1, mail queues). "
                    + "Bring a PKCS#12 with the key from that machine (Export-ExchangeCertificate, certstore export --type pfx) and import it here, which pairs the key with this certificate; or remove it (into the trash, restorable)",
                fix: ["certstore remove \(entry.thumbprint)"]))
        }
    }

    /// Imported keyless with `--allow-keyless`, not expired and not archived: a connector can still select it (an
    /// expired or archived one — connector resolution skips both — is a keyless leftover like any other,
    /// `keyless-unused`).
    static func isKeylessImport(_ entry: StoreEntry, now: Date) -> Bool {
        entry.storeProperties.keylessImportedAt != nil && !entry.storeProperties.archived && (entry.properties.notAfter ?? .distantFuture) > now
    }

    /// A pending request older than `staleRequestDays` (from when it was made) is a WARNING: the CA never issued
    /// it, or what it issued was never completed here. Younger ones are listed as checked.
    func checkPendingRequests(_ requests: [StoreEntry], context: Context, report: inout AuditReport) {
        for entry in requests.sorted(by: { $0.thumbprint < $1.thumbprint }) {
            guard let madeAt = entry.storeProperties.importedAt ?? entry.properties.notBefore else { continue }
            let days = Int((context.now.timeIntervalSince(madeAt) / 86_400).rounded(.down))
            let names = entry.properties.subjectAlternativeNames.compactMap { if case .dns(let name) = $0 { name } else { nil } }
            let what = "the pending request \(entry.thumbprint) (\(entry.properties.subjectString)"
                + (names.isEmpty ? "" : ", DNS names \(names.joined(separator: ", "))") + ")"
            let made = "made on \(madeAt.formatted(.iso8601)), \(days) day\(days == 1 ? "" : "s") ago"
            if days >= thresholds.staleRequestDays {
                report.findings.append(Finding(.warning, check: "request-stale", object: entry.thumbprint.value,
                    title: "a pending request has waited \(days) days for its certificate",
                    detail: "\(what) was \(made) (WARNING from \(thresholds.staleRequestDays) days): the CA never issued it, or the issued certificate was never completed here. "
                        + "If the CA issued it, complete it with certstore complete and the issued file; if it is abandoned, cancel it: its key goes to the trash with it",
                    fix: ["certstore remove \(entry.thumbprint) --store LocalMachine/REQUEST"]))
            } else {
                report.findings.append(Finding(.ok, check: "request-pending", object: entry.thumbprint.value,
                    title: "a pending request awaits its certificate (\(days) day\(days == 1 ? "" : "s") old)",
                    detail: "\(what) was \(made); complete it with certstore complete once the CA has issued it"))
            }
        }
    }
}
