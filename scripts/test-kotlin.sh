#!/usr/bin/env bash
# Compiles the generated Kotlin bindings with the JVM tests (kotlinc from the npm package
# kotlin-compiler, JNA from Debian's libjna-java) and runs them against the Rust cdylib.
#   scripts/test-kotlin.sh [--bench]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/kotlin.sh
lib="$kotlin_lib"
cargo build -q -p authenticator-ffi --lib --examples
libdir="$PWD/target/debug"
if [ "${1:-}" = "--bench" ]; then
  cargo build -q --release -p authenticator-ffi --lib
  libdir="$PWD/target/release"
fi
out="$PWD/target/kotlin-tests"
mkdir -p "$out"
compile_kotlin -nowarn authenticator-ffi/bindings/kotlin/org/assent/core/assent_core.kt \
  authenticator-ffi/tests/kotlin/*.kt -cp "$jna:$lib/kotlin-test.jar" -d "$out/tests.jar"
# The tests' temporary vaults stay under target/, emptied on every run.
rm -rf "$out/tmp" && mkdir -p "$out/tmp"
java -Djava.io.tmpdir="$out/tmp" -Djna.library.path="$libdir" -Dassent.root="$PWD" -Dassent.target="$PWD/target/debug" \
  -cp "$out/tests.jar:$jna:$lib/kotlin-stdlib.jar:$lib/kotlin-test.jar" BindingsTestKt "$@"
