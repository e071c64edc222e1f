#!/usr/bin/env bash
# Generates the Kotlin, Swift and Python bindings of authenticator-ffi (uniffi library mode)
# into authenticator-ffi/bindings/. `--check` regenerates into a temporary folder and fails if
# the committed copies differ (CI runs that).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p authenticator-ffi --lib --bin uniffi-bindgen
lib=target/debug/libassent_core.so
out=authenticator-ffi/bindings
if [ "${1:-}" = "--check" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
for language in kotlin swift python; do
  rm -rf "${out:?}/$language"
  target/debug/uniffi-bindgen generate "$lib" --language "$language" --out-dir "$out/$language" --no-format >/dev/null
done
if [ "${1:-}" = "--check" ]; then
  if ! diff -r authenticator-ffi/bindings "$out" >/dev/null; then
    diff -r authenticator-ffi/bindings "$out" | head -40
    echo "The committed bindings differ from the generated ones: run scripts/bindings.sh and commit." >&2
    exit 1
  fi
  echo "bindings: up to date"
fi
