#!/usr/bin/env bash
# Builds AssentCoreFFI.xcframework: the static library for iOS devices (arm64) and the simulator
# (arm64 + x86_64, merged with lipo), with the generated Swift bindings' C header and module
# map, into ios-app/AssentKit/: the library AssentKit's Package.swift links on Apple platforms
# (the generated Swift reaches the app through AssentKit's symlink, not a copy). Also writes
# the brand icons' asset catalog, ios-app/Assent/Brands.xcassets (scripts/icons.py ios;
# git-ignored: 544 generated image sets), which project.yml puts in the app's resources. Run
# it before `xcodegen generate`. Needs macOS with Xcode; our CI machines have neither, so this
# script is checked by reading only (see authenticator-ffi/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v xcodebuild >/dev/null || { echo "xcodebuild not found: run this on macOS with Xcode" >&2; exit 1; }
# Written afresh: icons.py replaces the sets it writes but would leave the set of a brand
# that left authenticator-core/icons/ behind.
rm -rf ios-app/Assent/Brands.xcassets
python3 scripts/icons.py ios ios-app/Assent/Brands.xcassets
rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  cargo build --release -p authenticator-ffi --lib --target "$target"
done
work=target/xcframework
rm -rf "$work" ios-app/AssentKit/AssentCoreFFI.xcframework
mkdir -p "$work/headers" "$work/simulator"
cp authenticator-ffi/bindings/swift/AssentCoreFFI.h "$work/headers/"
# Xcode looks for module.modulemap inside the headers directory of each slice.
cp authenticator-ffi/bindings/swift/AssentCoreFFI.modulemap "$work/headers/module.modulemap"
lipo -create target/aarch64-apple-ios-sim/release/libassent_core.a \
  target/x86_64-apple-ios/release/libassent_core.a -output "$work/simulator/libassent_core.a"
xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/release/libassent_core.a -headers "$work/headers" \
  -library "$work/simulator/libassent_core.a" -headers "$work/headers" \
  -output ios-app/AssentKit/AssentCoreFFI.xcframework
