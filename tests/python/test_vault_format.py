"""docs/vault.md is the specification of the vault: the reference decrypter written from it must
open what the Rust code writes, and a file written from the spec in Python must open in Rust."""
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))
import decrypt  # noqa: E402

ASSENT = os.environ.get("ASSENT_BIN", str(ROOT / "target" / "debug" / "assent"))
URI = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub&digits=8&algorithm=SHA256"


def run(args, home, **env):
    full_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "ASSENT_VAULT": str(home / "vault.json"),
        "ASSENT_PASSPHRASE": "correct horse",
        **env,
    }
    return subprocess.run([ASSENT, *args], env=full_env, capture_output=True, text=True, check=True)


def test_reference_decrypter_opens_the_vault(tmp_path):
    run(["add", URI], tmp_path)
    envelope = json.loads((tmp_path / "vault.json").read_text())
    assert envelope["format"] == "assent-vault" and envelope["kdf"]["memory_kib"] >= 19456
    key = decrypt.derive_key(envelope["kdf"], b"correct horse")
    payload = decrypt.open_sealed(envelope, key)
    account = payload["accounts"][0]["account"]
    assert account == {
        "issuer": "GitHub", "name": "alice", "type": "totp", "algorithm": "SHA256",
        "digits": 8, "period": 30, "counter": 0, "secret": "JBSWY3DPEHPK3PXP",
    }
    with pytest.raises(Exception):
        decrypt.open_sealed(envelope, decrypt.derive_key(envelope["kdf"], b"wrong"))


def test_reference_decrypter_opens_the_backup(tmp_path):
    run(["add", URI], tmp_path)
    out = run(["export", "--format", "backup"], tmp_path, ASSENT_BACKUP_PASSPHRASE="b").stdout
    envelope = json.loads(out)
    payload = decrypt.open_sealed(envelope, decrypt.derive_key(envelope["kdf"], b"b"))
    assert payload["accounts"][0]["secret"] == "JBSWY3DPEHPK3PXP"
    # The associated data binds the kind: relabelled as a vault, it no longer opens.
    envelope["format"] = "assent-vault"
    with pytest.raises(Exception):
        decrypt.open_sealed(envelope, decrypt.derive_key(envelope["kdf"], b"b"))


def test_a_backup_written_from_the_spec_imports_in_rust(tmp_path):
    salt, nonce = bytes(range(16)), bytes(range(12))
    kdf = {"name": "argon2id", "version": 19, "memory_kib": 19456, "iterations": 2,
           "parallelism": 1, "salt": base64.b64encode(salt).decode()}
    key = hash_secret_raw(b"pw", salt, time_cost=2, memory_cost=19456, parallelism=1,
                          hash_len=32, type=Type.ID, version=19)
    payload = {"accounts": [{"issuer": "Py", "name": "thon", "type": "hotp", "algorithm": "SHA1",
                             "digits": 6, "period": 30, "counter": 9,
                             "secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}]}
    ct = AESGCM(key).encrypt(nonce, json.dumps(payload).encode(), b"assent-backup/1")
    envelope = {"format": "assent-backup", "version": 1, "kdf": kdf, "cipher": "aes-256-gcm",
                "nonce": base64.b64encode(nonce).decode(), "ciphertext": base64.b64encode(ct).decode()}
    backup = tmp_path / "from-python.json"
    backup.write_text(json.dumps(envelope))
    run(["import", str(backup)], tmp_path, ASSENT_IMPORT_PASSWORD="pw")
    listed = json.loads(run(["list", "--json"], tmp_path).stdout)
    # RFC 4226 appendix D: counter 9 of "12345678901234567890" is 520489.
    assert [(a["issuer"], a["code"], a["counter"]) for a in listed] == [("Py", "520489", 9)]
