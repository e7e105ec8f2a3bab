/// Every failure the library reports: what happened, in words a person can act on, and what to do next.
///
/// The command line prints `message` and `hint` on stderr and maps `kind` to a documented exit code.
public struct CertStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Equatable, Codable {
        /// The request itself is malformed (bad thumbprint, bad option value).
        case usage
        /// The certificate, store or item asked for does not exist.
        case notFound
        /// Input bytes are damaged, unsupported, or the password is wrong.
        case badData
        /// An input file could not be read.
        case inputUnreadable
        /// The store is locked by another writer.
        case busy
        /// The file system refused access.
        case permission
        /// The operation is refused because it would break something or is not allowed for this item.
        case refused
        /// A write to the store or an output file failed.
        case writeFailed
        /// A bug or an OpenSSL failure with no better classification.
        case internalError
        /// The user stopped the operation (Ctrl-C, SIGTERM) before it committed anything: nothing changed.
        case interrupted
    }

    public let kind: Kind
    public let message: String
    /// One line telling the user what to do next.
    public let hint: String?

    public init(_ kind: Kind, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}

extension CertStoreError {
    static func usage(_ message: String, hint: String? = nil) -> CertStoreError {
        CertStoreError(.usage, message, hint: hint)
    }
    static func badData(_ message: String, hint: String? = nil) -> CertStoreError {
        CertStoreError(.badData, message, hint: hint)
    }
    static func notFound(_ message: String, hint: String? = nil) -> CertStoreError {
        CertStoreError(.notFound, message, hint: hint)
    }
    static func internalError(_ message: String) -> CertStoreError {
        CertStoreError(.internalError, message, hint: "this is a bug in certstore; please report it with the command you ran")
    }
}
