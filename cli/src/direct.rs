//! Direct delivery from the push relay (push-relay/openapi.json): registering a stream token,
//! and keeping a Server-Sent Events stream open, reconnecting with backoff, so each pushed
//! challenge reaches `assent watch` at once.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, USER_AGENT};
use serde::Deserialize;

use crate::failure::Failure;
use crate::portal_client::{AGENT, chain};

/// The relay closes nothing on its own; a stream silent for this long (the relay's keepalive
/// comes every 25 s by default) is taken as dead and reopened.
const SILENCE: Duration = Duration::from_secs(90);
/// The first wait before reconnecting, doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before reconnecting.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The relay's base URL as given, without trailing slashes; only `http` and `https`.
pub fn relay_url(text: &str) -> Result<String, Failure> {
    let url = text.trim().trim_end_matches('/');
    let valid = ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(['?', '#', ' ']))
    });
    if !valid {
        return Err(Failure::new(format!(
            "the relay URL must be http:// or https://, not {text:?}"
        )));
    }
    Ok(url.to_owned())
}

#[derive(Deserialize)]
struct Registered {
    token: String,
}

#[derive(Deserialize)]
struct RelayError {
    error: String,
    message: Option<String>,
}

/// Asks the relay at `relay` for a new direct-delivery token (`POST /v1/direct/register`).
pub fn register(relay: &str) -> Result<String, Failure> {
    let http = Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Failure::new(format!("cannot start the HTTP client: {}", chain(&e))))?;
    let response = http
        .post(format!("{relay}/v1/direct/register"))
        .header(USER_AGENT, AGENT)
        .send()
        .map_err(|e| Failure::new(format!("cannot reach the relay at {relay}: {}", chain(&e))))?;
    let status = response.status();
    let body = response.text().unwrap_or_default();
    if !status.is_success() {
        let why = match serde_json::from_str::<RelayError>(&body) {
            Ok(e) => format!("{} ({})", e.error, e.message.unwrap_or_default()),
            Err(_) => format!("HTTP {}", status.as_u16()),
        };
        return Err(Failure::new(format!(
            "the relay at {relay} refused a direct-delivery token: {why}"
        )));
    }
    let token = serde_json::from_str::<Registered>(&body)
        .map(|r| r.token)
        .ok()
        .filter(|t| is_token(t))
        .ok_or_else(|| {
            Failure::new(format!(
                "the relay at {relay} answered the token request with something else than a token"
            ))
        })?;
    Ok(token)
}

/// Whether `token` has the shape of a direct token (22 to 128 base64url characters).
fn is_token(token: &str) -> bool {
    (22..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a stream thread reports.
#[derive(Debug)]
pub enum StreamEvent {
    /// The stream is open: pushes for the token reach it from now on.
    Up,
    /// The stream is closed or could not be opened; a reconnection follows after the backoff.
    Down(String),
    /// A challenge JWS, as pushed.
    Pushed(String),
}

/// One pushed message, the `data:` of an `event: push`.
#[derive(Deserialize)]
struct Pushed {
    payload: String,
}

/// Keeps the stream of `token` at `relay` open for as long as the process runs, telling
/// `report` what happens. Returns when `report` says no one listens any more (returns false).
pub fn run_stream(relay: &str, token: &str, report: &dyn Fn(StreamEvent) -> bool) {
    let http = match Client::builder()
        .timeout(SILENCE)
        .connect_timeout(Duration::from_secs(5))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            report(StreamEvent::Down(chain(&e)));
            return;
        }
    };
    let mut backoff = MIN_BACKOFF;
    loop {
        let opened = Instant::now();
        let why = match stream_once(&http, relay, token, report) {
            Ok(why) | Err(why) => why,
        };
        if !report(StreamEvent::Down(why)) {
            return;
        }
        // A stream that stayed up a while was healthy: start the backoff over.
        if opened.elapsed() > MAX_BACKOFF {
            backoff = MIN_BACKOFF;
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Opens the stream once and reads it until it ends; the reason it ended.
fn stream_once(
    http: &Client,
    relay: &str,
    token: &str,
    report: &dyn Fn(StreamEvent) -> bool,
) -> Result<String, String> {
    let response = http
        .get(format!("{relay}/v1/direct/stream"))
        .bearer_auth(token)
        .header(ACCEPT, "text/event-stream")
        .header(USER_AGENT, AGENT)
        .send()
        .map_err(|e| format!("cannot reach the relay: {}", chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().unwrap_or_default();
        return Err(match serde_json::from_str::<RelayError>(&body) {
            Ok(e) => format!("the relay refused the stream: {}", e.error),
            Err(_) => format!("the relay refused the stream: HTTP {}", status.as_u16()),
        });
    }
    if !report(StreamEvent::Up) {
        return Ok("stopped".into());
    }
    let mut reader = BufReader::new(response);
    let mut event = String::new();
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Ok("the relay closed the stream".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("the stream broke: {e}")),
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            // End of one event.
            if event == "push"
                && let Ok(pushed) = serde_json::from_str::<Pushed>(&data)
                && !report(StreamEvent::Pushed(pushed.payload))
            {
                return Ok("stopped".into());
            }
            event.clear();
            data.clear();
            continue;
        }
        if line.starts_with(':') {
            continue; // a keepalive comment
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => value.clone_into(&mut event),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls() {
        assert_eq!(
            relay_url("http://127.0.0.1:8001/").unwrap().as_str(),
            "http://127.0.0.1:8001"
        );
        assert!(relay_url("ftp://relay").is_err());
        assert!(relay_url("http://").is_err());
    }

    #[test]
    fn token_shape() {
        assert!(is_token(&"a".repeat(43)));
        assert!(!is_token("short"));
        assert!(!is_token(&"a/".repeat(20)));
    }
}
