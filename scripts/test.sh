#!/usr/bin/env bash
# Every test of the project: formatting, lints, Rust unit, integration and end-to-end tests,
# Python tests of the documented formats, the Kotlin bindings and the Android app's presentation
# module on the JVM, the Swift bindings and the iOS app's AssentKit (swift test in a Debian trixie
# chroot: needs root), the PAM module under pamtester, sshd and sudo (needs root), and the
# browser tests. `.ci/run` installs
# what this needs and then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
cargo build -q -p pam-assent --lib
cargo nextest run --workspace --no-fail-fast
# The portal's API tests and the end-to-end tests again, on PostgreSQL (a throwaway cluster of
# our own on a loopback port; each test gets a schema of its own).
source scripts/lib/postgres.sh
postgres_start
trap postgres_stop EXIT
cargo nextest run -p portal -p assent-e2e --no-fail-fast
postgres_stop
trap - EXIT
cargo test --workspace --doc
cargo build -q -p authenticator-ffi --lib --examples
cargo build -q -p assent-protocol --examples
scripts/bindings.sh --check
ASSENT_BIN="$PWD/target/debug/assent" python3 -m pytest -q tests/python tests/interop
# pam_assent under pamtester, sshd and sudo (root: PAM service files, real users).
python3 -m pytest -q tests/pam
scripts/test-kotlin.sh
scripts/test-android.sh
scripts/test-swift.sh
node tests/browser/enroll-and-login.mjs
node tests/browser/console.mjs
