"""The rules of issue 14 against the real portal binary, from a Python device built on stock
JOSE and HPKE libraries: a registration sent again gets the same answer (§4.3); another device
with the spent token is refused; a device without a push address registers and finds its
sign-ins by polling (§4.1); a device name with a bidirectional override is refused (§2.5); a
malformed approve is `malformed` and leaves the sign-in pending, the right number then approves
it (§6.1). Needs `cargo build --workspace --bins` (target/debug/portal)."""

import hashlib
import html
import http.cookiejar
import json
import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from test_interop import INFO, ROOT, SUITE, EcSigner, b64, hpke_jwk, unb64, verify

PASSWORD = "correct horse battery"
ADMIN = "interop-admin-token-0123456789"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Portal:
    def __init__(self, directory: str):
        binary = ROOT / "target" / "debug" / "portal"
        if not binary.exists():
            pytest.skip("run `cargo build --workspace --bins` first")
        self.proc = subprocess.Popen(
            [str(binary), "--db", os.path.join(directory, "portal.db"), "--listen", "127.0.0.1:0",
             "--admin-token", ADMIN, "--test-clock"],
            stdout=subprocess.PIPE, env={**os.environ, "PORTAL_LOG": "warn"}, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("portal listening on "), line
        self.url = line.removeprefix("portal listening on ")

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def add_user(self, name: str):
        request = urllib.request.Request(
            f"{self.url}/admin/api/users", method="POST",
            data=json.dumps({"username": name, "password": PASSWORD}).encode(),
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as r:
            assert r.status == 201

    def device_call(self, endpoint: str, jws_text: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{self.url}/assent/v1/{endpoint}", method="POST", data=jws_text.encode(),
            headers={"Content-Type": "application/jose"})
        try:
            with urllib.request.urlopen(request) as r:
                body = r.read()
                return r.status, json.loads(body) if body else {}
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


class Browser:
    def __init__(self, portal: Portal):
        self.portal = portal
        self.jar = http.cookiejar.CookieJar()
        self.open = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar)).open
        self.open_no_redirect = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect).open

    def get(self, path: str) -> str:
        with self.open(self.portal.url + path) as r:
            return r.read().decode()

    def sign_in(self, name: str) -> str:
        """Posts the sign-in form; returns where the portal sends the browser."""
        data = urllib.parse.urlencode({"username": name, "password": PASSWORD}).encode()
        try:
            self.open_no_redirect(urllib.request.Request(self.portal.url + "/login", data=data))
        except urllib.error.HTTPError as e:
            assert e.code in (302, 303, 307), e.code
            return e.headers["Location"]
        raise AssertionError("the sign-in did not redirect")

    def status(self) -> dict:
        return json.loads(self.get("/login/push/status"))


@pytest.fixture()
def portal():
    with tempfile.TemporaryDirectory() as directory:
        p = Portal(directory)
        yield p
        p.close()


def registration(device: EcSigner, enc_jwk: dict, params: dict, name: str, now: int) -> tuple[str, dict]:
    """A registration (without `push`) for the QR's `params`, and the pinned portal key."""
    portal_key = unb64(params["assent_key"])
    numbers = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), portal_key).public_numbers()
    portal_jwk = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x.to_bytes(32, "big")),
                  "y": b64(numbers.y.to_bytes(32, "big"))}
    payload = {"v": 1, "token": params["assent_token"], "iat": now,
               "portal_key": ECKey.import_key(portal_jwk).thumbprint(), "signing_key": device.jwk,
               "encryption_key": enc_jwk, "platform": "desktop", "name": name}
    return device.sign({"alg": "ES256", "typ": "assent-register+jws", "jwk": device.jwk}, payload), portal_jwk


def test_the_portal_follows_the_tightened_rules(portal):
    portal.add_user("ines")
    browser = Browser(portal)
    assert browser.sign_in("ines") == "/enroll"
    page = browser.get("/enroll")
    uri = html.unescape(re.search(r'<pre id="enrollment-uri">(.*?)</pre>', page).group(1))
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).query))
    now = int(params["assent_exp"]) - 600  # the portal's clock when it made the QR

    device = EcSigner()
    enc_pair = SUITE.kem.derive_key_pair(os.urandom(32))
    enc_jwk = hpke_jwk(enc_pair.public_key.to_public_bytes())

    # §2.5: a name that would read backwards at the help desk is refused.
    hostile, _ = registration(device, enc_jwk, params, "laptop\u202egnp.exe", now)
    status, body = portal.device_call("register", hostile)
    assert (status, body["error"]) == (400, "malformed"), body

    # §4.1 and §4.3: registered without push; the same registration again gets the same answer.
    reg, portal_jwk = registration(device, enc_jwk, params, "python terminal", now)
    status, first = portal.device_call("register", reg)
    assert status == 201, first
    status, again = portal.device_call("register", reg)
    assert (status, again) == (201, first)
    other = EcSigner()
    stolen, _ = registration(other, enc_jwk, params, "someone else", now)
    status, body = portal.device_call("register", stolen)
    assert (status, body["error"]) == (409, "enrollment_used"), body

    def open_challenge(token: str) -> dict:
        header, outer = verify(token, portal_jwk, "assent-challenge+jws")
        sealed = unb64(outer["enc"])
        aad = f"{outer['id']}.{outer['device']}.{outer['iat']}.{outer['exp']}".encode()
        ctx = SUITE.create_recipient_context(sealed[:65], enc_pair.private_key, info=INFO)
        return json.loads(ctx.open(sealed[65:], aad=aad))

    def answer(token: str, inner: dict, **decision) -> tuple[int, dict]:
        payload = {"v": 1, "challenge": inner["id"],
                   "challenge_hash": b64(hashlib.sha256(token.encode()).digest()),
                   "device": device.kid, "iat": inner["iat"] + 1, **decision}
        signed = device.sign({"alg": "ES256", "typ": "assent-answer+jws", "kid": device.kid}, payload)
        return portal.device_call("answers", signed)

    activation = first["challenge"]
    inner = open_challenge(activation)
    assert inner["purpose"] == "activate"
    assert answer(activation, inner, decision="approve", user_verified=False) == (200, {"status": "approved"})

    # A sign-in: no push address, so the portal sends nothing and the device polls.
    login = Browser(portal)
    assert login.sign_in("ines") == "/login/push"
    number = re.search(r'id="number">(\d+)<', login.get("/login/push")).group(1)
    poll = device.sign({"alg": "ES256", "typ": "assent-poll+jws", "kid": device.kid},
                       {"v": 1, "device": device.kid, "iat": now, "nonce": b64(os.urandom(16))})
    status, pending = portal.device_call("pending", poll)
    assert status == 200 and len(pending["challenges"]) == 1, pending
    token = pending["challenges"][0]
    inner = open_challenge(token)
    assert inner["purpose"] == "login" and inner["number_matching"] == {"digits": len(number)}
    assert login.status()["delivery"] == "device_polls"

    # §6.1: malformed approves leave the sign-in pending; the right number approves it.
    for extra in ({}, {"number": number + "0"}, {"number": number, "reason": "not_me"}):
        status, body = answer(token, inner, decision="approve", user_verified=True, **extra)
        assert (status, body["error"]) == (400, "malformed"), (extra, body)
        assert login.status()["status"] == "pending"
    # §6.1 and §11, the checks before and around the decision, each with its code:
    def signed(payload: dict, kid: str = device.kid) -> str:
        return device.sign({"alg": "ES256", "typ": "assent-answer+jws", "kid": kid}, payload)

    base = {"v": 1, "challenge": inner["id"],
            "challenge_hash": b64(hashlib.sha256(token.encode()).digest()),
            "device": device.kid, "iat": inner["iat"] + 1, "decision": "approve",
            "user_verified": True, "number": number}
    request = urllib.request.Request(f"{portal.url}/assent/v1/answers", method="POST",
                                     data=signed(base).encode(), headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert (refused.value.code, json.loads(refused.value.read())["error"]) == (400, "malformed")
    cases = [
        ({**base, "iat": float(base["iat"])}, (400, "malformed")),  # 1.0 for an integer
        ({k: v for k, v in base.items() if k != "user_verified"}, (400, "malformed")),
        # A deny without user_verified (required on a deny as on an approve).
        ({**base, "decision": "deny", "number": None, "user_verified": None}, (400, "malformed")),
        ({**base, "padding": "x" * 2100}, (413, "too_large")),  # an answer over 2048 bytes
        ({**base, "challenge": b64(os.urandom(16))}, (404, "unknown_challenge")),
        ({**base, "challenge_hash": b64(os.urandom(32))}, (404, "unknown_challenge")),
        ({**base, "device": EcSigner().kid}, (401, "unknown_device")),  # device != kid
    ]
    for payload, expected in cases:
        payload = {k: v for k, v in payload.items() if v is not None}
        status, body = portal.device_call("answers", signed(payload))
        assert (status, body.get("error")) == expected, (payload, body)
    status, body = portal.device_call("answers", "x" * 9000)  # a body over 8192 bytes
    assert (status, body["error"]) == (413, "too_large")
    assert login.status()["status"] == "pending"

    assert answer(token, inner, decision="approve", user_verified=True, number=number) == (200, {"status": "approved"})
    assert login.status()["status"] == "approved"
    # An answered challenge is still found, and says so.
    status, body = answer(token, inner, decision="approve", user_verified=True, number=number)
    assert (status, body["error"]) == (409, "already_answered")
