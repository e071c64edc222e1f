#!/usr/bin/env bash
# Whole-process benchmark: `assent list --json` on a 1,000-account vault with ASSENT_SESSION
# set (no passphrase derivation), and `assent unlock` itself (slow on purpose).
# Needs hyperfine (Debian package). Figures go to docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p assent >/dev/null
bin="$PWD/target/release/assent"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ASSENT_VAULT="$work/vault.json" ASSENT_PASSPHRASE="bench passphrase" XDG_RUNTIME_DIR="$work/run"

python3 - "$work/uris.txt" <<'PY'
import base64, random, sys
random.seed(1)
algos = ["SHA1", "SHA256", "SHA512"]
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        secret = base64.b32encode(random.randbytes(20)).decode().rstrip("=")
        f.write(f"otpauth://totp/Issuer%20{i}:user{i}%40example.com?secret={secret}"
                f"&issuer=Issuer%20{i}&algorithm={algos[i % 3]}&digits={6 + i % 3}&period=30\n")
PY
"$bin" import "$work/uris.txt" 2>&1 | tail -1
ASSENT_SESSION="$("$bin" unlock --raw)"
export ASSENT_SESSION
test "$("$bin" list --json | grep -c '"code"')" = 1000

hyperfine --warmup 5 --runs 50 -N --export-markdown "$work/list.md" "$bin list --json" >&2
unset ASSENT_SESSION
hyperfine --warmup 1 --runs 10 -N --export-markdown "$work/unlock.md" "$bin unlock --raw" >&2
cat "$work/list.md" "$work/unlock.md"
