//! The notification service extension's path: a push payload opened against a 1,000-account
//! vault on disk, read-only (`Vault::peek_challenge`: decrypt, parse only the push enrollments,
//! open the challenge), beside the app's full open for comparison. Figures in
//! docs/performance.md; the memory side is measured through the bindings by
//! scripts/bench-extension.py.
//!
//! `cargo bench -p authenticator-core --bench extension`

#![allow(
    clippy::expect_used,
    missing_docs,
    reason = "a benchmark stops on the first failure"
)]

use std::hint::black_box;

use assent_protocol::{ApnsEnvironment, Platform, Purpose, PushConfig, Transport};
use assent_test_portal::TestPortal;
use authenticator_core::push::{DeviceInfo, KeyChoice};
use authenticator_core::seal::{Unlock, VaultKey};
use authenticator_core::vault::Vault;
use authenticator_core::{Account, Algorithm, OtpParams, SecretBytes};
use criterion::{Criterion, criterion_group, criterion_main};

const NOW: u64 = 1_800_000_000;
const KEY: [u8; 32] = [5; 32];

fn account(i: u32) -> Account {
    Account {
        issuer: format!("Issuer {i}"),
        name: format!("user{i}@example.com"),
        otp: OtpParams::totp(Algorithm::Sha1, 6, 30).expect("valid"),
        secret: SecretBytes::new(
            (0..16u32)
                .map(|b| (b * 7) as u8)
                .chain(i.to_be_bytes())
                .collect(),
        ),
        image: None,
    }
}

fn extension(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("vault.json");
    let mut vault = Vault::create_with_key(&path, VaultKey::from_bytes(KEY)).expect("vault");
    vault
        .add_all((0..999).map(account).collect())
        .expect("accounts");
    let portal = TestPortal::new();
    let device = DeviceInfo {
        platform: Platform::Ios,
        name: "iPhone".into(),
        push: Some(PushConfig {
            transport: Transport::Apns,
            token: "ab".repeat(32),
            environment: Some(ApnsEnvironment::Production),
            topic: None,
        }),
    };
    let enrolled = vault
        .enroll(
            &portal.qr(NOW),
            device,
            KeyChoice::Software,
            NOW,
            &mut assent_protocol::system_rng(),
        )
        .expect("enroll");
    let registration = portal
        .verify_registration(&enrolled.request.body, NOW)
        .expect("registration");
    vault.save().expect("save");
    assert_eq!(vault.entries().len(), 1_000);
    let (payload, _) = portal.challenge(
        &registration,
        Purpose::Login,
        Some(2),
        Some("42".into()),
        NOW,
    );
    let key = VaultKey::from_bytes(KEY);

    c.bench_function("extension_peek_challenge_1000_account_vault", |b| {
        b.iter(|| {
            black_box(Vault::peek_challenge(
                &path,
                &key,
                black_box(&payload),
                NOW + 1,
            ))
            .expect("opens")
        })
    });
    c.bench_function("app_open_vault_then_open_challenge_1000_accounts", |b| {
        b.iter(|| {
            let vault = Vault::open(&path, Unlock::Key(&key)).expect("vault");
            black_box(vault.open_challenge(black_box(&payload), NOW + 1)).expect("opens")
        })
    });
}

criterion_group!(benches, extension);
criterion_main!(benches);
