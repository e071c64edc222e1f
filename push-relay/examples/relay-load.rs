//! Load benchmark: runs the release `push-relay` binary against an in-process mock APNs (HTTP/2
//! over TLS) on loopback and reports sustained notifications/s, latency, memory and overload
//! behaviour. Not a test: run it by hand.
//!
//! ```text
//! cargo build --release -p push-relay --bins --examples
//! target/release/examples/relay-load [--seconds 10] [--concurrency 256] [--connections 8]
//!     [--relay-cpus 0 --load-cpus 1]
//!     [--phases sustained,latency,inflight,inflight-http1,overload]
//!     [--relay-wrap "heaptrack -o /tmp/relay"]
//! target/release/examples/relay-load --direct local|forwarded [--streams 64] [--seconds 10]
//! ```
//!
//! `--direct` measures direct delivery instead (sustained phase only): pushes for `--streams`
//! open Server-Sent-Events streams, which this tool reads. `local`: one relay holds the streams
//! and takes the pushes. `forwarded`: a `nats-server -js` on loopback and two relays in its
//! fleet; the streams are on relay B, the pushes go to relay A, which forwards each over NATS.
//! CPU is reported per process and per push.
//!
//! `--relay-cpus`/`--load-cpus` pin the relay and this tool (load generator and mock APNs) to
//! disjoint CPUs with `taskset`, so the relay's pushes/s on its own cores is measured rather than
//! derived from its CPU time. `--relay-wrap` runs the relay under a profiler.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;

use support::mock_apns::{self, MockApns};

const KEY: &str = "load-tenant-key-0123456789abcdef";
const LIMITED_KEY: &str = "limited-tenant-key-0123456789abcd";
const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const MAX_IN_FLIGHT: usize = 10_000;
const LIMITED_RATE: u64 = 2_000;

struct Args {
    seconds: u64,
    concurrency: usize,
    connections: usize,
    relay_cpus: Option<String>,
    load_cpus: Option<String>,
    relay_wrap: Vec<String>,
    phases: Vec<String>,
    /// `local` or `forwarded`: the direct-delivery benchmark instead of the APNs one.
    direct: Option<String>,
    streams: usize,
}

impl Args {
    fn phase(&self, name: &str) -> bool {
        self.phases.iter().any(|p| p == name || p == "all")
    }
}

fn args() -> Args {
    let mut a = Args {
        seconds: 10,
        concurrency: 256,
        connections: 8,
        relay_cpus: None,
        load_cpus: None,
        relay_wrap: Vec::new(),
        phases: vec!["all".to_owned()],
        direct: None,
        streams: 64,
    };
    let v: Vec<String> = std::env::args().collect();
    for w in v.windows(2) {
        match w[0].as_str() {
            "--seconds" => a.seconds = w[1].parse().unwrap(),
            "--concurrency" => a.concurrency = w[1].parse().unwrap(),
            "--connections" => a.connections = w[1].parse().unwrap(),
            "--relay-cpus" => a.relay_cpus = Some(w[1].clone()),
            "--load-cpus" => a.load_cpus = Some(w[1].clone()),
            "--relay-wrap" => a.relay_wrap = w[1].split_whitespace().map(str::to_owned).collect(),
            "--phases" => a.phases = w[1].split(',').map(str::to_owned).collect(),
            "--direct" => a.direct = Some(w[1].clone()),
            "--streams" => a.streams = w[1].parse().unwrap(),
            _ => {}
        }
    }
    a.seconds = a.seconds.clamp(1, 60);
    a.streams = a.streams.max(1);
    if let Some(mode) = &a.direct {
        assert!(
            mode == "local" || mode == "forwarded",
            "--direct is local or forwarded, not {mode}"
        );
    }
    a
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name; 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

fn body() -> Bytes {
    let now = support::tls::now_unix();
    let payload = "A".repeat(400); // a typical HPKE-sealed challenge
    Bytes::from(
        serde_json::json!({"platform": "apns", "device_token": TOKEN, "payload": payload, "expires_at": now + 50})
            .to_string(),
    )
}

/// A cleartext HTTP/2 connection to the relay. The generator drives `h2` directly, as the relay
/// does towards APNs: hyper's client spawns two tasks per request, which made the generator
/// costlier than the relay it measures.
async fn connect(addr: SocketAddr) -> Sender {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (sender, conn) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(8 << 20)
        .handshake::<_, Bytes>(tcp)
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

type Sender = SendRequest<Bytes>;

async fn one(sender: &mut Sender, key: &str, body: Bytes) -> (u16, Duration) {
    let started = Instant::now();
    let req = hyper::Request::post("http://relay/v1/push")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let status = async {
        let mut s = sender.clone().ready().await.ok()?;
        let (answer, mut stream) = s.send_request(req, false).ok()?;
        stream.send_data(body, true).ok()?;
        let resp = answer.await.ok()?;
        let status = resp.status().as_u16();
        let mut recv = resp.into_body();
        while let Some(chunk) = recv.data().await {
            let n = chunk.ok()?.len();
            let _ = recv.flow_control().release_capacity(n);
        }
        Some(status)
    }
    .await
    .unwrap_or(0);
    (status, started.elapsed())
}

#[derive(Default)]
struct Tally {
    by_status: std::collections::BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
}

impl Tally {
    fn add(&mut self, status: u16, took: Duration) {
        *self.by_status.entry(status).or_default() += 1;
        self.latencies_us
            .push(took.as_micros().min(u128::from(u32::MAX)) as u32);
    }
    fn merge(&mut self, o: Tally) {
        for (k, v) in o.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        self.latencies_us.extend(o.latencies_us);
    }
    fn count(&self, s: u16) -> u64 {
        self.by_status.get(&s).copied().unwrap_or(0)
    }
    fn pct(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// Closed loop: `concurrency` workers each send back to back until `until`.
async fn closed_loop(senders: &[Sender], concurrency: usize, until: Instant) -> Tally {
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let mut s = senders[i % senders.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::default();
            let b = body();
            while Instant::now() < until {
                let (st, took) = one(&mut s, KEY, b.clone()).await;
                t.add(st, took);
            }
            t
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await.unwrap());
    }
    all
}

/// Open loop: requests started at `rate` per second for `seconds`, whatever the answers.
async fn open_loop(senders: &[Sender], key: &'static str, rate: u64, seconds: u64) -> Tally {
    let total = rate * seconds;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    let b = body();
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let mut s = senders[i as usize % senders.len()].clone();
        let b = b.clone();
        tasks.push(tokio::spawn(async move { one(&mut s, key, b).await }));
    }
    let mut t = Tally::default();
    for h in tasks {
        let (s, d) = h.await.unwrap();
        t.add(s, d);
    }
    t
}

/// Fires `n` requests at once and samples the relay's RSS and in-flight gauge while they are held.
/// One push over its own HTTP/1.1 connection, as a portal using reqwest's defaults sends them.
async fn one_http1(addr: SocketAddr, key: &str, body: Bytes) -> (u16, Duration) {
    use http_body_util::{BodyExt, Full};
    let started = Instant::now();
    let status = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .ok()?;
        tokio::spawn(conn);
        let req = hyper::Request::post("/v1/push")
            .header("host", "relay")
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Full::new(body))
            .ok()?;
        let resp = sender.send_request(req).await.ok()?;
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        Some(status)
    }
    .await
    .unwrap_or(0);
    (status, started.elapsed())
}

/// Fires `n` requests at once (over `senders`, or each on its own HTTP/1.1 connection when
/// `senders` is empty) and samples the relay's RSS and in-flight gauge while they are held.
async fn burst(senders: &[Sender], n: usize, pid: u32, addr: SocketAddr) -> (Tally, u64, u64) {
    let b = body();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let b = b.clone();
        if senders.is_empty() {
            tasks.push(tokio::spawn(one_http1(addr, KEY, b)));
        } else {
            let mut s = senders[i % senders.len()].clone();
            tasks.push(tokio::spawn(async move { one(&mut s, KEY, b).await }));
        }
    }
    let peak_rss = Arc::new(AtomicU64::new(0));
    let peak_in_flight = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak_rss, peak_in_flight, stop) =
            (peak_rss.clone(), peak_in_flight.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak_rss.fetch_max(rss_kb(pid), Ordering::Relaxed);
                let m = support::client::get(addr, "/metrics").await.text;
                let g = m
                    .lines()
                    .find_map(|l| l.strip_prefix("push_relay_in_flight "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(0);
                peak_in_flight.fetch_max(g, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut t = Tally::default();
    for h in tasks {
        let (s, d) = h.await.unwrap();
        t.add(s, d);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    (
        t,
        peak_rss.load(Ordering::Relaxed),
        peak_in_flight.load(Ordering::Relaxed),
    )
}

fn start_relay(args: &Args, apns: &MockApns, dir: &tempfile::TempDir) -> (Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    std::fs::write(dir.path().join("apns.p8"), &apns.key_pem).unwrap();
    std::fs::write(dir.path().join("ca.pem"), &apns.server.ca_pem).unwrap();
    let config = format!(
        r#"
listen = "{addr}"
max_in_flight = {MAX_IN_FLIGHT}
max_in_flight_per_tenant = {MAX_IN_FLIGHT}
log_level = "warn"
extra_ca_file = "{dir}/ca.pem"

[[tenants]]
id = "load"
api_key_sha256 = "{key}"
rate_per_second = 1000000000.0
burst = 1000000000
apns = "ios"

[[tenants]]
id = "limited"
api_key_sha256 = "{limited}"
rate_per_second = {LIMITED_RATE}.0
burst = {LIMITED_RATE}
apns = "ios"

[[apns]]
name = "ios"
team_id = "{team}"
key_id = "{kid}"
key_file = "{dir}/apns.p8"
topic = "{topic}"
host = "{host}"
connections = 2
"#,
        dir = dir.path().display(),
        key = push_relay::tenant::sha256_hex(KEY.as_bytes()),
        limited = push_relay::tenant::sha256_hex(LIMITED_KEY.as_bytes()),
        team = mock_apns::TEAM_ID,
        kid = mock_apns::KEY_ID,
        topic = mock_apns::TOPIC,
        host = apns.server.authority(),
    );
    let path = dir.path().join("relay.toml");
    std::fs::write(&path, config).unwrap();
    (spawn_relay(args, &path), addr)
}

/// Runs the release `push-relay` binary beside this tool with the settings file `path`.
fn spawn_relay(args: &Args, path: &std::path::Path) -> Child {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("push-relay");
    // taskset execs the relay (same pid); a profiler wrapper is a parent process, see `relay_pid`.
    let mut argv: Vec<std::ffi::OsString> = Vec::new();
    if let Some(cpus) = &args.relay_cpus {
        argv.extend(["taskset".into(), "-c".into(), cpus.into()]);
    }
    argv.extend(args.relay_wrap.iter().map(Into::into));
    argv.push(bin.clone().into());
    Command::new(&argv[0])
        .args(&argv[1..])
        .arg("--config")
        .arg(path)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (build it with --bins)", bin.display()))
}

/// The relay's own pid: the child's, unless a wrapper (a profiler's script) runs it as its child.
fn relay_pid(args: &Args, child: &Child) -> u32 {
    if args.relay_wrap.is_empty() {
        return child.id();
    }
    for _ in 0..100 {
        let out = Command::new("pgrep")
            .args(["-P", &child.id().to_string(), "-x", "push-relay"])
            .output()
            .unwrap();
        if let Some(pid) = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
        {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no push-relay process under the wrapper");
}

/// Pins this process (before it starts threads, which inherit it) to `cpus`.
fn pin_self(cpus: &str) {
    let ok = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "taskset failed: is util-linux installed?");
}

fn main() {
    let args = args();
    if let Some(cpus) = &args.load_cpus {
        pin_self(cpus);
    }
    // The load generator and mock APNs share the machine with the relay; keep them on one thread
    // each so the relay's own runtime gets the rest.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(args));
}

async fn run(args: Args) {
    if args.direct.is_some() {
        return direct::run(&args).await;
    }
    let apns = MockApns::start().await;
    apns.state.record.store(false, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start_relay(&args, &apns, &dir);
    let pid = relay_pid(&args, &child);
    let mut ready = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "relay did not start");
    let cores = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    println!("# push-relay load benchmark ({cores} cores, loopback, mock APNs over HTTP/2 + TLS)");
    match (&args.relay_cpus, &args.load_cpus) {
        (None, None) => println!("# relay, load generator and mock APNs share every core"),
        (r, l) => println!(
            "# pinned: relay on CPUs {}, load generator + mock APNs on CPUs {}",
            r.as_deref().unwrap_or("any"),
            l.as_deref().unwrap_or("any")
        ),
    }

    let mut senders = Vec::new();
    for _ in 0..args.connections {
        senders.push(connect(addr).await);
    }
    // Warm up (opens the APNs connections, signs the provider token).
    let _ = closed_loop(&senders, 16, Instant::now() + Duration::from_millis(500)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_kb(pid);
    println!("idle RSS after warm-up: {:.1} MB", idle as f64 / 1024.0);

    // 1. Sustained throughput, closed loop.
    let mut rate = 8_000.0;
    if args.phase("sustained") {
        let cpu0 = cpu_seconds(pid);
        let own0 = cpu_seconds(std::process::id());
        let started = Instant::now();
        let mut t = closed_loop(
            &senders,
            args.concurrency,
            started + Duration::from_secs(args.seconds),
        )
        .await;
        let secs = started.elapsed().as_secs_f64();
        let ok = t.count(200);
        rate = ok as f64 / secs;
        println!(
            "sustained ({} connections, {} concurrent, {:.1} s): {:.0} delivered/s; statuses {:?}; latency p50 {:.2} ms, p99 {:.2} ms",
            args.connections,
            args.concurrency,
            secs,
            rate,
            t.by_status.clone(),
            t.pct(0.5),
            t.pct(0.99)
        );
        let relay_cpu = cpu_seconds(pid) - cpu0;
        let own_cpu = cpu_seconds(std::process::id()) - own0;
        println!(
            "CPU during sustained phase: relay {relay_cpu:.1} s ({:.0}% of one core), load tool + mock APNs {own_cpu:.1} s ({:.0}%); \
             relay cost {:.1} us CPU per push = {:.0} pushes/s per core if the relay had it to itself",
            100.0 * relay_cpu / secs,
            100.0 * own_cpu / secs,
            1e6 * relay_cpu / ok as f64,
            ok as f64 / relay_cpu
        );
        println!(
            "RSS after sustained phase: {:.1} MB",
            rss_kb(pid) as f64 / 1024.0
        );
    }

    // 2. Added latency at a steady, sub-saturating rate (open loop).
    if args.phase("latency") {
        let paced = ((rate * 0.5) as u64).max(100);
        let mut t = open_loop(&senders, KEY, paced, 5).await;
        println!(
            "paced at {paced}/s for 5 s: statuses {:?}; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
            t.by_status.clone(),
            t.pct(0.5),
            t.pct(0.99),
            t.pct(0.999)
        );
    }

    let mut many = Vec::new();
    if args.phase("inflight") || args.phase("overload") {
        for _ in 0..64 {
            many.push(connect(addr).await);
        }
    }

    // 3. 10,000 in flight: APNs holds every answer for 3 s.
    if args.phase("inflight") {
        let before = rss_kb(pid);
        *apns.state.hold.lock().unwrap() = Duration::from_secs(3);
        let (t, peak_rss, peak_in_flight) = burst(&many, MAX_IN_FLIGHT, pid, addr).await;
        println!(
            "10,000 held in flight: peak in-flight gauge {peak_in_flight}, peak RSS {:.1} MB ({:.1} MB before: {:.1} KB per push); statuses {:?}",
            peak_rss as f64 / 1024.0,
            before as f64 / 1024.0,
            peak_rss.saturating_sub(before) as f64 / MAX_IN_FLIGHT as f64,
            t.by_status
        );
        println!(
            "RSS after the in-flight burst: {:.1} MB",
            rss_kb(pid) as f64 / 1024.0
        );
    }

    // 3b. The same over 10,000 HTTP/1.1 connections, one push each (reqwest's default).
    if args.phase("inflight-http1") {
        let before = rss_kb(pid);
        *apns.state.hold.lock().unwrap() = Duration::from_secs(3);
        let (t, peak_rss, peak_in_flight) = burst(&[], MAX_IN_FLIGHT, pid, addr).await;
        println!(
            "10,000 held in flight over 10,000 HTTP/1.1 connections: peak in-flight gauge {peak_in_flight}, peak RSS {:.1} MB ({:.1} MB before: {:.1} KB per push); statuses {:?}",
            peak_rss as f64 / 1024.0,
            before as f64 / 1024.0,
            peak_rss.saturating_sub(before) as f64 / MAX_IN_FLIGHT as f64,
            t.by_status
        );
        *apns.state.hold.lock().unwrap() = Duration::ZERO;
    }

    // 4. 2x overload of in-flight capacity: 20,000 at once against max_in_flight 10,000.
    if args.phase("overload") {
        *apns.state.hold.lock().unwrap() = Duration::from_secs(1);
        let (t, peak_rss, _) = burst(&many, 2 * MAX_IN_FLIGHT, pid, addr).await;
        println!(
            "2x in-flight overload (20,000 at once, max_in_flight 10,000): 200 = {}, 503 = {}, other {:?}; peak RSS {:.1} MB",
            t.count(200),
            t.count(503),
            t.by_status,
            peak_rss as f64 / 1024.0
        );
        *apns.state.hold.lock().unwrap() = Duration::ZERO;

        // 5. 2x overload of a tenant's rate limit.
        let t = open_loop(&senders, LIMITED_KEY, 2 * LIMITED_RATE, 3).await;
        println!(
            "2x rate overload (tenant limited to {LIMITED_RATE}/s, sent {}/s for 3 s): 200 = {}, 429 = {}, other {:?}",
            2 * LIMITED_RATE,
            t.count(200),
            t.count(429),
            t.by_status
        );
    }

    // Still up?
    let h = support::client::get(addr, "/healthz").await.status;
    let (s, _) = one(&mut senders[0], KEY, body()).await;
    println!(
        "after overload: /healthz {h}, a new push -> {s}; RSS {:.1} MB",
        rss_kb(pid) as f64 / 1024.0
    );

    let m = support::client::get(addr, "/metrics").await.text;
    for l in m.lines().filter(|l| {
        l.starts_with("push_relay_outcomes_total")
            || l.starts_with("push_relay_retries_total")
            || l.starts_with("push_relay_shed_total")
    }) {
        println!("  {l}");
    }

    // Graceful stop.
    let t0 = Instant::now();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let status = child.wait().unwrap();
    println!(
        "SIGTERM -> exited {status} in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
}

/// The direct-delivery benchmark: `--direct local|forwarded`.
mod direct {
    use super::*;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use support::nats::NatsServer;

    /// A relay for direct pushes only, in the fleet of `nats` if given.
    fn start(
        args: &Args,
        dir: &tempfile::TempDir,
        name: &str,
        nats: Option<&str>,
    ) -> (Child, SocketAddr) {
        let port = support::nats::free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let fleet = nats
            .map(|url| format!("\n[nats]\nurl = \"{url}\"\n"))
            .unwrap_or_default();
        let config = format!(
            r#"
listen = "{addr}"
max_in_flight = {MAX_IN_FLIGHT}
max_in_flight_per_tenant = {MAX_IN_FLIGHT}
log_level = "warn"

[direct]
queue = 1024

[[tenants]]
id = "load"
api_key_sha256 = "{key}"
rate_per_second = 1000000000.0
burst = 1000000000
{fleet}"#,
            key = push_relay::tenant::sha256_hex(KEY.as_bytes()),
        );
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        (spawn_relay(args, &path), addr)
    }

    async fn until_ready(addr: SocketAddr, fleet: bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                let r = support::client::get(addr, "/readyz").await.text;
                if r == "ready" || (!fleet && r.starts_with("ready")) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "relay {addr} not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a stream for `token` and counts the pushes that arrive on it into `seen`.
    async fn open_stream(addr: SocketAddr, token: &str, seen: Arc<AtomicU64>) {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(
            format!("GET /v1/direct/stream HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {token}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut head = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while !String::from_utf8_lossy(&head).contains("\r\n\r\n") {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "stream refused: {}", String::from_utf8_lossy(&head));
            head.extend_from_slice(&buf[..n]);
        }
        assert!(String::from_utf8_lossy(&head).contains("200 OK"));
        tokio::spawn(async move {
            const NEEDLE: &[u8] = b"event: push";
            let mut carry: Vec<u8> = Vec::new();
            loop {
                let n = match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                carry.extend_from_slice(&buf[..n]);
                let found = carry.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count();
                seen.fetch_add(found as u64, Ordering::Relaxed);
                let keep = carry.len().min(NEEDLE.len() - 1);
                carry.drain(..carry.len() - keep);
            }
        });
    }

    fn bodies(tokens: &[String]) -> Vec<Bytes> {
        let now = support::tls::now_unix();
        let payload = "A".repeat(400);
        tokens
            .iter()
            .map(|t| {
                Bytes::from(
                    serde_json::json!({"platform": "direct", "device_token": t, "payload": payload, "expires_at": now + 50})
                        .to_string(),
                )
            })
            .collect()
    }

    /// Closed loop over `bodies`: worker `i` pushes to stream `i % bodies.len()`.
    async fn closed_loop(
        senders: &[Sender],
        concurrency: usize,
        until: Instant,
        bodies: &[Bytes],
    ) -> Tally {
        let mut tasks = Vec::new();
        for i in 0..concurrency {
            let mut s = senders[i % senders.len()].clone();
            let b = bodies[i % bodies.len()].clone();
            tasks.push(tokio::spawn(async move {
                let mut t = Tally::default();
                while Instant::now() < until {
                    let (st, took) = one(&mut s, KEY, b.clone()).await;
                    t.add(st, took);
                }
                t
            }));
        }
        let mut all = Tally::default();
        for t in tasks {
            all.merge(t.await.unwrap());
        }
        all
    }

    pub async fn run(args: &Args) {
        let forwarded = args.direct.as_deref() == Some("forwarded");
        let dir = tempfile::tempdir().unwrap();
        let nats = if forwarded {
            Some(NatsServer::start().await)
        } else {
            None
        };
        let url = nats.as_ref().map(NatsServer::url);
        let (mut a, a_addr) = start(args, &dir, "a", url.as_deref());
        until_ready(a_addr, forwarded).await;
        let (mut b, b_addr) = if forwarded {
            let (b, addr) = start(args, &dir, "b", url.as_deref());
            until_ready(addr, true).await;
            (Some(b), addr)
        } else {
            (None, a_addr)
        };
        println!(
            "# push-relay direct-delivery benchmark: {} ({} streams on {}, pushes to {})",
            if forwarded {
                "forwarded over NATS"
            } else {
                "local"
            },
            args.streams,
            if forwarded { "relay B" } else { "the relay" },
            if forwarded { "relay A" } else { "the relay" },
        );
        let seen = Arc::new(AtomicU64::new(0));
        let tokens: Vec<String> = (0..args.streams)
            .map(|_| push_relay::direct::new_token())
            .collect();
        for t in &tokens {
            open_stream(b_addr, t, seen.clone()).await;
        }
        let bodies = bodies(&tokens);
        let mut senders = Vec::new();
        for _ in 0..args.connections {
            senders.push(connect(a_addr).await);
        }
        let _ = closed_loop(
            &senders,
            16,
            Instant::now() + Duration::from_millis(500),
            &bodies,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        let pids: Vec<(&str, u32)> = [
            Some(("relay A", a.id())),
            b.as_ref().map(|b| ("relay B", b.id())),
            nats.as_ref()
                .and_then(NatsServer::pid)
                .map(|p| ("nats-server", p)),
            Some(("load tool", std::process::id())),
        ]
        .into_iter()
        .flatten()
        .collect();
        let cpu0: Vec<f64> = pids.iter().map(|(_, p)| cpu_seconds(*p)).collect();
        let seen0 = seen.load(Ordering::Relaxed);
        let started = Instant::now();
        let mut t = closed_loop(
            &senders,
            args.concurrency,
            started + Duration::from_secs(args.seconds),
            &bodies,
        )
        .await;
        let secs = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ok = t.count(200);
        println!(
            "sustained ({} connections, {} concurrent, {:.1} s): {:.0} delivered/s; statuses {:?}; latency p50 {:.2} ms, p99 {:.2} ms; {} pushes read from the streams",
            args.connections,
            args.concurrency,
            secs,
            ok as f64 / secs,
            t.by_status.clone(),
            t.pct(0.5),
            t.pct(0.99),
            seen.load(Ordering::Relaxed) - seen0,
        );
        let mut relays_cpu = 0.0;
        let mut all_cpu = 0.0;
        for ((name, pid), before) in pids.iter().zip(cpu0) {
            let used = cpu_seconds(*pid) - before;
            if name.starts_with("relay") {
                relays_cpu += used;
            }
            if *name != "load tool" {
                all_cpu += used;
            }
            println!(
                "  CPU {name}: {used:.1} s ({:.0}% of one core), {:.1} us per push",
                100.0 * used / secs,
                1e6 * used / ok.max(1) as f64
            );
        }
        println!(
            "relay CPU per push: {:.1} us (relays), {:.1} us (relays + nats-server)",
            1e6 * relays_cpu / ok.max(1) as f64,
            1e6 * all_cpu / ok.max(1) as f64
        );
        let m = support::client::get(a_addr, "/metrics").await.text;
        for l in m.lines().filter(|l| {
            l.starts_with("push_relay_outcomes_total")
                || l.starts_with("push_relay_forwarded_total")
        }) {
            println!("  {l}");
        }
        for child in [Some(&mut a), b.as_mut()].into_iter().flatten() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
        drop(nats);
    }
}
