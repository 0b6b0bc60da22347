// swift-tools-version:6.0
// The inference platform: pure state machines (PlatformCore), pure codecs (PlatformWire), the
// deterministic simulation shell (Simulation), shells over system C libraries (PlatformCrypto over
// libcrypto) and the command line (aiplatform). No package dependencies: the toolchain and system
// libraries only.
import PackageDescription

let package = Package(
    name: "aiplatform",
    products: [
        .executable(name: "aiplatform", targets: ["aiplatform"])
    ],
    targets: [
        .target(name: "PlatformCore", path: "Sources/PlatformCore"),
        .target(name: "PlatformWire", dependencies: ["PlatformCore"], path: "Sources/PlatformWire"),
        .target(
            name: "Simulation", dependencies: ["PlatformCore", "PlatformWire", "PlatformCrypto"], path: "Simulation",
            // The simulator is single-threaded and its hot loop touches the world's properties
            // through one class: dynamic exclusivity checks cost a fifth of its time for nothing.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .executableTarget(
            name: "aiplatform",
            dependencies: ["PlatformCore", "PlatformWire", "Simulation", "PlatformProduction", "CLinux"],
            path: "Sources/aiplatform"),
        // libcrypto (OpenSSL 3) for JWS signature math; only Shells/ may import it.
        .systemLibrary(
            name: "CCrypto", path: "Shells/System/CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .target(name: "PlatformCrypto", dependencies: ["CCrypto", "PlatformCore"], path: "Shells/Crypto"),
        // Linux system calls Glibc does not export: epoll, eventfd, timerfd, TCP options.
        .systemLibrary(name: "CLinux", path: "Shells/System/CLinux"),
        // SQLite for the embedded mode (registry, keys, jobs, durable queue).
        .systemLibrary(
            name: "CSQLite", path: "Shells/System/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        // The production shell: the reactor, sockets, timers, and the clients and servers binding nodes to real I/O.
        .target(
            name: "PlatformProduction",
            dependencies: ["PlatformCore", "PlatformWire", "PlatformCrypto", "CSQLite", "CLinux"],
            path: "Shells/Production",
            // Each reactor's objects are touched by its thread only; dynamic exclusivity checks on their properties
            // cost several percent of a request for nothing.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .testTarget(name: "PlatformCoreTests", dependencies: ["PlatformCore"], path: "Tests/PlatformCoreTests"),
        .testTarget(name: "PlatformWireTests", dependencies: ["PlatformWire"], path: "Tests/PlatformWireTests"),
        .testTarget(
            name: "PlatformCryptoTests", dependencies: ["PlatformCrypto", "PlatformWire", "PlatformCore"],
            path: "Tests/PlatformCryptoTests"),
        .testTarget(
            name: "PlatformProductionTests", dependencies: ["PlatformProduction", "PlatformCore", "PlatformWire"],
            path: "Tests/PlatformProductionTests"),
        .testTarget(
            name: "SimulationTests", dependencies: ["PlatformCore", "Simulation"], path: "Tests/SimulationTests"),
    ]
)
