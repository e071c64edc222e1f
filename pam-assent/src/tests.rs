//! The decision against a scripted portal and user: what is sent, shown and returned.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::cell::RefCell;
use std::collections::VecDeque;

use super::*;

/// A user who types the given lines (`None`: Ctrl-C), and what they were shown.
#[derive(Default)]
struct User {
    typed: VecDeque<Option<&'static str>>,
    shown: Vec<String>,
}

impl Talk for User {
    fn info(&mut self, text: &str) {
        self.shown.push(format!("info: {text}"));
    }
    fn error(&mut self, text: &str) {
        self.shown.push(format!("error: {text}"));
    }
    fn prompt(&mut self, text: &str) -> Option<zeroize::Zeroizing<String>> {
        self.shown.push(format!("prompt: {text}"));
        self.typed
            .pop_front()
            .flatten()
            .map(|t| zeroize::Zeroizing::new(t.to_owned()))
    }
}

/// A portal that answers from a script, and records the calls.
#[derive(Default)]
struct Script {
    answers: RefCell<VecDeque<Result<Answer, ApiError>>>,
    calls: RefCell<Vec<String>>,
}

impl Script {
    fn new(answers: Vec<Result<Answer, ApiError>>) -> Self {
        Self {
            answers: RefCell::new(answers.into()),
            calls: RefCell::default(),
        }
    }
    fn next(&self, call: String) -> Result<Answer, ApiError> {
        self.calls.borrow_mut().push(call);
        self.answers.borrow_mut().pop_front().unwrap()
    }
}

impl Api for Script {
    fn start(&self, user: &str, application: &str, ip: Option<&str>) -> Result<Answer, ApiError> {
        self.next(format!("start {user} {application} {ip:?}"))
    }
    fn poll(&self, id: &str, wait: u64) -> Result<Answer, ApiError> {
        self.next(format!("poll {id} {}", wait > 0))
    }
    fn withdraw(&self, id: &str) -> Result<Answer, ApiError> {
        self.next(format!("withdraw {id}"))
    }
    fn code(
        &self,
        user: &str,
        code: &str,
        _: Option<&str>,
        v: Option<&str>,
    ) -> Result<Answer, ApiError> {
        self.next(format!("code {user} {code} {v:?}"))
    }
}

fn answer(status: &str) -> Result<Answer, ApiError> {
    Ok(Answer {
        status: status.into(),
        id: Some("v1".into()),
        number: (status == "pending").then(|| "42".into()),
        retry_after: None,
        code: true,
        detail: None,
    })
}

fn config(extra: &str) -> Config {
    Config::parse(&format!(
        "portal_url = 'https://login.example.com'\nkey_file = '/k'\nusers = ['alice']\n{extra}"
    ))
    .unwrap()
}

const LOGIN: Login<'static> = Login {
    user: "alice",
    service: "sshd",
    rhost: Some("203.0.113.9"),
    hostname: "build-01",
};

fn run(
    config: &Config,
    typed: &[Option<&'static str>],
    script: &Script,
) -> (Decision, Vec<String>) {
    let mut user = User {
        typed: typed.iter().copied().collect(),
        ..User::default()
    };
    let decision = authenticate(config, &LOGIN, &mut user, script);
    (decision, user.shown)
}

#[test]
fn an_approval_after_enter_is_a_success_and_the_number_is_shown() {
    let script = Script::new(vec![
        answer("pending"),
        answer("pending"),
        answer("approved"),
    ]);
    let (decision, shown) = run(&config(""), &[Some("")], &script);
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    assert_eq!(
        shown[0],
        "info: Approve the sign-in on your phone — number 42"
    );
    assert_eq!(
        script.calls.borrow()[0],
        "start alice ssh to build-01 Some(\"203.0.113.9\")"
    );
    assert_eq!(script.calls.borrow()[1..], ["poll v1 true", "poll v1 true"]);
}

#[test]
fn every_answer_but_an_approval_refuses() {
    for (status, says) in [
        ("denied", "Denied"),
        ("not_me", "reported as not you"),
        ("expired", "expired"),
        ("withdrawn", "withdrawn"),
    ] {
        let script = Script::new(vec![answer("pending"), answer(status)]);
        let (decision, _) = run(&config(""), &[Some("")], &script);
        match decision {
            Decision::Deny(message) => assert!(message.contains(says), "{status}: {message}"),
            other => panic!("{status}: {other:?}"),
        }
    }
    for (status, says) in [
        ("no_device", "No device"),
        ("locked", "locked"),
        ("denied", "Denied"),
        ("rate_limited", "Too many"),
    ] {
        let mut first = answer(status).unwrap();
        first.code = false;
        let script = Script::new(vec![Ok(first)]);
        let (decision, _) = run(&config(""), &[], &script);
        assert!(
            matches!(&decision, Decision::Deny(m) if m.contains(says)),
            "{status}: {decision:?}"
        );
    }
}

#[test]
fn a_wrong_code_then_the_right_one_withdraws_nothing_and_succeeds() {
    let script = Script::new(vec![
        answer("pending"),
        answer("denied"),
        answer("approved"),
    ]);
    let (decision, shown) = run(&config(""), &[Some("111111"), Some("222222")], &script);
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    assert!(
        shown.iter().any(|s| s.starts_with("error: Wrong code")),
        "{shown:?}"
    );
    assert_eq!(
        script.calls.borrow()[1..],
        [
            "code alice 111111 Some(\"v1\")",
            "code alice 222222 Some(\"v1\")"
        ]
    );
}

#[test]
fn a_code_only_client_asks_for_a_code_and_sends_no_push() {
    let mut first = answer("code_required").unwrap();
    first.id = None;
    let script = Script::new(vec![Ok(first), answer("approved")]);
    let (decision, shown) = run(&config(""), &[Some("123456")], &script);
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    assert_eq!(shown, ["prompt: Code from your authenticator app: "]);
    assert_eq!(script.calls.borrow()[1], "code alice 123456 None");
}

#[test]
fn ctrl_c_withdraws_the_push_and_refuses() {
    let script = Script::new(vec![answer("pending"), answer("withdrawn")]);
    let (decision, _) = run(&config(""), &[None], &script);
    assert_eq!(decision, Decision::Deny("Cancelled.".into()));
    assert_eq!(script.calls.borrow()[1], "withdraw v1");
}

#[test]
fn fail_open_is_only_for_a_portal_that_cannot_be_reached() {
    let down = || Err(ApiError::Unreachable("no connection".into()));
    let (closed, _) = run(&config(""), &[], &Script::new(vec![down()]));
    assert!(matches!(closed, Decision::Deny(m) if m.contains("cannot be reached")));
    let (open, _) = run(
        &config("fail_mode = 'open'"),
        &[],
        &Script::new(vec![down()]),
    );
    assert!(matches!(open, Decision::Allow(_)));
    // A refusal is not unreachability; nor is a denial.
    let refused = Script::new(vec![Err(ApiError::Refused(
        "missing or wrong client key".into(),
    ))]);
    let (decision, _) = run(&config("fail_mode = 'open'"), &[], &refused);
    assert!(matches!(decision, Decision::Deny(_)));
    let denied = Script::new(vec![answer("pending"), answer("denied")]);
    let (decision, _) = run(&config("fail_mode = 'open'"), &[Some("")], &denied);
    assert!(matches!(decision, Decision::Deny(_)));
}

#[test]
fn users_it_does_not_name_are_ignored_and_a_policy_allow_is_an_allow() {
    let script = Script::new(vec![]);
    let other = Login {
        user: "bob",
        ..LOGIN
    };
    let mut user = User::default();
    assert_eq!(
        authenticate(&config(""), &other, &mut user, &script),
        Decision::Ignore
    );
    assert!(script.calls.borrow().is_empty(), "nothing was asked");
    let script = Script::new(vec![answer("mfa_not_required")]);
    let (decision, _) = run(&config(""), &[], &script);
    assert!(matches!(decision, Decision::Allow(_)));
}

#[test]
fn bad_configuration_is_refused_with_its_reason() {
    let refused = |text: &str| Config::parse(text).unwrap_err().to_string();
    assert!(refused("key_file = '/k'").contains("portal_url"));
    assert!(refused("portal_url = 'http://login.example.com'\nkey_file = '/k'").contains("https"));
    assert!(
        refused("portal_url = 'https://a'\nkey_file = '/k'\nfail_mode = 'opne'")
            .contains("fail_mode")
            || refused("portal_url = 'https://a'\nkey_file = '/k'\nfail_mode = 'opne'")
                .contains("opne")
    );
    assert!(refused("portal_url = 'https://a'\nkey_file = '/k'\ntimeout = 5").contains("timeout"));
    assert!(
        refused("portal_url = 'https://a'\nkey_file = '/k'\ntimeout_seconds = 5")
            .contains("10 to 300")
    );
    let config = config("");
    assert!(config.key().unwrap_err().to_string().contains("/k"));
    assert_eq!(
        Config::path_from_args(&["config=/etc/x.toml".into()]),
        std::path::PathBuf::from("/etc/x.toml")
    );
    assert_eq!(
        Config::path_from_args(&[]),
        std::path::PathBuf::from(config::DEFAULT_PATH)
    );
}
