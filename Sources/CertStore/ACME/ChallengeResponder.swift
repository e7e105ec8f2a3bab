import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// How an order proves control of its names (RFC 8555 §8): kept with the certificate so renewal needs no arguments.
public enum ChallengeMethod: Sendable, Equatable, Codable, CustomStringConvertible {
    /// http-01 answered by certstore's own listener on `port` (all addresses; 80 by default).
    case standalone(port: Int)
    /// http-01 answered by a web server that serves `directory`/.well-known/acme-challenge/.
    case webroot(directory: String)
    /// dns-01: `command add NAME VALUE` before validation, `command remove NAME VALUE` after.
    case dnsHook(command: String)

    /// `--http-01 standalone[:PORT]` or `--http-01 webroot:DIR`.
    public init(http01 text: String) throws {
        let hint = "use --http-01 standalone (port 80), standalone:PORT, or webroot:DIR"
        if text == "standalone" {
            self = .standalone(port: 80)
        } else if text.hasPrefix("standalone:") {
            guard let port = Int(text.dropFirst("standalone:".count)), (1...65535).contains(port) else {
                throw CertStoreError.usage("\"\(text)\" has no valid port", hint: hint)
            }
            self = .standalone(port: port)
        } else if text.hasPrefix("webroot:") {
            let directory = String(text.dropFirst("webroot:".count))
            guard directory.hasPrefix("/") else { throw CertStoreError.usage("the webroot \"\(directory)\" is not an absolute path", hint: hint) }
            self = .webroot(directory: directory)
        } else {
            throw CertStoreError.usage("unknown http-01 method \"\(text)\"", hint: hint)
        }
    }

    /// The ACME challenge type this method answers.
    var challengeType: String {
        switch self {
        case .standalone, .webroot: "http-01"
        case .dnsHook: "dns-01"
        }
    }

    public var description: String {
        switch self {
        case .standalone(let port): "http-01 standalone:\(port)"
        case .webroot(let directory): "http-01 webroot:\(directory)"
        case .dnsHook(let command): "dns-01 hook \(command)"
        }
    }
}

/// Publishes challenge responses while an order is validated, and withdraws them afterwards.
final class ChallengeResponder {
    private let method: ChallengeMethod
    private let tokens = NIOLockedValueBox<[String: String]>([:])
    private var channel: Channel?
    private var published: [(name: String, value: String, file: String?)] = []

    init(_ method: ChallengeMethod) { self.method = method }

    /// Starts what must run before any challenge is published (the standalone listener).
    func start() throws {
        guard case .standalone(let port) = method else { return }
        let tokens = self.tokens
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(HTTP01Handler(tokens: tokens))
                }
            }
        do {
            channel = try bootstrap.bind(host: "0.0.0.0", port: port).wait()
        } catch {
            throw CertStoreError(.refused, "cannot listen on port \(port) for http-01: \(error)",
                                 hint: "another web server holds the port: use --http-01 webroot:DIR with its document root, or stop it")
        }
    }

    /// Publishes the response to one challenge: the key authorization at /.well-known/acme-challenge/TOKEN, or the
    /// TXT record `_acme-challenge.NAME`.
    func publish(name: String, token: String, keyAuthorization: String, dnsValue: String) throws {
        switch method {
        case .standalone:
            tokens.withLockedValue { $0[token] = keyAuthorization }
        case .webroot(let directory):
            let folder = URL(fileURLWithPath: directory).appendingPathComponent(".well-known/acme-challenge", isDirectory: true)
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
                let file = folder.appendingPathComponent(token)
                try FileSystem.writeAtomically(Array(keyAuthorization.utf8), to: file, mode: 0o644)
                published.append((name, token, file.path))
            } catch {
                throw CertStoreError(.writeFailed, "cannot write the http-01 response into the webroot \(directory): \(error)")
            }
        case .dnsHook(let command):
            let record = "_acme-challenge." + (name.hasPrefix("*.") ? String(name.dropFirst(2)) : name)
            try runHook(command, "add", record, dnsValue)
            published.append((record, dnsValue, nil))
        }
    }

    /// Withdraws every published response and stops the listener; failures here do not fail the order.
    /// Returns what could not be withdrawn.
    @discardableResult
    func finish() -> [String] {
        var problems: [String] = []
        for item in published.reversed() {
            switch method {
            case .webroot:
                if let file = item.file, unlink(file) != 0 { problems.append("could not remove \(file)") }
            case .dnsHook(let command):
                do { try runHook(command, "remove", item.name, item.value) } catch let error as CertStoreError {
                    problems.append(error.message)
                } catch { problems.append("\(error)") }
            case .standalone: break
            }
        }
        published = []
        tokens.withLockedValue { $0 = [:] }
        if let channel {
            try? channel.close().wait()
            self.channel = nil
        }
        return problems
    }

    deinit { finish() }

    /// `COMMAND ACTION NAME VALUE` through /bin/sh (the command may carry its own arguments); non-zero fails.
    private func runHook(_ command: String, _ action: String, _ name: String, _ value: String) throws {
        let script = command + " " + [action, name, value].map(ShellQuote.quote).joined(separator: " ")
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", script], environment: nil, currentDirectory: nil, input: .null)
        let result = child.wait(timeout: 120)
        guard result.termination.shellStatus == 0, !result.timedOut else {
            let output = String(decoding: result.standardError + result.standardOutput, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw CertStoreError(.refused, "the dns-01 hook `\(command) \(action) \(name) …` failed (\(result.timedOut ? "timed out after 120 s" : "exit status \(result.termination.shellStatus.map(String.init) ?? "?")"))"
                                 + (output.isEmpty ? "" : ": \(output)"),
                                 hint: "the hook must set (add) or delete (remove) the TXT record NAME with the text VALUE and exit 0")
        }
    }
}

/// Answers GET /.well-known/acme-challenge/TOKEN with the key authorization (RFC 8555 §8.3), 404 otherwise.
private final class HTTP01Handler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let tokens: NIOLockedValueBox<[String: String]>

    init(tokens: NIOLockedValueBox<[String: String]>) { self.tokens = tokens }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let prefix = "/.well-known/acme-challenge/"
        var body: String? = nil
        if head.method == .GET, head.uri.hasPrefix(prefix) {
            let token = String(head.uri.dropFirst(prefix.count))
            body = tokens.withLockedValue { $0[token] }
        }
        var headers = HTTPHeaders()
        let bytes = ByteBuffer(string: body ?? "not found\n")
        headers.add(name: "Content-Type", value: body == nil ? "text/plain" : "application/octet-stream")
        headers.add(name: "Content-Length", value: "\(bytes.readableBytes)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: body == nil ? .notFound : .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
