//! The alert webhook client against a local receiver: a refused delivery is tried again.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use portal::alerts::{Alert, AlertKind, Alerts};

#[tokio::test]
async fn a_refused_alert_is_tried_again() {
    portal::install_crypto();
    let hits = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let counter = counter.clone();
            let tx = tx.clone();
            async move {
                // The first delivery meets a webhook that is down for a moment.
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                tx.send(body).unwrap();
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let alerts =
        Arc::new(Alerts::new(&url, None, Arc::new(portal::clock::SystemClock::default())).unwrap());
    alerts.send(Alert {
        alert: AlertKind::LockedOut,
        portal: "Example".into(),
        user: "alice".into(),
        at: 1_764_064_000,
        ip: "192.0.2.7".into(),
        detail: "5 wrong codes; locked for 15 min".into(),
    });
    let body = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered on a later attempt")
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "alert": "locked_out", "portal": "Example", "user": "alice", "at": 1_764_064_000u64,
            "ip": "192.0.2.7", "detail": "5 wrong codes; locked for 15 min",
        })
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}
