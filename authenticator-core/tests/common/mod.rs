//! What the crash tests share: distinct accounts to add, and a child process killed at
//! pseudo-random instants.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use authenticator_core::{Account, Algorithm, OtpParams, SecretBytes};

/// The `i`th of a series of accounts that are all distinct (the vault refuses duplicates).
pub fn account(i: u64) -> Account {
    Account {
        issuer: format!("Issuer {i}"),
        name: format!("user{i}"),
        otp: OtpParams::totp(Algorithm::Sha1, 6, 30).unwrap(),
        secret: SecretBytes::new(
            (0..20)
                .map(|b| (b as u64 * 31 + i) as u8)
                .chain(i.to_be_bytes())
                .collect(),
        ),
        image: None,
    }
}

/// Runs a test of this same test binary as a child and kills it (SIGKILL) after a pause drawn
/// by a fixed xorshift sequence, so a failing run can be repeated.
pub struct Killer {
    seed: u64,
    min_micros: u64,
    spread_micros: u64,
}

impl Killer {
    /// Pauses of `min_micros` plus up to `spread_micros`.
    pub fn new(min_micros: u64, spread_micros: u64) -> Self {
        Self {
            seed: 0x9e37_79b9_7f4a_7c15,
            min_micros,
            spread_micros,
        }
    }

    /// Starts the test `test` with `env` set to `path` (the child's cue to do its work
    /// forever), waits for the next pause and kills it.
    pub fn run_and_kill(&mut self, test: &str, env: &str, path: &Path) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture"])
            .env(env, path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        std::thread::sleep(Duration::from_micros(
            self.min_micros + self.seed % self.spread_micros,
        ));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
