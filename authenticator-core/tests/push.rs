//! The device side of push against the protocol crate's portal side: enrollment from one QR,
//! registration, activation, login challenges answered once, pull, token update, platform
//! signing, and the refusals.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::sync::Mutex;

use assent_protocol::answer::verify_answer;
use assent_protocol::poll::{verify_poll, verify_push_token_update};
use assent_protocol::signer::SignerError;
use assent_protocol::{
    AnswerError, DenyReason, PendingChallenge, Platform, Purpose, PushConfig, Registration,
    Response, Signer, SoftwareSigner, Transport,
};
use assent_test_portal::TestPortal;
use authenticator_core::push::{DeviceInfo, KeyChoice, PlatformSigner, PushError, PushState};
use authenticator_core::seal::{Unlock, VaultKey};
use authenticator_core::vault::Vault;

const NOW: u64 = 1_800_000_000;

/// The in-memory portal side, with this file's fixed clock and number.
struct Portal(TestPortal);

impl Portal {
    fn new() -> Self {
        Self(TestPortal::new())
    }

    fn qr(&self) -> String {
        self.0.qr(NOW)
    }

    fn verify_registration(&self, body: &str) -> Registration {
        self.0.verify_registration(body, NOW).unwrap()
    }

    /// A challenge; with number matching the number to type is 42.
    fn challenge(
        &self,
        device: &Registration,
        purpose: Purpose,
        digits: Option<u8>,
        now: u64,
    ) -> (String, PendingChallenge) {
        self.0
            .challenge(device, purpose, digits, Some("42".to_owned()), now)
    }
}

fn device() -> DeviceInfo {
    DeviceInfo {
        platform: Platform::Desktop,
        name: "test laptop".into(),
        push: Some(PushConfig {
            transport: Transport::Direct,
            token: "direct-token-1".into(),
            environment: None,
            topic: None,
        }),
    }
}

fn vault(dir: &tempfile::TempDir) -> Vault {
    Vault::create_with_key(
        &dir.path().join("vault.json"),
        VaultKey::from_bytes([3; 32]),
    )
    .unwrap()
}

/// Enrolls and activates; returns the portal's view of the device.
fn enroll(
    vault: &mut Vault,
    portal: &Portal,
    key: KeyChoice<'_>,
    signer: Option<&dyn PlatformSigner>,
) -> Registration {
    let mut rng = assent_protocol::system_rng();
    let enrolled = vault
        .enroll(&portal.qr(), device(), key, NOW, &mut rng)
        .unwrap();
    assert_eq!(
        enrolled.request.url,
        "https://portal.acme.test/assent/v1/register"
    );
    assert_eq!(enrolled.request.content_type, "application/jose");
    let registration = portal.verify_registration(&enrolled.request.body);
    assert_eq!(registration.device_id, enrolled.device_id);
    assert_eq!(vault.push_accounts()[0].state, PushState::Registering);

    let (activation, pending) = portal.challenge(&registration, Purpose::Activate, None, NOW);
    let response =
        serde_json::json!({ "device_id": registration.device_id, "challenge": activation })
            .to_string();
    let answer = vault
        .activate(&enrolled.device_id, &response, NOW + 1, signer)
        .unwrap();
    assert_eq!(answer.url, "https://portal.acme.test/assent/v1/answers");
    verify_answer(&answer.body, &pending, NOW + 1).unwrap();
    assert_eq!(vault.push_accounts()[0].state, PushState::Active);
    registration
}

#[test]
fn one_qr_gives_totp_and_push_and_a_login_is_approved_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let registration = enroll(&mut vault, &portal, KeyChoice::Software, None);

    // The same QR gave a working TOTP account (RFC 6238's first SHA1 vector, 6 digits).
    assert_eq!(vault.entries().len(), 1);
    assert_eq!(vault.entries()[0].account.code(59).value, "287082");

    let (jws, pending) = portal.challenge(&registration, Purpose::Login, Some(2), NOW + 10);
    let challenge = vault.open_challenge(&jws, NOW + 11).unwrap();
    assert_eq!(challenge.content.context.application, "Acme Mail");
    assert_eq!(challenge.content.number_matching.unwrap().digits, 2);
    let approve = Response::Approve {
        number: Some("42".into()),
        user_verified: true,
    };
    let answer = vault.answer(&challenge, &approve, NOW + 12, None).unwrap();
    let verified = verify_answer(&answer.body, &pending, NOW + 12).unwrap();
    assert_eq!(verified.challenge, pending.id);

    // Never twice, not even after the vault was saved and reopened.
    assert!(matches!(
        vault.answer(&challenge, &approve, NOW + 13, None),
        Err(PushError::AlreadyAnswered)
    ));
    vault.save().unwrap();
    let mut reopened = Vault::open(
        &dir.path().join("vault.json"),
        Unlock::Key(&VaultKey::from_bytes([3; 32])),
    )
    .unwrap();
    assert!(matches!(
        reopened.open_challenge(&jws, NOW + 14),
        Err(PushError::AlreadyAnswered)
    ));
    assert!(matches!(
        reopened.answer(&challenge, &approve, NOW + 14, None),
        Err(PushError::AlreadyAnswered)
    ));
}

#[test]
fn deny_not_me_wrong_number_and_late_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let registration = enroll(&mut vault, &portal, KeyChoice::Software, None);

    let (jws, pending) = portal.challenge(&registration, Purpose::Login, Some(2), NOW);
    let challenge = vault.open_challenge(&jws, NOW + 1).unwrap();
    let deny = Response::Deny {
        reason: Some(DenyReason::NotMe),
        user_verified: false,
    };
    let answer = vault.answer(&challenge, &deny, NOW + 2, None).unwrap();
    let verified = verify_answer(&answer.body, &pending, NOW + 2).unwrap();
    assert!(format!("{verified:?}").contains("NotMe"), "{verified:?}");

    let (jws, pending) = portal.challenge(&registration, Purpose::Login, Some(2), NOW);
    let challenge = vault.open_challenge(&jws, NOW + 1).unwrap();
    let wrong = Response::Approve {
        number: Some("17".into()),
        user_verified: true,
    };
    let answer = vault.answer(&challenge, &wrong, NOW + 2, None).unwrap();
    assert!(matches!(
        verify_answer(&answer.body, &pending, NOW + 2),
        Err(AnswerError::WrongNumber)
    ));

    // Past exp + the stated skew the device refuses to open or answer.
    let (jws, _) = portal.challenge(&registration, Purpose::Login, None, NOW);
    let late = NOW + 60 + assent_protocol::CLOCK_SKEW + 1;
    assert!(matches!(
        vault.open_challenge(&jws, late),
        Err(PushError::Expired)
    ));
    let challenge = vault.open_challenge(&jws, NOW + 1).unwrap();
    let approve = Response::Approve {
        number: None,
        user_verified: false,
    };
    assert!(matches!(
        vault.answer(&challenge, &approve, late, None),
        Err(PushError::Expired)
    ));
}

#[test]
fn challenges_from_another_portal_key_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let registration = enroll(&mut vault, &portal, KeyChoice::Software, None);
    let impostor = Portal::new();
    let (jws, _) = impostor.challenge(&registration, Purpose::Login, None, NOW);
    assert!(matches!(
        vault.open_challenge(&jws, NOW + 1),
        Err(PushError::UnknownChallenge)
    ));
    // An activation never arrives as a push.
    let (jws, _) = portal.challenge(&registration, Purpose::Activate, None, NOW);
    assert!(vault.open_challenge(&jws, NOW + 1).is_err());
    // Garbage is a typed refusal, not a panic.
    assert!(vault.open_challenge("a.b.c", NOW).is_err());
    assert!(vault.open_challenge("", NOW).is_err());
}

#[test]
fn poll_and_push_token_update_are_signed_by_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let registration = enroll(&mut vault, &portal, KeyChoice::Software, None);
    let mut rng = assent_protocol::system_rng();
    let poll = vault
        .poll_request(&registration.device_id, NOW, None, &mut rng)
        .unwrap();
    assert_eq!(poll.url, "https://portal.acme.test/assent/v1/pending");
    verify_poll(
        &poll.body,
        &registration.device_id,
        &registration.signing_key,
        NOW,
    )
    .unwrap();

    let new_push = PushConfig {
        transport: Transport::Direct,
        token: "direct-token-2".into(),
        environment: None,
        topic: None,
    };
    let update = vault
        .push_token_update(
            &registration.device_id,
            new_push.clone(),
            NOW,
            None,
            &mut rng,
        )
        .unwrap();
    let verified = verify_push_token_update(
        &update.body,
        &registration.device_id,
        &registration.signing_key,
        NOW,
    )
    .unwrap();
    assert_eq!(verified.push, new_push);
    assert_eq!(vault.push_accounts()[0].device.push, Some(new_push));
}

#[test]
fn plain_and_expired_qrs_are_refused_without_changing_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let mut rng = assent_protocol::system_rng();
    let plain = "otpauth://totp/Acme:bob?secret=JBSWY3DPEHPK3PXP&issuer=Acme";
    assert!(matches!(
        vault.enroll(plain, device(), KeyChoice::Software, NOW, &mut rng),
        Err(PushError::NoPushEnrollment)
    ));
    let portal = Portal::new();
    assert!(matches!(
        vault.enroll(
            &portal.qr(),
            device(),
            KeyChoice::Software,
            NOW + 3600,
            &mut rng
        ),
        Err(PushError::Enrollment(_))
    ));
    assert!(vault.entries().is_empty() && vault.push_accounts().is_empty());
}

#[test]
fn re_enrolling_with_the_same_portal_replaces_the_push_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let first = enroll(&mut vault, &portal, KeyChoice::Software, None);
    let second = enroll(&mut vault, &portal, KeyChoice::Software, None);
    assert_ne!(first.device_id, second.device_id);
    assert_eq!(vault.push_accounts().len(), 1);
    assert_eq!(vault.push_accounts()[0].device_id, second.device_id);
    assert_eq!(
        vault.entries().len(),
        1,
        "the TOTP account is not duplicated"
    );
}

/// After a help-desk reset the portal's new QR brings a new TOTP secret for the same user:
/// enrolling from it replaces the secret of the account the earlier enrollment brought (same
/// id, same place), instead of adding a look-alike whose codes the portal no longer accepts.
#[test]
fn re_enrolling_with_a_new_secret_replaces_the_old_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    enroll(&mut vault, &portal, KeyChoice::Software, None);
    let before = vault.entries()[0].clone();

    let qr = portal.qr();
    let (head, rest) = qr.split_once("secret=").unwrap();
    let (_, tail) = rest.split_once('&').unwrap();
    let new_qr = format!("{head}secret=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U&{tail}");
    let mut rng = assent_protocol::system_rng();
    let enrolled = vault
        .enroll(&new_qr, device(), KeyChoice::Software, NOW, &mut rng)
        .unwrap();
    assert!(enrolled.replaced_codes);
    assert_eq!(vault.entries().len(), 1, "no look-alike left behind");
    let after = &vault.entries()[0];
    assert_eq!(after.id, before.id, "the same account, in the same place");
    assert_eq!(enrolled.account_id, before.id);
    let expected = authenticator_core::uri::parse(&new_qr).unwrap();
    assert!(
        after.account.same_codes_as(&expected),
        "the new secret's codes"
    );
    assert!(!after.account.same_codes_as(&before.account));

    // The same QR again changes no codes.
    let again = vault
        .enroll(&new_qr, device(), KeyChoice::Software, NOW, &mut rng)
        .unwrap();
    assert!(!again.replaced_codes);
    assert_eq!(vault.entries().len(), 1);
}

/// A stand-in for the Secure Enclave: keys held outside the vault, addressed by alias.
#[derive(Default)]
struct Enclave {
    keys: Mutex<Vec<(String, SoftwareSigner)>>,
}

impl PlatformSigner for Enclave {
    fn create_key(&self, alias: &str) -> Result<Vec<u8>, SignerError> {
        let key = SoftwareSigner::generate(&mut assent_protocol::system_rng());
        let public = key.public_key().to_sec1_uncompressed();
        self.keys.lock().unwrap().push((alias.to_owned(), key));
        Ok(public)
    }

    /// DER with a high `s`, as a platform may return it: the core converts and normalizes.
    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let keys = self.keys.lock().unwrap();
        let (_, key) = keys
            .iter()
            .find(|(a, _)| a == alias)
            .ok_or_else(|| SignerError::Platform("no such key".into()))?;
        let raw = p256::ecdsa::Signature::from_slice(&key.sign(message)?).unwrap();
        let (r, s) = raw.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        Ok(high.to_der().as_bytes().to_vec())
    }
}

#[test]
fn a_platform_signer_holds_the_device_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let enclave = Enclave::default();
    let registration = enroll(
        &mut vault,
        &portal,
        KeyChoice::Platform(&enclave),
        Some(&enclave),
    );
    let (jws, pending) = portal.challenge(&registration, Purpose::Login, None, NOW);
    let challenge = vault.open_challenge(&jws, NOW + 1).unwrap();
    let approve = Response::Approve {
        number: None,
        user_verified: true,
    };
    assert!(matches!(
        vault.answer(&challenge, &approve, NOW + 2, None),
        Err(PushError::PlatformSignerMissing)
    ));
    let answer = vault
        .answer(&challenge, &approve, NOW + 2, Some(&enclave))
        .unwrap();
    verify_answer(&answer.body, &pending, NOW + 2).unwrap();
    // The vault file holds no signing key for a platform enrollment.
    vault.save().unwrap();
    let stored = Vault::open(
        &dir.path().join("vault.json"),
        Unlock::Key(&VaultKey::from_bytes([3; 32])),
    )
    .unwrap();
    assert_eq!(stored.push_accounts().len(), 1);
}

#[test]
fn received_challenges_stay_open_until_answered_and_show_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let registration = enroll(&mut vault, &portal, KeyChoice::Software, None);
    let (jws, pending) = portal.challenge(&registration, Purpose::Login, Some(2), NOW);

    // By push and by poll: the same request is open once.
    let first = vault.receive(&jws, NOW + 1).unwrap();
    assert!(first.first_time);
    assert!(!vault.receive(&jws, NOW + 2).unwrap().first_time);
    assert_eq!(vault.opened(NOW + 2).len(), 1);

    let approve = Response::Approve {
        number: Some("42".into()),
        user_verified: false,
    };
    let request = vault
        .answer_opened(&first.challenge.id, &approve, NOW + 3, None)
        .unwrap();
    verify_answer(&request.body, &pending, NOW + 3).unwrap();
    assert!(vault.opened(NOW + 3).is_empty());
    assert!(matches!(
        vault.answer_opened(&first.challenge.id, &approve, NOW + 4, None),
        Err(PushError::NotOpened)
    ));
    assert!(matches!(
        vault.receive(&jws, NOW + 4),
        Err(PushError::AlreadyAnswered)
    ));

    // Unanswered ones are forgotten once they can no longer be answered.
    let (late, _) = portal.challenge(&registration, Purpose::StepUp, None, NOW);
    vault.receive(&late, NOW + 5).unwrap();
    let after = NOW + 60 + assent_protocol::CLOCK_SKEW + 1;
    assert!(vault.opened(after).is_empty());
}

#[test]
fn a_challenge_is_peeked_from_the_file_without_writing_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let registration = enroll(&mut vault, &portal, KeyChoice::Software, None);
    vault.save().unwrap();
    let path = dir.path().join("vault.json");
    let before = std::fs::read(&path).unwrap();
    let (jws, _) = portal.challenge(&registration, Purpose::Login, Some(2), NOW);
    let key = VaultKey::from_bytes([3; 32]);
    let (challenge, label) = Vault::peek_challenge(&path, &key, &jws, NOW + 1).unwrap();
    assert_eq!(challenge.content.purpose, Purpose::Login);
    assert_eq!(label, vault.push_accounts()[0].label);
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");

    // Refusals are the ones a full open gives.
    assert!(matches!(
        Vault::peek_challenge(&path, &VaultKey::from_bytes([4; 32]), &jws, NOW + 1),
        Err(PushError::Vault(_))
    ));
    assert!(matches!(
        Vault::peek_challenge(&path, &key, &jws, NOW + 600),
        Err(PushError::Expired)
    ));
    let (activation, _) = portal.challenge(&registration, Purpose::Activate, None, NOW);
    assert!(matches!(
        Vault::peek_challenge(&path, &key, &activation, NOW + 1),
        Err(PushError::NotARequest)
    ));
}

#[test]
fn a_broken_registration_response_is_the_portals_fault() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let mut rng = assent_protocol::system_rng();
    let enrolled = vault
        .enroll(&portal.qr(), device(), KeyChoice::Software, NOW, &mut rng)
        .unwrap();
    for body in [
        "not json".to_owned(),
        serde_json::json!({ "device_id": "someone-else", "challenge": "x.y.z" }).to_string(),
    ] {
        assert!(
            matches!(
                vault.activate(&enrolled.device_id, &body, NOW, None),
                Err(PushError::PortalReply(_))
            ),
            "{body}"
        );
    }
    assert_eq!(vault.push_accounts()[0].state, PushState::Registering);
}

#[test]
fn deleting_an_account_that_approves_sign_ins_needs_confirmation_and_retires_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let registration = enroll(&mut vault, &portal, KeyChoice::Software, None);
    let plain = vault
        .add(
            authenticator_core::uri::parse("otpauth://totp/Other:bob?secret=JBSWY3DPEHPK3PXP")
                .unwrap(),
        )
        .unwrap();
    let linked = vault.entries()[0].id.clone();
    assert_eq!(
        vault.push_account_for(&linked).map(|p| p.device_id.clone()),
        Some(registration.device_id.clone())
    );
    assert!(vault.push_account_for(&plain).is_none());

    assert!(matches!(
        vault.delete_account(&linked, false),
        Err(PushError::AlsoPushEnrollment(label)) if label == vault.push_accounts()[0].label
    ));
    assert_eq!((vault.entries().len(), vault.push_accounts().len()), (2, 1));

    assert_eq!(vault.delete_account(&plain, false).unwrap(), None);
    assert_eq!(
        vault.delete_account(&linked, true).unwrap(),
        Some(registration.device_id.clone())
    );
    assert!(vault.entries().is_empty() && vault.push_accounts().is_empty());
    let (jws, _) = portal.challenge(&registration, Purpose::Login, None, NOW);
    assert!(matches!(
        vault.open_challenge(&jws, NOW),
        Err(PushError::UnknownChallenge)
    ));
}

#[test]
fn a_poll_answer_opens_what_is_pending_and_leaves_out_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = vault(&dir);
    let portal = Portal::new();
    let registration = enroll(&mut vault, &portal, KeyChoice::Software, None);
    let (answered, _) = portal.challenge(&registration, Purpose::Login, None, NOW);
    let opened = vault.receive(&answered, NOW).unwrap().challenge;
    let deny = Response::Deny {
        reason: None,
        user_verified: false,
    };
    vault.answer_opened(&opened.id, &deny, NOW, None).unwrap();
    let (pending, _) = portal.challenge(&registration, Purpose::StepUp, None, NOW);
    let (foreign, _) = Portal::new().challenge(&registration, Purpose::Login, None, NOW);
    let body = serde_json::json!({ "challenges": [answered, pending, foreign] }).to_string();

    let polled = vault.receive_pending(&body, NOW + 1).unwrap();
    assert_eq!(polled.challenges.len(), 1);
    assert_eq!(polled.challenges[0].content.purpose, Purpose::StepUp);
    assert_eq!(polled.refused.len(), 1, "{:?}", polled.refused);
    assert_eq!(vault.opened(NOW + 1).len(), 1, "kept open for the answer");
    assert!(matches!(
        vault.receive_pending("<html>502 Bad Gateway</html>", NOW),
        Err(PushError::PortalReply(_))
    ));
}
