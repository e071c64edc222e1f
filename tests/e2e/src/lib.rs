//! The end-to-end harness: the real `portal` and `push-relay` binaries as child processes on
//! loopback, mock APNs and FCM servers (HTTP/2 over TLS, checking what Apple and Google check)
//! in this process, a browser (an HTTP client with cookies) and devices built on
//! authenticator-core, exactly as the apps use it.
//!
//! The binaries must be built first (`cargo build --workspace --bins`; scripts/test.sh does).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "a test harness: a failure should stop the test loudly"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assent_protocol::{ApnsEnvironment, Challenge, Platform, PushConfig, Response, Transport};
use authenticator_core::push::{DeviceInfo, KeyChoice, PortalRequest};
use authenticator_core::{Vault, VaultKey};
use push_mocks::{MockApns, MockFcm, RelayProcess};
use serde_json::Value;

pub use push_mocks;

pub mod alerts;
pub mod fleet;

/// The relay API key the portal uses in these tests.
pub const RELAY_API_KEY: &str = "e2e-portal-relay-key-0123456789abcdef";
/// The admin token of the test portal.
pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789";
/// A password that passes the portal's rules.
pub const PASSWORD: &str = "correct horse battery";

/// A workspace binary: `target/<profile>/<name>`, next to this test's own executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// Unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Installs the TLS provider for reqwest (once per process).
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A portal process, killed on drop.
pub struct PortalProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its database, as `--db` names it (a file, or a PostgreSQL URL).
    pub db: String,
}

/// The `--db` for a test's database file `path`: the file itself, or, when `ASSENT_TEST_POSTGRES`
/// names a PostgreSQL server, a schema of its own there (the same one each time for the same
/// path, so a portal restarted on "its file" finds its data).
pub fn database(path: &Path) -> String {
    static SCHEMAS: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    match std::env::var("ASSENT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => {
            let mut schemas = SCHEMAS.lock().unwrap();
            if let Some((_, location)) = schemas.iter().find(|(p, _)| p == path) {
                return location.clone();
            }
            let location = portal::db::fresh_postgres(&url).unwrap();
            schemas.push((path.to_owned(), location.clone()));
            location
        }
        _ => path.display().to_string(),
    }
}

impl PortalProcess {
    /// Starts `portal` on a free port with the database file `db` (or its PostgreSQL stand-in,
    /// see [`database`]) and extra flags.
    pub fn start(db: &Path, args: &[&str]) -> Self {
        Self::start_at(&database(db), args)
    }

    /// Starts `portal` on a free port with `--db location` and extra flags.
    pub fn start_at(db: &str, args: &[&str]) -> Self {
        let mut child = Command::new(bin("portal"))
            .arg("--db")
            .arg(db)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin-token",
                ADMIN_TOKEN,
                "--test-clock",
            ])
            .args(args)
            .env("PORTAL_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start the portal");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("portal listening on ")
            .unwrap_or_else(|| panic!("unexpected portal output: {line:?}"))
            .to_owned();
        Self {
            child,
            url,
            db: db.to_owned(),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Runs a `portal` subcommand on the same database (the help desk's CLI).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(bin("portal"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env("PORTAL_NEW_PASSWORD", PASSWORD)
            .env("PORTAL_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "portal {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The whole stack: mocks, relay process, portal process.
pub struct Stack {
    pub apns: MockApns,
    pub fcm: MockFcm,
    pub relay: RelayProcess,
    pub portal: PortalProcess,
    pub dir: tempfile::TempDir,
    /// The portal's flags (the relay's address and key, then the test's).
    portal_args: Vec<String>,
    http: reqwest::Client,
}

impl Stack {
    /// Starts everything; `portal_args` are extra portal flags.
    pub async fn start(portal_args: &[&str]) -> Self {
        init();
        let dir = tempfile::tempdir().unwrap();
        let apns = MockApns::start().await;
        let fcm = MockFcm::start().await;
        let addr = push_mocks::free_loopback_addr();
        let toml = push_mocks::relay_config_toml(
            &apns,
            &fcm,
            dir.path(),
            &addr.to_string(),
            "e2e-portal",
            RELAY_API_KEY,
        );
        let config = dir.path().join("relay.toml");
        std::fs::write(&config, toml).unwrap();
        let relay = RelayProcess::start(&bin("push-relay"), &config, addr).await;
        let relay_url = relay.base_url();
        let mut all: Vec<&str> = vec!["--relay-url", &relay_url, "--relay-api-key", RELAY_API_KEY];
        all.extend_from_slice(portal_args);
        let portal = PortalProcess::start(&dir.path().join("portal.db"), &all);
        let portal_args = all.iter().map(|a| (*a).to_owned()).collect();
        Self {
            apns,
            fcm,
            relay,
            portal,
            dir,
            portal_args,
            http: reqwest::Client::new(),
        }
    }

    /// Another portal process on the same database and relay, with the same flags: two copies
    /// behind one load balancer.
    pub fn another_portal(&self) -> PortalProcess {
        let args: Vec<&str> = self.portal_args.iter().map(String::as_str).collect();
        PortalProcess::start_at(&self.portal.db, &args)
    }

    /// Creates a user with [`PASSWORD`] through the admin API.
    pub async fn add_user(&self, name: &str) {
        let r = self
            .http
            .post(format!("{}/admin/api/users", self.portal.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({ "username": name, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    /// An admin API call: `GET` when `action` is `None`.
    pub async fn admin(&self, path: &str, post: bool) -> (u16, Value) {
        let url = format!("{}/admin/api/{path}", self.portal.url);
        let request = if post {
            self.http.post(url)
        } else {
            self.http.get(url)
        };
        let r = request.bearer_auth(ADMIN_TOKEN).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The user's event log as `kind/outcome` strings.
    pub async fn events(&self, user: &str) -> Vec<String> {
        let (status, events) = self.admin(&format!("users/{user}/events"), false).await;
        assert_eq!(status, 200);
        events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}/{}",
                    e["kind"].as_str().unwrap(),
                    e["outcome"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Moves the portal's clock forward.
    pub async fn advance_clock(&self, seconds: u64) {
        let r = self
            .http
            .post(format!("{}/test/clock", self.portal.url))
            .json(&serde_json::json!({ "advance": seconds }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// A new browser for this portal.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.portal.url)
    }
}

/// A browser: cookies kept, redirects followed.
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    base: String,
}

/// A page as the browser ended on it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub path: String,
    pub body: String,
}

impl Page {
    /// The text of the element with `id` (first match), HTML entities decoded.
    pub fn element(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let start = self.body.find(&marker)?;
        let open_end = start + self.body[start..].find('>')? + 1;
        let close = open_end + self.body[open_end..].find('<')?;
        Some(unescape(&self.body[open_end..close]))
    }

    /// The CSRF value of the first form.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("no form on the page") + marker.len();
        let end = start + self.body[start..].find('"').unwrap();
        self.body[start..end].to_owned()
    }
}

/// Decodes the few entities the portal's escaping produces.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new(base: &str) -> Self {
        init();
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .user_agent(
                    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
                )
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    /// The same browser (its cookies) at another address: another copy of the portal, where
    /// a load balancer may send the next request.
    pub fn at(&self, base: &str) -> Self {
        Self {
            http: self.http.clone(),
            base: base.to_owned(),
        }
    }

    async fn page(r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let path = r.url().path().to_owned();
        Page {
            status,
            path,
            body: r.text().await.unwrap(),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Page {
        Self::page(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// `GET path` as bytes.
    pub async fn bytes(&self, path: &str) -> Vec<u8> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.bytes().await.unwrap().to_vec()
    }

    /// `POST path` with a form.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::page(
            self.http
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Signs in with the password; returns where the portal sent the browser.
    pub async fn login(&self, user: &str, password: &str) -> Page {
        self.post("/login", &[("username", user), ("password", password)])
            .await
    }

    /// The waiting page's status JSON.
    pub async fn push_status(&self) -> Value {
        self.http
            .get(format!("{}/login/push/status", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls the status until it is no longer `pending` (10 s at most).
    pub async fn settled_status(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.push_status().await;
            if s["status"] != "pending" || Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Submits a TOTP code on the code page.
    pub async fn totp(&self, code: &str) -> Page {
        let form = self.get("/login/totp").await;
        let csrf = form.csrf();
        self.post("/login/totp", &[("csrf", &csrf), ("code", code)])
            .await
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat` (Linux).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// Reads the QR code in a PNG.
pub fn decode_qr(png: &[u8]) -> String {
    let image = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    // rqrr now and then reports a second, spurious grid inside the code; what matters is that
    // every grid that decodes says the same thing.
    let decoded: Vec<String> = prepared
        .detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect();
    assert!(!decoded.is_empty(), "no QR code in the image");
    assert!(
        decoded.iter().all(|t| *t == decoded[0]),
        "two different QR codes: {decoded:?}"
    );
    decoded[0].clone()
}

/// A device's own directory: under `ASSENT_E2E_DEVICE_DIR` when set (the benchmark puts the
/// simulated phones' storage on tmpfs, so that dozens of devices sharing one disk do not turn
/// their vault fsyncs into the portal's latency), else the system's temporary directory.
fn device_dir() -> tempfile::TempDir {
    match std::env::var_os("ASSENT_E2E_DEVICE_DIR") {
        Some(base) => tempfile::tempdir_in(base).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

/// A device: authenticator-core's vault plus an HTTP client, doing what the apps do.
pub struct Device {
    pub vault: Vault,
    pub device_id: String,
    pub push: PushConfig,
    http: reqwest::Client,
    key: [u8; 32],
    dir: tempfile::TempDir,
}

/// A portal's answer to a device request.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The protocol error code, if any.
    pub fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }
}

/// An APNs push address with a random token (hex, as Apple's are).
pub fn apns_push() -> PushConfig {
    let mut bytes = [0u8; 32];
    rand_core::Rng::fill_bytes(&mut assent_protocol::system_rng(), &mut bytes);
    PushConfig {
        transport: Transport::Apns,
        token: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        environment: Some(ApnsEnvironment::Sandbox),
        topic: None,
    }
}

/// An FCM push address with a random token.
pub fn fcm_push() -> PushConfig {
    let mut bytes = [0u8; 24];
    rand_core::Rng::fill_bytes(&mut assent_protocol::system_rng(), &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    PushConfig {
        transport: Transport::Fcm,
        token: format!("fcm:{hex}"),
        environment: None,
        topic: None,
    }
}

impl Device {
    /// Scans `qr` (the otpauth URI), registers and activates, as an app does.
    pub async fn enroll(qr: &str, push: PushConfig, name: &str) -> Result<Self, Reply> {
        init();
        let dir = device_dir();
        let key = VaultKey::generate().unwrap();
        let raw = *key.expose();
        let mut vault = Vault::create_with_key(&dir.path().join("vault.json"), key).unwrap();
        let info = DeviceInfo {
            platform: match push.transport {
                Transport::Apns => Platform::Ios,
                Transport::Fcm => Platform::Android,
                Transport::Direct => Platform::Desktop,
            },
            name: name.to_owned(),
            push: Some(push.clone()),
        };
        let enrolled = vault
            .enroll(
                qr,
                info,
                KeyChoice::Software,
                now(),
                &mut assent_protocol::system_rng(),
            )
            .unwrap();
        vault.save().unwrap();
        let mut device = Self {
            vault,
            device_id: enrolled.device_id.clone(),
            push,
            http: reqwest::Client::new(),
            key: raw,
            dir,
        };
        let reply = device.send(&enrolled.request).await;
        if reply.status != 201 {
            return Err(reply);
        }
        let activation = device
            .vault
            .activate(&enrolled.device_id, &reply.body.to_string(), now(), None)
            .unwrap();
        device.vault.save().unwrap();
        let reply = device.send(&activation).await;
        if reply.status != 200 {
            return Err(reply);
        }
        Ok(device)
    }

    /// A second copy of this device as saved now: same keys, but it will not remember what
    /// this one answers from here on (to test the portal's own replay checks).
    pub fn twin(&self) -> Self {
        let dir = device_dir();
        let path = dir.path().join("vault.json");
        std::fs::copy(self.dir.path().join("vault.json"), &path).unwrap();
        let key = VaultKey::from_bytes(self.key);
        let vault = Vault::open(&path, authenticator_core::Unlock::Key(&key)).unwrap();
        Self {
            vault,
            device_id: self.device_id.clone(),
            push: self.push.clone(),
            http: reqwest::Client::new(),
            key: self.key,
            dir,
        }
    }

    /// Sends a request the core built.
    pub async fn send(&self, request: &PortalRequest) -> Reply {
        self.send_body(&request.url, &request.body).await
    }

    /// Sends `body` to `url` as the core's requests are sent.
    pub async fn send_body(&self, url: &str, body: &str) -> Reply {
        let r = self
            .http
            .post(url)
            .header("content-type", "application/jose")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Opens a pushed or polled challenge.
    pub fn open(&self, jws: &str) -> Challenge {
        self.vault.open_challenge(jws, now()).unwrap()
    }

    /// Builds the answer (the vault remembers it) and returns the request without sending.
    pub fn answer_request(&mut self, challenge: &Challenge, response: &Response) -> PortalRequest {
        let request = self.vault.answer(challenge, response, now(), None).unwrap();
        self.vault.save().unwrap();
        request
    }

    /// Answers and sends.
    pub async fn answer(&mut self, challenge: &Challenge, response: &Response) -> Reply {
        let request = self.answer_request(challenge, response);
        self.send(&request).await
    }

    /// Approves with `number`.
    pub async fn approve(&mut self, challenge: &Challenge, number: Option<&str>) -> Reply {
        let response = Response::Approve {
            number: number.map(str::to_owned),
            user_verified: true,
        };
        self.answer(challenge, &response).await
    }

    /// A poll request (not sent).
    pub fn poll_request(&self) -> PortalRequest {
        self.vault
            .poll_request(
                &self.device_id,
                now(),
                None,
                &mut assent_protocol::system_rng(),
            )
            .unwrap()
    }

    /// Polls the portal for pending challenges.
    pub async fn poll(&self) -> Reply {
        let request = self.poll_request();
        self.send(&request).await
    }

    /// The current TOTP code of the enrolled account.
    pub fn totp(&self) -> String {
        self.vault.entries()[0].account.code(now()).value
    }
}

/// Waits for the next notification for `token` on a mock's feed (10 s at most).
pub async fn next_push(
    feed: &mut tokio::sync::mpsc::UnboundedReceiver<push_mocks::Delivered>,
    token: &str,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = tokio::time::timeout_at(deadline, feed.recv())
            .await
            .expect("no push arrived within 10 s")
            .expect("the mock stopped");
        if d.token == token {
            return d.payload;
        }
    }
}
