//! Alerts for the help desk by another channel than the event log: a "not me" deny, a TOTP
//! lockout, a replaced device and every help-desk action are posted to a webhook (`--alert-webhook`) as JSON, signed
//! with HMAC-SHA256 when a secret is set (docs/portal.md says how to check it).
//!
//! Delivery never holds up the request that caused the alert: it runs on its own task, tries
//! three times within about ten seconds, and gives up with a log line (the event log keeps the
//! event itself either way). At most [`MAX_IN_FLIGHT`] alerts are in delivery at once; beyond
//! that an alert is dropped with a log line rather than piling up behind a dead webhook.

use std::sync::Arc;
use std::time::Duration;

use ring::hmac;
use serde::Serialize;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::clock::Clock;

/// Alerts being delivered at once, at most.
pub const MAX_IN_FLIGHT: usize = 64;
/// Pauses before the second and third attempt.
const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
/// The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-assent-signature";

/// Why the help desk is alerted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The user denied a request and reported it as not them.
    NotMe,
    /// Too many wrong TOTP codes locked the account.
    LockedOut,
    /// A new device replaced the enrolled one.
    DeviceReplaced,
    /// A help-desk action changed the user (unlock, MFA reset or removal, suspension...): the
    /// detail names the action, the `ip` member who took it.
    AdminAction,
}

/// One alert, as posted.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Why this alert was sent.
    pub alert: AlertKind,
    /// The portal (its issuer name), for a webhook that serves several.
    pub portal: String,
    /// The user name.
    pub user: String,
    /// Unix seconds, by the portal's clock.
    pub at: u64,
    /// The address involved: the sign-in's browser for `not_me` when known, else the client's.
    pub ip: String,
    /// A sentence for people.
    pub detail: String,
}

/// The webhook client.
pub struct Alerts {
    http: reqwest::Client,
    url: String,
    key: Option<hmac::Key>,
    slots: Arc<Semaphore>,
    /// The portal's clock: signatures carry its time, as the alerts do.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("url", &self.url)
            .field("signed", &self.key.is_some())
            .finish()
    }
}

impl Alerts {
    /// A client posting to `url` (http or https), signing with `secret` when given. Refuses a
    /// URL that could never be posted to, so a typo stops the portal at start, not silently at
    /// the first alert. `clock` is the portal's.
    pub fn new(url: &str, secret: Option<&str>, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(format!("{url:?}: not an http(s) URL"));
        }
        if secret.is_some_and(str::is_empty) {
            return Err("the webhook secret is empty".into());
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?;
        let key = secret.map(|s| {
            let bytes = Zeroizing::new(s.as_bytes().to_vec());
            hmac::Key::new(hmac::HMAC_SHA256, &bytes)
        });
        Ok(Self {
            http,
            url: url.to_owned(),
            key,
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            clock,
        })
    }

    /// The signature header's value for `body` sent at `t`, when a secret is set.
    pub fn signature(&self, body: &[u8], t: u64) -> Option<String> {
        let key = self.key.as_ref()?;
        let mut context = hmac::Context::with_key(key);
        context.update(format!("{t}.").as_bytes());
        context.update(body);
        let tag = context.sign();
        Some(format!("t={t},v1={}", hex::encode(tag.as_ref())))
    }

    /// Sends `alert` in the background (needs a Tokio runtime: the server's). Never blocks.
    pub fn send(self: &Arc<Self>, alert: Alert) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(alert = ?alert.alert, "alert not sent: no runtime");
            return;
        };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            tracing::warn!(alert = ?alert.alert, "alert dropped: {MAX_IN_FLIGHT} already in delivery");
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            let _slot = slot;
            if let Err(e) = this.deliver(&alert).await {
                tracing::warn!(alert = ?alert.alert, error = %e, "alert not delivered");
            }
        });
    }

    async fn deliver(&self, alert: &Alert) -> Result<(), String> {
        let body = serde_json::to_vec(alert).map_err(|e| e.to_string())?;
        let mut last = String::new();
        for attempt in 0..=RETRY_AFTER.len() {
            if attempt > 0 {
                tokio::time::sleep(RETRY_AFTER[attempt - 1]).await;
            }
            let mut request = self
                .http
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            let sent_at = self.clock.now();
            if let Some(signature) = self.signature(&body, sent_at) {
                request = request.header(SIGNATURE_HEADER, signature);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => last = format!("webhook answered {}", r.status()),
                Err(e) => last = format!("webhook unreachable: {e}"),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(crate::clock::SystemClock::default())
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_time_and_the_body() {
        crate::install_crypto();
        let alerts = Alerts::new("http://127.0.0.1:1/", Some("webhook secret"), clock()).unwrap();
        let body = br#"{"alert":"not_me"}"#;
        let header = alerts.signature(body, 1_764_064_000).unwrap();
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"webhook secret");
        let expected = hmac::sign(&key, br#"1764064000.{"alert":"not_me"}"#);
        let hex = hex::encode(expected.as_ref());
        assert_eq!(header, format!("t=1764064000,v1={hex}"));
        assert_ne!(alerts.signature(body, 1_764_064_001), Some(header));
        let unsigned = Alerts::new("http://127.0.0.1:1/", None, clock()).unwrap();
        assert_eq!(unsigned.signature(body, 1), None);
    }

    #[test]
    fn a_webhook_that_could_never_work_is_refused_at_start() {
        crate::install_crypto();
        for url in [
            "not a url",
            "ftp://example.com/hook",
            "file:///tmp/hook",
            "http://",
        ] {
            let err = Alerts::new(url, None, clock()).unwrap_err();
            assert!(err.contains(url), "{err}");
        }
        assert!(Alerts::new("https://hooks.example.com/x", Some(""), clock()).is_err());
        assert!(Alerts::new("https://hooks.example.com/x", Some("s3cret"), clock()).is_ok());
    }
}
