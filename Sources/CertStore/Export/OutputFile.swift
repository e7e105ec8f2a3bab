import Foundation

/// Writes an exported file: atomically, 0600 when it holds a key, never over an existing file unless asked.
public enum OutputFile {
    public static func write(_ bytes: [UInt8], to path: String, secret: Bool, overwrite: Bool) throws {
        let url = URL(fileURLWithPath: path)
        if !overwrite && FileSystem.exists(url) {
            throw CertStoreError(.refused, "\(path) exists already", hint: "choose another --out, or add --force to replace it")
        }
        var info = stat()
        if lstat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
            throw CertStoreError(.refused, "\(path) is a symbolic link; certstore does not write through links",
                                 hint: "remove the link or choose another --out")
        }
        try FileSystem.writeAtomically(bytes, to: url, mode: secret ? 0o600 : 0o644)
    }
}
