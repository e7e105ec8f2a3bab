/// One entry of the subjectAltName extension.
public enum SubjectAlternativeName: Sendable, Equatable, Codable, CustomStringConvertible {
    case dns(String)
    case email(String)
    case uri(String)
    case ipAddress(String)
    case other(type: Int)

    /// The form `certutil` and the Windows certificate dialog use.
    public var description: String {
        switch self {
        case .dns(let name): return "DNS Name=\(name)"
        case .email(let address): return "RFC822 Name=\(address)"
        case .uri(let uri): return "URL=\(uri)"
        case .ipAddress(let address): return "IP Address=\(address)"
        case .other(let type): return "Other Name (type \(type))"
        }
    }
}
