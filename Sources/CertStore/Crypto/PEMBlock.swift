import Foundation

/// One `-----BEGIN X-----` … `-----END X-----` block of a PEM file.
///
/// Only the framing is found here; the base64 body is decoded with Foundation and the contents are
/// parsed by OpenSSL.
struct PEMBlock {
    let label: String
    /// Header lines such as `Proc-Type: 4,ENCRYPTED` (traditional encrypted keys), joined.
    let headers: String
    let der: [UInt8]
    /// The block's text, for APIs that want PEM.
    let text: [UInt8]

    static func looksLikePEM(_ bytes: [UInt8]) -> Bool {
        bytes.firstRange(of: Array("-----BEGIN ".utf8)) != nil
    }

    /// Every well-framed block, in file order. Text between blocks (comments, `openssl x509 -text`
    /// output) is ignored, as OpenSSL does.
    static func all(in bytes: [UInt8]) -> [PEMBlock] {
        guard looksLikePEM(bytes) else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        var blocks: [PEMBlock] = []
        var searchStart = text.startIndex
        while let begin = text.range(of: "-----BEGIN ", range: searchStart..<text.endIndex) {
            guard let labelEnd = text.range(of: "-----", range: begin.upperBound..<text.endIndex) else { break }
            let label = String(text[begin.upperBound..<labelEnd.lowerBound])
            guard let end = text.range(of: "-----END \(label)-----", range: labelEnd.upperBound..<text.endIndex) else {
                searchStart = labelEnd.upperBound
                continue
            }
            let body = text[labelEnd.upperBound..<end.lowerBound]
            var headers: [Substring] = []
            var base64 = ""
            for line in body.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.contains(":") { headers.append(line) } else { base64 += trimmed }
            }
            let der = Data(base64Encoded: base64).map { [UInt8]($0) } ?? []
            blocks.append(PEMBlock(label: label, headers: headers.joined(separator: "\n"), der: der,
                                   text: Array(text[begin.lowerBound..<end.upperBound].utf8) + [0x0A]))
            searchStart = end.upperBound
        }
        return blocks
    }
}
