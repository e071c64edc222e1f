//! The mock APNs and FCM with a real `push-relay` in front of them, for test suites that are not
//! written in Rust (the apps' Swift and Kotlin tests): prints one JSON line with the relay's URL
//! and tenant API key, then one JSON line per notification the mocks accepted, as a device would
//! receive it (`received`: the APNs payload, or the FCM message's `data`). Stops (relay included)
//! when its stdin closes.
//!
//! ```text
//! push-mocks --relay target/debug/push-relay --dir /tmp/x
//! {"relay_url":"http://127.0.0.1:PORT","api_key":"..."}
//! {"platform":"apns","token":"00ab…","payload":"eyJ…","received":{"aps":{…},"assent":"eyJ…"}}
//! {"platform":"fcm","token":"fcm-…","payload":"eyJ…","received":{"assent":"eyJ…"}}
//! ```

#![allow(
    clippy::expect_used,
    reason = "a test tool: a mock that cannot start should stop loudly"
)]

use std::io::{Read, Write};
use std::path::PathBuf;

use push_mocks::{MockApns, MockFcm, RelayProcess, free_loopback_addr, relay_config_toml};

const TENANT: &str = "swift-e2e";
const API_KEY: &str = "swift-e2e-relay-key-0123456789abcdef";

fn usage() -> ! {
    eprintln!("usage: push-mocks --relay PUSH_RELAY_BINARY --dir WORK_DIR");
    std::process::exit(2)
}

fn print(line: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut relay, mut dir) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--relay" => relay = args.next().map(PathBuf::from),
            "--dir" => dir = args.next().map(PathBuf::from),
            _ => usage(),
        }
    }
    let (Some(relay), Some(dir)) = (relay, dir) else {
        usage()
    };
    std::fs::create_dir_all(&dir).expect("cannot create the work folder");

    let apns = MockApns::start().await;
    let fcm = MockFcm::start().await;
    let listen = free_loopback_addr();
    let toml = relay_config_toml(&apns, &fcm, &dir, &listen.to_string(), TENANT, API_KEY);
    let config = dir.join("relay.toml");
    std::fs::write(&config, toml).expect("cannot write the relay configuration");
    let relay = RelayProcess::start(&relay, &config, listen).await;
    let mut apns_feed = apns.deliveries();
    let mut fcm_feed = fcm.deliveries();
    print(&serde_json::json!({ "relay_url": relay.base_url(), "api_key": API_KEY }));

    let (closed_tx, mut closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = closed_tx.send(());
    });
    loop {
        tokio::select! {
            Some(d) = apns_feed.recv() => {
                print(&serde_json::json!({ "platform": "apns", "token": d.token, "payload": d.payload, "received": d.received }));
            }
            Some(d) = fcm_feed.recv() => {
                print(&serde_json::json!({ "platform": "fcm", "token": d.token, "payload": d.payload, "received": d.received }));
            }
            _ = &mut closed => break,
        }
    }
    drop(relay);
}
