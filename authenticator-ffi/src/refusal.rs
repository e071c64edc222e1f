//! The portal's refusals of a device request (`{"error": code, "message": ...}` with its HTTP
//! status), read here once for both apps: the protocol's code, and a sentence for the user
//! that says what to do.

use assent_protocol::{ErrorCode, ErrorResponse};

/// A protocol error code, as the portal sends it.
#[uniffi::remote(Enum)]
pub enum ErrorCode {
    /// The body is not a well-formed message of the endpoint's type.
    Malformed,
    /// The body is over the endpoint's size limit.
    TooLarge,
    /// The message's version is not supported.
    UnsupportedVersion,
    /// The signature does not verify.
    BadSignature,
    /// The device's clock is too far from the portal's.
    ClockSkew,
    /// A nonce seen before.
    Replay,
    /// The device is not (or no longer) registered: it was replaced or removed.
    UnknownDevice,
    /// No pending request with that id for this device.
    UnknownChallenge,
    /// The request expired.
    Expired,
    /// The request already has an answer.
    AlreadyAnswered,
    /// The typed number is wrong; the request is consumed.
    WrongNumber,
    /// Approval without the required user verification.
    UserVerificationRequired,
    /// The enrollment token is unknown.
    EnrollmentUnknown,
    /// The enrollment token expired.
    EnrollmentExpired,
    /// The enrollment token was already used.
    EnrollmentUsed,
    /// The registration pinned another portal key.
    WrongPortalKey,
    /// Too many requests.
    RateLimited,
    /// The portal failed.
    Internal,
}

/// Why the portal refused a request, for the app to act on and show.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PortalRefusal {
    /// The HTTP status.
    pub status: u16,
    /// The protocol's code; `None` when the body is not the portal's error JSON (a proxy's
    /// page, an older portal).
    pub code: Option<ErrorCode>,
    /// A sentence for the user.
    pub message: String,
}

/// Reads the portal's answer to a device request that did not succeed: `status` (not 2xx) and
/// its `body`. Never fails: an unreadable body gives `code: None` and a general sentence.
#[uniffi::export]
pub fn portal_refusal(status: u16, body: String) -> PortalRefusal {
    let code = serde_json::from_str::<ErrorResponse>(&body)
        .ok()
        .map(|r| r.error);
    PortalRefusal {
        status,
        code,
        message: message(code, status).to_owned(),
    }
}

/// The sentence the apps show for a refusal.
fn message(code: Option<ErrorCode>, status: u16) -> &'static str {
    use ErrorCode::*;
    match code {
        Some(Expired) => {
            "This sign-in request expired. Nothing was approved; sign in again for a new request."
        }
        Some(AlreadyAnswered) => "This sign-in request was already answered.",
        Some(WrongNumber) => {
            "That number does not match the sign-in page. The request was refused; sign in again."
        }
        Some(UnknownChallenge) => "This sign-in request is no longer open.",
        Some(UserVerificationRequired) => {
            "This sign-in needs your fingerprint, face or screen lock first."
        }
        Some(UnknownDevice) => {
            "This phone no longer approves sign-ins for this account. Enroll it again."
        }
        Some(ClockSkew) => "The phone's clock is wrong. Set the time automatically and try again.",
        Some(EnrollmentExpired | EnrollmentUsed | EnrollmentUnknown) => {
            "This enrollment code is no longer valid. Ask the sign-in page for a new one."
        }
        Some(RateLimited) => "Too many requests. Wait a moment and try again.",
        Some(WrongPortalKey) => {
            "This enrollment code does not belong to this sign-in service. Ask for a new one."
        }
        Some(Internal) => "The sign-in service failed. Try again later.",
        Some(Malformed | TooLarge | UnsupportedVersion | BadSignature | Replay) => {
            "The sign-in service could not read the request. Update Assent and try again."
        }
        None if status == 429 => "Too many requests. Wait a moment and try again.",
        None if status >= 500 => "The sign-in service is not working right now. Try again later.",
        None => "The sign-in service refused the request. Try again later.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portals_error_bodies_give_their_code_and_a_sentence() {
        let r = portal_refusal(
            410,
            r#"{"error":"expired","message":"challenge expired"}"#.into(),
        );
        assert_eq!((r.status, r.code), (410, Some(ErrorCode::Expired)));
        assert!(r.message.starts_with("This sign-in request expired."));
        let r = portal_refusal(401, r#"{"error":"unknown_device","message":"x"}"#.into());
        assert_eq!(r.code, Some(ErrorCode::UnknownDevice));
    }

    #[test]
    fn other_bodies_give_no_code_and_a_general_sentence() {
        for (status, body) in [
            (502, "<html>Bad gateway</html>"),
            (400, r#"{"error":"a_code_from_the_future","message":"x"}"#),
            (429, ""),
        ] {
            let r = portal_refusal(status, body.into());
            assert_eq!(r.code, None, "{body}");
            assert!(r.message.ends_with('.'), "{}", r.message);
        }
        assert!(
            portal_refusal(503, String::new())
                .message
                .contains("not working")
        );
    }

    #[test]
    fn every_code_has_a_sentence() {
        for code in [
            ErrorCode::Malformed,
            ErrorCode::TooLarge,
            ErrorCode::UnsupportedVersion,
            ErrorCode::BadSignature,
            ErrorCode::ClockSkew,
            ErrorCode::Replay,
            ErrorCode::UnknownDevice,
            ErrorCode::UnknownChallenge,
            ErrorCode::Expired,
            ErrorCode::AlreadyAnswered,
            ErrorCode::WrongNumber,
            ErrorCode::UserVerificationRequired,
            ErrorCode::EnrollmentUnknown,
            ErrorCode::EnrollmentExpired,
            ErrorCode::EnrollmentUsed,
            ErrorCode::WrongPortalKey,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
        ] {
            let text = message(Some(code), code.status());
            assert!(text.ends_with('.') && text.len() > 20, "{code:?}: {text}");
        }
    }
}
