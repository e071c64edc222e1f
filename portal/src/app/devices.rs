//! The device endpoints of docs/protocol.md §11: register, answer, poll, push-token update. Each
//! returns the success body or a protocol error code; the HTTP layer adds status and JSON.

use assent_protocol::answer::{peek_answer, verify_answer};
use assent_protocol::poll::{peek_device, verify_poll, verify_push_token_update};
use assent_protocol::registration::verify_registration;
use assent_protocol::{
    AnswerError, ChallengeContent, Decision, DenyReason, ErrorCode, LoginContext, PendingChallenge,
    Purpose, TokenState, UserVerification,
};

use super::{Portal, PortalError};
use crate::alerts::AlertKind;
use crate::db::{
    Activation, ChallengeReason, ChallengeStatus, Device, DeviceState, EventKind, Outcome,
    SessionEnd, User,
};

/// A refusal: the code (which fixes the HTTP status) and a message for logs.
#[derive(Debug)]
pub struct Refusal {
    /// The protocol's error code.
    pub code: ErrorCode,
    /// Why, for logs (never secrets).
    pub message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<PortalError> for Refusal {
    fn from(e: PortalError) -> Self {
        tracing::error!(error = %e, "device endpoint failed");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl From<crate::db::DbError> for Refusal {
    fn from(e: crate::db::DbError) -> Self {
        PortalError::from(e).into()
    }
}

/// How long a poll nonce is remembered: every `iat` the portal would still accept.
const NONCE_SECONDS: u64 = 2 * assent_protocol::CLOCK_SKEW;
/// Challenges per poll response.
const MAX_PENDING: usize = assent_protocol::poll::MAX_PENDING;

/// `POST /assent/v1/register`: stores the device as pending and returns
/// `{"device_id", "challenge"}` with its activation challenge.
///
/// Retryable (docs/protocol.md §4.3): while the device waits for its activation and the
/// enrollment has not expired, a registration by the same device (same signing and encryption
/// keys) for the same enrollment gets the same answer, its activation challenge, where any other
/// use of the spent token is `enrollment_used`. A response lost on the way does not strand the
/// user with a spent QR.
pub fn register(portal: &Portal, jws: &str, ip: &str) -> Result<serde_json::Value, Refusal> {
    let now = portal.now();
    let mut enrollment = None;
    let mut registered = None;
    let registration = verify_registration(jws, portal.key_id(), now, |token| {
        match portal.db.enrollment(token) {
            Ok(Some(e)) => {
                let valid = TokenState::Valid {
                    expires_at: e.expires_at,
                };
                let state = if !e.used {
                    valid
                } else {
                    // Spent: only the device it registered, still pending, may come again
                    // (checked below, once the signature is).
                    match portal.db.pending_device_of(token) {
                        Ok(Some(device)) => {
                            registered = Some(device);
                            valid
                        }
                        _ => TokenState::Used,
                    }
                };
                enrollment = Some(e);
                state
            }
            _ => TokenState::Unknown,
        }
    })
    .map_err(|e| Refusal::new(ErrorCode::from(&e), e.to_string()))?;
    let enrollment =
        enrollment.ok_or_else(|| Refusal::new(ErrorCode::EnrollmentUnknown, "unknown"))?;
    let user = portal
        .db
        .user(enrollment.user_id)?
        .ok_or_else(|| Refusal::new(ErrorCode::EnrollmentUnknown, "the user is gone"))?;
    if let Some(device) = registered {
        let same = device.id == registration.device_id
            && device.signing_key == registration.signing_key
            && device.encryption_key == registration.encryption_key;
        if !same {
            return Err(Refusal::new(
                ErrorCode::EnrollmentUsed,
                "the enrollment token was used",
            ));
        }
        let challenge = activation(portal, &user, &device, ip)?;
        return Ok(serde_json::json!({ "device_id": device.id, "challenge": challenge }));
    }
    let device = Device {
        id: registration.device_id.clone(),
        user_id: enrollment.user_id,
        enrollment: enrollment.token.clone(),
        signing_key: registration.signing_key.clone(),
        encryption_key: registration.encryption_key.clone(),
        platform: registration.platform.as_str().to_owned(),
        name: registration.name.clone(),
        push: registration.push.clone(),
        state: DeviceState::Pending,
    };
    if !portal.db.register_device(&device, now)? {
        return Err(Refusal::new(
            ErrorCode::EnrollmentUsed,
            "the enrollment token was used",
        ));
    }
    let challenge = activation(portal, &user, &device, ip)?;
    Ok(serde_json::json!({ "device_id": device.id, "challenge": challenge }))
}

/// The activation challenge of a pending device: the one still pending (a registration sent
/// again, a poll), else a new one stored with its event; its JWS.
fn activation(portal: &Portal, user: &User, device: &Device, ip: &str) -> Result<String, Refusal> {
    if let Some(jws) = portal.db.pending_activation(&device.id, portal.now())? {
        return Ok(jws);
    }
    let content = ChallengeContent {
        purpose: Purpose::Activate,
        context: LoginContext {
            user: user.username.clone(),
            application: portal.settings.application.clone(),
            ip: None,
            location: None,
            browser: None,
            os: None,
        },
        number_matching: None,
        user_verification: UserVerification::Discouraged,
    };
    let detail = format!(
        "{} ({}), waiting for activation",
        device.name, device.platform
    );
    let line = portal.line(
        user.id,
        ip,
        EventKind::DeviceRegistered,
        Outcome::Pending,
        &detail,
    );
    let challenge = portal.store_challenge(
        (user.id, &device.id),
        &device.encryption_key,
        &content,
        (None, None),
        (&line, None),
        None,
    )?;
    Ok(challenge.jws)
}

/// An answer's event detail, naming the relying party that asked, if one did.
fn for_client(detail: &str, client: Option<&str>) -> String {
    match client {
        Some(rp) => format!("{detail} (for {rp})"),
        None => detail.to_owned(),
    }
}

/// `POST /assent/v1/answers`: verifies the answer against the pending challenge and settles it.
pub fn answer(portal: &Portal, jws: &str, ip: &str) -> Result<serde_json::Value, Refusal> {
    let now = portal.now();
    let (kid, challenge_id) =
        peek_answer(jws).map_err(|e| Refusal::new(ErrorCode::from(&e), e.to_string()))?;
    let row = portal
        .db
        .challenge(&challenge_id)?
        .filter(|c| c.device_id == kid)
        .ok_or_else(|| {
            Refusal::new(
                ErrorCode::UnknownChallenge,
                "no such challenge for this device",
            )
        })?;
    let device = portal
        .db
        .device(&kid)?
        .ok_or_else(|| Refusal::new(ErrorCode::UnknownDevice, "unknown device"))?;
    let user = portal
        .db
        .user(row.user_id)?
        .ok_or_else(|| Refusal::new(ErrorCode::UnknownDevice, "the user is gone"))?;
    let activation = row.purpose == Purpose::Activate;
    let current = if activation {
        device.state == DeviceState::Pending
    } else {
        device.state == DeviceState::Active && user.device_id.as_deref() == Some(kid.as_str())
    };
    if !current {
        return Err(Refusal::new(
            ErrorCode::UnknownDevice,
            "this device is no longer the user's device",
        ));
    }
    if row.status == ChallengeStatus::Cancelled {
        return Err(Refusal::new(
            ErrorCode::UnknownChallenge,
            "the portal withdrew this challenge",
        ));
    }
    let pending = PendingChallenge {
        id: row.id.clone(),
        device_id: row.device_id.clone(),
        device_signing_key: device.signing_key.clone(),
        challenge_hash: row.hash.clone(),
        exp: row.exp,
        expected_number: row.number.clone(),
        user_verification: row.user_verification,
        answered: matches!(
            row.status,
            ChallengeStatus::Approved | ChallengeStatus::Denied | ChallengeStatus::Failed
        ),
    };
    let kind = EventKind::push(row.purpose);
    let answer = match verify_answer(jws, &pending, now) {
        Ok(answer) => answer,
        Err(e) => {
            let settled = match &e {
                AnswerError::WrongNumber => Some((
                    ChallengeStatus::Failed,
                    Some(ChallengeReason::WrongNumber),
                    Outcome::Failed,
                    "wrong number typed on the device",
                )),
                AnswerError::Expired { .. } => Some((
                    ChallengeStatus::Expired,
                    None,
                    Outcome::Expired,
                    "answered too late",
                )),
                _ => None,
            };
            if let Some((status, reason, outcome, detail)) = settled {
                let detail = for_client(detail, row.client.as_deref());
                let line = portal.line(user.id, ip, kind, outcome, &detail);
                portal
                    .db
                    .settle_challenge(&row.id, status, reason, Some(&line))?;
            }
            return Err(Refusal::new(ErrorCode::from(&e), e.to_string()));
        }
    };
    let (status, reason) = match (answer.decision, answer.reason) {
        (Decision::Approve, _) => (ChallengeStatus::Approved, None),
        (Decision::Deny, Some(DenyReason::NotMe)) => {
            (ChallengeStatus::Denied, Some(ChallengeReason::NotMe))
        }
        (Decision::Deny, Some(DenyReason::Cancelled)) => {
            (ChallengeStatus::Denied, Some(ChallengeReason::Cancelled))
        }
        (Decision::Deny, None) => (ChallengeStatus::Denied, None),
    };
    let not_me = reason == Some(ChallengeReason::NotMe);
    // The answer and its event in one transaction (an activation's events follow it).
    let (outcome, detail) = match (status, reason) {
        (ChallengeStatus::Approved, _) if answer.user_verified => {
            (Outcome::Approved, "approved with user verification")
        }
        (ChallengeStatus::Approved, _) => (Outcome::Approved, "approved"),
        _ if not_me => (
            Outcome::Suspicious,
            "denied: the user says this was not them",
        ),
        (_, Some(_)) => (Outcome::Denied, "denied by the user"),
        _ => (Outcome::Denied, "denied"),
    };
    let detail = for_client(detail, row.client.as_deref());
    let line = portal.line(user.id, ip, kind, outcome, &detail);
    let settled = portal.db.answer_challenge(
        &row.id,
        status,
        reason,
        (!activation).then_some(&line),
        (&device.id, portal.now()),
    )?;
    if !settled {
        return Err(Refusal::new(ErrorCode::AlreadyAnswered, "already answered"));
    }
    if activation && status != ChallengeStatus::Approved {
        // A device that declines its own activation stays pending (and is never the user's).
        portal.log(
            user.id,
            ip,
            EventKind::Enrolled,
            Outcome::Refused,
            &format!(
                "{} ({}) declined its activation",
                device.name, device.platform
            ),
        )?;
    } else if activation {
        let replaced = match portal.db.activate_device(&kid)? {
            Activation::Activated { replaced } => replaced,
            Activation::NotPending => {
                return Err(Refusal::new(
                    ErrorCode::UnknownDevice,
                    "this device was retired while its activation was checked",
                ));
            }
        };
        portal.log(
            user.id,
            ip,
            EventKind::Enrolled,
            Outcome::Ok,
            &format!("push and TOTP on {} ({})", device.name, device.platform),
        )?;
        if let Some(old) = replaced {
            let detail = format!(
                "previous device {old} retired for {} ({})",
                device.name, device.platform
            );
            portal.log(user.id, ip, EventKind::DeviceReplaced, Outcome::Ok, &detail)?;
            portal.alert(&user, AlertKind::DeviceReplaced, ip, &detail);
        }
    } else {
        if not_me {
            // The address that asked (the browser's), more use to the help desk than the phone's.
            let asked_from = match &row.session {
                Some(id) => portal.db.session(id, now)?.map(|s| s.ip),
                None => None,
            };
            portal.alert(
                &user,
                AlertKind::NotMe,
                asked_from.as_deref().unwrap_or(ip),
                &format!(
                    "a {} request {detail}",
                    row.purpose.as_str().replace('_', " ")
                ),
            );
        }
        if row.purpose == Purpose::StepUp
            && status == ChallengeStatus::Denied
            && let Some(session) = &row.session
        {
            portal.end_session(session, SessionEnd::StepUpDenied, user.id, ip)?;
        }
    }
    Ok(serde_json::json!({
        "status": if status == ChallengeStatus::Approved { "approved" } else { "denied" }
    }))
}

fn current_device(portal: &Portal, jws: &str) -> Result<Device, Refusal> {
    let device = polling_device(portal, jws)?;
    if device.state != DeviceState::Active {
        return Err(Refusal::new(
            ErrorCode::UnknownDevice,
            "not a current device",
        ));
    }
    Ok(device)
}

/// The device a poll names: a current one, or one still waiting for its activation.
fn polling_device(portal: &Portal, jws: &str) -> Result<Device, Refusal> {
    let kid = peek_device(jws).map_err(|e| Refusal::new(ErrorCode::from(&e), e.to_string()))?;
    portal
        .db
        .device(&kid)?
        .filter(|d| matches!(d.state, DeviceState::Active | DeviceState::Pending))
        .ok_or_else(|| Refusal::new(ErrorCode::UnknownDevice, "not a current device"))
}

/// `POST /assent/v1/pending`: the device's unanswered, unexpired challenges; for a device
/// still waiting for its activation, that activation challenge (a new one if the last expired).
pub fn pending(portal: &Portal, jws: &str, ip: &str) -> Result<serde_json::Value, Refusal> {
    let now = portal.now();
    let device = polling_device(portal, jws)?;
    let poll = verify_poll(jws, &device.id, &device.signing_key, now)
        .map_err(|e| Refusal::new(ErrorCode::from(&e), e.to_string()))?;
    if !portal
        .db
        .remember_nonce(&device.id, &poll.nonce, now, now + NONCE_SECONDS)?
    {
        return Err(Refusal::new(ErrorCode::Replay, "nonce seen before"));
    }
    if device.state == DeviceState::Pending {
        // Only within the enrollment's lifetime, as a registration sent again: a device that
        // never activated cannot ask for activations later.
        let live = portal
            .db
            .enrollment(&device.enrollment)?
            .is_some_and(|e| now <= e.expires_at);
        if !live {
            return Err(Refusal::new(
                ErrorCode::UnknownDevice,
                "this device never activated and its enrollment expired: scan a new code",
            ));
        }
        let user = portal
            .db
            .user(device.user_id)?
            .ok_or_else(|| Refusal::new(ErrorCode::UnknownDevice, "the user is gone"))?;
        let challenge = activation(portal, &user, &device, ip)?;
        return Ok(serde_json::json!({ "challenges": [challenge] }));
    }
    // Only unexpired ones are listed; the periodic expiry marks the others.
    let challenges = portal.db.pending_for_device(&device.id, now, MAX_PENDING)?;
    Ok(serde_json::json!({ "challenges": challenges }))
}

/// `POST /assent/v1/push-token`: the device's new push address.
pub fn push_token(portal: &Portal, jws: &str, ip: &str) -> Result<(), Refusal> {
    let now = portal.now();
    let device = current_device(portal, jws)?;
    let update = verify_push_token_update(jws, &device.id, &device.signing_key, now)
        .map_err(|e| Refusal::new(ErrorCode::from(&e), e.to_string()))?;
    if !portal
        .db
        .remember_nonce(&device.id, &update.poll.nonce, now, now + NONCE_SECONDS)?
    {
        return Err(Refusal::new(ErrorCode::Replay, "nonce seen before"));
    }
    portal.db.set_push(&device.id, Some(&update.push))?;
    portal.log(
        device.user_id,
        ip,
        EventKind::PushToken,
        Outcome::Updated,
        &device.name,
    )?;
    Ok(())
}
