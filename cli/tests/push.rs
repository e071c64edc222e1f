//! The push commands end to end: the real `portal` and `push-relay` binaries as child
//! processes, a browser played with HTTP requests, and `assent` as scripts and people use it.
//!
//! The portal and relay binaries are taken from the directory of the `assent` binary under
//! test (`target/debug`): build them first, `cargo build -p portal -p push-relay`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::io::{BufRead, BufReader, Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::redirect::Policy;

const USER: &str = "alice";
const PASSWORD: &str = "a long enough password";
const RELAY_API_KEY: &str = "relay-api-key-for-the-cli-tests";
/// How long anything a test waits for may take.
const PATIENCE: Duration = Duration::from_secs(30);

fn binary(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_assent"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p portal -p push-relay` first",
        path.display()
    );
    path
}

/// A child process killed (and reaped) when the test lets go of it.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines a child prints on standard output, read on a thread.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(stdout: impl std::io::Read + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; returns it.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {text:?}; saw: {:#?}", self.seen),
            }
        }
    }

    /// Everything printed until the stream ends.
    fn rest(&mut self) -> String {
        while let Ok(line) = self.rx.recv_timeout(PATIENCE) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

struct Relay {
    url: String,
    config: PathBuf,
    process: Process,
}

impl Relay {
    fn start(dir: &Path) -> Self {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA256, RELAY_API_KEY.as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let config = dir.join("relay.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"{addr}\"\nlog_level = \"warn\"\nshutdown_grace_seconds = 1\n\
                 [direct]\nenabled = true\n\
                 [[tenants]]\nid = \"cli-tests\"\napi_key_sha256 = \"{hex}\"\n\
                 rate_per_second = 1000.0\nburst = 1000\ndirect = true\n"
            ),
        )
        .unwrap();
        let url = format!("http://{addr}");
        let process = Self::spawn(&config, &url);
        Self {
            url,
            config,
            process,
        }
    }

    /// Starts the relay process and waits until it listens.
    fn spawn(config: &Path, url: &str) -> Process {
        let addr = url.trim_start_matches("http://");
        let mut command = Command::new(binary("push-relay"));
        command.arg("--config").arg(config).stdout(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PUSH_RELAY_") {
                command.env_remove(key);
            }
        }
        let mut process = Process(command.spawn().unwrap());
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(addr).is_err() {
            if let Some(status) = process.0.try_wait().unwrap() {
                panic!("push-relay exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "push-relay did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// Stops the relay and starts it again on the same address (its streams are gone).
    fn restart(&mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
        self.process = Self::spawn(&self.config, &self.url);
    }
}

/// A portal with one user, optionally pushing through a relay, in a temporary directory that
/// also holds the vault of the device under test.
struct Stack {
    dir: tempfile::TempDir,
    portal: String,
    relay: Option<Relay>,
    _portal: Process,
}

impl Stack {
    fn new(with_relay: bool) -> Self {
        Self::with_portal_args(with_relay, &[])
    }

    /// A stack whose portal gets `extra` flags too.
    fn with_portal_args(with_relay: bool, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("portal.db");
        let relay = with_relay.then(|| Relay::start(dir.path()));
        let portal_command = || {
            let mut command = Command::new(binary("portal"));
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("PORTAL_") {
                    command.env_remove(key);
                }
            }
            command.arg("--db").arg(&db);
            command
        };
        let created = portal_command()
            .env("PORTAL_NEW_PASSWORD", PASSWORD)
            .args(["user", "add", USER])
            .output()
            .unwrap();
        assert!(
            created.status.success(),
            "portal user add: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let mut command = portal_command();
        command.args(["--listen", "127.0.0.1:0", "--test-clock"]);
        command.args(extra);
        if let Some(relay) = &relay {
            command.args(["--relay-url", &relay.url, "--relay-api-key", RELAY_API_KEY]);
        }
        let log = std::fs::File::create(dir.path().join("portal.log")).unwrap();
        let mut child = command.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut lines = Lines::of(child.stdout.take().unwrap());
        let process = Process(child);
        let line = lines.wait_for("portal listening on ");
        let portal = line
            .split("portal listening on ")
            .nth(1)
            .unwrap()
            .trim()
            .to_owned();
        Self {
            dir,
            portal,
            relay,
            _portal: process,
        }
    }

    /// Moves the portal's clock (back when negative); the device keeps the real time.
    fn move_portal_clock(&self, seconds: i64) {
        let response = Client::new()
            .post(format!("{}/test/clock", self.portal))
            .json(&serde_json::json!({ "advance": seconds }))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    fn relay_url(&self) -> &str {
        &self.relay.as_ref().unwrap().url
    }

    /// `assent` with this stack's vault and passphrase, no terminal.
    fn assent(&self) -> Command {
        common::assent(self.dir.path())
    }

    fn run(&self, args: &[&str]) -> Output {
        self.assent().args(args).output().unwrap()
    }

    /// Runs `assent`, expects success; returns (stdout, stderr).
    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "assent {args:?} failed: {stderr}");
        (String::from_utf8(out.stdout).unwrap(), stderr)
    }

    /// Runs `assent`, expects one line of error; returns it.
    fn fails(&self, args: &[&str]) -> String {
        common::one_line_error(args, self.run(args))
    }

    fn browser(&self) -> Browser {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Browser {
            http: Client::builder().redirect(Policy::none()).build().unwrap(),
            base: self.portal.clone(),
            cookie: None,
        }
    }

    /// Signs in as a first-time user and returns the enrollment URI the page shows.
    fn enrollment_uri(&self) -> String {
        let mut browser = self.browser();
        assert_eq!(browser.sign_in(), "/enroll");
        let page = browser.get("/enroll");
        let uri = between(&page, "<pre id=\"enrollment-uri\">", "</pre>");
        unescape(uri)
    }

    /// Enrolls the device from the URI, through the relay when the stack has one.
    fn enroll(&self) -> String {
        let uri = self.enrollment_uri();
        let mut args = vec!["enroll", uri.as_str()];
        if let Some(relay) = &self.relay {
            args.extend(["--relay", relay.url.as_str()]);
        }
        self.ok(&args).1
    }
}

/// A browser session with the portal: one cookie, redirects not followed.
struct Browser {
    http: Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    /// Posts the password; returns where the portal sends the browser next.
    fn sign_in(&mut self) -> String {
        let response = self
            .http
            .post(format!("{}/login", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
            )
            .body(format!(
                "username={USER}&password={}",
                PASSWORD.replace(' ', "+")
            ))
            .send()
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "sign-in answered {}",
            response.status()
        );
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("no session cookie")
            .to_owned();
        assert!(cookie.starts_with("assent_session="), "{cookie}");
        self.cookie = Some(cookie);
        response
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn request(&self, path: &str) -> reqwest::blocking::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response
    }

    fn get(&self, path: &str) -> String {
        self.request(path).text().unwrap()
    }

    /// Starts a sign-in by push; the browser then waits on /login/push.
    fn start_push_login(&mut self) {
        assert_eq!(self.sign_in(), "/login/push");
    }

    /// The number the waiting page shows.
    fn number(&self) -> String {
        let page = self.get("/login/push");
        between(&page, "<p class=\"number\" id=\"number\">", "</p>").to_owned()
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/login/push/status")).unwrap()
    }

    /// The status once the portal has recorded the relay's answer to its push, which can come
    /// after the device (which got the push first) has already answered (10 s at most).
    fn status_with_delivery(&self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.status();
            if !status["delivery"].is_null() || Instant::now() > deadline {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    &text[from..to]
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A number of the same length that is not `number`.
fn wrong(number: &str) -> String {
    let value: u32 = number.parse().unwrap();
    let modulus = 10u32.pow(number.len() as u32);
    format!("{:0width$}", (value + 1) % modulus, width = number.len())
}

fn pending(stack: &Stack) -> Vec<serde_json::Value> {
    serde_json::from_str(&stack.ok(&["pending", "--json"]).0).unwrap()
}

#[test]
fn enroll_from_the_uri_with_a_relay_then_list_and_approve() {
    let stack = Stack::new(true);
    let uri = stack.enrollment_uri();
    let (_, stderr) = stack.ok(&["enroll", &uri, "--relay", stack.relay_url()]);
    assert!(
        stderr.contains("Enrolled Assent Demo (alice) for push and codes (device "),
        "{stderr}"
    );
    assert!(stderr.contains(stack.relay_url()), "{stderr}");
    assert!(!stderr.contains("assent_token"), "{stderr}");
    // The QR is single-use; a failed second enrollment leaves the first one working.
    let err = stack.fails(&["enroll", &uri, "--relay", stack.relay_url()]);
    assert!(
        err.contains("the portal refused the registration: enrollment_used"),
        "{err}"
    );
    // The TOTP account came with the enrollment; the relay is remembered beside the vault.
    let accounts: Vec<serde_json::Value> =
        serde_json::from_str(&stack.ok(&["list", "--json"]).0).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["name"], USER);
    let relays = std::fs::read_to_string(stack.dir.path().join("vault.json.relays.json")).unwrap();
    assert!(relays.contains(stack.relay_url()), "{relays}");
    assert!(pending(&stack).is_empty());

    let mut browser = stack.browser();
    browser.start_push_login();
    let number = browser.number();
    let listed = pending(&stack);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let request = &listed[0];
    assert_eq!(request["purpose"], "login");
    assert_eq!(request["user"], USER);
    assert_eq!(request["application"], "Assent Demo Portal");
    assert_eq!(request["ip"], "127.0.0.1");
    assert_eq!(request["number_digits"], number.len());
    let seconds_left = request["seconds_left"].as_u64().unwrap();
    assert!((50..=60).contains(&seconds_left), "{seconds_left}");
    for field in [
        "location",
        "browser",
        "os",
        "expires_at",
        "device_id",
        "account",
    ] {
        assert!(request.get(field).is_some(), "missing {field}");
    }
    let id = request["id"].as_str().unwrap();
    let (text, _) = stack.ok(&["pending"]);
    assert!(text.starts_with(&id[..8]), "{text}");
    assert!(
        text.contains("sign-in request for Assent Demo (alice)"),
        "{text}"
    );
    assert!(text.contains("type the 2-digit number"), "{text}");

    // Without the number the answer is not even built.
    let err = stack.fails(&["approve", &id[..6]]);
    assert!(err.contains("--number"), "{err}");
    assert_eq!(browser.status()["status"], "pending");
    let (out, _) = stack.ok(&["approve", &id[..6], "--number", &number]);
    assert_eq!(out, "approved\n");
    assert_eq!(browser.status()["status"], "approved");
    assert!(pending(&stack).is_empty());
    // A late approve says why: this device answered it, and what the portal said.
    let err = stack.fails(&["approve", &id[..6], "--number", &number]);
    assert!(err.contains("no pending request"), "{err}");
    assert!(err.contains("was already answered here: approved"), "{err}");
}

#[test]
fn enroll_from_a_qr_image_without_a_relay() {
    let stack = Stack::new(false);
    let mut browser = stack.browser();
    assert_eq!(browser.sign_in(), "/enroll");
    let png = browser.request("/enroll/qr.png").bytes().unwrap();
    let image = stack.dir.path().join("qr.png");
    std::fs::write(&image, &png).unwrap();
    let (_, stderr) = stack.ok(&[
        "enroll",
        "--qr",
        image.to_str().unwrap(),
        "--name",
        "CLI test",
    ]);
    assert!(stderr.contains("for push and codes"), "{stderr}");
    assert!(stderr.contains("only when it polls"), "{stderr}");
    // The page that showed the QR sees the device.
    let status: serde_json::Value = serde_json::from_str(&browser.get("/enroll/status")).unwrap();
    assert_eq!(status["enrolled"], true, "{status}");
    assert_eq!(status["device"], "CLI test (desktop)");

    // The image may also be given in place of the URI; enrolling again replaces the device.
    let png = browser.request("/enroll/qr.png").bytes().unwrap();
    std::fs::write(&image, &png).unwrap();
    let (_, stderr) = stack.ok(&["enroll", image.to_str().unwrap()]);
    assert!(stderr.contains("for push and codes"), "{stderr}");
    // The new QR's TOTP secret replaced the earlier one: one account, not two look-alikes.
    assert!(
        stderr.contains("Its codes now come from the new QR"),
        "{stderr}"
    );
    let (listed, _) = stack.ok(&["list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let err = stack.fails(&[
        "enroll",
        "--qr",
        stack.dir.path().join("portal.db").to_str().unwrap(),
    ]);
    assert!(err.contains("not a PNG or JPEG"), "{err}");

    // Reached by polling: the sign-in request is there.
    let mut login = stack.browser();
    login.start_push_login();
    assert_eq!(pending(&stack).len(), 1);
}

#[test]
fn a_wrong_number_is_refused_and_consumes_the_request() {
    let stack = Stack::new(false);
    stack.enroll();
    let mut browser = stack.browser();
    browser.start_push_login();
    // Enrolled without a relay, the device registered no push address: the portal sends
    // nothing and says the device finds the request by polling (no made-up stream token).
    assert_eq!(browser.status_with_delivery()["delivery"], "device_polls");
    let number = browser.number();
    let id = pending(&stack)[0]["id"].as_str().unwrap().to_owned();
    let err = stack.fails(&["approve", &id, "--number", "1"]);
    assert!(err.contains("digits"), "{err}");
    let err = stack.fails(&["approve", &id, "--number", &wrong(&number)]);
    assert_eq!(
        err.trim_end(),
        "assent: the portal refused the answer: wrong_number (wrong number typed; the challenge is consumed)"
    );
    assert_eq!(browser.status()["status"], "failed");
    // The device remembers it answered: no second try, and it says what happened.
    assert!(pending(&stack).is_empty());
    let err = stack.fails(&["approve", &id, "--number", &number]);
    assert!(
        err.contains("was already answered here: the portal refused the answer: wrong_number"),
        "{err}"
    );
}

#[test]
fn deny_reports_not_me() {
    let stack = Stack::new(false);
    stack.enroll();
    let mut browser = stack.browser();
    browser.start_push_login();
    let id = pending(&stack)[0]["id"].as_str().unwrap().to_owned();
    let (out, _) = stack.ok(&["deny", &id[..8], "--not-me"]);
    assert_eq!(out, "denied\n");
    let status = browser.status();
    assert_eq!(status["status"], "denied");
    assert!(
        status["message"].as_str().unwrap().contains("not you"),
        "{status}"
    );
    // An id this device never answered gets the open-ended refusal.
    let err = stack.fails(&["deny", "~never"]);
    assert!(
        err.contains("(answered, expired, or never sent here?)"),
        "{err}"
    );
}

#[test]
fn a_plain_totp_uri_adds_codes_only() {
    let stack = Stack::new(false);
    // A push QR that cannot be used changes nothing, not even creating the vault.
    let err = stack.fails(&[
        "enroll",
        "otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&issuer=A&assent=1&assent_url=http%3A%2F%2F127.0.0.1%3A1\
         &assent_token=AAAAAAAAAAAAAAAAAAAAAA&assent_key=AkBGhsS8WBljyY0Bn3S8IIIBLq0nX20PBkxX02ljWbJ1&assent_exp=1",
    ]);
    assert!(err.contains("the push enrollment cannot be used"), "{err}");
    assert!(!stack.dir.path().join("vault.json").exists());
    let (_, stderr) = stack.ok(&[
        "enroll",
        "otpauth://totp/Plain:bob?secret=JBSWY3DPEHPK3PXP&issuer=Plain",
    ]);
    assert!(stderr.contains("does not offer push"), "{stderr}");
    let accounts: Vec<serde_json::Value> =
        serde_json::from_str(&stack.ok(&["list", "--json"]).0).unwrap();
    assert_eq!(accounts.len(), 1);
    let err = stack.fails(&["pending"]);
    assert!(err.contains("no push enrollment"), "{err}");
}

/// `assent watch --once` with piped standard input; returns the child and its output lines.
fn watch(stack: &Stack) -> (Process, Lines, std::process::ChildStdin) {
    watch_with_stderr(stack, Stdio::inherit())
}

fn watch_with_stderr(stack: &Stack, stderr: Stdio) -> (Process, Lines, std::process::ChildStdin) {
    let mut child = stack
        .assent()
        .args(["watch", "--once"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let lines = Lines::of(child.stdout.take().unwrap());
    let stdin = child.stdin.take().unwrap();
    (Process(child), lines, stdin)
}

fn wait_exit(process: &mut Process) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "assent watch did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn watch_approves_a_push_from_the_relay_stream() {
    let stack = Stack::new(true);
    stack.enroll();
    let (mut process, mut lines, mut stdin) = watch(&stack);
    let line = lines.wait_for("watching ");
    assert_eq!(
        line,
        format!("watching 1 account(s): stream {}", stack.relay_url())
    );
    let mut browser = stack.browser();
    browser.start_push_login();
    let number = browser.number();
    lines.wait_for("pushed by the relay");
    lines.wait_for("user:        alice");
    writeln!(stdin, "y\n{number}").unwrap();
    drop(stdin);
    let status = wait_exit(&mut process);
    let output = lines.rest();
    assert!(status.success(), "{output}");
    assert!(
        output.contains("Approve? [y]es / [n]o / [r]eport not me:"),
        "{output}"
    );
    assert!(output.ends_with("approved"), "{output}");
    let status = browser.status_with_delivery();
    assert_eq!(status["status"], "approved");
    assert_eq!(status["delivery"], "delivered", "{status}");
}

#[test]
fn watch_polls_the_portal_without_a_relay() {
    let stack = Stack::new(false);
    stack.enroll();
    let (mut process, mut lines, mut stdin) = watch(&stack);
    let line = lines.wait_for("watching ");
    assert_eq!(
        line,
        format!("watching 1 account(s): polling {}", stack.portal)
    );
    let mut browser = stack.browser();
    browser.start_push_login();
    let number = browser.number();
    // Answers typed ahead are taken in order when the input is not a terminal.
    writeln!(stdin, "maybe\ny\n1\n{number}").unwrap();
    drop(stdin);
    lines.wait_for("found by polling the portal");
    let status = wait_exit(&mut process);
    let output = lines.rest();
    assert!(status.success(), "{output}");
    assert!(output.contains("Please answer y, n or r"), "{output}");
    assert!(output.contains("Type the 2 digits"), "{output}");
    assert!(output.ends_with("approved"), "{output}");
    assert_eq!(browser.status()["status"], "approved");
}

#[test]
fn watch_once_fails_when_the_portal_refuses_a_wrong_number() {
    let stack = Stack::new(true);
    stack.enroll();
    let (mut process, mut lines, mut stdin) = watch(&stack);
    lines.wait_for("watching ");
    let mut browser = stack.browser();
    browser.start_push_login();
    let number = browser.number();
    lines.wait_for("Sign-in request");
    writeln!(stdin, "y\n{}", wrong(&number)).unwrap();
    drop(stdin);
    let status = wait_exit(&mut process);
    assert!(!status.success());
    assert_eq!(browser.status()["status"], "failed");
}

#[test]
fn watch_gives_up_on_a_request_that_expires_unanswered() {
    let stack = Stack::new(true);
    stack.enroll();
    // With the portal's clock 52 s behind, its next request has 8 s left by the device's clock
    // (room for a slow machine to deliver it before it expires).
    stack.move_portal_clock(-52);
    let (mut process, mut lines, stdin) = watch(&stack);
    lines.wait_for("watching ");
    let mut browser = stack.browser();
    browser.start_push_login();
    lines.wait_for("Sign-in request");
    lines.wait_for("expired before it was answered.");
    let status = wait_exit(&mut process);
    drop(stdin);
    assert!(!status.success(), "--once fails when its request expires");
    // Nothing was answered: once the portal's own 60 s are over, the page says expired.
    assert_eq!(browser.status()["status"], "pending");
    stack.move_portal_clock(60);
    assert_eq!(browser.status()["status"], "expired");
    let answered = pending(&stack);
    assert!(answered.is_empty(), "{answered:?}");
}

#[test]
fn a_push_while_watch_is_off_fails_and_the_next_one_reaches_watch() {
    let stack = Stack::new(true);
    stack.enroll();
    // No stream is open: the relay reports the push failed (not a dead token), so the portal
    // keeps the device's push address; the request is still there for a poll.
    let mut first = stack.browser();
    first.start_push_login();
    let id = pending(&stack)[0]["id"].as_str().unwrap().to_owned();
    let status = first.status_with_delivery();
    assert_eq!(status["delivery"], "failed", "{status}");
    assert!(
        status["delivery_detail"]
            .as_str()
            .is_some_and(|d| d.contains("NotConnected")),
        "{status}"
    );
    stack.ok(&["deny", &id]);

    // With `watch` running, the next push arrives through the stream.
    let (mut process, mut lines, mut stdin) = watch(&stack);
    lines.wait_for("watching 1 account(s): stream");
    let mut second = stack.browser();
    second.start_push_login();
    let number = second.number();
    lines.wait_for("pushed by the relay");
    writeln!(stdin, "y\n{number}").unwrap();
    drop(stdin);
    assert!(wait_exit(&mut process).success(), "{}", lines.rest());
    let status = second.status_with_delivery();
    assert_eq!(status["status"], "approved");
    assert_eq!(status["delivery"], "delivered", "{status}");
}

#[test]
fn watch_falls_back_to_polling_when_the_relay_goes_away() {
    let mut stack = Stack::new(true);
    stack.enroll();
    let (mut process, mut lines, mut stdin) = watch(&stack);
    lines.wait_for("watching 1 account(s): stream");
    drop(stack.relay.take());
    let mut browser = stack.browser();
    browser.start_push_login();
    let number = browser.number();
    // Polls every 5 s while the stream is down.
    lines.wait_for("found by polling the portal");
    writeln!(stdin, "y\n{number}").unwrap();
    drop(stdin);
    assert!(wait_exit(&mut process).success(), "{}", lines.rest());
    assert_eq!(browser.status()["status"], "approved");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_watch_cleanly() {
    let stack = Stack::new(false);
    stack.enroll();
    let mut child = stack
        .assent()
        .arg("watch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(child.stdout.take().unwrap());
    let _stdin = child.stdin.take();
    let mut process = Process(child);
    lines.wait_for("watching 1 account(s): polling");
    let err = stack.fails(&["watch"]);
    assert!(err.contains("another `assent watch`"), "{err}");
    let killed = Command::new("kill")
        .args(["-INT", &process.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut process);
    assert!(status.success(), "{status}");
    assert!(lines.rest().ends_with("Stopped watching."));
}

#[test]
fn watch_reconnects_when_the_relay_comes_back() {
    let mut stack = Stack::new(true);
    stack.enroll();
    let (mut process, mut lines, mut stdin) = watch_with_stderr(&stack, Stdio::piped());
    let mut errors = Lines::of(process.0.stderr.take().unwrap());
    lines.wait_for("watching 1 account(s): stream");
    stack.relay.as_mut().unwrap().restart();
    errors.wait_for("is down");
    errors.wait_for(&format!("The stream from {} is back.", stack.relay_url()));
    let mut browser = stack.browser();
    browser.start_push_login();
    let number = browser.number();
    lines.wait_for("pushed by the relay");
    writeln!(stdin, "y\n{number}").unwrap();
    drop(stdin);
    assert!(wait_exit(&mut process).success(), "{}", lines.rest());
    assert_eq!(browser.status()["status"], "approved");
}

#[test]
fn enrolling_writes_a_backup_version_and_answering_writes_none() {
    let stack = Stack::new(false);
    let folder = stack.dir.path().join("backups");
    std::fs::create_dir(&folder).unwrap();
    let versions = || {
        let mut names: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        names
    };
    stack.ok(&["add", "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP"]);
    let out = stack
        .assent()
        .env("ASSENT_BACKUP_PASSPHRASE", "backup pass")
        .args(["backup", "auto", "--dir", folder.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(versions().len(), 1);

    let stderr = stack.enroll();
    assert!(!stderr.contains("warning"), "{stderr}");
    let after_enroll = versions();
    assert_eq!(after_enroll.len(), 2);
    let bytes = std::fs::read(after_enroll.last().unwrap()).unwrap();
    let restored = authenticator_core::import::import(&bytes, Some("backup pass")).unwrap();
    assert_eq!(
        restored.accounts.len(),
        2,
        "the enrolled account's codes too"
    );

    // An answer changes the push state only, which no backup holds: no new version.
    let mut browser = stack.browser();
    browser.start_push_login();
    let id = pending(&stack)[0]["id"].as_str().unwrap().to_owned();
    let (out, stderr) = stack.ok(&["deny", &id]);
    assert_eq!(out, "denied\n");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(versions(), after_enroll);
}

#[test]
fn an_account_that_approves_sign_ins_is_listed_as_such_and_removed_only_with_its_enrollment() {
    let stack = Stack::new(false);
    stack.enroll();
    stack.ok(&["add", "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP"]);
    let (out, _) = stack.ok(&["list", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let linked: Vec<_> = listed
        .iter()
        .filter(|a| a["push_device_id"].is_string())
        .collect();
    assert_eq!(linked.len(), 1, "{listed:?}");
    let github = listed.iter().find(|a| a["issuer"] == "GitHub").unwrap();
    assert_eq!(github["icon"], "brand:github");
    assert!(github["push_device_id"].is_null());

    let id = linked[0]["id"].as_str().unwrap();
    let err = stack.fails(&["remove", id, "--yes"]);
    assert!(err.contains("also approves sign-ins"), "{err}");
    assert!(err.contains("--retire-push"), "{err}");
    assert_eq!(
        stack.ok(&["pending", "--json"]).0.trim(),
        "[]",
        "still enrolled"
    );

    let (_, stderr) = stack.ok(&["remove", id, "--yes", "--retire-push"]);
    assert!(stderr.contains("and its push enrollment"), "{stderr}");
    let err = stack.fails(&["pending"]);
    assert!(err.contains("no push enrollment"), "{err}");
    stack.ok(&["remove", "github", "--yes"]);
}

/// A proxy in front of the portal that swallows the response to the first registration: the
/// portal handles it (the token is spent), and the connection is closed before the `201`
/// reaches the device, as a dropped mobile connection would. One request per connection.
struct DroppingProxy {
    url: String,
    upstream: Arc<Mutex<Option<String>>>,
    dropped: Arc<AtomicUsize>,
}

impl DroppingProxy {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream: Arc<Mutex<Option<String>>> = Arc::default();
        let dropped = Arc::new(AtomicUsize::new(0));
        let (to, count) = (upstream.clone(), dropped.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Some(request) = read_message(&mut client) else {
                    continue;
                };
                let target = to.lock().unwrap().clone().unwrap();
                let mut portal = std::net::TcpStream::connect(target).unwrap();
                portal.write_all(&request).unwrap();
                let Some(response) = read_message(&mut portal) else {
                    continue;
                };
                let registration = request.starts_with(b"POST /assent/v1/register ");
                if registration && count.fetch_add(1, Ordering::SeqCst) == 0 {
                    continue; // dropped: the client sees the connection close
                }
                let _ = client.write_all(&response);
            }
        });
        Self {
            url,
            upstream,
            dropped,
        }
    }
}

/// One HTTP/1.1 message from `stream`: its head and the body its Content-Length announces.
fn read_message(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    let mut buf = [0u8; 8192];
    let head = loop {
        if let Some(end) = message.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        message.extend_from_slice(&buf[..n]);
    };
    let text = String::from_utf8_lossy(&message[..head]).to_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while message.len() < head + length {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        message.extend_from_slice(&buf[..n]);
    }
    Some(message)
}

#[test]
fn a_registration_whose_answer_was_lost_is_sent_again_and_completes() {
    let proxy = DroppingProxy::start();
    let stack = Stack::with_portal_args(false, &["--public-url", &proxy.url]);
    *proxy.upstream.lock().unwrap() = Some(stack.portal.trim_start_matches("http://").to_owned());
    let (_, stderr) = stack.ok(&["enroll", &stack.enrollment_uri(), "--name", "flaky network"]);
    // The first registration reached the portal (its token is spent) but its 201 was lost; the
    // CLI said so, sent it again, and the portal answered the same device again.
    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 2, "{stderr}");
    assert!(
        stderr.contains("sending the registration again"),
        "{stderr}"
    );
    assert!(stderr.contains("for push and codes"), "{stderr}");
    // Enrolled for real: a sign-in reaches the device by polling.
    let mut browser = stack.browser();
    browser.start_push_login();
    assert_eq!(pending(&stack).len(), 1);
}
