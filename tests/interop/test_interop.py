"""Assent protocol v1 interop: stock Python JOSE (joserfc) and HPKE (pyhpke) libraries against
the Rust reference implementation (protocol/examples/interop.rs).

- Python plays the PORTAL against the Rust DEVICE functions;
- the Rust PORTAL functions face a Python DEVICE;

each through enrollment, registration, the activation challenge, a login challenge with number
matching, its answer and a poll. Run after `cargo build -p assent-protocol --examples`:

    python3 -m pytest tests/interop
"""

import base64
import hashlib
import json
import os
import pathlib
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.jwk import ECKey
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOW = 1_800_000_000
INFO = b"assent/v1/challenge"
SUITE = CipherSuite.new(KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact_json(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Rust:
    """The Rust side, one JSON command per line."""

    def __init__(self):
        binary = ROOT / "target" / "debug" / "examples" / "interop"
        if not binary.exists():
            pytest.skip("run `cargo build -p assent-protocol --examples` first")
        self.proc = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def __call__(self, cmd: str, **args):
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture()
def rust():
    r = Rust()
    yield r
    r.close()


class EcSigner:
    """An ES256 key with joserfc and the raw scalar for the Rust driver."""

    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }
        self.scalar = b64(self.private.private_numbers().private_value.to_bytes(32, "big"))
        self.key = ECKey.import_key({**self.jwk, "d": self.scalar})
        self.kid = ECKey.import_key(self.jwk).thumbprint()  # RFC 7638, by joserfc

    def compressed(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )

    def sign(self, header: dict, payload: dict) -> str:
        return jws.serialize_compact(header, compact_json(payload), self.key, algorithms=["ES256"])


def verify(token: str, jwk: dict, typ: str) -> tuple[dict, dict]:
    obj = jws.deserialize_compact(token, ECKey.import_key(jwk), algorithms=["ES256"])
    header = obj.headers()
    assert header["alg"] == "ES256" and header["typ"] == typ and "crit" not in header
    return header, json.loads(obj.payload)


def hpke_jwk(public_bytes: bytes) -> dict:
    assert len(public_bytes) == 65 and public_bytes[0] == 4
    return {"kty": "EC", "crv": "P-256", "x": b64(public_bytes[1:33]), "y": b64(public_bytes[33:])}


def jwk_sec1(jwk: dict) -> bytes:
    return b"\x04" + unb64(jwk["x"]) + unb64(jwk["y"])


LOGIN = {
    "purpose": "login",
    "context": {"user": "alice", "application": "Payroll", "ip": "203.0.113.7", "location": "Lyon, FR"},
    "number_matching": {"digits": 2},
    "user_verification": "required",
}
ACTIVATE = {
    "purpose": "activate",
    "context": {"user": "alice", "application": "Example portal"},
    "number_matching": None,
    "user_verification": "discouraged",
}


class PythonPortal:
    """A portal written against the specification with stock libraries."""

    def __init__(self):
        self.key = EcSigner()

    def enrollment_params(self, token: str) -> list:
        return [
            ["assent", "1"],
            ["assent_url", "https://portal.example.com"],
            ["assent_token", token],
            ["assent_key", b64(self.key.compressed())],
            ["assent_exp", str(NOW + 600)],
        ]

    def challenge(self, device_id: str, encryption_jwk: dict, content: dict, now: int, ikm: bytes | None = None):
        cid = b64(os.urandom(16))
        iat, exp = now, now + 60
        inner = {"id": cid, "purpose": content["purpose"], "iat": iat, "exp": exp, **{
            k: content[k] for k in ("context", "number_matching", "user_verification")}}
        aad = f"{cid}.{device_id}.{iat}.{exp}".encode()
        pkr = SUITE.kem.deserialize_public_key(jwk_sec1(encryption_jwk))
        eks = SUITE.kem.derive_key_pair(ikm) if ikm else None
        enc, sender = SUITE.create_sender_context(pkr, info=INFO, eks=eks)
        sealed = enc + sender.seal(compact_json(inner), aad=aad)
        payload = {"v": 1, "id": cid, "device": device_id, "iat": iat, "exp": exp, "enc": b64(sealed)}
        token = self.key.sign({"alg": "ES256", "typ": "assent-challenge+jws", "kid": self.key.kid}, payload)
        assert len(token) <= 3000
        return cid, token

    def check_answer(self, token: str, device_jwk: dict, device_id: str, cid: str, challenge: str, number):
        header, payload = verify(token, device_jwk, "assent-answer+jws")
        assert header["kid"] == device_id
        assert payload["v"] == 1 and payload["device"] == device_id
        assert payload["challenge"] == cid
        assert payload["challenge_hash"] == b64(hashlib.sha256(challenge.encode()).digest())
        if number is not None:
            assert payload["number"] == number
        return payload


def test_python_portal_rust_device(rust):
    portal = PythonPortal()
    device_signing = b64(os.urandom(31) + b"\x01")
    device_encryption = b64(os.urandom(31) + b"\x02")
    device = rust("public_key", key=device_signing)
    enc_pub = rust("encryption_public_key", key=device_encryption)["jwk"]
    device_id = device["kid"]
    assert device_id == ECKey.import_key(device["jwk"]).thumbprint()

    # Enrollment QR parameters, read by the Rust device.
    token = b64(os.urandom(16))
    params = portal.enrollment_params(token)
    enrollment = rust("parse_enrollment", params=params, now=NOW)["enrollment"]
    assert enrollment["portal_key_id"] == portal.key.kid

    # Registration, verified with joserfc.
    push = {"transport": "apns", "token": "ab" * 32, "environment": "sandbox"}
    reg = rust("register", params=params, now=NOW, signing_key=device_signing, encryption_key=device_encryption,
               platform="ios", name="Alice's iPhone", push=push)["jws"]
    header = jws.extract_compact(reg.encode()).headers()
    _, payload = verify(reg, header["jwk"], "assent-register+jws")
    assert payload["signing_key"] == header["jwk"] == device["jwk"]
    assert payload["encryption_key"] == enc_pub
    assert payload["token"] == token and payload["portal_key"] == portal.key.kid
    assert payload["iat"] == NOW and payload["push"] == push and payload["platform"] == "ios"

    # Activation: the device opens it and approves.
    cid, challenge = portal.challenge(device_id, payload["encryption_key"], ACTIVATE, NOW + 1)
    opened = rust("open_challenge", jws=challenge, portal_key=portal.key.jwk, encryption_key=device_encryption,
                  device_id=device_id, now=NOW + 1)
    assert opened["content"]["purpose"] == "activate" and opened["id"] == cid
    answer = rust("answer", jws=challenge, portal_key=portal.key.jwk, encryption_key=device_encryption,
                  device_id=device_id, signing_key=device_signing, decision="approve", now=NOW + 2)["jws"]
    p = portal.check_answer(answer, device["jwk"], device_id, cid, challenge, None)
    assert p["decision"] == "approve" and "number" not in p

    # Login with number matching.
    cid, challenge = portal.challenge(device_id, payload["encryption_key"], LOGIN, NOW + 100)
    opened = rust("open_challenge", jws=challenge, portal_key=portal.key.jwk, encryption_key=device_encryption,
                  device_id=device_id, now=NOW + 100)
    assert opened["content"] == LOGIN
    answer = rust("answer", jws=challenge, portal_key=portal.key.jwk, encryption_key=device_encryption,
                  device_id=device_id, signing_key=device_signing, decision="approve", number="47",
                  user_verified=True, now=NOW + 110)["jws"]
    p = portal.check_answer(answer, device["jwk"], device_id, cid, challenge, "47")
    assert p["user_verified"] is True and p["iat"] == NOW + 110

    # The device refuses a challenge signed by another key, and one past its time.
    impostor = PythonPortal()
    _, forged = impostor.challenge(device_id, payload["encryption_key"], LOGIN, NOW + 100)
    refused = rust("open_challenge", jws=forged, portal_key=portal.key.jwk, encryption_key=device_encryption,
                   device_id=device_id, now=NOW + 100)
    assert refused["error"] == "UnknownPortalKey"
    late = rust("open_challenge", jws=challenge, portal_key=portal.key.jwk, encryption_key=device_encryption,
                device_id=device_id, now=NOW + 191)
    assert late["error"].startswith("Expired")

    # Poll, verified with joserfc.
    poll = rust("poll", signing_key=device_signing, now=NOW + 120, nonce=b64(bytes(16)))["jws"]
    header, payload = verify(poll, device["jwk"], "assent-poll+jws")
    assert header["kid"] == device_id and payload == {"v": 1, "device": device_id, "iat": NOW + 120, "nonce": b64(bytes(16))}


def test_rust_portal_python_device(rust):
    portal_scalar = b64(os.urandom(31) + b"\x03")
    portal = rust("public_key", key=portal_scalar)
    signing = EcSigner()
    enc_pair = SUITE.kem.derive_key_pair(os.urandom(32))
    enc_jwk = hpke_jwk(enc_pair.public_key.to_public_bytes())
    device_id = signing.kid

    # The Rust portal's QR parameters, read per the spec.
    token = b64(os.urandom(16))
    params = dict(rust("enrollment_params", portal_key=portal_scalar, url="https://portal.example.com",
                       token=token, exp=NOW + 600)["params"])
    assert params["assent"] == "1" and params["assent_token"] == token
    compressed = unb64(params["assent_key"])
    pinned = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), compressed).public_numbers()
    pinned_jwk = {"kty": "EC", "crv": "P-256", "x": b64(pinned.x.to_bytes(32, "big")), "y": b64(pinned.y.to_bytes(32, "big"))}
    pinned_kid = ECKey.import_key(pinned_jwk).thumbprint()
    assert pinned_kid == portal["kid"]

    # Registration signed with joserfc.
    push = {"transport": "fcm", "token": "fcm:" + b64(os.urandom(40))}
    registration = signing.sign(
        {"alg": "ES256", "typ": "assent-register+jws", "jwk": signing.jwk},
        {"v": 1, "token": token, "iat": NOW, "portal_key": pinned_kid, "signing_key": signing.jwk,
         "encryption_key": enc_jwk, "platform": "android", "name": "Pixel", "push": push},
    )
    reg = rust("verify_registration", jws=registration, portal_key_id=portal["kid"], now=NOW + 3,
               token=token, token_expires_at=NOW + 600)
    assert reg["device_id"] == device_id and reg["push"] == push and reg["platform"] == "android"

    def open_challenge(challenge: str, now: int) -> dict:
        header, outer = verify(challenge, pinned_jwk, "assent-challenge+jws")
        assert header["kid"] == pinned_kid and outer["device"] == device_id
        assert outer["exp"] == outer["iat"] + 60 and outer["iat"] <= now + 30 and now <= outer["exp"] + 30
        sealed = unb64(outer["enc"])
        aad = f"{outer['id']}.{outer['device']}.{outer['iat']}.{outer['exp']}".encode()
        ctx = SUITE.create_recipient_context(sealed[:65], enc_pair.private_key, info=INFO)
        inner = json.loads(ctx.open(sealed[65:], aad=aad))
        assert (inner["id"], inner["iat"], inner["exp"]) == (outer["id"], outer["iat"], outer["exp"])
        return inner

    def answer(challenge: str, inner: dict, now: int, **extra) -> str:
        payload = {"v": 1, "challenge": inner["id"], "challenge_hash": b64(hashlib.sha256(challenge.encode()).digest()),
                   "device": device_id, "iat": now, **extra}
        return signing.sign({"alg": "ES256", "typ": "assent-answer+jws", "kid": device_id}, payload)

    def pending(built: dict, **extra) -> dict:
        return {"id": built["id"], "device_id": device_id, "device_signing_key": signing.jwk,
                "challenge_hash": built["hash"], "exp": built["exp"], **extra}

    # Activation.
    built = rust("build_challenge", portal_key=portal_scalar, device_id=device_id, encryption_key=reg["encryption_key"],
                 content=ACTIVATE, now=NOW + 4, id=b64(os.urandom(16)), ephemeral_ikm=b64(os.urandom(32)))
    inner = open_challenge(built["jws"], NOW + 4)
    assert inner["purpose"] == "activate"
    reply = answer(built["jws"], inner, NOW + 5, decision="approve", user_verified=False)
    ok = rust("verify_answer", jws=reply, now=NOW + 5, user_verification="discouraged", **pending(built))
    assert ok["decision"] == "approve" and ok["device_id"] == device_id

    # Login with number matching: right number accepted, wrong one refused, replay refused.
    built = rust("build_challenge", portal_key=portal_scalar, device_id=device_id, encryption_key=reg["encryption_key"],
                 content=LOGIN, now=NOW + 50, id=b64(os.urandom(16)), ephemeral_ikm=b64(os.urandom(32)))
    inner = open_challenge(built["jws"], NOW + 50)
    assert {k: inner[k] for k in LOGIN if k != "purpose"} == {k: LOGIN[k] for k in LOGIN if k != "purpose"}
    reply = answer(built["jws"], inner, NOW + 60, decision="approve", number="47", user_verified=True)
    args = dict(jws=reply, now=NOW + 60, user_verification="required", expected_number="47", **pending(built))
    assert rust("verify_answer", **args)["decision"] == "approve"
    assert rust("verify_answer", **{**args, "expected_number": "12"})["error"] == "WrongNumber"
    assert rust("verify_answer", **{**args, "answered": True})["error"] == "AlreadyAnswered"
    assert rust("verify_answer", **{**args, "now": NOW + 111})["error"].startswith("Expired")
    # Malformed approves are malformed, not wrong numbers (they leave the challenge pending):
    # no number, a number of another form, a reason on an approve; and a deny with a number.
    for extra in ({}, {"number": "470"}, {"number": "4x"}, {"number": "47", "reason": "not_me"}):
        odd = answer(built["jws"], inner, NOW + 60, decision="approve", user_verified=True, **extra)
        assert rust("verify_answer", **{**args, "jws": odd})["error"].startswith("Invalid"), extra
    odd = answer(built["jws"], inner, NOW + 60, decision="deny", user_verified=False, number="47")
    assert rust("verify_answer", **{**args, "jws": odd})["error"] == 'Invalid("number")'
    deny = answer(built["jws"], inner, NOW + 60, decision="deny", user_verified=False, reason="not_me")
    assert rust("verify_answer", **{**args, "jws": deny})["reason"] == "not_me"

    # Poll.
    nonce = b64(os.urandom(16))
    poll = signing.sign({"alg": "ES256", "typ": "assent-poll+jws", "kid": device_id},
                        {"v": 1, "device": device_id, "iat": NOW + 70, "nonce": nonce})
    got = rust("verify_poll", jws=poll, device_id=device_id, device_signing_key=signing.jwk, now=NOW + 70)
    assert got["nonce"] == nonce


def test_hpke_is_reproducible_across_implementations(rust):
    """With the same ephemeral ikm, pyhpke and the Rust code produce the same `enc`: both derive
    the ephemeral key with RFC 9180's DeriveKeyPair, so the worked examples are checkable."""
    portal_scalar = b64(bytes(31) + b"\x09")
    device_enc = b64(bytes(31) + b"\x02")
    enc_jwk = rust("encryption_public_key", key=device_enc)["jwk"]
    ikm = bytes(range(32))
    built = rust("build_challenge", portal_key=portal_scalar, device_id="d", encryption_key=enc_jwk,
                 content=ACTIVATE, now=NOW, id=b64(bytes(16)), ephemeral_ikm=b64(ikm))
    outer = json.loads(unb64(built["jws"].split(".")[1]))
    rust_enc = unb64(outer["enc"])[:65]
    eks = SUITE.kem.derive_key_pair(ikm)
    assert eks.public_key.to_public_bytes() == rust_enc


HOSTILE_TEXT = [
    "laptop\u202egnp.exe",  # right-to-left override: reads "laptopexe.png"
    "phone\u2028admin approved",  # line separator
    "\u2067desk",  # right-to-left isolate
    "mark\u200f",  # right-to-left mark
    "tab\there",  # C0
    "next\u0085line",  # C1
]


def test_display_text_refuses_bidi_controls_and_separators(rust):
    """§2.5 from the Python side: a registration whose device name carries a bidirectional control,
    a separator or a control character is refused by the Rust portal, and a challenge whose context
    does is refused by the Rust device; right-to-left scripts and emoji pass both."""
    # Portal side: a Python device signs registrations with hostile names.
    portal_scalar = b64(os.urandom(31) + b"\x03")
    portal = rust("public_key", key=portal_scalar)
    signing = EcSigner()
    enc_jwk = hpke_jwk(SUITE.kem.derive_key_pair(os.urandom(32)).public_key.to_public_bytes())
    token = b64(os.urandom(16))

    def register(name: str) -> dict:
        registration = signing.sign(
            {"alg": "ES256", "typ": "assent-register+jws", "jwk": signing.jwk},
            {"v": 1, "token": token, "iat": NOW, "portal_key": portal["kid"], "signing_key": signing.jwk,
             "encryption_key": enc_jwk, "platform": "desktop", "name": name,
             "push": {"transport": "direct", "token": "stream-1"}},
        )
        return rust("verify_registration", jws=registration, portal_key_id=portal["kid"], now=NOW,
                    token=token, token_expires_at=NOW + 600)

    for name in HOSTILE_TEXT:
        assert register(name).get("error") == 'Invalid("name")', name
    assert register("حاسوب ليلى 💻")["name"] == "حاسوب ليلى 💻"

    # Device side: a Python portal seals challenges whose context is hostile.
    python_portal = PythonPortal()
    device_signing = b64(os.urandom(31) + b"\x01")
    device_encryption = b64(os.urandom(31) + b"\x02")
    device_id = rust("public_key", key=device_signing)["kid"]
    enc_pub = rust("encryption_public_key", key=device_encryption)["jwk"]

    def open_with(application: str) -> dict:
        content = {**LOGIN, "context": {**LOGIN["context"], "application": application}}
        _, challenge = python_portal.challenge(device_id, enc_pub, content, NOW)
        return rust("open_challenge", jws=challenge, portal_key=python_portal.key.jwk,
                    encryption_key=device_encryption, device_id=device_id, now=NOW)

    for text in HOSTILE_TEXT:
        assert open_with(text).get("error") == 'Invalid("context.application")', text
    assert open_with("تطبيق الرواتب")["content"]["context"]["application"] == "تطبيق الرواتب"


def test_a_device_that_only_polls_registers_without_push(rust):
    """§4.1: `push` is optional. A Python device registers without it and the Rust portal accepts
    the registration with no push address; the Rust device leaves it out when it has none."""
    portal_scalar = b64(os.urandom(31) + b"\x03")
    portal = rust("public_key", key=portal_scalar)
    signing = EcSigner()
    enc_jwk = hpke_jwk(SUITE.kem.derive_key_pair(os.urandom(32)).public_key.to_public_bytes())
    token = b64(os.urandom(16))
    registration = signing.sign(
        {"alg": "ES256", "typ": "assent-register+jws", "jwk": signing.jwk},
        {"v": 1, "token": token, "iat": NOW, "portal_key": portal["kid"], "signing_key": signing.jwk,
         "encryption_key": enc_jwk, "platform": "desktop", "name": "terminal"},
    )
    reg = rust("verify_registration", jws=registration, portal_key_id=portal["kid"], now=NOW,
               token=token, token_expires_at=NOW + 600)
    assert reg["device_id"] == signing.kid and reg["push"] is None

    python_portal = PythonPortal()
    params = python_portal.enrollment_params(b64(os.urandom(16)))
    built = rust("register", params=params, now=NOW, signing_key=b64(os.urandom(31) + b"\x01"),
                 encryption_key=b64(os.urandom(31) + b"\x02"), platform="desktop", name="terminal",
                 push=None)["jws"]
    header = jws.extract_compact(built.encode()).headers()
    _, payload = verify(built, header["jwk"], "assent-register+jws")
    assert "push" not in payload
