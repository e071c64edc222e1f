//! The operator's command line: help, version and mistakes never start a server, and
//! `check-config` validates settings and exits.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn relay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_push-relay"))
        .args(args)
        .env_remove("PUSH_RELAY_CONFIG")
        // Where a mistaken start would listen: the test fails on a timeout instead of passing.
        .env("PUSH_RELAY_LISTEN", "127.0.0.1:1")
        .output()
        .expect("push-relay runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn help_and_version_print_and_exit() {
    let help = relay(&["--help"]);
    assert!(help.status.success(), "{}", text(&help));
    for word in ["--config", "check-config", "--version"] {
        assert!(text(&help).contains(word), "{word}: {}", text(&help));
    }
    let version = relay(&["--version"]);
    assert!(version.status.success());
    assert!(
        text(&version).starts_with(&format!("push-relay {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        text(&version)
    );
}

#[test]
fn a_misspelled_option_is_an_error_not_a_start() {
    let out = relay(&["--confg", "relay.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--confg"), "{}", text(&out));
}

#[test]
fn check_config_validates_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        r#"
            listen = "127.0.0.1:8080"
            [[tenants]]
            id = "acme"
            api_key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
        "#,
    )
    .unwrap();
    let out = relay(&["check-config", "--config", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 tenant(s)"), "{}", text(&out));

    // A key file that is not there is found by the check, as it would stop a start.
    let missing = dir.path().join("missing.toml");
    std::fs::write(
        &missing,
        r#"
            [[apns]]
            name = "ios"
            team_id = "TEAM123456"
            key_id = "KEY7654321"
            key_file = "/nonexistent/AuthKey.p8"
            topic = "org.assent.app"
        "#,
    )
    .unwrap();
    let out = relay(&["check-config", "-c", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("key_file"), "{}", text(&out));

    let bad_level = dir.path().join("level.toml");
    std::fs::write(&bad_level, "log_level = \"verbose=[\"\n").unwrap();
    let out = relay(&["check-config", "--config", bad_level.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("log_level"), "{}", text(&out));
}
