//! What the portal's integration tests share: TOTP codes as an authenticator app shows them,
//! and a user enrolled with one.

#![allow(dead_code, reason = "each test file uses its own part")]

use portal::Portal;

/// A TOTP code of `secret` for the time `at`, as an authenticator app shows it.
pub fn totp_code(secret: &[u8], at: u64) -> String {
    use authenticator_core::{Algorithm, OtpParams, SecretBytes};
    OtpParams::totp(Algorithm::Sha1, 6, 30)
        .unwrap()
        .code(&SecretBytes::new(secret.to_vec()), at)
        .value
}

/// Enrolls `name` with a third-party TOTP app (its first code used up); returns the secret.
pub fn enroll_totp(p: &Portal, name: &str) -> Vec<u8> {
    let user = p.user(name).unwrap();
    let (enrollment, _) = p.start_enrollment(&user).unwrap();
    let code = totp_code(&enrollment.totp_secret, p.now());
    assert!(
        p.confirm_totp_enrollment(&user, &enrollment.token, &code, "10.0.0.1")
            .unwrap()
    );
    enrollment.totp_secret
}
