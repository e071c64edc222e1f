#!/usr/bin/env python3
"""Reference decrypter for Assent sealed files (vault, backup), written from docs/vault.md alone.

    python3 docs/decrypt.py vault.json              # asks for the passphrase (or ASSENT_PASSPHRASE)
    python3 docs/decrypt.py --key-hex 0a1b... vault.json   # a vault under a platform key

Needs the PyPI packages `cryptography` and `argon2-cffi`. Prints the decrypted payload as JSON.
"""
import argparse
import base64
import getpass
import json
import os
import sys

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def derive_key(kdf: dict, passphrase: bytes) -> bytes:
    if kdf["name"] != "argon2id" or kdf["version"] != 19:
        raise ValueError("unsupported kdf")
    return hash_secret_raw(
        passphrase,
        base64.b64decode(kdf["salt"]),
        time_cost=kdf["iterations"],
        memory_cost=kdf["memory_kib"],
        parallelism=kdf["parallelism"],
        hash_len=32,
        type=Type.ID,
        version=19,
    )


def open_sealed(envelope: dict, key: bytes) -> dict:
    if envelope["version"] != 1 or envelope["cipher"] != "aes-256-gcm":
        raise ValueError("unsupported version or cipher")
    aad = f'{envelope["format"]}/{envelope["version"]}'.encode()
    plain = AESGCM(key).decrypt(
        base64.b64decode(envelope["nonce"]), base64.b64decode(envelope["ciphertext"]), aad
    )
    return json.loads(plain)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--key-hex", help="the 256-bit platform key, hex")
    args = parser.parse_args()
    with open(args.file, encoding="utf-8") as f:
        envelope = json.load(f)
    if args.key_hex:
        key = bytes.fromhex(args.key_hex)
    else:
        if envelope.get("kdf") is None:
            print("this file is under a platform key: pass --key-hex", file=sys.stderr)
            return 2
        passphrase = os.environ.get("ASSENT_PASSPHRASE") or getpass.getpass("Passphrase: ")
        key = derive_key(envelope["kdf"], passphrase.encode())
    json.dump(open_sealed(envelope, key), sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
