"""pam_assent under real PAM callers, over the real portal, with the `assent` CLI as the phone:
pamtester (approve, deny, not me, expiry, portal down in both fail modes, a wrong code then the
right one, bad configuration, a user it does not apply to), a real OpenSSH server with
keyboard-interactive login, and sudo. Loopback only; every PAM service file, Unix user and sudo
rule it makes is removed afterwards.

Needs root (PAM service files live in /etc/pam.d; sshd and sudo need real users), Debian's
pamtester, openssh-server and sudo (.ci/run installs them), and `cargo build --workspace`
(target/debug/{portal,assent,libpam_assent.so})."""

import html
import http.cookiejar
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "debug"
MODULE = BIN / "libpam_assent.so"
PASSWORD = "correct horse battery"
ADMIN = "pam-test-admin-token-0123456789"
DEADLINE = 20

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("pamtester"),
    reason="needs root and pamtester (.ci/run installs it)")


def wait_for(what, check, deadline=DEADLINE):
    end = time.time() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Phone:
    """The `assent` CLI with a vault of its own: the user's phone."""

    def __init__(self, directory: Path):
        self.env = {**os.environ, "HOME": str(directory), "XDG_RUNTIME_DIR": str(directory / "run"),
                    "ASSENT_VAULT": str(directory / "vault.json"),
                    "ASSENT_PASSPHRASE": "a vault passphrase", "DBUS_SESSION_BUS_ADDRESS": "disabled:"}
        (directory / "run").mkdir(mode=0o700, parents=True)

    def run(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "assent"), *args], env=self.env, capture_output=True,
                              text=True, timeout=60)

    def pending(self) -> list:
        done = self.run("pending", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def next_request(self) -> dict:
        return wait_for("the request on the phone", lambda: (self.pending() or [None])[0])

    def code(self) -> str:
        done = self.run("list", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)[0]["code"]


class Stack:
    """The portal (no relay: the phone polls), a user enrolled on a phone, a relying party."""

    def __init__(self, directory: Path, user: str, mode: str = "push_number", signing: bool = False):
        self.dir = directory
        self.db = directory / "portal.db"
        self.user = user
        self.start()
        self.api("POST", "/admin/api/users", {"username": user, "password": PASSWORD})
        self.phone = Phone(directory / "phone")
        self.enroll()
        create = [str(BIN / "portal"), "--db", str(self.db), "client", "create",
                  f"pam-{secrets.token_hex(3)}", "--mode", mode]
        self.request_key = None
        if signing:
            # The key as docs/device-logins.md makes it.
            self.request_key = directory / "request.pem"
            public = directory / "request.pub"
            subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-out", str(self.request_key)], check=True,
                           capture_output=True)
            subprocess.run(["openssl", "pkey", "-in", str(self.request_key), "-pubout", "-out",
                            str(public)], check=True, capture_output=True)
            self.request_key.chmod(0o600)
            create += ["--request-key", str(public)]
        made = subprocess.run(create, capture_output=True, text=True, check=True)
        self.key_file = directory / "client.key"
        self.key_file.write_text(made.stdout.strip() + "\n")
        self.key_file.chmod(0o600)

    def start(self):
        self.proc = subprocess.Popen(
            [str(BIN / "portal"), "--db", str(self.db), "--listen", "127.0.0.1:0",
             "--admin-token", ADMIN, "--test-clock"],
            stdout=subprocess.PIPE, env={**os.environ, "PORTAL_LOG": "warn"}, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("portal listening on "), line
        self.url = line.removeprefix("portal listening on ")

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def api(self, method, path, body=None):
        request = urllib.request.Request(
            f"{self.url}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as r:
            return json.loads(r.read() or b"null")

    def enroll(self):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form = urllib.parse.urlencode({"username": self.user, "password": PASSWORD}).encode()
        with opener.open(f"{self.url}/login", data=form) as r:
            page = r.read().decode()
        found = re.search(r'<pre id="enrollment-uri">([^<]+)</pre>', page)
        assert found, page
        done = self.phone.run("enroll", html.unescape(found.group(1)), "--name", "pam test phone")
        assert done.returncode == 0, done.stderr

    def advance(self, seconds: int):
        request = urllib.request.Request(f"{self.url}/test/clock", method="POST",
                                         data=json.dumps({"advance": seconds}).encode(),
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request).read()

    def config(self, name="pam.toml", **extra) -> Path:
        lines = [f'portal_url = "{extra.pop("portal_url", self.url)}"', f'key_file = "{self.key_file}"',
                 f'users = ["{self.user}"]', 'timeout_seconds = 30']
        if self.request_key is not None:
            lines.append(f'request_key_file = "{self.request_key}"')
        lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
        path = self.dir / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def events(self) -> list:
        return self.api("GET", f"/admin/api/users/{self.user}/events")


@pytest.fixture
def stack(tmp_path):
    user = f"pam{secrets.token_hex(3)}"
    s = Stack(tmp_path, user)
    yield s
    s.stop()


class Service:
    """A throwaway PAM service file using the module (or replacing a real service's file)."""

    def __init__(self, name: str, config: Path, keep_original: bool = False):
        self.path = Path("/etc/pam.d") / name
        self.saved = self.path.read_bytes() if keep_original and self.path.exists() else None
        self.path.write_text(
            f"auth required {MODULE} config={config}\n"
            "account required pam_permit.so\n"
            "session required pam_permit.so\n"
            "password required pam_deny.so\n")
        self.name = name

    def remove(self):
        if self.saved is not None:
            self.path.write_bytes(self.saved)
        else:
            self.path.unlink(missing_ok=True)


@pytest.fixture
def service(stack):
    made = []

    def make(config: Path, name: str | None = None, keep_original: bool = False) -> Service:
        s = Service(name or f"assent-test-{secrets.token_hex(3)}", config, keep_original)
        made.append(s)
        return s
    yield make
    for s in made:
        s.remove()


def pamtester(service: Service, user: str) -> subprocess.Popen:
    return subprocess.Popen(["pamtester", "-v", service.name, user, "authenticate"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc: subprocess.Popen, typed: str = "") -> tuple[int, str]:
    out, _ = proc.communicate(typed, timeout=60)
    return proc.returncode, out


def test_approved_on_the_phone_with_the_number_signs_in(stack, service):
    s = service(stack.config())
    proc = pamtester(s, stack.user)
    request = stack.phone.next_request()
    assert request["application"].startswith(f"{s.name} to "), request
    assert request["number_digits"] == 2
    sent = [e for e in stack.events() if e["kind"] == "push_login" and e["outcome"] == "sent"]
    assert sent and "for pam-" in sent[-1]["detail"], sent
    number = number_from_portal(stack, request["id"])
    done = stack.phone.run("approve", request["id"], "--number", number)
    assert done.returncode == 0, done.stderr
    code, out = finish(proc, "\n")
    assert code == 0, out
    assert f"number {number}" in out, out
    assert "successfully authenticated" in out
    assert any(e["kind"] == "push_login" and e["outcome"] == "approved" and "(for pam-" in e["detail"]
               for e in stack.events()), stack.events()


@pytest.mark.parametrize("not_me", [False, True])
def test_a_deny_fails_and_says_why(stack, service, not_me):
    s = service(stack.config())
    proc = pamtester(s, stack.user)
    request = stack.phone.next_request()
    args = ["deny", request["id"]] + (["--not-me"] if not_me else [])
    assert stack.phone.run(*args).returncode == 0
    code, out = finish(proc, "\n")
    assert code != 0, out
    assert ("reported as not you" in out) if not_me else ("Denied" in out), out


def test_an_unanswered_request_expires(stack, service):
    s = service(stack.config())
    proc = pamtester(s, stack.user)
    stack.phone.next_request()
    stack.advance(61)
    code, out = finish(proc, "\n")
    assert code != 0 and "expired" in out, out


def test_a_wrong_code_then_the_right_one(stack, service):
    s = service(stack.config())
    proc = pamtester(s, stack.user)
    stack.phone.next_request()
    right = stack.phone.code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    code, out = finish(proc, f"{wrong}\n{right}\n")
    assert code == 0, out
    assert "Wrong code" in out, out
    assert stack.phone.pending() == [], "the right code withdrew the push"
    outcomes = [(e["kind"], e["outcome"]) for e in stack.events()]
    assert ("totp", "failed") in outcomes and ("totp", "ok") in outcomes, outcomes


def test_a_portal_that_cannot_be_reached_follows_the_fail_mode(stack, service):
    closed_port = free_port()
    unreachable = f"http://127.0.0.1:{closed_port}"
    closed = service(stack.config("closed.toml", portal_url=unreachable))
    code, out = finish(pamtester(closed, stack.user))
    assert code != 0 and "cannot be reached" in out, out
    opened = service(stack.config("open.toml", portal_url=unreachable, fail_mode="open"))
    code, out = finish(pamtester(opened, stack.user))
    assert code == 0 and "allowed without it" in out, out
    # Open is only for an unreachable portal: a deny still fails.
    reachable_open = service(stack.config("open2.toml", fail_mode="open"))
    proc = pamtester(reachable_open, stack.user)
    request = stack.phone.next_request()
    assert stack.phone.run("deny", request["id"]).returncode == 0
    code, out = finish(proc, "\n")
    assert code != 0, out


def test_ctrl_c_at_the_prompt_withdraws_the_request(stack, service):
    s = service(stack.config())
    proc = pamtester(s, stack.user)
    stack.phone.next_request()
    proc.stdin.close()  # the conversation ends without an answer (as Ctrl-C does)
    assert proc.wait(timeout=30) != 0
    wait_for("the push to be withdrawn", lambda: stack.phone.pending() == [])


def test_bad_configuration_refuses_clearly(stack, service, tmp_path):
    for text, log in [("portal_url = 'http://127.0.0.1:1'\n", "key_file"),
                      (f"portal_url = '{stack.url}'\nkey_file = '/nonexistent'\n", "client key"),
                      (f"portal_url = '{stack.url}'\nkey_file = '{stack.key_file}'\nfail_mode = 'opne'\n", "fail_mode")]:
        bad = tmp_path / f"bad-{secrets.token_hex(2)}.toml"
        bad.write_text(text)
        code, out = finish(pamtester(service(bad), stack.user))
        assert code != 0 and "misconfigured" in out, out
    code, out = finish(pamtester(service(tmp_path / "missing.toml"), stack.user))
    assert code != 0 and "misconfigured" in out, out
    # A key others can read, and a configuration others can change, are refused too.
    stack.key_file.chmod(0o644)
    code, out = finish(pamtester(service(stack.config("readable-key.toml")), stack.user))
    assert code != 0 and "misconfigured" in out, out
    stack.key_file.chmod(0o600)
    writable = stack.config("writable.toml")
    writable.chmod(0o666)
    code, out = finish(pamtester(service(writable), stack.user))
    assert code != 0 and "misconfigured" in out, out
    assert stack.phone.pending() == [], "no push for a refused configuration"


def test_a_user_it_does_not_apply_to_is_left_to_the_rest_of_the_stack(stack, tmp_path):
    config = stack.config()
    # Only the module, then pam_permit: an ignored user passes through to pam_permit.
    name = f"assent-test-{secrets.token_hex(3)}"
    path = Path("/etc/pam.d") / name
    path.write_text(f"auth requisite {MODULE} config={config}\nauth required pam_permit.so\n"
                    "account required pam_permit.so\n")
    try:
        done = subprocess.run(["pamtester", name, "somebody-else", "authenticate"],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr
        assert stack.phone.pending() == [], "nothing was sent for them"
    finally:
        path.unlink()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unix_user(stack):
    """A Unix account of the portal user's name (sshd and sudo sign in real users)."""
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", stack.user], check=True)
    yield pwd.getpwnam(stack.user)
    subprocess.run(["userdel", "--remove", stack.user], check=False, capture_output=True)


def test_ssh_login_succeeds_after_approval_and_fails_after_denial(stack, service, unix_user, tmp_path):
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    service(stack.config(), name="sshd", keep_original=True)
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {key}", "UsePAM yes",
        "KbdInteractiveAuthentication yes", "PasswordAuthentication no", "PubkeyAuthentication no",
        "AuthenticationMethods keyboard-interactive", f"PidFile {tmp_path / 'sshd.pid'}",
        "StrictModes no", ""]))
    Path("/run/sshd").mkdir(exist_ok=True)
    daemon = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for("sshd", lambda: can_connect(port))
        askpass = tmp_path / "askpass.sh"
        shown = tmp_path / "shown.txt"
        # Every prompt is answered with Enter (wait for the phone); what ssh showed with it (the
        # module's messages and its prompt) is kept.
        askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> {shown}\necho\n")
        askpass.chmod(0o755)

        def ssh() -> subprocess.Popen:
            return subprocess.Popen(
                ["ssh", "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "PreferredAuthentications=keyboard-interactive", "-o", "NumberOfPasswordPrompts=1",
                 "-o", "BatchMode=no", f"{stack.user}@127.0.0.1", "echo", "signed-in-by-ssh"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force",
                     "DISPLAY": ":0"}, start_new_session=True)

        client = ssh()
        request = stack.phone.next_request()
        assert request["application"].startswith("ssh to "), request
        digits = number_from_portal(stack, request["id"])
        assert stack.phone.run("approve", request["id"], "--number", digits).returncode == 0
        out, err = client.communicate(timeout=60)
        assert client.returncode == 0 and "signed-in-by-ssh" in out, out + err
        assert f"number {digits}" in shown.read_text(), shown.read_text()

        client = ssh()
        request = stack.phone.next_request()
        assert stack.phone.run("deny", request["id"]).returncode == 0
        out, err = client.communicate(timeout=60)
        assert client.returncode != 0 and "signed-in-by-ssh" not in out, out + err
    finally:
        daemon.kill()
        daemon.wait(timeout=10)


def number_from_portal(stack, request_id):
    """The number of a pending push, as the portal's relying-party API shows it (what the
    module printed): read with the client's own key."""
    key = stack.key_file.read_text().strip()
    request = urllib.request.Request(f"{stack.url}/rp/v1/verifications/{request_id}",
                                     headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request) as r:
        return json.loads(r.read()).get("number")


def can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_sudo_asks_the_phone(stack, service, unix_user, tmp_path):
    service(stack.config(), name="sudo", keep_original=True)
    rule = Path("/etc/sudoers.d") / f"assent-test-{secrets.token_hex(3)}"
    rule.write_text(f"Defaults:{stack.user} passwd_tries=1\n{stack.user} ALL=(root) /usr/bin/id\n")
    rule.chmod(0o440)
    try:
        def sudo() -> subprocess.Popen:
            return subprocess.Popen(
                ["su", stack.user, "-c", "sudo -S -k -p '' /usr/bin/id -u"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        proc = sudo()
        request = stack.phone.next_request()
        digits = number_from_portal(stack, request["id"])
        assert stack.phone.run("approve", request["id"], "--number", digits).returncode == 0
        out, err = proc.communicate("\n", timeout=60)
        assert proc.returncode == 0 and out.strip() == "0", out + err

        proc = sudo()
        request = stack.phone.next_request()
        assert stack.phone.run("deny", request["id"], "--not-me").returncode == 0
        out, err = proc.communicate("\n", timeout=60)
        assert proc.returncode != 0, out + err
        # (sudo -S shows no PAM messages without a terminal; the portal's log has the report.)
        assert any(e["outcome"] == "suspicious" for e in stack.events())
    finally:
        rule.unlink()


def rp(stack, method, path, body=None):
    """A relying-party API call with the stack's client key: (status, answer)."""
    key = stack.key_file.read_text().strip()
    request = urllib.request.Request(
        f"{stack.url}/rp/v1{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_repeated_unwelcome_pushes_throttle_the_user_but_not_their_codes(stack):
    for _ in range(3):
        status, started = rp(stack, "POST", "/verifications", {"user": stack.user, "application": "ssh to x"})
        assert status == 202 and started["status"] == "pending", started
        request = stack.phone.next_request()
        assert request["id"] == started["id"]
        assert stack.phone.run("deny", request["id"]).returncode == 0
        status, settled = rp(stack, "GET", f"/verifications/{started['id']}?wait=5")
        assert settled["status"] == "denied", settled
    status, refused = rp(stack, "POST", "/verifications", {"user": stack.user})
    assert status == 429 and refused["status"] == "rate_limited", refused
    assert "unanswered or denied" in refused["detail"] and refused["retry_after"] > 0
    assert stack.phone.pending() == [], "no fourth push"
    status, coded = rp(stack, "POST", "/codes", {"user": stack.user, "code": stack.phone.code()})
    assert coded["status"] == "approved", coded


def test_a_long_poll_returns_when_the_phone_answers(stack):
    status, started = rp(stack, "POST", "/verifications", {"user": stack.user})
    assert status == 202
    request = stack.phone.next_request()
    answered = subprocess.Popen([str(BIN / "assent"), "approve", request["id"], "--number", started["number"]],
                                env=stack.phone.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    begun = time.time()
    status, settled = rp(stack, "GET", f"/verifications/{started['id']}?wait=60")
    assert answered.wait(timeout=30) == 0
    assert status == 200 and settled["status"] == "approved", settled
    assert time.time() - begun < 30, "the poll returned with the answer, not at its bound"


def test_a_signing_client_signs_every_request_and_the_key_alone_is_refused(tmp_path, service):
    (tmp_path / "signed").mkdir()
    stack = Stack(tmp_path / "signed", f"pam{secrets.token_hex(3)}", signing=True)
    try:
        status, refused = rp(stack, "POST", "/verifications", {"user": stack.user})
        assert status == 401 and refused["error"] == "signature_required", refused
        assert stack.phone.pending() == []
        s = service(stack.config())
        proc = pamtester(s, stack.user)
        request = stack.phone.next_request()
        assert stack.phone.run("approve", request["id"], "--number", pending_number(stack)).returncode == 0
        code, out = finish(proc, "\n")
        assert code == 0, out
    finally:
        stack.stop()


def pending_number(stack):
    """The number of the pending push, from the portal's database (this client signs its
    requests, and the test holds no signer of its own to ask the API)."""
    import sqlite3
    with sqlite3.connect(stack.db) as db:
        row = db.execute("SELECT number FROM challenges WHERE status = 'pending' "
                         "ORDER BY iat DESC LIMIT 1").fetchone()
    return row[0]


def test_a_code_only_client_asks_for_a_code_and_sends_no_push(tmp_path, service):
    (tmp_path / "codes").mkdir()
    stack = Stack(tmp_path / "codes", f"pam{secrets.token_hex(3)}", mode="totp")
    try:
        s = service(stack.config())
        code, out = finish(pamtester(s, stack.user), f"{stack.phone.code()}\n")
        assert code == 0, out
        assert "Code from your authenticator app" in out and "Approve" not in out, out
        assert stack.phone.pending() == [], "no push"
    finally:
        stack.stop()
