// swift-tools-version:6.0
// AssentKit: the core for the iOS app, as a Swift package.
//
// - AssentCoreFFI: the C side of the uniffi bindings (header and module map).
// - AssentCore: the generated Swift bindings. Sources/AssentCore/AssentCore.swift is a symlink
//   to authenticator-ffi/bindings/swift/AssentCore.swift (as are the header and module map), so
//   there is one copy, the one scripts/bindings.sh regenerates and CI checks. SwiftPM and Xcode
//   both follow symlinked files inside a package; neither accepts sources outside it by path.
// - AssentKit: Swift written for the app on top (re-exports AssentCore). Keep it free of
//   SwiftUI, UIKit, Combine and Observation, so that it compiles and is tested on Linux too.
//
// Where libassent_core comes from:
// - Linux (scripts/test-swift.sh), or anywhere ASSENT_LIB_DIR is set: the Rust cdylib in
//   $ASSENT_LIB_DIR (default ../../target/debug), linked with an rpath to it.
// - Otherwise (Xcode, iOS): AssentCoreFFI.xcframework in this folder, built by
//   scripts/build-ios.sh (static libraries for device and simulator, with the same header and
//   module map inside). It sits inside the package: binary targets, like sources, belong under
//   the package root.
import PackageDescription

let libDir = Context.environment["ASSENT_LIB_DIR"]
#if os(Linux)
let hostLibrary = true
#else
let hostLibrary = libDir != nil
#endif

let ffi: Target
let linkRust: [LinkerSetting]
if hostLibrary {
    let dir = libDir ?? Context.packageDirectory + "/../../target/debug"
    ffi = .systemLibrary(name: "AssentCoreFFI", path: "Sources/AssentCoreFFI")
    linkRust = [
        .linkedLibrary("assent_core"),
        .unsafeFlags(["-L", dir, "-Xlinker", "-rpath", "-Xlinker", dir]),
    ]
} else {
    ffi = .binaryTarget(name: "AssentCoreFFI", path: "AssentCoreFFI.xcframework")
    linkRust = []
}

let package = Package(
    name: "AssentKit",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "AssentKit", targets: ["AssentKit"]),
    ],
    targets: [
        ffi,
        .target(name: "AssentCore", dependencies: ["AssentCoreFFI"], linkerSettings: linkRust),
        .target(name: "AssentKit", dependencies: ["AssentCore"]),
        .testTarget(name: "AssentKitTests", dependencies: ["AssentKit"]),
        // The benchmarks (scripts/test-swift.sh --bench, against the release library).
        .executableTarget(name: "AssentKitBench", dependencies: ["AssentKit"]),
    ]
)
