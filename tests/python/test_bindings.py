"""The uniffi Python bindings of authenticator-ffi, used as an app would: a key provider and a
keystore written in Python, the vault, imports, and the push flow against the Rust portal side
(authenticator-ffi's test_portal example)."""
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("ASSENT_TARGET_DIR", ROOT / "target" / "debug"))
RFC_SHA1 = "otpauth://totp/RFC:sha1?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&issuer=RFC"


@pytest.fixture(scope="module")
def assent(tmp_path_factory):
    """The generated module next to the library it loads."""
    where = tmp_path_factory.mktemp("bindings")
    shutil.copy(ROOT / "authenticator-ffi" / "bindings" / "python" / "assent_core.py", where)
    shutil.copy(TARGET / "libassent_core.so", where)
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("assent_core")
    finally:
        sys.path.remove(str(where))


def key_provider(assent, key: bytes):
    class Keychain(assent.VaultKeyProvider):
        def vault_key(self):
            return key
    return Keychain()


def fixed_clock(assent, now):
    """A clock the test moves by hand."""
    class FixedClock(assent.Clock):
        def __init__(self):
            self.now = now

        def now_unix_seconds(self):
            return self.now
    return FixedClock()

def test_codes_for_known_vectors(assent):
    assert assent.code_for_uri(RFC_SHA1, 59) == "94287082"
    assert assent.code_for_uri(RFC_SHA1, 1111111109) == "07081804"


def test_errors_are_typed_with_readable_messages(assent):
    with pytest.raises(assent.AssentError.InvalidInput) as bad:
        assent.code_for_uri("otpauth://totp/x?secret=JBSWY3DP", 0)
    assert "secret: 40 bits is too short" in str(bad.value)
    assert "JBSWY3DP" not in str(bad.value), "the secret is in the message"
    assert_sentence(bad.value)


def test_vault_round_trip_with_a_python_key_provider(assent, tmp_path):
    path = str(tmp_path / "vault.json")
    clock = type("Clock", (assent.Clock,), {"now_unix_seconds": lambda self: 59})()
    store = assent.Store.open(path, key_provider(assent, bytes(range(32))), None, clock)
    account_id = store.add_uri(RFC_SHA1)
    store.add_uri("otpauth://hotp/Bank:carol?secret=JBSWY3DPEHPK3PXP&counter=0")
    store.rename(account_id, "RFC 6238", None)
    [first, second] = store.accounts()
    assert (first.issuer, first.code, first.remaining_seconds) == ("RFC 6238", "94287082", 1)
    assert second.kind == "hotp" and second.remaining_seconds is None
    assert (first.position, second.position) == (0, 1)
    revision = store.revision()
    sheet = store.code_sheet()
    assert sheet.codes == "9428 7082\n" + second.code[:3] + " " + second.code[3:]
    assert (sheet.revision, sheet.remaining_seconds) == (revision, [1, 0])
    store.move_to(second.id, 0)
    assert store.revision() > revision and store.code_sheet().codes.startswith(second.code[:3] + " ")
    assert store.use_hotp_code(second.id) == second.code
    del store

    again = assent.Store.open(path, key_provider(assent, bytes(range(32))), None, clock)
    [hotp, totp] = again.accounts()
    assert hotp.counter == 1 and totp.issuer == "RFC 6238"
    with pytest.raises(assent.AssentError.WrongPassword):
        assent.Store.open(path, key_provider(assent, bytes(32)), None, clock)
    with pytest.raises(assent.AssentError.PlatformKey):
        assent.Store.open(path, key_provider(assent, b"short"), None, clock)


def test_google_authenticator_import(assent, tmp_path):
    store = assent.Store.open(str(tmp_path / "v.json"), key_provider(assent, bytes(32)), None, None)
    fixture = ROOT / "authenticator-core/tests/fixtures/import/google_migration.txt"
    expected = json.loads(fixture.with_name(fixture.name + ".expected.json").read_text())
    report = store.import_data(fixture.read_bytes(), None)
    assert report.added == len(expected["accounts"]) and report.missing_parts == []
    again = store.import_data(fixture.read_bytes(), None)
    assert again.added == 0 and len(again.duplicates) == report.added
    with pytest.raises(assent.AssentError.InvalidInput):
        store.import_data(b"\x89PNG not really", None)
    encrypted = (fixture.parent / "aegis_encrypted.json").read_bytes()
    with pytest.raises(assent.AssentError.PasswordRequired):
        store.import_data(encrypted, None)
    with pytest.raises(assent.AssentError.WrongPassword):
        store.import_data(encrypted, "nope")
    assert store.import_data(encrypted, "test").added > 0
    with pytest.raises(assent.AssentError.Storage):
        assent.Store.open(str(tmp_path), key_provider(assent, bytes(32)), None, None)


class Portal:
    """The Rust portal side, driven over a pipe."""

    def __init__(self):
        self.process = subprocess.Popen(
            [str(TARGET / "examples" / "test_portal")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def __call__(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


def python_keystore(assent):
    """Stands in for the Android Keystore: DER signatures, uncompressed public keys; `refuse`
    makes signing fail as a cancelled biometric prompt does."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    class Keystore(assent.DeviceKeystore):
        def __init__(self):
            self.keys = {}
            self.refuse = None

        def create_key(self, alias):
            key = ec.generate_private_key(ec.SECP256R1())
            self.keys[alias] = key
            return key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

        def sign(self, alias, message):
            if self.refuse:
                raise assent.KeystoreError.Unavailable(reason=self.refuse)
            return self.keys[alias].sign(message, ec.ECDSA(hashes.SHA256()))

    return Keystore()


def assert_sentence(error):
    """A message for the user: a sentence, without debug output."""
    text = str(error)
    assert text[:1].isupper() and text[-1:] in ".!?", text
    for dump in ("message=", "Some(", "Err(", "{ "):
        assert dump not in text, text


def enrolled(assent, portal, path):
    keystore = python_keystore(assent)
    store = assent.Store.open(str(path), key_provider(assent, bytes(32)), keystore, None)
    enrollment = store.enroll(portal(cmd="qr")["qr"], assent.DevicePlatform.IOS, "iPhone",
                              assent.PushAddress.APNS(token="ab" * 32, sandbox=True, topic=None), True)
    registered = portal(cmd="register", body=enrollment.request.body)
    activation = store.activate(enrollment.device_id, registered["response"])
    assert portal(cmd="verify", body=activation.body)["ok"]
    return store, keystore, enrollment.device_id


def test_every_push_error_is_typed_and_a_sentence(assent, tmp_path):
    portal = Portal()
    try:
        store, keystore, device_id = enrolled(assent, portal, tmp_path / "v.json")
        sent = portal(cmd="challenge", digits=2)
        view = store.open_challenge(sent["payload"])
        # A keystore refusal raised in Python arrives as PlatformKey, with the platform's words;
        # the store keeps working and the same request can be answered after.
        keystore.refuse = "Face ID was cancelled"
        with pytest.raises(assent.AssentError.PlatformKey) as refused:
            store.answer(view.id, assent.UserAnswer.APPROVE(number=sent["number"], user_verified=True))
        assert "Face ID was cancelled" in str(refused.value)
        assert_sentence(refused.value)
        keystore.refuse = None
        answer = store.answer(view.id, assent.UserAnswer.APPROVE(number=sent["number"], user_verified=True))
        assert portal(cmd="verify", body=answer.body)["ok"]
        with pytest.raises(assent.AssentError.RequestClosed) as closed:
            store.answer(view.id, assent.UserAnswer.APPROVE(number=sent["number"], user_verified=True))
        assert_sentence(closed.value)

        other = assent.Store.open(str(tmp_path / "o.json"), key_provider(assent, bytes(32)), None, None)
        enrollment = other.enroll(portal(cmd="qr")["qr"], assent.DevicePlatform.ANDROID, "Pixel",
                                  assent.PushAddress.FCM(token="t"), False)
        with pytest.raises(assent.AssentError.PortalReply) as reply:
            other.activate(enrollment.device_id, '{"device_id": "someone else", "challenge": "a.b.c"}')
        assert_sentence(reply.value)
        with pytest.raises(assent.AssentError.InvalidInput) as activation:
            store.open_challenge(portal(cmd="challenge", purpose="activate")["payload"])
        assert_sentence(activation.value)

        # A poll answer: each request in it is opened, the answered one left out.
        payloads = [portal(cmd="challenge", digits=None)["payload"] for _ in range(2)]
        body = json.dumps({"challenges": payloads})
        pulled = store.open_pending(body)
        assert len(pulled) == 2
        store.answer(pulled[0].id, assent.UserAnswer.DENY(not_me=False, user_verified=False))
        assert [v.id for v in store.open_pending(body)] == [pulled[1].id]
        with pytest.raises(assent.AssentError.PortalReply) as not_a_poll:
            store.open_pending("<html>502</html>")
        assert_sentence(not_a_poll.value)

        # The account that approves sign-ins is one account, deleted only when confirmed.
        account = store.accounts()[0]
        assert account.push_device_id == device_id
        with pytest.raises(assent.AssentError.NeedsConfirmation) as confirm:
            store.delete(account.id, False)
        assert_sentence(confirm.value)
        assert len(store.push_accounts()) == 1
        store.delete(account.id, True)
        assert store.accounts() == [] and store.push_accounts() == []
    finally:
        portal.close()


def test_the_read_only_open_for_the_notification_extension(assent, tmp_path):
    portal = Portal()
    try:
        path = tmp_path / "v.json"
        store, _, _ = enrolled(assent, portal, path)
        before = path.read_bytes()
        sent = portal(cmd="challenge", digits=None, purpose="password_reset")
        peeked = assent.peek_challenge(str(path), key_provider(assent, bytes(32)), sent["payload"], None)
        assert peeked.purpose == assent.Purpose.PASSWORD_RESET
        assert path.read_bytes() == before
        assert store.open_challenge(sent["payload"]) == peeked
        with pytest.raises(assent.AssentError.WrongPassword) as wrong:
            assent.peek_challenge(str(path), key_provider(assent, bytes([7]) * 32), sent["payload"], None)
        assert_sentence(wrong.value)
    finally:
        portal.close()


def test_automatic_backups_and_icons(assent, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    clock = fixed_clock(assent, 1_800_000_000)
    store = assent.Store.open(str(tmp_path / "v.json"), key_provider(assent, bytes(32)), None, clock)
    store.add_uri("otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub")
    status = store.enable_auto_backup(str(folder), 3, "backup pass")
    assert status.last_success_file and not status.pending
    clock.now += 1
    store.add_uri(RFC_SHA1)
    # Within the debounce: pending until flushed.
    assert store.backup_status().pending
    assert not store.flush_backup().pending
    versions = assent.backup_versions(str(folder))
    assert len(versions) == 2
    restored = assent.Store.open(str(tmp_path / "r.json"), key_provider(assent, bytes(32)), None, None)
    assert restored.import_data(Path(versions[0].path).read_bytes(), "backup pass").added == 2
    with pytest.raises(assent.AssentError.WrongPassword):
        restored.import_data(Path(versions[0].path).read_bytes(), "nope")
    shutil.rmtree(folder)
    clock.now += 100
    store.rename(store.accounts()[0].id, "GitHub, Inc.", None)
    failed = store.backup_status()
    assert failed.folder_missing and failed.pending
    assert_sentence(failed.last_failure)
    github = store.accounts()[0]
    assert github.icon_key == "brand:github"
    assert isinstance(github.icon, assent.AccountIcon.BRAND)


def test_push_enrollment_challenge_and_answer_with_a_python_keystore(assent, tmp_path):
    portal = Portal()
    try:
        keystore = python_keystore(assent)
        store = assent.Store.open(str(tmp_path / "v.json"), key_provider(assent, bytes(32)), keystore, None)
        qr = portal(cmd="qr")["qr"]
        enrollment = store.enroll(qr, assent.DevicePlatform.ANDROID, "Pixel",
                                  assent.PushAddress.FCM(token="fcm-token-1"), True)
        assert enrollment.request.url == "https://portal.acme.test/assent/v1/register"
        assert len(keystore.keys) == 1
        registered = portal(cmd="register", body=enrollment.request.body)
        assert "response" in registered, registered
        activation = store.activate(enrollment.device_id, registered["response"])
        assert portal(cmd="verify", body=activation.body)["ok"]
        assert store.push_accounts()[0].active

        sent = portal(cmd="challenge", digits=2)
        view = store.open_challenge(sent["payload"])
        assert (view.application, view.number_digits, view.purpose) == (
            "Acme Mail", 2, assent.Purpose.LOGIN)
        assert view.user_verification in list(assent.UserVerification)
        answer = store.answer(view.id, assent.UserAnswer.APPROVE(number=sent["number"], user_verified=True))
        assert portal(cmd="verify", body=answer.body) == {"ok": True, "decision": "Approve"}
        with pytest.raises(assent.AssentError.RequestClosed):
            store.open_challenge(sent["payload"])

        sent = portal(cmd="challenge", digits=None)
        view = store.open_challenge(sent["payload"])
        answer = store.answer(view.id, assent.UserAnswer.DENY(not_me=True, user_verified=False))
        assert portal(cmd="verify", body=answer.body)["decision"] == "Deny"
        with pytest.raises(assent.AssentError.InvalidInput):
            store.open_challenge("not.a.challenge")
    finally:
        portal.close()
