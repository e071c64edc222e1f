//! The protocol's hot paths. Target: a device opens a challenge and signs its answer in
//! ≤ 0.5 ms (software keys; a Secure Enclave signature adds its own latency).

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use assent_protocol::answer::{build_answer, verify_answer};
use assent_protocol::challenge::{build_challenge_with, open_challenge};
use assent_protocol::*;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const NOW: u64 = 1_800_000_000;

fn content() -> ChallengeContent {
    ChallengeContent {
        purpose: Purpose::Login,
        context: LoginContext {
            user: "alice@example.com".into(),
            application: "Payroll".into(),
            ip: Some("203.0.113.7".into()),
            location: Some("Lyon, France".into()),
            browser: Some("Firefox 140".into()),
            os: Some("Linux".into()),
        },
        number_matching: Some(NumberMatching { digits: 2 }),
        user_verification: UserVerification::Required,
    }
}

fn benches(c: &mut Criterion) {
    let (Some(portal), Some(device)) = (
        SoftwareSigner::from_bytes(&[0x11; 32]),
        SoftwareSigner::from_bytes(&[0x22; 32]),
    ) else {
        return;
    };
    let device_key = EncryptionKey::derive(&[0x33; 32]);
    let device_id = device.public_key().thumbprint();
    let pinned = portal.public_key();
    let approve = Response::Approve {
        number: Some("47".into()),
        user_verified: true,
    };
    let Ok(built) = build_challenge_with(
        &portal,
        &device_id,
        device_key.public_key(),
        &content(),
        NOW,
        [7; 16],
        &[8; 32],
    ) else {
        return;
    };
    let Ok(challenge) = open_challenge(&built.jws, &pinned, &device_key, &device_id, NOW) else {
        return;
    };
    let Ok(answer) = build_answer(&device, &challenge, &approve, NOW + 5) else {
        return;
    };
    let pending = PendingChallenge {
        id: built.id.clone(),
        device_id: device_id.clone(),
        device_signing_key: device.public_key(),
        challenge_hash: built.hash(),
        exp: built.exp,
        expected_number: Some("47".into()),
        user_verification: UserVerification::Required,
        answered: false,
    };

    c.bench_function("device: open challenge + sign answer", |b| {
        b.iter(|| {
            let challenge =
                open_challenge(black_box(&built.jws), &pinned, &device_key, &device_id, NOW);
            challenge.map(|c| build_answer(&device, &c, &approve, NOW + 5))
        })
    });
    c.bench_function("device: open challenge", |b| {
        b.iter(|| open_challenge(black_box(&built.jws), &pinned, &device_key, &device_id, NOW))
    });
    let mut rng = system_rng();
    c.bench_function("portal: build challenge", |b| {
        b.iter(|| {
            assent_protocol::challenge::build_challenge(
                &portal,
                &device_id,
                device_key.public_key(),
                black_box(&content()),
                NOW,
                &mut rng,
            )
        })
    });
    let Some(ring_portal) = assent_protocol::RingSigner::new(&portal) else {
        return;
    };
    c.bench_function("portal: build challenge, signed through ring", |b| {
        b.iter(|| {
            assent_protocol::challenge::build_challenge(
                &ring_portal,
                &device_id,
                device_key.public_key(),
                black_box(&content()),
                NOW,
                &mut rng,
            )
        })
    });
    c.bench_function("portal: verify answer", |b| {
        b.iter(|| verify_answer(black_box(&answer), &pending, NOW + 5))
    });
}

criterion_group!(protocol, benches);
criterion_main!(protocol);
