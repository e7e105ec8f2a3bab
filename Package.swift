// swift-tools-version:6.0
import PackageDescription
import Foundation

let systemMalloc = ProcessInfo.processInfo.environment["CERTSTORE_SYSTEM_MALLOC"] == "1"

let package = Package(
    name: "certstore",
    products: [
        .library(name: "CertStore", targets: ["CertStore"]),
        .executable(name: "certstore", targets: ["certstore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        // `swift package generate-documentation --target CertStore` builds the DocC catalogue (CI checks it).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // ACME (RFC 8555): the HTTPS client (trusting a given CA bundle for a private ACME server), and SwiftNIO's
        // HTTP/1 server for the standalone http-01 listener. Both come with async-http-client.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // System OpenSSL 3 (Debian: libssl-dev). Macros Swift cannot import are wrapped in shim.h.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Linux calls Glibc does not export (syncfs), as header-only inline functions.
        .systemLibrary(name: "CLinux"),
        .target(
            name: "CertStore",
            dependencies: [
                "COpenSSL", "CLinux", .product(name: "CSV", package: "CSV.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "certstore",
            dependencies: [
                "CertStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            // jemalloc (Debian: libjemalloc-dev) replaces glibc's malloc in the binary: OpenSSL 3.0 allocates
            // and frees a decoder per certificate, and a first listing of 10,000 certificates takes about a fifth
            // less time (docs/PERFORMANCE.md). The library does not depend on it. CERTSTORE_SYSTEM_MALLOC=1 at
            // build time keeps glibc's (scripts/asan-test.sh: AddressSanitizer brings its own malloc).
            linkerSettings: systemMalloc ? [] : [.linkedLibrary("jemalloc")]
        ),
        // libFuzzer harness over every parser that takes outside bytes (scripts/fuzz.sh).
        .executableTarget(
            name: "certstore-fuzz",
            dependencies: ["CertStore"],
            path: "Fuzz/certstore-fuzz"
        ),
        .testTarget(
            name: "CertStoreTests",
            dependencies: ["CertStore"],
            // Captured daemon logs (scripts/capture-mail-logs.sh), read from the source tree by the tests.
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["CertStore"]
        ),
    ]
)
