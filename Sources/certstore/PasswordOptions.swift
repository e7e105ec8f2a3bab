import ArgumentParser
import CertStore
import Foundation

/// Where a password comes from. None of these needs the password on the command line.
struct PasswordOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the password from the first line of this file.", valueName: "file"))
    var passwordFile: String?

    @Flag(help: "Read the password from the first line of standard input (an empty line is the empty password).")
    var passwordStdin = false

    @Option(help: ArgumentHelp("Read the password from this environment variable.", valueName: "var"))
    var passwordEnv: String?

    @Option(help: ArgumentHelp("The password itself (visible to other users in `ps`; prefer the options above).", valueName: "password"))
    var password: String?

    func validate() throws {
        let given = [passwordFile != nil, passwordStdin, passwordEnv != nil, password != nil].filter { $0 }.count
        if given > 1 { throw ValidationError("give the password one way only (--password-file, --password-stdin, --password-env or --password)") }
    }

    /// The password given up front, or nil when none was.
    func resolve() throws -> Password? {
        if let password {
            Terminal.warn("--password puts the password where other users can see it (ps, shell history); use --password-file, --password-stdin or --password-env")
            return Password(password)
        }
        if let passwordFile {
            let bytes = try readPasswordFile(passwordFile)
            return Password(bytes: firstLine(bytes))
        }
        if passwordStdin {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            return Password(bytes: firstLine(Array(data)))
        }
        if let passwordEnv {
            guard let value = ProcessInfo.processInfo.environment[passwordEnv] else {
                throw CertStoreError(.usage, "the environment variable \(passwordEnv) is not set", hint: "export it first, or use --password-file")
            }
            return Password(value)
        }
        return nil
    }

    private func readPasswordFile(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CertStoreError(.inputUnreadable, "cannot read the password file \(path)")
        }
        defer { try? handle.close() }
        return Array(handle.readData(ofLength: 64 * 1024))
    }

    /// The first line without its line ending (`\n` or `\r\n`).
    private func firstLine(_ bytes: [UInt8]) -> [UInt8] {
        var line = Array(bytes.prefix { $0 != 0x0A })
        if line.last == 0x0D { line.removeLast() }
        return line
    }

    /// Asks on the terminal with echo off; nil when there is no terminal (never blocks a script).
    static func prompt(_ question: String) -> Password? {
        guard Terminal.stdinIsTerminal else { return nil }
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var saved = termios()
        tcgetattr(fd, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(fd, TCSAFLUSH, &silent)
        defer {
            tcsetattr(fd, TCSAFLUSH, &saved)
            _ = write(fd, "\n", 1)
        }
        _ = question.withCString { write(fd, $0, strlen($0)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != 0x0A { line.append(byte) }
        if line.last == 0x0D { line.removeLast() }
        let password = Password(bytes: line)
        wipeBytes(&line)
        return password
    }
}

func wipeBytes(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress { _ = memset(base, 0, raw.count) }
    }
}
