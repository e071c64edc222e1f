#!/usr/bin/env bash
# Builds libassent_core.so for the Android ABIs the app ships (arm64-v8a, armeabi-v7a, x86_64)
# into android-app/app/src/main/jniLibs/, with cargo-ndk. Needs the Android NDK (ANDROID_NDK_HOME)
# and `cargo install cargo-ndk`; neither exists on our CI machines, so this script is checked by
# reading only (see authenticator-ffi/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK (r26 or newer)}"
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
out=android-app/app/src/main/jniLibs
cargo ndk --platform 26 -t arm64-v8a -t armeabi-v7a -t x86_64 -o "$out" \
  build --release -p authenticator-ffi --lib
# The Kotlin bindings the app compiles are the committed, CI-checked ones.
mkdir -p android-app/app/src/main/java/org/assent/core
cp authenticator-ffi/bindings/kotlin/org/assent/core/assent_core.kt android-app/app/src/main/java/org/assent/core/
ls -l "$out"/*/libassent_core.so
