//! The protocol crate's portal side in memory, for tests of the device: one portal key, one
//! enrollment token, the one QR, registration checks and challenges for a fixed user. The real
//! portal (`portal/`) is tested end to end in tests/e2e; this serves the tests that need no
//! server (authenticator-core's) and the bindings' line-protocol tool.

#![allow(
    clippy::expect_used,
    reason = "a test helper: fixed inputs that cannot fail unless the protocol crate is broken"
)]

use assent_protocol::challenge::build_challenge;
use assent_protocol::registration::{RegistrationError, verify_registration};
use assent_protocol::{
    ChallengeContent, EnrollmentToken, LoginContext, NumberMatching, PendingChallenge, Purpose,
    PushEnrollment, Registration, Signer, SoftwareSigner, TokenState, UserVerification,
};
use authenticator_core::{Account, Algorithm, OtpParams, SecretBytes, uri};

/// The user every test enrolls.
pub const USER: &str = "alice@acme.test";
/// The TOTP secret in the QR (RFC 6238's test secret).
pub const TOTP_SECRET: &[u8] = b"12345678901234567890";
/// How long the enrollment token is valid after the time given to [`TestPortal::qr`].
pub const ENROLLMENT_SECONDS: u64 = 600;

/// A portal with a fresh key and enrollment token.
pub struct TestPortal {
    /// The portal's signing key (devices pin its thumbprint).
    pub key: SoftwareSigner,
    /// The one-time enrollment token in the QR.
    pub token: EnrollmentToken,
}

impl Default for TestPortal {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPortal {
    /// A new portal.
    pub fn new() -> Self {
        let mut rng = assent_protocol::system_rng();
        Self {
            key: SoftwareSigner::generate(&mut rng),
            token: EnrollmentToken::generate(&mut rng),
        }
    }

    /// The key id devices pin.
    pub fn key_id(&self) -> String {
        self.key.public_key().thumbprint()
    }

    /// The one QR: a standard TOTP account plus the push enrollment parameters, valid for
    /// [`ENROLLMENT_SECONDS`] after `now`.
    pub fn qr(&self, now: u64) -> String {
        let account = Account {
            issuer: "Acme".into(),
            name: USER.into(),
            otp: OtpParams::totp(Algorithm::Sha1, 6, 30).expect("valid TOTP parameters"),
            secret: SecretBytes::new(TOTP_SECRET.to_vec()),
            image: None,
        };
        let enrollment = PushEnrollment {
            portal_url: "https://portal.acme.test".into(),
            token: self.token.clone(),
            portal_key: self.key.public_key(),
            expires_at: now + ENROLLMENT_SECONDS,
        };
        let params = enrollment.to_params();
        let extra: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        uri::to_uri_with(&account, &extra).to_string()
    }

    /// Checks a registration as the portal does: signature, pinned key, and this portal's
    /// token (valid for [`ENROLLMENT_SECONDS`] after `now`).
    pub fn verify_registration(
        &self,
        body: &str,
        now: u64,
    ) -> Result<Registration, RegistrationError> {
        let token = self.token.expose().to_owned();
        verify_registration(body, &self.key_id(), now, |t| {
            if t == token {
                TokenState::Valid {
                    expires_at: now + ENROLLMENT_SECONDS,
                }
            } else {
                TokenState::Unknown
            }
        })
    }

    /// A challenge for `device` issued at `now`, with what the portal keeps to check the answer.
    /// With `digits`, the number the user must type is `number` (the portal shows it).
    pub fn challenge(
        &self,
        device: &Registration,
        purpose: Purpose,
        digits: Option<u8>,
        number: Option<String>,
        now: u64,
    ) -> (String, PendingChallenge) {
        let content = ChallengeContent {
            purpose,
            context: LoginContext {
                user: USER.into(),
                application: "Acme Mail".into(),
                ip: Some("203.0.113.7".into()),
                location: Some("Lyon, FR".into()),
                browser: Some("Firefox".into()),
                os: Some("Linux".into()),
            },
            number_matching: digits.map(|digits| NumberMatching { digits }),
            user_verification: UserVerification::Preferred,
        };
        let built = build_challenge(
            &self.key,
            &device.device_id,
            &device.encryption_key,
            &content,
            now,
            &mut assent_protocol::system_rng(),
        )
        .expect("a well-formed challenge");
        let pending = PendingChallenge {
            id: built.id.clone(),
            device_id: device.device_id.clone(),
            device_signing_key: device.signing_key.clone(),
            challenge_hash: built.hash(),
            exp: built.exp,
            expected_number: digits.and(number),
            user_verification: UserVerification::Preferred,
            answered: false,
        };
        (built.jws, pending)
    }
}
