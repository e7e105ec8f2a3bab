/// PowerShell's `-like`: `*` any run, `?` one character, `[a-z]`/`[bc]` a range or set, and a backtick
/// escaping the next character. Case-insensitive and anchored on the whole string.
public struct WildcardPattern: Sendable, Equatable {
    enum Element: Sendable, Equatable {
        case literal(Character)
        case any
        case one
        case set([ClosedRange<Character>])
    }

    public let pattern: String
    let elements: [Element]

    public init(_ pattern: String) throws {
        self.pattern = pattern
        var elements: [Element] = []
        var chars = Array(pattern.lowercased())[...]
        while let c = chars.popFirst() {
            switch c {
            case "`":
                guard let next = chars.popFirst() else {
                    throw CertStoreError.usage("wildcard pattern \"\(pattern)\" ends with an escape character (`)")
                }
                elements.append(.literal(next))
            case "*":
                if elements.last != .any { elements.append(.any) }
            case "?":
                elements.append(.one)
            case "[":
                var ranges: [ClosedRange<Character>] = []
                var closed = false
                while let d = chars.popFirst() {
                    if d == "]" { closed = true; break }
                    var low = d
                    if low == "`", let escaped = chars.popFirst() { low = escaped }
                    if chars.first == "-", chars.dropFirst().first.map({ $0 != "]" }) == true {
                        chars.removeFirst()
                        var high = chars.removeFirst()
                        if high == "`", let escaped = chars.popFirst() { high = escaped }
                        guard low <= high else {
                            throw CertStoreError.usage("wildcard pattern \"\(pattern)\" has the range [\(low)-\(high)] backwards")
                        }
                        ranges.append(low...high)
                    } else {
                        ranges.append(low...low)
                    }
                }
                guard closed, !ranges.isEmpty else {
                    throw CertStoreError.usage("wildcard pattern \"\(pattern)\" has an unclosed or empty [ ]",
                                               hint: "escape a literal [ with a backtick: `[")
                }
                elements.append(.set(ranges))
            default:
                elements.append(.literal(c))
            }
        }
        self.elements = elements
    }

    /// Does the whole of `text` match (case-insensitively)?
    public func matches(_ text: String) -> Bool {
        let chars = Array(text.lowercased())
        // Iterative matching with one backtrack point per `*` (linear in practice, no recursion).
        var p = 0, t = 0
        var starP = -1, starT = 0
        while t < chars.count {
            if p < elements.count, Self.matchOne(elements[p], chars[t]) {
                p += 1; t += 1
            } else if p < elements.count, elements[p] == .any {
                starP = p; starT = t; p += 1
            } else if starP >= 0 {
                p = starP + 1; starT += 1; t = starT
            } else {
                return false
            }
        }
        while p < elements.count, elements[p] == .any { p += 1 }
        return p == elements.count
    }

    private static func matchOne(_ element: Element, _ c: Character) -> Bool {
        switch element {
        case .literal(let l): return l == c
        case .one: return true
        case .any: return false
        case .set(let ranges): return ranges.contains { $0.contains(c) }
        }
    }

    /// True when the pattern has no wildcard at all (a plain case-insensitive comparison).
    public var isLiteral: Bool { elements.allSatisfy { if case .literal = $0 { return true } else { return false } } }
}
