//! Sending the requests the core builds to the portal (docs/protocol.md §11), and turning the
//! portal's refusals into one sentence that names the error code.

use std::time::Duration;

use assent_protocol::{ErrorCode, ErrorResponse};
use authenticator_core::push::PortalRequest;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};

use crate::failure::Failure;

/// How long one exchange with the portal may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The `User-Agent` of every request `assent` makes.
pub const AGENT: &str = concat!("assent/", env!("CARGO_PKG_VERSION"));

/// Which device request is being sent: what it is called in messages and what success is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// `POST /assent/v1/register` (`201`).
    Registration,
    /// The automatic answer to the activation challenge (`200`).
    Activation,
    /// A user's approve or deny (`200`).
    Answer,
    /// `POST /assent/v1/pending` (`200`).
    Poll,
}

impl Exchange {
    fn name(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Activation => "activation",
            Self::Answer => "answer",
            Self::Poll => "poll for pending requests",
        }
    }
}

/// A blocking HTTP client for the portal's device endpoints.
#[derive(Debug, Clone)]
pub struct PortalClient {
    http: Client,
}

impl PortalClient {
    /// A client with a 30-second timeout.
    pub fn new() -> Result<Self, Failure> {
        let http = Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Failure::new(format!("cannot start the HTTP client: {}", chain(&e))))?;
        Ok(Self { http })
    }

    /// Sends `request` and returns the response body of a success, or the portal's refusal as
    /// a failure such as "the portal refused the answer: wrong_number (…)".
    pub fn send(&self, request: &PortalRequest, exchange: Exchange) -> Result<String, Failure> {
        self.exchange(request, exchange)
            .map_err(Unanswered::into_failure)
    }

    /// [`PortalClient::send`], sending the same request again when no answer came back (the
    /// portal unreachable, or the connection cut before the response), up to `tries` times in
    /// all with `pause`, then twice `pause`, … between them. For a registration, which the
    /// portal answers again to the same device (docs/protocol.md §4.3): a lost response must
    /// not leave the user with a spent QR code. A refusal is never sent again.
    pub fn send_again_if_unanswered(
        &self,
        request: &PortalRequest,
        exchange: Exchange,
        tries: u32,
        pause: Duration,
    ) -> Result<String, Failure> {
        let mut wait = pause;
        let mut tried = 1;
        loop {
            match self.exchange(request, exchange) {
                Ok(body) => return Ok(body),
                Err(Unanswered::NoAnswer(failure)) if tried < tries => {
                    eprintln!(
                        "{failure}; sending the {} again in {} s",
                        exchange.name(),
                        wait.as_secs_f32()
                    );
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                    tried += 1;
                }
                Err(other) => return Err(other.into_failure()),
            }
        }
    }

    fn exchange(&self, request: &PortalRequest, exchange: Exchange) -> Result<String, Unanswered> {
        let response = self
            .http
            .post(&request.url)
            .header(CONTENT_TYPE, request.content_type)
            .header(USER_AGENT, AGENT)
            .body(request.body.clone())
            .send()
            .map_err(|e| {
                Unanswered::NoAnswer(Failure::new(format!(
                    "no answer to the {} from the portal at {}: {}",
                    exchange.name(),
                    origin(&request.url),
                    chain(&e)
                )))
            })?;
        let status = response.status();
        let body = response.text().map_err(|e| {
            Unanswered::NoAnswer(Failure::new(format!(
                "the portal's response to the {} was cut off: {}",
                exchange.name(),
                chain(&e)
            )))
        })?;
        if status.is_success() {
            return Ok(body);
        }
        Err(Unanswered::Refused(refusal(
            exchange,
            status.as_u16(),
            &body,
        )))
    }
}

/// Why an exchange brought no success.
enum Unanswered {
    /// No answer came back: the portal could not be reached, or the response was cut off.
    NoAnswer(Failure),
    /// The portal answered, and refused.
    Refused(Failure),
}

impl Unanswered {
    fn into_failure(self) -> Failure {
        match self {
            Self::NoAnswer(f) | Self::Refused(f) => f,
        }
    }
}

/// The failure for an unsuccessful response: the error code and what it means when the body is
/// the protocol's error JSON, else the HTTP status.
fn refusal(exchange: Exchange, status: u16, body: &str) -> Failure {
    match serde_json::from_str::<ErrorResponse>(body) {
        Ok(error) => Failure::new(format!(
            "the portal refused the {}: {} ({})",
            exchange.name(),
            code_name(error.error),
            meaning(error.error)
        )),
        Err(_) => Failure::new(format!(
            "the portal answered the {} with HTTP {status}",
            exchange.name()
        )),
    }
}

/// The code as it is on the wire, e.g. `wrong_number`.
fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// What a code means for the person at the terminal (docs/protocol.md §11).
fn meaning(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Malformed => "the portal could not read the request",
        ErrorCode::TooLarge => "the request is over the portal's size limit",
        ErrorCode::UnsupportedVersion => "the portal speaks another protocol version",
        ErrorCode::BadSignature => "the signature did not verify",
        ErrorCode::ClockSkew => {
            "this computer's clock is more than 30 s off the portal's: set the time right"
        }
        ErrorCode::Replay => "the portal saw this request before; try again",
        ErrorCode::UnknownDevice => {
            "this device is no longer registered, perhaps replaced by another: enroll again"
        }
        ErrorCode::UnknownChallenge => "the portal has no such pending request for this device",
        ErrorCode::Expired => "the request expired",
        ErrorCode::AlreadyAnswered => "the request already has an answer",
        ErrorCode::WrongNumber => "wrong number typed; the challenge is consumed",
        ErrorCode::UserVerificationRequired => {
            "the portal requires user verification, which this terminal cannot give"
        }
        ErrorCode::EnrollmentUnknown => "the portal does not know this QR code: get a new one",
        ErrorCode::EnrollmentExpired => "the QR code expired: get a new one from the portal",
        ErrorCode::EnrollmentUsed => "this QR code was already used: get a new one",
        ErrorCode::WrongPortalKey => "the QR code names another portal key: get a new one",
        ErrorCode::RateLimited => "too many requests; try again in a moment",
        ErrorCode::Internal => "the portal failed; try again later",
    }
}

/// `scheme://host[:port]` of a URL, for messages (paths can be long; nothing secret is in
/// either).
pub fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].find('/') {
        Some(end) => &url[..start + end],
        None => url,
    }
}

/// An error and its sources on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_code_and_its_meaning() {
        let body = r#"{"error":"wrong_number","message":"the number does not match"}"#;
        assert_eq!(
            refusal(Exchange::Answer, 403, body).to_string(),
            "the portal refused the answer: wrong_number (wrong number typed; the challenge is consumed)"
        );
        assert_eq!(
            refusal(Exchange::Poll, 502, "<html>bad gateway</html>").to_string(),
            "the portal answered the poll for pending requests with HTTP 502"
        );
    }

    /// A one-connection-at-a-time HTTP server: the `n`-th request (from 0) gets `answers[n]`, or
    /// a closed connection without a response where that is `None`. Returns its URL and a
    /// counter of the requests it read.
    fn server(
        answers: Vec<Option<String>>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/assent/v1/register",
            listener.local_addr().unwrap()
        );
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then the body its Content-Length announces.
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                let text = String::from_utf8_lossy(&request).to_lowercase();
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                let head = text.find("\r\n\r\n").unwrap() + 4;
                while request.len() < head + length {
                    let n = stream.read(&mut buf).unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if let Some(answer) = answer {
                    stream.write_all(answer.as_bytes()).unwrap();
                }
                // Dropped: the connection closes (without a response for `None`).
            }
        });
        (url, seen)
    }

    /// An HTTP/1.1 response with `status` and a JSON `body`.
    fn response(status: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
    }

    fn client() -> PortalClient {
        // As main does, before any client is built.
        let _ = rustls::crypto::ring::default_provider().install_default();
        PortalClient::new().unwrap()
    }

    fn registration(url: String) -> PortalRequest {
        PortalRequest {
            method: "POST",
            url,
            content_type: "application/jose",
            body: "a.b.c".into(),
        }
    }

    #[test]
    fn a_registration_without_an_answer_is_sent_again() {
        let (url, seen) = server(vec![None, None, Some(response("201 Created", "{}"))]);
        let client = client();
        let body = client
            .send_again_if_unanswered(
                &registration(url),
                Exchange::Registration,
                3,
                Duration::from_millis(1),
            )
            .unwrap();
        assert_eq!(body, "{}");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn a_refusal_is_not_sent_again_and_tries_are_counted() {
        let used = response(
            "409 Conflict",
            r#"{"error":"enrollment_used","message":"the token was used"}"#,
        );
        let (url, seen) = server(vec![Some(used.clone()), Some(used)]);
        let client = client();
        let refused = client
            .send_again_if_unanswered(
                &registration(url),
                Exchange::Registration,
                3,
                Duration::from_millis(1),
            )
            .unwrap_err();
        assert!(refused.to_string().contains("enrollment_used"), "{refused}");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);

        let (url, seen) = server(vec![None, None, None]);
        let gave_up = client
            .send_again_if_unanswered(
                &registration(url),
                Exchange::Registration,
                2,
                Duration::from_millis(1),
            )
            .unwrap_err();
        assert!(gave_up.to_string().contains("registration"), "{gave_up}");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin("http://127.0.0.1:8000/assent/v1/answers"),
            "http://127.0.0.1:8000"
        );
        assert_eq!(origin("https://example.com"), "https://example.com");
    }
}
