// swift-tools-version:6.1
import PackageDescription

/// Every target: Swift 6 language mode, internal imports unless stated, explicit `any`.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
]

/// The release link of `flowrunner` on Linux, for start-up and memory
/// (BENCHMARKS.md, issues 16 and 22): lld instead of gold; no dynamic symbol
/// table for the whole program (SwiftPM exports every symbol of an
/// executable, 4.7 MiB that start-up reads); relative relocations packed
/// (RELR, glibc 2.36); and the functions that start-up, an idle `serve` and a
/// hook run execute linked next to each other (Linker/startup.order, written
/// by bench/startup_order.py), so the few MiB they need are not spread over
/// 36 MiB of code. Debug builds and tests link as SwiftPM does by default.
let releaseLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-use-ld=lld",
            "-Xlinker", "--no-export-dynamic",
            "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
            "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Linker/startup.order",
            "-Xlinker", "--no-warn-symbol-ordering",
        ],
        .when(platforms: [.linux], configuration: .release)
    )
]

let package = Package(
    name: "FlowRunner",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "flowrunner", targets: ["FlowRunnerCLI"]),
        .library(name: "DriverSpec", targets: ["DriverSpec"]),
        .library(name: "StateStore", targets: ["StateStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The HTTP server; the swift-configuration bridge is not used.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        // HTTP client of the completion webhooks and the end-to-end tests (and, with its issue, of the Kubernetes API).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // The operator web page's templates (server-rendered HTML).
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // TLS settings of the Kubernetes API client (its CA and client certificate); async-http-client builds on it.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // The PostgreSQL state store (`--state postgres://...`): several runner machines on one queue.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "FlowModel",
            swiftSettings: strictSettings
        ),
        .target(
            name: "DriverSpec",
            dependencies: [
                "FlowModel", .product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StateStore",
            dependencies: ["FlowModel", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "PostgresStateStore",
            dependencies: [
                "FlowModel", "StateStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Primitives",
            dependencies: ["FlowModel", "DriverSpec", "StateStore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CSandboxSpawn"
        ),
        .target(
            name: "ActionHost",
            dependencies: ["FlowModel", "CSandboxSpawn"],
            resources: [.copy("Resources/python")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "FlowRunner",
            dependencies: ["FlowModel", "DriverSpec", "StateStore", "Primitives", "ActionHost"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Scheduler",
            dependencies: [
                "FlowModel", "FlowRunner", "StateStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KubernetesCluster",
            dependencies: [
                "FlowModel", "DriverSpec", "StateStore", "Primitives",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RunnerServer",
            dependencies: [
                "FlowModel", "DriverSpec", "StateStore", "Primitives", "FlowRunner", "Scheduler",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // The completion webhooks' client.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FlowRunnerCLI",
            dependencies: [
                "FlowModel", "DriverSpec", "StateStore", "PostgresStateStore", "Primitives", "ActionHost", "FlowRunner", "Scheduler",
                "KubernetesCluster", "RunnerServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/flowrunner",
            swiftSettings: strictSettings,
            linkerSettings: releaseLinkerSettings
        ),
        .testTarget(
            name: "FlowModelTests",
            dependencies: ["FlowModel"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HostileInput",
            path: "Tests/Support/HostileInput",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DriverSpecTests",
            dependencies: ["FlowModel", "DriverSpec", "HostileInput"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "StateStoreProbe",
            dependencies: ["FlowModel", "StateStore", "PostgresStateStore"],
            path: "Tests/Support/StateStoreProbe",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ActionHostProbe",
            dependencies: ["FlowModel", "ActionHost"],
            path: "Tests/Support/ActionHostProbe",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ActionHostTests",
            dependencies: ["FlowModel", "ActionHost"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "PrimitivesProbe",
            dependencies: ["FlowModel", "Primitives", "DriverSpec", "StateStore"],
            path: "Tests/Support/PrimitivesProbe",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PrimitivesTests",
            dependencies: ["FlowModel", "Primitives", "DriverSpec", "StateStore", "HostileInput"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "StateStoreTests",
            dependencies: [
                "FlowModel", "StateStore", "PostgresStateStore", "StateStoreProbe", .product(name: "GRDB", package: "GRDB.swift"),
                // The test PostgreSQL server's databases, made and dropped per test.
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KubernetesClusterTests",
            dependencies: ["FlowModel", "KubernetesCluster", "Primitives", "StateStore", "DriverSpec"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FlowRunnerTests",
            dependencies: ["FlowModel", "FlowRunner", "Scheduler", "Primitives", "StateStore", "ActionHost", "DriverSpec"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RunnerServerTests",
            dependencies: [
                "DriverSpec", "FlowModel", "FlowRunner", "RunnerServer", "Primitives", "StateStore", "ActionHost",
                .product(name: "Hummingbird", package: "hummingbird"),
                // Requests answered by the router in process, no socket.
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "FlowRunnerCLI", "StateStore", "HostileInput",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
