// Fuzz entry point. A normal build compiles only the notice below; scripts/fuzz.sh builds with
// -sanitize=fuzzer,address and -DFUZZING, which compiles the libFuzzer driver instead.
//
// Targets (choose with CERTSTORE_FUZZ_TARGET; unset or `all` means the first input byte chooses):
//   credential   CertStore.CredentialFile(bytes:password:limits:) — PKCS#12, PEM, DER, PKCS#7, key files — and
//                what `import` does next with what it found: properties, key pairing, PKCS#8 re-encoding;
//                and what a listing reads from each certificate, which must equal the full parse
//   tlsname      CertStore.TLSCertificateName(parsing:) and DistinguishedName.normalize
//   protocollog  CertStore.ProtocolLogReader().read(url,row:malformed:) and the whole `diagnose` pipeline
//                (ProtocolLogDiagnoser) over an empty store; the same bytes as a mail log (MailLogDiagnoser) and
//                through format detection (LogDiagnoser)
//
// The run itself (corpus, time limits, crash directory) is scripts/fuzz.sh.
#if FUZZING
import CertStore
import Foundation

// MARK: - libFuzzer glue

/// libFuzzer's driver: parses libFuzzer's flags from argv and calls `callback` for every input.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// SwiftPM links an executable target with its `main` renamed to `<target>_main`; with -parse-as-library
/// nothing generates one, so this is the process entry point. It hands control to libFuzzer.
@_cdecl("certstore_fuzz_main")
func certstoreFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var count = argc
    var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &vector, { data, size in FuzzTargets.run(data, size) })
}

/// The classic libFuzzer entry point, for drivers that look it up by name (e.g. when linked with libFuzzer's
/// own main instead of the SwiftPM entry point above).
@_cdecl("LLVMFuzzerTestOneInput")
func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTargets.run(data, size)
}

// MARK: - targets

enum FuzzTarget: String, CaseIterable {
    case credential, tlsname, protocollog
}

enum FuzzTargets {
    /// The target chosen by CERTSTORE_FUZZ_TARGET, or nil for "the first byte decides".
    static let fixed: FuzzTarget? = {
        let name = ProcessInfo.processInfo.environment["CERTSTORE_FUZZ_TARGET"]?.lowercased() ?? "all"
        if name == "all" || name.isEmpty { return nil }
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("CERTSTORE_FUZZ_TARGET=\(name): use one of \(FuzzTarget.allCases.map(\.rawValue)) or all\n".utf8))
            exit(64)
        }
        return target
    }()

    /// Low iteration caps keep every execution cheap: mutated counts above them are refused before any key
    /// derivation (which is itself one of the behaviours under test). Seeds use 2048 iterations.
    static let limits = Limits(maxIterations: 4096, maxFileSize: 1 << 20)
    /// The password of every encrypted seed in Fuzz/corpus (scripts/fuzz.sh documents how they were made).
    static let password = Password("fuzz")

    /// A private directory for the protocol-log target (files need a path) and an empty store root.
    static let scratch: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("certstore-fuzz-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: FuzzTargets.scratch) }
        return url
    }()

    static func run(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        var bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
        let target: FuzzTarget
        if let fixed {
            target = fixed
        } else {
            guard let first = bytes.first else { return 0 }
            target = FuzzTarget.allCases[Int(first) % FuzzTarget.allCases.count]
            bytes.removeFirst()
        }
        switch target {
        case .credential: credential(bytes)
        case .tlsname: tlsName(bytes)
        case .protocollog: protocolLog(bytes)
        }
        return 0
    }

    /// What `import` does with outside bytes: detect and parse, then derive every property the store and the
    /// listings show, pair keys with certificates, and re-encode keys the way the store writes them.
    static func credential(_ bytes: [UInt8]) {
        var file = try? CredentialFile(bytes: bytes, password: password, limits: limits)
        if file == nil {
            // No password given takes other paths: the empty password in both encodings, "password required".
            file = try? CredentialFile(bytes: bytes, password: nil, limits: limits)
        }
        guard let file else { return }
        for item in file.certificates {
            let certificate = item.value
            let properties = certificate.properties()
            // A listing parses the stored DER without OpenSSL's eager key decode: it must read exactly what a full
            // parse of the same bytes reads.
            if let full = try? Certificate(der: certificate.der) {
                guard let listed = try? Certificate.listingProperties(der: certificate.der), listed == full.properties() else {
                    fatalError("a listing reads other properties than a full parse of the same certificate")
                }
            }
            _ = certificate.thumbprint
            _ = certificate.publicKeyIdentifier
            _ = certificate.pem
            _ = properties.subject.windowsString
            _ = properties.issuer.windowsString
            _ = properties.subject.commonName
            _ = item.friendlyName?.unicodeScalars.count
            let name = TLSCertificateName(certificate: properties)
            _ = name.matches(subject: properties.subjectString, issuer: properties.issuerString)
            _ = try? TLSCertificateName(parsing: name.description)
            for key in file.keys { _ = certificate.matches(key.value) }
            for other in file.certificates.prefix(4) { _ = certificate.isIssued(by: other.value) }
        }
        for item in file.keys {
            let key = item.value
            _ = key.typeName
            _ = key.bits
            _ = key.publicKeyIdentifier
            _ = key.isConsistent
            if let pem = try? key.pkcs8PEM() {
                // What the store writes must read back as the same key (public API only: no password, no limits
                // beyond the file's own).
                guard let again = try? PrivateKey(bytes: pem, password: nil, limits: limits),
                      again.publicKeyIdentifier == key.publicKeyIdentifier else {
                    fatalError("a \(key.typeName) key does not survive its own PKCS#8 PEM round trip")
                }
            }
        }
    }

    static func tlsName(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = DistinguishedName.normalize(text)
        guard let name = try? TLSCertificateName(parsing: text) else { return }
        _ = name.description
        _ = name.matches(subject: name.subject, issuer: name.issuer ?? "")
        // Exchange stores the description form; it must parse back to the same name.
        guard let again = try? TLSCertificateName(parsing: name.description) else {
            fatalError("TLSCertificateName round trip failed for \(String(reflecting: text))")
        }
        _ = again.matches(subject: name.subject, issuer: name.issuer ?? "")
    }

    static let logURL = scratch.appendingPathComponent("SEND-fuzz.log")
    static let emptyStore = StoreLocation(root: scratch.appendingPathComponent("no-store", isDirectory: true))

    static func protocolLog(_ bytes: [UInt8]) {
        do {
            try Data(bytes).write(to: logURL)
        } catch {
            fatalError("cannot write the fuzz input to \(logURL.path): \(error)")
        }
        var rows = 0
        var malformed = 0
        try? ProtocolLogReader().read(logURL, row: { row in
            rows += 1
            _ = row.data.count + row.context.count
        }, malformed: { _ in malformed += 1 })
        // The whole `diagnose` pipeline on the same bytes: sessions, certificate rows, error names, store lookup.
        if let result = try? ProtocolLogDiagnoser(store: emptyStore).diagnose([logURL.path]) {
            if result.linesRead != rows {
                fatalError("diagnose read \(result.linesRead) rows, the reader \(rows)")
            }
            for group in result.groups { _ = group.diagnosis.explanation }
        }
        // The same bytes as a mail daemon's log (syslog, journal, dovecot, exim lines), whatever format detection
        // says, and the whole of `diagnose --log`: detection, then the reader it picks.
        if let mail = try? MailLogDiagnoser(store: emptyStore).diagnose([logURL]) {
            if mail.mailLines > mail.linesRead { fatalError("\(mail.mailLines) mail lines of \(mail.linesRead) read") }
            for group in mail.groups { _ = group.diagnosis.explanation + group.diagnosis.fix.joined() }
        }
        _ = try? LogDiagnoser(store: emptyStore).diagnose([logURL.path])
    }
}
#else
// A declaration rather than a bare call: the fuzz build parses this inactive branch in library mode
// (-parse-as-library), where top-level expressions are errors; in a normal build main.swift runs it.
let certstoreFuzzNotice: Void = print("certstore-fuzz: build it with scripts/fuzz.sh (libFuzzer + AddressSanitizer)")
#endif
