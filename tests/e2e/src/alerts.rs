//! A webhook receiver standing in for the help desk's alerting: records every POST's JSON body
//! and `X-Assent-Signature` header, and checks the signature the way docs/portal.md tells a
//! receiver to.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

/// The secret the tests give the portal with `--alert-webhook-secret`.
pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret";

/// One alert as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The JSON body.
    pub body: Value,
    /// Whether `X-Assent-Signature` is a valid HMAC-SHA256 of the body under [`WEBHOOK_SECRET`].
    pub signed: bool,
}

/// The receiver on `127.0.0.1`, stopped on drop.
pub struct AlertSink {
    /// `http://127.0.0.1:PORT/alerts`.
    pub url: String,
    rx: Mutex<mpsc::UnboundedReceiver<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl AlertSink {
    /// Starts the receiver.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let signature = request
                            .headers()
                            .get("x-assent-signature")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let signed = signature.is_some_and(|s| verify(&s, &body));
                        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let _ = tx.send(Received { body, signed });
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        Self {
            url,
            rx: Mutex::new(rx),
            task,
        }
    }

    /// The next alert (10 s at most).
    pub async fn next(&self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.rx.lock().await.recv())
            .await
            .expect("no alert within 10 s")
            .unwrap()
    }

    /// The alerts received so far and not yet taken.
    pub async fn pending(&self) -> Vec<Received> {
        let mut rx = self.rx.lock().await;
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }
}

impl Drop for AlertSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `t=<seconds>,v1=<hex>`: the HMAC-SHA256 of `"<t>.<body>"`, sent within the last 5 minutes.
fn verify(header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<u64>().ok(),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if crate::now().abs_diff(t) > 300 {
        return false;
    }
    let Some(tag) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, WEBHOOK_SECRET.as_bytes());
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    ring::hmac::verify(&key, &message, &tag).is_ok()
}
