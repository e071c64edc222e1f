//! What both CLI test files need: `assent` isolated in a home of its own, and the check that a
//! failure is one clear line.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `assent` with `home` as its home, runtime dir and vault folder, a passphrase, and no
/// terminal or environment of the caller's.
pub fn assent(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_assent"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("ASSENT_VAULT", home.join("vault.json"))
        .env("ASSENT_PASSPHRASE", "correct horse")
        .stdin(Stdio::null());
    cmd
}

/// Checks that `assent args` failed with one line of error and no panic; returns the line.
pub fn one_line_error(args: &[&str], out: Output) -> String {
    assert!(!out.status.success(), "assent {args:?} should have failed");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line, not: {stderr}"
    );
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"));
    stderr
}
