#!/usr/bin/env python3
"""The notification extension's path through the bindings: `peek_challenge` on a push payload
against a 1,000-account vault, timed and with the extra peak memory it costs the process.

    cargo build --release -p authenticator-ffi --lib --examples && scripts/bench-extension.py

A first process makes the vault (1,000 accounts and one push enrollment with the Rust portal
side, test_portal) and a challenge; a second, fresh process loads the bindings, reads the
payload, notes its peak RSS, opens the challenge once (the cold call an extension makes) and
notes the peak again, then times 200 more opens. Figures go in docs/performance.md."""
import importlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("ASSENT_TARGET_DIR", ROOT / "target" / "release"))
KEY = bytes([5]) * 32


def load(where: Path):
    shutil.copy(ROOT / "authenticator-ffi" / "bindings" / "python" / "assent_core.py", where)
    shutil.copy(TARGET / "libassent_core.so", where)
    sys.path.insert(0, str(where))
    return importlib.import_module("assent_core")


def keychain(assent):
    class Keychain(assent.VaultKeyProvider):
        def vault_key(self):
            return KEY
    return Keychain()


def setup(work: Path):
    assent = load(work)
    store = assent.Store.open(str(work / "vault.json"), keychain(assent), None, None)
    uris = "\n".join(
        f"otpauth://totp/Issuer{i}:user{i}?secret=JBSWY3DPEHPK3PXP{i:08d}".translate(
            str.maketrans("0189", "ABCD")) + f"&issuer=Issuer{i}"
        for i in range(999))
    store.import_data(uris.encode(), None)
    portal = subprocess.Popen([str(TARGET / "examples" / "test_portal")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(**command):
        portal.stdin.write(json.dumps(command) + "\n")
        portal.stdin.flush()
        return json.loads(portal.stdout.readline())

    enrollment = store.enroll(call(cmd="qr")["qr"], assent.DevicePlatform.IOS, "iPhone",
                              assent.PushAddress.APNS(token="ab" * 32, sandbox=False, topic=None),
                              False)
    registered = call(cmd="register", body=enrollment.request.body)
    store.activate(enrollment.device_id, registered["response"])
    payload = call(cmd="challenge", digits=2)["payload"]
    portal.stdin.close()
    portal.wait(timeout=10)
    assert len(store.accounts()) == 1000
    (work / "payload.txt").write_text(payload)


def measure(work: Path):
    assent = load(work / "lib")
    payload = (work / "payload.txt").read_text()
    key = keychain(assent)
    vault = str(work / "vault.json")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    view = assent.peek_challenge(vault, key, payload, None)
    cold = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert view.application == "Acme Mail"
    times = []
    for _ in range(200):
        start = time.perf_counter()
        assent.peek_challenge(vault, key, payload, None)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times.sort()
    print(f"extension path through the bindings, 1,000-account vault: "
          f"cold {cold * 1e3:.2f} ms, then median {statistics.median(times) * 1e3:.2f} ms, "
          f"p95 {times[189] * 1e3:.2f} ms; extra peak RSS of the cold call {(after - before) / 1024:.2f} MB, "
          f"after 200 more {(peak - before) / 1024:.2f} MB (process peak {peak / 1024:.1f} MB)")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--setup":
        setup(Path(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        measure(Path(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([sys.executable, __file__, "--setup", work], check=True)
        (Path(work) / "lib").mkdir()
        subprocess.run([sys.executable, __file__, "--measure", work], check=True)


if __name__ == "__main__":
    main()
