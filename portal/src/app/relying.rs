//! Relying parties: servers that ask the portal to verify one of its users — the PAM module for
//! Linux logins (`pam-assent/`), or any application — by a push to the user's device, with or
//! without number matching, or by a TOTP code under the same lockout as the portal's own
//! sign-in. Each is registered with a key (`portal client create`); each verification is a
//! challenge like any other, named with the relying party in the user's event log, and limited
//! per relying party and, against MFA fatigue, per user (docs/portal.md, "Relying parties").

use std::sync::Arc;
use std::time::Duration;

use assent_protocol::Purpose;
use serde::Serialize;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::challenges::Asked;
use super::client::Client;
use super::tokens::{random_token, sha256_hex};
use super::totp::TotpOutcome;
use super::{Portal, PortalError};
use crate::db::{
    ChallengeReason, ChallengeRow, ChallengeStatus, ClientMode, EventKind, Outcome, RpClient, User,
};

/// The longest a relying party may wait for a verification in one request.
pub const MAX_WAIT_SECONDS: u64 = 60;

/// How often a waiting request looks at its verification again.
const WAIT_STEP: Duration = Duration::from_millis(200);

/// Where a verification stands, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RpStatus {
    /// The push is on its way, or waiting for its answer.
    Pending,
    /// Approved on the device, or a right code.
    Approved,
    /// Denied on the device, a wrong number or code, or the account is suspended.
    Denied,
    /// Denied as "not me": the user says this was not them.
    NotMe,
    /// No answer within 60 seconds.
    Expired,
    /// The user has no device (or, for a code, no TOTP) to verify with.
    NoDevice,
    /// Too many wrong codes locked the account.
    Locked,
    /// The help desk removed the user's MFA requirement: the policy says allow.
    MfaNotRequired,
    /// Too many requests (this relying party's, or unwelcome pushes to this user).
    RateLimited,
    /// The relying party withdrew it.
    Withdrawn,
    /// No push for this client (it verifies by code only): ask the user for a code.
    CodeRequired,
}

/// A relying party's view of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct RpAnswer {
    /// Where it stands.
    pub status: RpStatus,
    /// Its id, to poll or withdraw (a push only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The number to show the user, who types it on the device (number matching).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Seconds left to answer, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Seconds until a rate-limited request may be made again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Whether the user can verify with a code instead (TOTP enrolled).
    pub code: bool,
    /// More, for the log or the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl RpAnswer {
    fn done(status: RpStatus, user: &User, detail: Option<String>) -> Self {
        Self {
            status,
            id: None,
            number: None,
            expires_in: None,
            retry_after: None,
            code: user.totp_secret.is_some(),
            detail,
        }
    }

    fn limited(user: &User, retry_after: u64, detail: &str) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::done(RpStatus::RateLimited, user, Some(detail.to_owned()))
        }
    }
}

/// A verification asked for: whose, about what, from where.
#[derive(Debug, Clone)]
pub struct RpRequest {
    /// The user to verify.
    pub user: String,
    /// What the user is signing in to, as the phone should say it (`ssh to build-01`).
    pub application: Option<String>,
    /// The address the user signs in from, when the relying party knows it.
    pub ip: Option<String>,
}

/// The header that carries a signing client's request signature:
/// `t=<unix seconds>,sig=<base64url ES256 r||s over signed_message>`.
pub const SIGNATURE_HEADER: &str = "assent-signature";

/// How far a signed request's time may be from the portal's.
pub const SIGNATURE_SKEW_SECONDS: u64 = 60;

/// What a signing client signs: `"<t>.<METHOD> <path and query>\n"` followed by the body, so a
/// signature is good for one request only.
pub fn signed_message(t: u64, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{t}.{method} {path}\n").into_bytes();
    message.extend_from_slice(body);
    message
}

fn parse_signature(header: &str) -> Option<(u64, Vec<u8>)> {
    use base64::Engine as _;
    let mut t = None;
    let mut sig = None;
    for part in header.split(',') {
        match part.trim().split_once('=')? {
            ("t", v) => t = v.parse::<u64>().ok(),
            ("sig", v) => {
                sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(v)
                    .ok()
            }
            _ => return None,
        }
    }
    let sig = sig.filter(|s| s.len() == 64)?;
    Some((t?, sig))
}

/// Why a signing client's request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureRefusal {
    /// No `Assent-Signature` header.
    Missing,
    /// Malformed, or it does not verify.
    Invalid,
    /// Its time is more than 60 s from the portal's.
    Stale,
    /// This signature was accepted before.
    Replayed,
}

impl SignatureRefusal {
    /// The error code and message of the 401.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Self::Missing => (
                "signature_required",
                "this client's requests must carry an Assent-Signature header",
            ),
            Self::Invalid => ("bad_signature", "Assent-Signature does not verify"),
            Self::Stale => (
                "stale_signature",
                "Assent-Signature time is more than 60 seconds from the portal's clock",
            ),
            Self::Replayed => (
                "replayed_signature",
                "this signed request was already received; sign every request anew",
            ),
        }
    }
}

/// Reads a request-signing public key — PEM `PUBLIC KEY` (SPKI) or the base64url uncompressed
/// point — and returns the point, base64url; refuses anything that is not a P-256 point.
pub fn request_key_point(text: &str) -> Result<String, PortalError> {
    use base64::Engine as _;
    let refused =
        || PortalError::Invalid("the request key is a P-256 public key (PEM or base64url point)");
    let text = text.trim();
    let point = match text.strip_prefix("-----BEGIN PUBLIC KEY-----") {
        Some(rest) => {
            let body = rest.split("-----END PUBLIC KEY-----").next().unwrap_or("");
            let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| refused())?;
            // SPKI of a P-256 key: a fixed 26-byte prefix, then the 65-byte point.
            if der.len() != 91 {
                return Err(refused());
            }
            der[26..].to_vec()
        }
        None => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| refused())?,
    };
    if point.len() != 65 || assent_protocol::PublicJwk::from_sec1(&point).is_err() {
        return Err(refused());
    }
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(point))
}

/// The longest application text a relying party may send, in bytes (the phone shows it).
const MAX_APPLICATION: usize = 100;

impl Portal {
    /// Registers a relying party; returns it and its API key (shown once: only its hash is
    /// kept). The key is `NAME.SECRET`.
    /// `request_key`, when given, is the P-256 public key that must sign every request of the
    /// client (PEM `PUBLIC KEY`, or the base64url uncompressed point): a leaked API key alone
    /// is then useless.
    pub fn create_client(
        &self,
        name: &str,
        mode: ClientMode,
        request_key: Option<&str>,
    ) -> Result<(RpClient, Zeroizing<String>), PortalError> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(PortalError::Invalid(
                "a client name is 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        let request_key = request_key.map(request_key_point).transpose()?;
        let secret = Zeroizing::new(random_token::<32>());
        let hash = sha256_hex(secret.as_bytes());
        self.db
            .create_client(name, &hash, (mode, request_key.as_deref()), self.now())?
            .ok_or(PortalError::Invalid("a client with that name exists"))?;
        let client = self.db.client(name)?.ok_or(PortalError::NoSuchUser)?;
        Ok((
            client,
            Zeroizing::new(format!("{name}.{}", secret.as_str())),
        ))
    }

    /// Every relying party.
    pub fn clients(&self) -> Result<Vec<RpClient>, PortalError> {
        Ok(self.db.clients()?)
    }

    /// Removes a relying party: its key stops working at once.
    pub fn delete_client(&self, name: &str) -> Result<bool, PortalError> {
        Ok(self.db.delete_client(name)?)
    }

    /// The relying party whose API key is `key`, compared by hash in constant time; `None`
    /// for an unknown or wrong key.
    pub fn authenticate_client(&self, key: &str) -> Result<Option<RpClient>, PortalError> {
        let Some((name, secret)) = key.split_once('.') else {
            return Ok(None);
        };
        let given = sha256_hex(secret.as_bytes());
        // An unknown name costs the same comparison as a known one.
        let client = self.db.client(name)?;
        let expected = client
            .as_ref()
            .map_or_else(|| "0".repeat(64), |c| c.key_hash.clone());
        let same = bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
        Ok(client.filter(|_| same))
    }

    /// Checks a request of `rp` against its signing key, when it has one: the
    /// [`SIGNATURE_HEADER`] over [`signed_message`], within 60 s of the portal's clock, and
    /// never seen before (the signature's `r` is remembered, in the database, until it would be
    /// stale anyway: every copy of the portal refuses a replay).
    pub fn check_signature(
        &self,
        rp: &RpClient,
        header: Option<&str>,
        (method, path, body): (&str, &str, &[u8]),
    ) -> Result<(), SignatureRefusal> {
        use base64::Engine as _;
        let Some(point) = &rp.request_key else {
            return Ok(());
        };
        let header = header.ok_or(SignatureRefusal::Missing)?;
        let (t, signature) = parse_signature(header).ok_or(SignatureRefusal::Invalid)?;
        let now = self.now();
        if t.abs_diff(now) > SIGNATURE_SKEW_SECONDS {
            return Err(SignatureRefusal::Stale);
        }
        let point = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(point)
            .map_err(|_| SignatureRefusal::Invalid)?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(&signed_message(t, method, path, body), &signature)
            .map_err(|_| SignatureRefusal::Invalid)?;
        // A signer never uses an `r` twice (its nonce is random), and `r` is the same for the
        // ECDSA twin (r, n − s): remembering `r` refuses both.
        let r = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&signature[..32]);
        let fresh = self
            .db
            .remember_nonce(
                &format!("rp:{}", rp.name),
                &r,
                now,
                t + SIGNATURE_SKEW_SECONDS,
            )
            .map_err(|_| SignatureRefusal::Invalid)?;
        if fresh {
            Ok(())
        } else {
            Err(SignatureRefusal::Replayed)
        }
    }

    /// Who a verification is about: the user, and what policy decides before any factor.
    fn rp_user(
        &self,
        username: &str,
    ) -> Result<Result<User, (RpStatus, User, &'static str)>, PortalError> {
        let user = self.user(username.trim())?;
        let now = self.now();
        if user.suspended {
            return Ok(Err((RpStatus::Denied, user, "the account is suspended")));
        }
        if !user.mfa_needed(now) {
            return Ok(Err((
                RpStatus::MfaNotRequired,
                user,
                "the help desk removed the MFA requirement",
            )));
        }
        if user.locked(now) {
            return Ok(Err((
                RpStatus::Locked,
                user,
                "locked after too many wrong codes",
            )));
        }
        Ok(Ok(user))
    }

    /// Starts a verification for `rp`: the policy first (suspended, MFA not required, locked);
    /// for a code-only client then `code_required` (or `no_device` without TOTP); otherwise the
    /// relying party's rate limit and the user's MFA-fatigue limit, then the push.
    pub async fn start_verification(
        self: &Arc<Self>,
        rp: RpClient,
        request: RpRequest,
    ) -> Result<RpAnswer, PortalError> {
        if request
            .application
            .as_ref()
            .is_some_and(|a| !assent_protocol::is_display_text(a, MAX_APPLICATION))
        {
            return Err(PortalError::Invalid(
                "the application is at most 100 bytes of display text",
            ));
        }
        let ip = request.ip.clone().unwrap_or_default();
        let name = rp.name.clone();
        let checked = self
            .blocking(move |p| {
                let user = match p.rp_user(&request.user)? {
                    Ok(user) => user,
                    Err((status, user, detail)) => {
                        p.log_verification(&user, &ip, &name, Outcome::Refused, detail)?;
                        return Ok(Err(RpAnswer::done(status, &user, Some(detail.into()))));
                    }
                };
                if rp.mode == ClientMode::Totp {
                    let (status, detail) = if user.totp_secret.is_some() {
                        (RpStatus::CodeRequired, "this client verifies by code")
                    } else {
                        (RpStatus::NoDevice, "no authenticator app is enrolled")
                    };
                    return Ok(Err(RpAnswer::done(status, &user, Some(detail.into()))));
                }
                if user.device_id.is_none() {
                    let detail = "no push device";
                    p.log_verification(&user, &ip, &name, Outcome::Refused, detail)?;
                    return Ok(Err(RpAnswer::done(
                        RpStatus::NoDevice,
                        &user,
                        Some(detail.into()),
                    )));
                }
                let now = p.now();
                if p.db.client_pushes_since(&name, now.saturating_sub(60))?
                    >= p.settings.rp_push_limit
                {
                    let detail = "this client asked for too many pushes in a minute";
                    p.log_verification(&user, &ip, &name, Outcome::RateLimited, detail)?;
                    return Ok(Err(RpAnswer::limited(&user, 60, detail)));
                }
                let window = p.settings.fatigue_window_seconds;
                if p.db
                    .unwelcome_pushes_since(user.id, now.saturating_sub(window))?
                    >= p.settings.fatigue_limit
                {
                    let detail = "too many unanswered or denied requests recently";
                    p.log_verification(&user, &ip, &name, Outcome::RateLimited, detail)?;
                    return Ok(Err(RpAnswer::limited(&user, window, detail)));
                }
                Ok(Ok((user, ip, request.application)))
            })
            .await?;
        let (user, ip, application) = match checked {
            Ok(go) => go,
            Err(answer) => return Ok(answer),
        };
        let asked = Asked {
            application,
            number: rp.mode == ClientMode::PushNumber,
            client: Some(rp.name.clone()),
        };
        let client = Client {
            ip,
            ..Client::default()
        };
        match self
            .send_asked(&user, Purpose::Login, &client, None, asked)
            .await
        {
            Ok(row) => Ok(self.answer_for(&user, &row)),
            Err(PortalError::PushLimited { retry_after }) => Ok(RpAnswer::limited(
                &user,
                retry_after,
                "too many sign-in requests to this user",
            )),
            Err(e) => Err(e),
        }
    }

    /// Logs a verification decided before any push.
    fn log_verification(
        &self,
        user: &User,
        ip: &str,
        client: &str,
        outcome: Outcome,
        detail: &str,
    ) -> Result<(), PortalError> {
        let detail = format!("verification for {client}: {detail}");
        self.log(user.id, ip, EventKind::PushLogin, outcome, &detail)?;
        Ok(())
    }

    /// The relying party's view of a challenge.
    fn answer_for(&self, user: &User, row: &ChallengeRow) -> RpAnswer {
        let row = self.as_of_now(row.clone());
        let status = match (row.status, row.reason) {
            (ChallengeStatus::Pending, _) => RpStatus::Pending,
            (ChallengeStatus::Approved, _) => RpStatus::Approved,
            (ChallengeStatus::Denied, Some(ChallengeReason::NotMe)) => RpStatus::NotMe,
            (ChallengeStatus::Denied | ChallengeStatus::Failed, _) => RpStatus::Denied,
            (ChallengeStatus::Expired, _) => RpStatus::Expired,
            (ChallengeStatus::Cancelled, _) => RpStatus::Withdrawn,
        };
        let detail = match (row.status, row.reason) {
            (ChallengeStatus::Failed, _) => Some("the wrong number was typed on the device"),
            (ChallengeStatus::Denied, Some(ChallengeReason::NotMe)) => {
                Some("the user says this was not them")
            }
            (ChallengeStatus::Denied, _) => Some("denied on the device"),
            (ChallengeStatus::Expired, _) => Some("no answer in 60 seconds"),
            _ => None,
        };
        RpAnswer {
            status,
            id: Some(row.id.clone()),
            number: row.number.clone().filter(|_| status == RpStatus::Pending),
            expires_in: (status == RpStatus::Pending).then(|| row.exp.saturating_sub(self.now())),
            retry_after: None,
            code: user.totp_secret.is_some(),
            detail: detail.map(str::to_owned),
        }
    }

    /// The verification `id` that `rp` asked for, as it stands (another client's is unknown).
    pub fn verification(&self, rp: &RpClient, id: &str) -> Result<RpAnswer, PortalError> {
        let row = self
            .db
            .challenge(id)?
            .filter(|c| c.client.as_deref() == Some(rp.name.as_str()))
            .ok_or(PortalError::NoSuchUser)?;
        let user = self.db.user(row.user_id)?.ok_or(PortalError::NoSuchUser)?;
        Ok(self.answer_for(&user, &row))
    }

    /// [`Portal::verification`], waiting up to `seconds` (at most 60) for it to settle.
    pub async fn wait_verification(
        self: &Arc<Self>,
        rp: RpClient,
        id: String,
        seconds: u64,
    ) -> Result<RpAnswer, PortalError> {
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(seconds.min(MAX_WAIT_SECONDS));
        loop {
            let (rp2, id2) = (rp.clone(), id.clone());
            let answer = self.blocking(move |p| p.verification(&rp2, &id2)).await?;
            if answer.status != RpStatus::Pending || tokio::time::Instant::now() >= deadline {
                return Ok(answer);
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
    }

    /// Withdraws a pending verification (its user gave up); the phone stops showing it.
    pub fn withdraw_verification(&self, rp: &RpClient, id: &str) -> Result<RpAnswer, PortalError> {
        let answer = self.verification(rp, id)?;
        if answer.status == RpStatus::Pending {
            self.db.settle_challenge(
                id,
                ChallengeStatus::Cancelled,
                Some(ChallengeReason::Withdrawn),
                None,
            )?;
        }
        self.verification(rp, id)
    }

    /// Verifies a TOTP code for `rp`, under the portal's lockout; a right code withdraws the
    /// push `withdraw` (the same sign-in's) if it is still pending.
    pub fn verify_code(
        &self,
        rp: &RpClient,
        request: &RpRequest,
        code: &str,
        withdraw: Option<&str>,
    ) -> Result<RpAnswer, PortalError> {
        let ip = request.ip.clone().unwrap_or_default();
        let user = match self.rp_user(&request.user)? {
            Ok(user) => user,
            Err((status, user, detail)) => {
                self.log_verification(&user, &ip, &rp.name, Outcome::Refused, detail)?;
                return Ok(RpAnswer::done(status, &user, Some(detail.into())));
            }
        };
        let client = Client {
            ip,
            ..Client::default()
        };
        let outcome = self.check_totp_via(&user, code, &client, Some(&rp.name))?;
        Ok(match outcome {
            TotpOutcome::Accepted => {
                if let Some(id) = withdraw
                    && self.verification(rp, id).is_ok()
                {
                    self.db.settle_challenge(
                        id,
                        ChallengeStatus::Cancelled,
                        Some(ChallengeReason::TotpUsed),
                        None,
                    )?;
                }
                RpAnswer::done(RpStatus::Approved, &user, None)
            }
            TotpOutcome::Rejected { remaining } => RpAnswer::done(
                RpStatus::Denied,
                &user,
                Some(format!(
                    "wrong code; {remaining} left before the account locks"
                )),
            ),
            TotpOutcome::Locked => RpAnswer::done(
                RpStatus::Locked,
                &user,
                Some("locked after too many wrong codes".into()),
            ),
            TotpOutcome::NotEnrolled => RpAnswer::done(
                RpStatus::NoDevice,
                &user,
                Some("no authenticator app is enrolled".into()),
            ),
        })
    }
}
