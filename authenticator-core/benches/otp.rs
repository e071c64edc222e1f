//! Criterion benchmarks of the core's hot paths. Figures are recorded in docs/performance.md.
//!
//! `cargo bench -p authenticator-core --bench otp`

#![allow(
    clippy::expect_used,
    missing_docs,
    reason = "a benchmark stops on the first failure"
)]

use std::hint::black_box;

use authenticator_core::seal::{KdfParams, Unlock, VaultKey};
use authenticator_core::vault::Vault;
use authenticator_core::{Account, Algorithm, OtpParams, SecretBytes};
use criterion::{Criterion, criterion_group, criterion_main};

fn account(i: u32) -> Account {
    let secret: Vec<u8> = (0..20u32).map(|b| (b * 7 + i) as u8).collect();
    let algorithm = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][(i % 3) as usize];
    Account {
        issuer: format!("Issuer {i}"),
        name: format!("user{i}@example.com"),
        otp: OtpParams::totp(algorithm, 6 + i % 3, 30).expect("valid"),
        secret: SecretBytes::new(secret),
        image: None,
    }
}

fn codes(c: &mut Criterion) {
    let sha1 = Account {
        otp: OtpParams::totp(Algorithm::Sha1, 6, 30).expect("valid"),
        ..account(0)
    };
    let mut t = 1_700_000_000u64;
    c.bench_function("totp_code_sha1", |b| {
        b.iter(|| {
            t += 1;
            black_box(sha1.code(black_box(t)))
        })
    });
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        sha1.secret.expose(),
    );
    c.bench_function("hmac_sha1_alone_for_reference", |b| {
        b.iter(|| black_box(ring::hmac::sign(&key, &black_box(t).to_be_bytes())))
    });
    let reference = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(sha1.secret.expose())
        .build_noncompliant();
    c.bench_function("totp_rs_generate_sha1_for_reference", |b| {
        b.iter(|| black_box(reference.generate(black_box(t))))
    });
}

fn vault(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vault.json");
    let key = VaultKey::from_bytes([9u8; 32]);
    let mut vault = Vault::create_with_key(&path, key.clone()).expect("create");
    vault
        .add_all((0..1000).map(account).collect())
        .expect("add");
    let bytes = vault.to_bytes().expect("seal");
    c.bench_function("open_1000_account_vault_and_compute_every_code", |b| {
        b.iter(|| {
            let vault =
                Vault::from_bytes("unused", black_box(&bytes), Unlock::Key(&key)).expect("open");
            let codes: Vec<_> = vault
                .entries()
                .iter()
                .map(|e| e.account.code(1_700_000_000))
                .collect();
            black_box(codes)
        })
    });
    c.bench_function("save_1000_account_vault_to_disk", |b| {
        b.iter(|| vault.save().expect("save"))
    });
}

fn unlock(c: &mut Criterion) {
    let kdf = KdfParams::recommended().expect("params");
    let mut group = c.benchmark_group("unlock");
    group.sample_size(10);
    group.bench_function("argon2id_64MiB_t3_passphrase_to_key", |b| {
        b.iter(|| black_box(kdf.derive(b"correct horse battery staple").expect("derive")))
    });
    group.finish();
}

criterion_group!(benches, codes, vault, unlock);
criterion_main!(benches);
