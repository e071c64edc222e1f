#!/usr/bin/env bash
# Builds libassent_core.so for the Android ABIs the app ships (arm64-v8a, armeabi-v7a, x86_64)
# with cargo-ndk, into OUT_DIR/<abi>/ (default android-app/app/src/main/jniLibs; the app's Gradle
# build passes android-app/app/build/rust/jniLibs, one of its jniLibs folders). A relative
# OUT_DIR is taken from the current directory. The Kotlin bindings are not copied: the
# presentation module compiles the committed, CI-checked ones as a source folder.
# Needs the Android NDK (ANDROID_NDK_HOME) and `cargo install cargo-ndk`; neither exists on our
# CI machines, so this script is checked by reading only (see authenticator-ffi/README.md).
#   scripts/build-android.sh [OUT_DIR]
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then
  case $1 in
    /*) out=$1 ;;
    *) out=$caller/$1 ;;
  esac
else
  out=android-app/app/src/main/jniLibs
fi
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK (r26 or newer)}"
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
mkdir -p "$out"
cargo ndk --platform 26 -t arm64-v8a -t armeabi-v7a -t x86_64 -o "$out" \
  build --release -p authenticator-ffi --lib
ls -l "$out"/*/libassent_core.so
