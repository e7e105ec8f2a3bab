// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "certstore",
    products: [
        .library(name: "CertStore", targets: ["CertStore"]),
        .executable(name: "certstore", targets: ["certstore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
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
            dependencies: ["COpenSSL", "CLinux", .product(name: "CSV", package: "CSV.swift")]
        ),
        .executableTarget(
            name: "certstore",
            dependencies: [
                "CertStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CSV", package: "CSV.swift"),
            ]
        ),
        // libFuzzer harness over every parser that takes outside bytes (scripts/fuzz.sh).
        .executableTarget(
            name: "certstore-fuzz",
            dependencies: ["CertStore"],
            path: "Fuzz/certstore-fuzz"
        ),
        .testTarget(
            name: "CertStoreTests",
            dependencies: ["CertStore"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["CertStore"]
        ),
    ]
)
