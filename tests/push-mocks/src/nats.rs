//! A real `nats-server` with JetStream on a loopback port, for fleet tests and the load tool.
//! Killed when dropped; restartable on the same port and store directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the Debian package puts the server, checked after `PATH`.
const DEBIAN_PATH: &str = "/usr/sbin/nats-server";

/// A `nats-server` child process (or one stopped, to be started).
pub struct NatsServer {
    /// Its client port on 127.0.0.1.
    pub port: u16,
    /// The token clients must present, if any.
    pub token: Option<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// The `nats-server` binary. Panics, rather than skipping, when it is missing: a fleet test
/// that did not run must not look like one that passed.
pub fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("nats-server"))
            .find(|p| p.is_file())
    });
    match on_path {
        Some(p) => p,
        None if std::path::Path::new(DEBIAN_PATH).is_file() => DEBIAN_PATH.into(),
        None => panic!(
            "nats-server not found on PATH or at {DEBIAN_PATH}: install nats-server (apt-get install nats-server)"
        ),
    }
}

/// A loopback port free right now (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl NatsServer {
    /// Starts a server with JetStream on a free port, its store in a new temporary directory.
    pub async fn start() -> Self {
        let mut s = Self::stopped();
        s.restart().await;
        s
    }

    /// Like [`Self::start`], requiring clients to present `token`.
    pub async fn start_with_token(token: &str) -> Self {
        let mut s = Self::stopped();
        s.token = Some(token.to_owned());
        s.restart().await;
        s
    }

    /// A server that is not running yet: its port is reserved only by chance. `restart` starts it.
    pub fn stopped() -> Self {
        Self {
            port: free_port(),
            token: None,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        }
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL: no lame-duck goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// (Re)starts the server on the same port and store directory and waits until it accepts
    /// connections.
    pub async fn restart(&mut self) {
        self.kill();
        let log = std::fs::File::create(self.dir.path().join("nats.log")).unwrap();
        let mut cmd = Command::new(binary());
        cmd.args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.dir.path().join("store"));
        if let Some(t) = &self.token {
            cmd.arg("--auth").arg(t);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start nats-server: {e}: install nats-server (apt-get install nats-server)")
            });
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {addr}: {}",
                std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
