//! The `push-relay` binary run as a child process, killed when the test lets go of it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// A loopback address with a port that was free a moment ago, for a relay's `listen`. Another
/// process could take it before the relay binds; on a test machine that is rare enough.
pub fn free_loopback_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("no free loopback port")
}

/// A running relay process; killed (and reaped) on drop, so a failing test leaves none behind.
pub struct RelayProcess {
    child: Child,
    addr: SocketAddr,
}

impl RelayProcess {
    /// Starts `binary --config config` without inheriting `PUSH_RELAY_*` overrides, and waits
    /// (up to 20 s) until it accepts connections on `addr`, the `listen` of that configuration.
    /// Panics if the process exits first, for instance on a configuration it refuses.
    pub async fn start(binary: &Path, config: &Path, addr: SocketAddr) -> Self {
        let mut command = Command::new(binary);
        command.arg("--config").arg(config);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PUSH_RELAY_") {
                command.env_remove(key);
            }
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut relay = Self { child, addr };
        for _ in 0..400 {
            if let Some(status) = relay.child.try_wait().expect("cannot poll the relay") {
                panic!("push-relay exited before listening: {status}");
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return relay;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("push-relay did not listen on {addr} within 20 s");
    }

    /// Where the relay's API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API's base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id, e.g. to send it a signal.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        // Already exited is fine; anything else would leave a process behind, which only the
        // test's own output can report.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
