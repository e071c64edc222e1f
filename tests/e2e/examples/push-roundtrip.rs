//! The push round-trip benchmark, without a human: from the moment the portal creates a
//! challenge to the moment it holds the verified answer.
//!
//! portal (process) → relay (process) → mock APNs (HTTP/2 + TLS, in this process) → device
//! (authenticator-core: verify, decrypt, sign, save the vault) → portal verifies the answer.
//!
//! Each simulated user has a signed-in browser session; `GET /protected` (the step-up page,
//! with `--step-up-seconds 0`) makes the portal create and send a challenge without a password
//! check. The browser reads the number from the waiting page and hands it to the device, which
//! answers as soon as the push and the number are there. A round trip ends when the portal's
//! `200 {"status":"approved"}` is back. The password check (Argon2id), slow on purpose, is timed
//! separately.
//!
//! ```sh
//! cargo build --release -p portal -p push-relay -p assent-e2e --examples
//! target/release/examples/push-roundtrip [--seconds 10] [--users 32]
//! ```
//!
//! `--portals 2` starts a second portal process on the same database and spreads the users over
//! both (each user's browser and device talk to one copy); with `ASSENT_TEST_POSTGRES` naming a
//! PostgreSQL server (see scripts/lib/postgres.sh) the database is a fresh schema there, and the
//! CPU of every `postgres` process is counted too.
//!
//! Every device saves its vault (encrypt, write, fsync, rename) before answering, as the apps
//! do. Set `ASSENT_E2E_DEVICE_DIR=/dev/shm` to keep the simulated phones' storage off the shared
//! disk: dozens of devices fsyncing on the portal's disk measure that disk, not the system.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark tool")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assent_e2e::{Browser, Device, PASSWORD, Stack, apns_push, decode_qr};
use tokio::sync::{mpsc, oneshot};

type Waiters = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>>;

struct User {
    browser: Browser,
    /// The portal copy this user's browser and device talk to, and the one that enrolled it.
    portal: String,
    enrolled_at: String,
    /// Pushes for this user's device, as they arrive.
    pushes: mpsc::UnboundedReceiver<String>,
    device: Device,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn setup_user(stack: &Stack, name: &str, waiters: &Waiters, portal: &str) -> User {
    stack.add_user(name).await;
    let browser = stack.browser();
    let page = browser.login(name, PASSWORD).await;
    assert_eq!(page.path, "/enroll");
    let qr = decode_qr(&browser.bytes("/enroll/qr.png").await);
    let device = Device::enroll(&qr, apns_push(), "bench phone")
        .await
        .unwrap();
    assert!(
        browser
            .get("/enroll/status")
            .await
            .body
            .contains("\"enrolled\":true")
    );
    let (tx, pushes) = mpsc::unbounded_channel();
    waiters
        .lock()
        .unwrap()
        .insert(device.push.token.clone(), tx);
    User {
        browser: browser.at(portal),
        portal: portal.to_owned(),
        enrolled_at: stack.portal.url.clone(),
        pushes,
        device,
    }
}

/// One round trip; returns its duration.
async fn round_trip(user: &mut User) -> Duration {
    let start = Instant::now();
    // The portal creates and sends the challenge, then shows the waiting page with the number.
    let page = user.browser.get("/protected").await;
    assert_eq!(page.path, "/login/push", "{}", page.body);
    let number = page.element("number");
    let payload = tokio::time::timeout(Duration::from_secs(10), user.pushes.recv())
        .await
        .expect("no push within 10 s")
        .unwrap();
    let challenge = user.device.open(&payload);
    let response = assent_protocol::Response::Approve {
        number,
        user_verified: true,
    };
    let request = user.device.answer_request(&challenge, &response);
    let url = request.url.replace(&user.enrolled_at, &user.portal);
    let reply = user.device.send_body(&url, &request.body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut seconds = 10u64;
    let mut users = 32usize;
    let mut portals = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().unwrap().parse().unwrap(),
            "--users" => users = args.next().unwrap().parse().unwrap(),
            "--portals" => portals = args.next().unwrap().parse().unwrap(),
            other => panic!("unknown argument {other}"),
        }
    }
    let stack = Stack::start(&["--step-up-seconds", "0", "--push-limit", "100000000"]).await;
    let others: Vec<_> = (1..portals).map(|_| stack.another_portal()).collect();
    let mut copies = vec![stack.portal.url.clone()];
    copies.extend(others.iter().map(|p| p.url.clone()));
    let waiters: Waiters = Arc::default();
    let mut feed = stack.apns.deliveries();
    let routes = waiters.clone();
    tokio::spawn(async move {
        while let Some(d) = feed.recv().await {
            if let Some(tx) = routes.lock().unwrap().get(&d.token) {
                let _ = tx.send(d.payload);
            }
        }
    });

    // The password check alone, as a sign-in pays it (Argon2id m = 19 MiB, t = 2).
    stack.add_user("timing").await;
    let mut password = Vec::new();
    for _ in 0..20 {
        let browser = stack.browser();
        let start = Instant::now();
        let page = browser.login("timing", PASSWORD).await;
        password.push(start.elapsed());
        assert_eq!(page.path, "/enroll");
    }
    password.sort();

    // Sequential round trips: the latency with nothing else going on.
    let mut user = setup_user(&stack, "solo", &waiters, &stack.portal.url).await;
    for _ in 0..50 {
        round_trip(&mut user).await;
    }
    let mut solo = Vec::new();
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        solo.push(round_trip(&mut user).await);
    }
    solo.sort();

    // Many users at once: approvals per second.
    let mut all = Vec::new();
    for i in 0..users {
        let copy = &copies[i % copies.len()];
        all.push(setup_user(&stack, &format!("user{i}"), &waiters, copy).await);
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for mut user in all {
        let done = done_tx.clone();
        let mut go = go_rx.clone();
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        stops.push(stop_tx);
        tasks.push(tokio::spawn(async move {
            let _ = go.wait_for(|g| *g).await;
            loop {
                if stop_rx.try_recv().is_ok() {
                    break;
                }
                let d = round_trip(&mut user).await;
                if done.send(d).is_err() {
                    break;
                }
            }
        }));
    }
    drop(done_tx);
    let cpu = |pid| assent_e2e::cpu_time(pid).unwrap_or_default();
    let mut portal_pids = vec![stack.portal.id()];
    portal_pids.extend(others.iter().map(|p| p.id()));
    let portals_cpu = || portal_pids.iter().map(|&p| cpu(p)).sum::<Duration>();
    let relay_pid = stack.relay.id();
    let (portal_cpu, relay_cpu, postgres_before) = (portals_cpu(), cpu(relay_pid), postgres_cpu());
    let start = Instant::now();
    go_tx.send(true).unwrap();
    let mut loaded = Vec::new();
    while start.elapsed() < Duration::from_secs(seconds) {
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(100), done_rx.recv()).await
        {
            loaded.push(d);
        }
    }
    let elapsed = start.elapsed();
    let portal_cpu = portals_cpu() - portal_cpu;
    let relay_cpu = cpu(relay_pid) - relay_cpu;
    let postgres_cpu = postgres_cpu().saturating_sub(postgres_before);
    for s in stops {
        let _ = s.send(());
    }
    drop(done_rx);
    for t in tasks {
        let _ = t.await;
    }
    loaded.sort();

    let engine = if stack.portal.db.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "push round trip (portal creates the challenge → portal holds the verified answer), \
         {portals} portal process(es) on {engine}"
    );
    println!(
        "  one at a time: {} round trips, p50 {}, p99 {}, max {}",
        solo.len(),
        ms(percentile(&solo, 50.0)),
        ms(percentile(&solo, 99.0)),
        ms(percentile(&solo, 100.0)),
    );
    println!(
        "  {users} users at once: {} approvals in {:.1} s = {:.0} approvals/s, p50 {}, p99 {}",
        loaded.len(),
        elapsed.as_secs_f64(),
        loaded.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&loaded, 50.0)),
        ms(percentile(&loaded, 99.0)),
    );
    let per = |d: Duration| d.as_secs_f64() * 1e6 / loaded.len().max(1) as f64;
    println!(
        "  CPU per approval while loaded: portal {:.0} µs (all copies), relay {:.0} µs, \
         postgres {:.0} µs (the rest of the 2 cores: this tool's browsers, devices and mock APNs)",
        per(portal_cpu),
        per(relay_cpu),
        per(postgres_cpu),
    );
    println!(
        "password check before it (POST /login, Argon2id m=19 MiB t=2): p50 {}, p99 {}",
        ms(percentile(&password, 50.0)),
        ms(percentile(&password, 99.0)),
    );
}

/// CPU time of every `postgres` process on the machine (the benchmark's own cluster: run it on
/// a machine with no other PostgreSQL).
fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(assent_e2e::cpu_time)
        .sum()
}
