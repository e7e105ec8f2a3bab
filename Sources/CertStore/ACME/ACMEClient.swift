import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The RFC 8555 protocol: directory, nonces, signed POSTs and POST-as-GET, polling. HTTP goes through
/// AsyncHTTPClient (its `EventLoopFuture` API, waited on from the caller's thread: certstore's operations are
/// synchronous); TLS trusts the system's roots plus, when given, a CA bundle (a private ACME server's).
///
/// Not thread-safe: one client per operation.
final class ACMEClient {
    let directoryURL: String
    private let http: HTTPClient
    private var cachedDirectory: ACME.Directory?
    private var nonce: String?
    /// How long one order may wait for the server (validation, issuance) in all.
    let pollTimeout: TimeInterval
    /// How many times a `badNonce` refusal was answered by retrying with the fresh nonce it carried.
    private(set) var badNonceRetries = 0

    init(directoryURL: String, caBundle: String?, pollTimeout: TimeInterval = 120) throws {
        guard let url = URL(string: directoryURL), url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw CertStoreError.usage("\"\(directoryURL)\" is not an ACME directory URL",
                                       hint: "give the server's directory, e.g. --server https://acme-v02.api.letsencrypt.org/directory")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caBundle {
            guard FileSystem.exists(URL(fileURLWithPath: caBundle)) else {
                throw CertStoreError(.inputUnreadable, "the CA bundle \(caBundle) does not exist", hint: "give a PEM file of CA certificates")
            }
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caBundle))]
            } catch {
                throw CertStoreError.badData("the CA bundle \(caBundle) is not PEM certificates: \(error)")
            }
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(15), read: .seconds(60))
        configuration.redirectConfiguration = .disallow
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.directoryURL = directoryURL
        self.pollTimeout = pollTimeout
    }

    deinit { try? http.syncShutdown() }

    /// One HTTP response: status, headers, body.
    struct Response {
        let status: Int
        let headers: HTTPHeaders
        let body: Data

        /// The `Location` header (an account's or an order's URL).
        var location: String? { headers.first(name: "Location") }
        /// `Retry-After` in seconds (delta-seconds or an HTTP date).
        var retryAfter: TimeInterval? {
            guard let value = headers.first(name: "Retry-After") else { return nil }
            if let seconds = TimeInterval(value.trimmingCharacters(in: .whitespaces)) { return seconds }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            return formatter.date(from: value).map { $0.timeIntervalSinceNow }
        }
    }

    private func send(_ method: HTTPMethod, _ url: String, body: Data? = nil, contentType: String? = nil, accept: String? = nil) throws -> Response {
        var request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: method)
        } catch {
            throw CertStoreError.badData("the ACME server gave the URL \"\(url)\", which is not one: \(error)")
        }
        request.headers.add(name: "User-Agent", value: "certstore (RFC 8555)")
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let accept { request.headers.add(name: "Accept", value: accept) }
        if let body { request.body = .byteBuffer(ByteBuffer(bytes: body)) }
        let response: HTTPClient.Response
        do {
            response = try http.execute(request: request).wait()
        } catch {
            throw CertStoreError(.inputUnreadable, "cannot reach the ACME server at \(url): \(error)",
                                 hint: "check --server and the network; a private CA's certificate is given with --ca-bundle")
        }
        if let fresh = response.headers.first(name: "Replay-Nonce") { nonce = fresh }
        let bytes = response.body.map { Data($0.readableBytesView) } ?? Data()
        return Response(status: Int(response.status.code), headers: response.headers, body: bytes)
    }

    /// The directory (§7.1.1), fetched once.
    func directory() throws -> ACME.Directory {
        if let cachedDirectory { return cachedDirectory }
        let response = try send(.GET, directoryURL)
        guard response.status == 200 else {
            throw CertStoreError(.refused, "the ACME server answered \(response.status) for its directory \(directoryURL)",
                                 hint: "check --server: it is the directory URL")
        }
        let directory = try decode(ACME.Directory.self, response, what: "directory")
        cachedDirectory = directory
        return directory
    }

    /// A plain GET (RFC 9773's renewalInfo is fetched without a signature).
    func get(_ url: String) throws -> Response { try send(.GET, url) }

    /// A fresh nonce: the last `Replay-Nonce` seen, or HEAD newNonce (§7.2).
    private func takeNonce() throws -> String {
        if let nonce {
            self.nonce = nil
            return nonce
        }
        _ = try send(.HEAD, try directory().newNonce)
        guard let fresh = nonce else { throw CertStoreError.badData("the ACME server gave no Replay-Nonce") }
        nonce = nil
        return fresh
    }

    /// A signed POST (a payload) or POST-as-GET (nil, §6.3). A `badNonce` refusal is retried once with the nonce
    /// it carried (§6.5); any other problem document throws with the server's detail.
    func post(_ url: String, payload: Data?, signer: JWSSigner, key: JWSSigner.KeyReference, accept: String? = nil) throws -> Response {
        var attempt = 0
        while true {
            attempt += 1
            let body = try signer.sign(payload: payload, url: url, nonce: try takeNonce(), key: key)
            let response = try send(.POST, url, body: body, contentType: "application/jose+json", accept: accept)
            if response.status < 400 { return response }
            let problem = try? JSONDecoder().decode(ACME.Problem.self, from: response.body)
            if problem?.code == "badNonce" && attempt == 1 {
                badNonceRetries += 1
                continue
            }
            throw Self.error(problem, status: response.status, url: url, retried: attempt > 1)
        }
    }

    static func error(_ problem: ACME.Problem?, status: Int, url: String, retried: Bool) -> CertStoreError {
        guard let problem else { return CertStoreError(.refused, "the ACME server answered HTTP \(status) to \(url)") }
        let hint: String? = switch problem.code {
        case "badNonce": "the server refused a fresh nonce twice in a row\(retried ? " (retried once)" : ""); run the command again"
        case "accountDoesNotExist": "register first: certstore acme register --server URL --agree-tos"
        case "unauthorized", "incorrectResponse", "connection", "dns": "the CA could not validate the challenge: check that it reaches this machine (--http-01 PORT, webroot, or the DNS hook)"
        case "rateLimited": "wait before retrying (the server's rate limit)"
        default: nil
        }
        return CertStoreError(.refused, "the ACME server refused the request (\(problem))", hint: hint)
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: Response, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw CertStoreError.badData("the ACME server's \(what) is not what RFC 8555 describes: \(error)")
        }
    }

    /// POST-as-GET `url` until `done` says the resource settled, sleeping as `Retry-After` says (between 0.2 and
    /// 10 s; 0.5 s when the server says nothing), for `pollTimeout` at most.
    func poll<T: Decodable>(_ url: String, _ type: T.Type, signer: JWSSigner, account: String, what: String,
                            done: (T) -> Bool) throws -> T {
        let deadline = Date().addingTimeInterval(pollTimeout)
        while true {
            let response = try post(url, payload: nil, signer: signer, key: .kid(account))
            let value = try decode(type, response, what: what)
            if done(value) { return value }
            guard Date() < deadline else {
                throw CertStoreError(.refused, "the ACME server did not finish the \(what) within \(Int(pollTimeout)) s",
                                     hint: "run the command again later")
            }
            let wait = min(max(response.retryAfter ?? 0.5, 0.2), 10)
            usleep(useconds_t(wait * 1_000_000))
        }
    }
}
