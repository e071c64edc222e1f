//! Runs the relay in-process against the mocks.

use std::net::SocketAddr;
use std::sync::Arc;

use push_relay::Relay;
use push_relay::clock::{Clock, SystemClock};
use push_relay::settings::{ApnsEnvironment, ApnsSettings, FcmSettings, Settings, TenantSettings};

use super::client::{self, Answer};
use super::mock_apns::{self, MockApns};
use super::mock_fcm::{self, MockFcm};

pub const API_KEY: &str = "tenant-key-acme-0123456789abcdef";
pub const APNS_TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
pub const FCM_TOKEN: &str = "fcm-registration-token:APA91bSECRETDEVICE";
/// A base64url "ciphertext" that tests look for in logs.
pub const PAYLOAD: &str = "U0VDUkVULUNIQUxMRU5HRS1QQVlMT0FE";

pub struct TestRelay {
    pub addr: SocketAddr,
    pub relay: Arc<Relay>,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestRelay {
    /// Settings pointing at the given mocks, with files written to a temp dir.
    pub fn settings(
        apns: Option<&MockApns>,
        fcm: Option<&MockFcm>,
        dir: &tempfile::TempDir,
    ) -> Settings {
        let mut s = Settings::default();
        s.listen = "127.0.0.1:0".parse().unwrap();
        s.backoff_base_ms = 20;
        s.backoff_max_ms = 200;
        s.attempt_timeout_ms = 1_000;
        s.shutdown_grace_seconds = 5;
        let mut ca = String::new();
        if let Some(a) = apns {
            ca.push_str(&a.server.ca_pem);
            let key = dir.path().join("apns.p8");
            std::fs::write(&key, &a.key_pem).unwrap();
            s.apns.push(ApnsSettings {
                name: "assent-ios".into(),
                team_id: mock_apns::TEAM_ID.into(),
                key_id: mock_apns::KEY_ID.into(),
                key_file: key,
                topic: mock_apns::TOPIC.into(),
                environment: ApnsEnvironment::Sandbox,
                host: Some(a.server.authority()),
                connections: 2,
                token_refresh_minutes: 40,
                ping_interval_seconds: 30,
            });
        }
        if let Some(f) = fcm {
            ca.push_str(&f.server.ca_pem);
            let sa = dir.path().join("fcm.json");
            std::fs::write(&sa, mock_fcm::SERVICE_ACCOUNT).unwrap();
            s.fcm.push(FcmSettings {
                name: "assent-android".into(),
                service_account_file: sa,
                host: Some(f.server.authority()),
                token_uri: Some(f.token_uri()),
                connections: 1,
                ping_interval_seconds: 30,
            });
        }
        if !ca.is_empty() {
            let p = dir.path().join("ca.pem");
            std::fs::write(&p, ca).unwrap();
            s.extra_ca_file = Some(p);
        }
        s.tenants.push(TenantSettings {
            id: "acme".into(),
            api_key_sha256: push_relay::tenant::sha256_hex(API_KEY.as_bytes()),
            rate_per_second: 1000.0,
            burst: 1000,
            apns: apns.map(|_| "assent-ios".into()),
            fcm: fcm.map(|_| "assent-android".into()),
            direct: true,
            request_public_key: None,
        });
        s
    }

    pub async fn start(settings: Settings, dir: tempfile::TempDir, clock: Arc<dyn Clock>) -> Self {
        let relay = Relay::new(&settings, clock).unwrap();
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(push_relay::serve(listener, relay.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            relay,
            dir,
            stop: Some(tx),
            task,
        }
    }

    /// A relay with default settings against the given mocks, on the system clock.
    pub async fn with(apns: Option<&MockApns>, fcm: Option<&MockFcm>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let s = Self::settings(apns, fcm, &dir);
        Self::start(s, dir, Arc::new(SystemClock)).await
    }

    pub async fn push(&self, platform: &str, token: &str) -> Answer {
        self.push_body(push_body(platform, token, PAYLOAD, now() + 30, None))
            .await
    }

    pub async fn push_body(&self, body: Vec<u8>) -> Answer {
        client::request(self.addr, "POST", "/v1/push", Some(API_KEY), body).await
    }

    /// Sends the shutdown signal.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub fn now() -> u64 {
    SystemClock.unix_seconds()
}

pub fn push_body(
    platform: &str,
    token: &str,
    payload: &str,
    expires_at: u64,
    collapse: Option<&str>,
) -> Vec<u8> {
    let mut v = serde_json::json!({"platform": platform, "device_token": token, "payload": payload, "expires_at": expires_at});
    if let Some(c) = collapse {
        v["collapse_id"] = c.into();
    }
    v.to_string().into_bytes()
}
