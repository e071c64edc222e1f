//! The portal's error bodies for device endpoints: `{"error":"<code>","message":"..."}`, each
//! code with a fixed HTTP status. The code is for programs; the message is for logs and may
//! change.

use serde::{Deserialize, Serialize};

use crate::answer::AnswerError;
use crate::poll::PollError;
use crate::registration::RegistrationError;

/// A machine-readable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not a well-formed message of the endpoint's type.
    Malformed,
    /// 413: the body is over the endpoint's size limit.
    TooLarge,
    /// 400: the message's `v` is not supported.
    UnsupportedVersion,
    /// 401: the signature does not verify.
    BadSignature,
    /// 401: `iat` too far from the portal's clock; the device should check its clock.
    ClockSkew,
    /// 409: a poll or push-token nonce seen before.
    Replay,
    /// 401: the signing device is not (or no longer) registered; the device should tell the
    /// user it was replaced and offer to enroll again.
    UnknownDevice,
    /// 404: no pending challenge with that id for this device.
    UnknownChallenge,
    /// 410: the challenge expired.
    Expired,
    /// 409: the challenge already has an answer.
    AlreadyAnswered,
    /// 403: the typed number is wrong; the challenge is consumed.
    WrongNumber,
    /// 403: approval without the required user verification.
    UserVerificationRequired,
    /// 404: the enrollment token is unknown.
    EnrollmentUnknown,
    /// 410: the enrollment token expired; the user needs a new QR.
    EnrollmentExpired,
    /// 409: the enrollment token was already used.
    EnrollmentUsed,
    /// 400: the registration pinned another portal key.
    WrongPortalKey,
    /// 429: too many requests; retry after the `Retry-After` header.
    RateLimited,
    /// 500: the portal failed; retry later.
    Internal,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            Self::Malformed | Self::UnsupportedVersion | Self::WrongPortalKey => 400,
            Self::BadSignature | Self::ClockSkew | Self::UnknownDevice => 401,
            Self::WrongNumber | Self::UserVerificationRequired => 403,
            Self::UnknownChallenge | Self::EnrollmentUnknown => 404,
            Self::Replay | Self::AlreadyAnswered | Self::EnrollmentUsed => 409,
            Self::Expired | Self::EnrollmentExpired => 410,
            Self::TooLarge => 413,
            Self::RateLimited => 429,
            Self::Internal => 500,
        }
    }
}

/// The JSON error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The code.
    pub error: ErrorCode,
    /// A human-readable explanation, for logs.
    pub message: String,
}

impl ErrorResponse {
    /// A body with the code's error message.
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
        }
    }
}

impl From<&AnswerError> for ErrorCode {
    fn from(error: &AnswerError) -> Self {
        match error {
            AnswerError::TooLarge => Self::TooLarge,
            AnswerError::Malformed(_) | AnswerError::Invalid(_) | AnswerError::Signer(_) => {
                Self::Malformed
            }
            AnswerError::BadSignature => Self::BadSignature,
            AnswerError::UnsupportedVersion(_) => Self::UnsupportedVersion,
            AnswerError::WrongDevice => Self::UnknownDevice,
            AnswerError::WrongChallenge => Self::UnknownChallenge,
            AnswerError::Expired { .. } => Self::Expired,
            AnswerError::AlreadyAnswered => Self::AlreadyAnswered,
            AnswerError::WrongNumber => Self::WrongNumber,
            AnswerError::MissingUserVerification => Self::UserVerificationRequired,
            AnswerError::ClockSkew { .. } => Self::ClockSkew,
        }
    }
}

impl From<&PollError> for ErrorCode {
    fn from(error: &PollError) -> Self {
        match error {
            PollError::TooLarge => Self::TooLarge,
            PollError::Malformed(_) | PollError::Invalid(_) | PollError::Signer(_) => {
                Self::Malformed
            }
            PollError::BadSignature => Self::BadSignature,
            PollError::UnsupportedVersion(_) => Self::UnsupportedVersion,
            PollError::WrongDevice => Self::UnknownDevice,
            PollError::ClockSkew { .. } => Self::ClockSkew,
        }
    }
}

impl From<&RegistrationError> for ErrorCode {
    fn from(error: &RegistrationError) -> Self {
        match error {
            RegistrationError::TooLarge => Self::TooLarge,
            RegistrationError::Malformed(_)
            | RegistrationError::Invalid(_)
            | RegistrationError::KeyMismatch
            | RegistrationError::SameKey
            | RegistrationError::Signer(_) => Self::Malformed,
            RegistrationError::BadSignature => Self::BadSignature,
            RegistrationError::UnsupportedVersion(_) => Self::UnsupportedVersion,
            RegistrationError::WrongPortalKey => Self::WrongPortalKey,
            RegistrationError::ClockSkew { .. } => Self::ClockSkew,
            RegistrationError::UnknownToken => Self::EnrollmentUnknown,
            RegistrationError::TokenUsed => Self::EnrollmentUsed,
            RegistrationError::TokenExpired => Self::EnrollmentExpired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_and_statuses() {
        let body = ErrorResponse::new(ErrorCode::AlreadyAnswered, "challenge already answered");
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":"already_answered","message":"challenge already answered"}"#
        );
        assert_eq!(ErrorCode::AlreadyAnswered.status(), 409);
        assert_eq!(ErrorCode::from(&AnswerError::WrongNumber).status(), 403);
        assert_eq!(
            ErrorCode::from(&AnswerError::Expired { exp: 1, now: 2 }),
            ErrorCode::Expired
        );
        assert_eq!(
            ErrorCode::from(&RegistrationError::TokenUsed),
            ErrorCode::EnrollmentUsed
        );
        assert_eq!(
            ErrorCode::from(&PollError::WrongDevice),
            ErrorCode::UnknownDevice
        );
    }
}
