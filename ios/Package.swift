// swift-tools-version:5.9
// Carnet for iOS: the Rust core as one static library in an XCFramework
// (CarnetCore.xcframework, built by build-xcframework.sh; its Headers hold
// the generated carnet_ffiFFI.h and module.modulemap), the generated Swift
// bindings (Sources/CarnetFFI, written by scripts/bindings.sh generate, never
// edited), and a thin wrapper (Sources/Carnet: Keychain, Secure Enclave,
// screen models) that the SwiftUI app under App/ uses.
//
// Swift 5 language mode: the generated async code is not Sendable-clean
// under Swift 6 strict concurrency yet (uniffi-rs#2458).
import PackageDescription

let package = Package(
    name: "Carnet",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "Carnet", targets: ["Carnet"]),
    ],
    targets: [
        // One static library for all the Rust code in the app (uniffi-rs#2802).
        .binaryTarget(name: "CarnetCore", path: "CarnetCore.xcframework"),
        .target(
            name: "CarnetFFI",
            dependencies: ["CarnetCore"],
            path: "Sources/CarnetFFI",
            // The C header and module map ship inside the XCFramework.
            exclude: ["carnet_ffiFFI.h", "carnet_ffiFFI.modulemap"],
            swiftSettings: [.swiftLanguageVersion(.v5)]
        ),
        .target(
            name: "Carnet",
            dependencies: ["CarnetFFI"],
            path: "Sources/Carnet",
            swiftSettings: [.swiftLanguageVersion(.v5)]
        ),
    ],
    swiftLanguageVersions: [.v5]
)
