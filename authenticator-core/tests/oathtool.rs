//! Cross-checks our codes against `oathtool` (the OATH Toolkit, Debian package `oathtool`) on
//! randomized secrets, times, digits and algorithms. `.ci/run` installs oathtool; without it
//! this test fails rather than pass vacuously.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::process::Command;

use authenticator_core::{Account, Algorithm, OtpParams, SecretBytes};

/// A small deterministic generator (xorshift64*), so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn oathtool(args: &[String]) -> String {
    let out = Command::new("oathtool")
        .args(args)
        .output()
        .expect("oathtool must be installed (apt-get install oathtool); .ci/run does it");
    assert!(
        out.status.success(),
        "oathtool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn totp_matches_oathtool_on_random_inputs() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for case in 0..150 {
        let len = 10 + rng.below(55) as usize;
        let secret: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let algorithm =
            [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][rng.below(3) as usize];
        let digits = 6 + rng.below(3) as u32;
        let period = [1, 15, 30, 60, 90, 3600][rng.below(6) as usize];
        let time = rng.below(4_000_000_000);
        let account = Account {
            issuer: String::new(),
            name: "x".into(),
            otp: OtpParams::totp(algorithm, digits, period).unwrap(),
            secret: SecretBytes::new(secret.clone()),
            image: None,
        };
        let want = oathtool(&[
            format!("--totp={}", algorithm.as_str().to_lowercase()),
            format!("--digits={digits}"),
            format!("--time-step-size={period}s"),
            format!("--now=@{time}"),
            hex(&secret),
        ]);
        assert_eq!(
            account.code(time).value,
            want,
            "case {case}: {algorithm} digits {digits} period {period} time {time}"
        );
    }
}

#[test]
fn hotp_matches_oathtool_on_random_inputs() {
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    for case in 0..60 {
        let len = 10 + rng.below(30) as usize;
        let secret: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let digits = 6 + rng.below(3) as u32;
        let counter = rng.below(1 << 40);
        let account = Account {
            issuer: String::new(),
            name: "x".into(),
            otp: OtpParams::hotp(Algorithm::Sha1, digits, counter).unwrap(),
            secret: SecretBytes::new(secret.clone()),
            image: None,
        };
        let want = oathtool(&[
            "--hotp".into(),
            format!("--digits={digits}"),
            format!("--counter={counter}"),
            hex(&secret),
        ]);
        assert_eq!(
            account.code(0).value,
            want,
            "case {case}: counter {counter}"
        );
    }
}
