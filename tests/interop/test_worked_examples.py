"""docs/protocol.md §13, checked with stock libraries only (no Rust): every JWS verifies with
joserfc under the key the specification says, thumbprints match, and pyhpke reproduces every
challenge's `enc` and ciphertext byte for byte from the published ikm."""

import base64
import hashlib
import json
import pathlib
import re

from joserfc import jws
from joserfc.jwk import ECKey
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SUITE = CipherSuite.new(KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def examples() -> str:
    text = DOC.read_text()
    return text[text.index("<!-- BEGIN WORKED EXAMPLES"):text.index("<!-- END WORKED EXAMPLES")]


def sections(text: str) -> dict:
    parts = re.split(r"^### ", text, flags=re.M)
    return {p.split("\n", 1)[0].strip(): p for p in parts[1:]}


def after(label: str, text: str) -> list:
    return re.findall(re.escape(label) + r"\n\n```\n(.*?)\n```", text, flags=re.S)


def test_worked_examples():
    s = sections(examples())
    keys = s["Keys (test only: never use these)"]
    jwks = [json.loads(m) for m in re.findall(r"JWK = (\{.*\})", keys)]
    portal_jwk, device_jwk, enc_jwk = jwks
    portal_kid = re.search(r"kid = (\S+)", keys).group(1)
    device_id = re.search(r"device_id = (\S+)", keys).group(1)
    assert ECKey.import_key(portal_jwk).thumbprint() == portal_kid
    assert ECKey.import_key(device_jwk).thumbprint() == device_id
    enc_ikm = bytes.fromhex(re.search(r"ikm = ([0-9a-f]{64})", keys).group(1))
    enc_pair = SUITE.kem.derive_key_pair(enc_ikm)
    pub = enc_pair.public_key.to_public_bytes()
    assert b64(pub[1:33]) == enc_jwk["x"] and b64(pub[33:]) == enc_jwk["y"]

    def check(token: str, jwk: dict, typ: str) -> dict:
        obj = jws.deserialize_compact(token, ECKey.import_key(jwk), algorithms=["ES256"])
        assert obj.headers()["typ"] == typ
        return json.loads(obj.payload)

    # QR: the key is the portal key, compressed.
    uri = after("valid 10 minutes:", s["Enrollment QR"])[0]
    assert "assent=1&" in uri and "assent_url=https%3A%2F%2Fportal.example.com" in uri

    reg = s["Registration"]
    payload = check(after("Compact JWS:", reg)[0], device_jwk, "assent-register+jws")
    assert payload["portal_key"] == portal_kid and payload["encryption_key"] == enc_jwk

    for title in ("Activation challenge", "Login challenge"):
        sec = s[title]
        challenge, answer, *alternatives = after("Compact JWS:", sec)
        outer = check(challenge, portal_jwk, "assent-challenge+jws")
        hpke = dict(re.findall(r"^(\w[\w ‖()\-,]*?)\s+= (.*)$", after("plaintext is the exact UTF-8 bytes):", sec)[0], flags=re.M))
        ikm = bytes.fromhex(re.search(r"HPKE ephemeral ikm = ([0-9a-f]{64})", sec).group(1))
        aad = f"{outer['id']}.{outer['device']}.{outer['iat']}.{outer['exp']}"
        assert hpke["aad"] == aad and hpke["info"] == "assent/v1/challenge"
        # Reproduce the sender: same ephemeral key, same ciphertext.
        pkr = SUITE.kem.deserialize_public_key(pub)
        enc, sender = SUITE.create_sender_context(pkr, info=b"assent/v1/challenge", eks=SUITE.kem.derive_key_pair(ikm))
        ct = sender.seal(hpke["plaintext"].encode(), aad=aad.encode())
        assert enc.hex() == hpke["enc (65 bytes, hex)"]
        assert ct.hex() == hpke["ciphertext ‖ tag (hex)"]
        assert b64(enc + ct) == outer["enc"]
        # And the recipient opens it.
        ctx = SUITE.create_recipient_context(enc, enc_pair.private_key, info=b"assent/v1/challenge")
        assert json.loads(ctx.open(ct, aad=aad.encode()))["id"] == outer["id"]

        reply = check(answer, device_jwk, "assent-answer+jws")
        assert reply["challenge_hash"] == b64(hashlib.sha256(challenge.encode()).digest())
        # The login's other answer: a deny reported as "not me", with no number.
        for other in alternatives:
            deny = check(other, device_jwk, "assent-answer+jws")
            assert deny["decision"] == "deny" and deny["reason"] == "not_me" and "number" not in deny
            assert deny["challenge_hash"] == reply["challenge_hash"]
            assert isinstance(deny["user_verified"], bool)
        assert len(alternatives) == (1 if title == "Login challenge" else 0)

    poll = check(after("Compact JWS:", s["Poll"])[0], device_jwk, "assent-poll+jws")
    assert poll["device"] == device_id

    update = check(after("Compact JWS:", s["Push-token update"])[0], device_jwk, "assent-push-token+jws")
    assert update["device"] == device_id and len(unb64(update["nonce"])) == 16
    assert update["push"]["transport"] == "apns" and update["push"]["environment"] == "production"
