//! The device's side of push: enrolling from the one QR, holding the device keys, opening the
//! portal's challenges, and answering each at most once.
//!
//! Sans I/O, like the protocol crate: every network exchange is handed to the caller as a
//! ready-to-send [`PortalRequest`] (the app or the CLI sends it and passes the response back),
//! time is an argument, randomness comes from the caller's generator. The state that must
//! survive (keys, the pinned portal key, answered challenges) lives in the [`Vault`], so it is
//! encrypted at rest with the accounts; call [`Vault::save`] after each mutating call.

use std::collections::HashMap;

use assent_protocol::answer::build_answer;
use assent_protocol::challenge::open_challenge;
use assent_protocol::poll::{build_poll, build_push_token_update};
use assent_protocol::registration::build_registration;
use assent_protocol::signer::SignerError;
use assent_protocol::{
    Challenge, ChallengeError, EncryptionKey, Platform, PublicJwk, Purpose, PushConfig,
    PushEnrollment, Response, Signer, SoftwareSigner,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::account::Account;
use crate::uri::{self, UriError};
use crate::vault::{AccountId, Vault, VaultError};

/// The content type of every request body: a JWS in compact serialization.
pub const CONTENT_TYPE: &str = "application/jose";

/// An HTTP request for the portal, built by the core and sent by the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalRequest {
    /// Always `POST`.
    pub method: &'static str,
    /// The full endpoint URL.
    pub url: String,
    /// Always [`CONTENT_TYPE`].
    pub content_type: &'static str,
    /// The JWS.
    pub body: String,
}

impl PortalRequest {
    fn post(url: String, body: String) -> Self {
        Self {
            method: "POST",
            url,
            content_type: CONTENT_TYPE,
            body,
        }
    }
}

/// Signing that happens outside Rust: the iOS Secure Enclave or the Android Keystore. The key
/// never leaves the platform; the vault stores only its alias and public key. Both methods take
/// and return what the platforms natively produce; the core does the converting.
pub trait PlatformSigner: Send + Sync {
    /// Creates a new P-256 signing key under `alias` and returns its public key as a SEC1 point
    /// (65 bytes uncompressed, as SecKeyCopyExternalRepresentation and Android export it, or 33
    /// compressed).
    fn create_key(&self, alias: &str) -> Result<Vec<u8>, SignerError>;
    /// Signs `message` (ECDSA P-256 with SHA-256 over the message) with the key `alias`;
    /// returns the signature as DER (SecKeyCreateSignature, java.security.Signature) or as raw
    /// `r || s` (64 bytes).
    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// A platform's ECDSA P-256 signature (DER, or raw `r || s`) as JWS wants it: raw, with a low
/// `s`, since some ES256 verifiers refuse the high-`s` twin that platforms may produce.
pub fn jws_signature(platform: &[u8]) -> Result<[u8; 64], SignerError> {
    let parsed = if platform.len() == 64 {
        p256::ecdsa::Signature::from_slice(platform)
    } else {
        p256::ecdsa::Signature::from_der(platform)
    }
    .map_err(|_| SignerError::Platform("the keystore's signature is not ECDSA P-256".into()))?;
    let normalized = parsed.normalize_s();
    let mut out = [0u8; 64];
    out.copy_from_slice(&normalized.to_bytes());
    Ok(out)
}

/// Whether a challenge expiring at `exp` can still be answered at `now`, with the protocol's
/// clock-skew allowance. The one rule for answering, and for forgetting what was opened or
/// answered: once it is false, the portal refuses any answer anyway.
pub fn answerable(exp: u64, now: u64) -> bool {
    now <= exp.saturating_add(assent_protocol::CLOCK_SKEW)
}

/// Who an enrollment's device key belongs to.
pub enum KeyChoice<'a> {
    /// A software P-256 key, generated here and stored in the vault (the default).
    Software,
    /// A key created and held by the platform under a fresh alias.
    Platform(&'a dyn PlatformSigner),
}

/// What the device says about itself when it registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// iOS, Android or desktop.
    pub platform: Platform,
    /// A name the user recognizes ("Alice's iPhone").
    pub name: String,
    /// Where pushes reach this device; `None` for a device that only polls (a terminal
    /// without a relay), which the portal then reaches by its polls alone.
    #[serde(default)]
    pub push: Option<PushConfig>,
}

/// The device signing key of one enrollment.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum DeviceKey {
    /// The scalar, base64url, in the encrypted vault.
    Software { secret: KeyBytes },
    /// A platform key: its alias and public key.
    Platform { alias: String, public: PublicJwk },
}

/// 32 secret bytes, base64url in the stored form, wiped on drop.
#[derive(Clone)]
struct KeyBytes(Zeroizing<[u8; 32]>);

impl Serialize for KeyBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Zeroizing::new(B64.encode(self.0.as_slice())))
    }
}

impl<'de> Deserialize<'de> for KeyBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = KeyBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("32 bytes in base64url")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<KeyBytes, E> {
                let bytes = Zeroizing::new(B64.decode(text).map_err(E::custom)?);
                let array: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| E::custom("a key is 32 bytes"))?;
                Ok(KeyBytes(Zeroizing::new(array)))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A challenge this device answered, remembered until it can no longer be answered anyway.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Answered {
    challenge: String,
    exp: u64,
}

/// The enrollment state of a push account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// Registered; the portal's activation challenge is not answered yet.
    Registering,
    /// Activated: the portal sends this device its challenges.
    Active,
}

/// One push enrollment of this device with one portal.
#[derive(Clone, Serialize, Deserialize)]
pub struct PushAccount {
    /// This device's id at the portal: the thumbprint of its signing key.
    pub device_id: String,
    /// The TOTP account that came in the same QR.
    pub account_id: Option<AccountId>,
    /// The portal's base URL.
    pub portal_url: String,
    /// The portal's signing key, pinned at enrollment; nothing signed by another key is trusted.
    pub portal_key: PublicJwk,
    /// Who the enrollment is for, as the QR labelled it (`Issuer (name)`).
    pub label: String,
    /// Registration or active.
    pub state: PushState,
    /// What the device registered with.
    pub device: DeviceInfo,
    signing: DeviceKey,
    encryption: KeyBytes,
    #[serde(default)]
    answered: Vec<Answered>,
}

impl std::fmt::Debug for PushAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushAccount")
            .field("device_id", &self.device_id)
            .field("portal_url", &self.portal_url)
            .field("label", &self.label)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Why a push operation failed. Each variant says what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The QR is not a usable otpauth URI.
    #[error("the QR code is not a valid account: {0}")]
    Uri(#[from] UriError),
    /// The QR holds a TOTP account but no push enrollment (a plain authenticator QR).
    #[error("this QR code has no push enrollment; it was added as a TOTP account only")]
    NoPushEnrollment,
    /// The push enrollment in the QR is invalid or expired: get a new QR from the portal.
    #[error("the push enrollment cannot be used: {0}; ask the portal for a new QR code")]
    Enrollment(#[from] assent_protocol::EnrollmentError),
    /// The platform keystore refused to create or use the device key (Face ID cancelled, the
    /// Keystore locked, the key invalidated by new biometrics): nothing was sent; let the user
    /// try again, or enroll again if the key is gone.
    #[error("the device key could not be used: {0}")]
    PlatformKey(SignerError),
    /// A key kept in the vault for this enrollment is damaged: enroll this device again.
    #[error("this device's stored {0} is damaged; enroll this device again")]
    CorruptKey(&'static str),
    /// The portal's reply is not what the protocol says it sends: nothing changed; try again
    /// later, and tell the portal's operator if it persists.
    #[error("the portal sent an unexpected reply: {0}")]
    PortalReply(&'static str),
    /// A value for the request breaks the protocol's rules (a device name too long, a number
    /// that is not digits); the field is named.
    #[error("the {0} is not allowed by the protocol")]
    InvalidField(&'static str),
    /// A push carried the portal's activation, which only a registration response may carry.
    #[error("this push is not a request to approve")]
    NotARequest,
    /// The challenge was refused; nothing was answered.
    #[error("the challenge was refused: {0}")]
    Challenge(ChallengeError),
    /// No push account of this vault matches the challenge's portal key and device.
    #[error("no push account of this device matches the challenge")]
    UnknownChallenge,
    /// The challenge was already answered by this device.
    #[error("this request was already answered")]
    AlreadyAnswered,
    /// The challenge's time is over (with the stated clock-skew allowance).
    #[error("this request has expired")]
    Expired,
    /// The request was not opened on this device (or was answered or expired since): open it
    /// again from the notification or a poll.
    #[error("this request is no longer open here; open it again before answering")]
    NotOpened,
    /// The account to delete also approves sign-ins (the one QR gave both): deleting it retires
    /// that push enrollment too, so the caller must confirm it explicitly.
    #[error(
        "this account also approves sign-ins for {0}; deleting it stops that too, so confirm to delete both"
    )]
    AlsoPushEnrollment(String),
    /// No push account with that device id.
    #[error("no push account with device id {0}")]
    UnknownPushAccount(String),
    /// The device key is a platform key and no platform signer was given.
    #[error("the device key lives in the platform keystore, which was not provided")]
    PlatformSignerMissing,
    /// A vault operation failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Building a protocol message fails only when the signer refuses or a field breaks a rule (a
/// message over its size limit counts as its content at fault).
macro_rules! building_errors {
    ($($error:ty),+) => {$(
        impl From<$error> for PushError {
            fn from(e: $error) -> Self {
                type E = $error;
                match e {
                    E::Signer(signer) => Self::PlatformKey(signer),
                    E::Invalid(field) => Self::InvalidField(field),
                    _ => Self::InvalidField("message content"),
                }
            }
        }
    )+};
}

building_errors!(
    assent_protocol::RegistrationError,
    assent_protocol::AnswerError,
    assent_protocol::PollError
);

/// Challenges opened on this device and not answered yet: kept in memory only (what was opened
/// is open again from its notification or a poll after a restart), each until it can no longer
/// be answered.
#[derive(Default)]
pub(crate) struct Inbox {
    opened: HashMap<String, Challenge>,
}

impl Inbox {
    fn prune(&mut self, now: u64) {
        self.opened.retain(|_, c| answerable(c.exp, now));
    }
}

/// What [`Vault::receive`] found.
#[derive(Debug, Clone)]
pub struct Received {
    /// The opened challenge.
    pub challenge: Challenge,
    /// False when this challenge was already open here (the same request by push and by poll).
    pub first_time: bool,
}

/// What [`Vault::receive_pending`] found in a poll answer.
#[derive(Debug, Default)]
pub struct Polled {
    /// The challenges open here now, in the portal's order (oldest first).
    pub challenges: Vec<Challenge>,
    /// Why each challenge that cannot be trusted was left out (another portal key, a bad
    /// signature, ...).
    pub refused: Vec<PushError>,
}

/// The result of [`Vault::enroll`].
#[derive(Debug)]
pub struct Enrolled {
    /// The TOTP account added (or the one the vault already had, or the earlier enrollment's,
    /// whose secret the QR's replaced).
    pub account_id: AccountId,
    /// Whether the QR's TOTP secret replaced the secret of the account an earlier enrollment
    /// with this portal, for the same user, brought (a help-desk reset retires the old one).
    pub replaced_codes: bool,
    /// The new push account's device id.
    pub device_id: String,
    /// The registration to send to the portal; its response body goes to
    /// [`Vault::activate`].
    pub request: PortalRequest,
}

/// The portal's answer to a registration (`201 {"device_id", "challenge"}`): the activation
/// challenge, encrypted to the new encryption key.
#[derive(Deserialize)]
struct RegistrationResponse {
    device_id: String,
    challenge: String,
}

struct PlatformKey<'a> {
    alias: &'a str,
    public: &'a PublicJwk,
    signer: &'a dyn PlatformSigner,
}

impl Signer for PlatformKey<'_> {
    fn public_key(&self) -> PublicJwk {
        self.public.clone()
    }
    fn sign(&self, signing_input: &[u8]) -> Result<[u8; 64], SignerError> {
        jws_signature(&self.signer.sign(self.alias, signing_input)?)
    }
}

impl PushAccount {
    /// Runs `f` with this enrollment's signer.
    fn with_signer<T>(
        &self,
        platform: Option<&dyn PlatformSigner>,
        f: impl FnOnce(&dyn Signer) -> T,
    ) -> Result<T, PushError> {
        match &self.signing {
            DeviceKey::Software { secret } => {
                let signer = SoftwareSigner::from_bytes(&secret.0)
                    .ok_or(PushError::CorruptKey("signing key"))?;
                Ok(f(&signer))
            }
            DeviceKey::Platform { alias, public } => {
                let signer = platform.ok_or(PushError::PlatformSignerMissing)?;
                Ok(f(&PlatformKey {
                    alias,
                    public,
                    signer,
                }))
            }
        }
    }

    fn encryption_key(&self) -> Result<EncryptionKey, PushError> {
        EncryptionKey::from_bytes(&self.encryption.0).ok_or(PushError::CorruptKey("encryption key"))
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/assent/v1/{endpoint}", self.portal_url)
    }

    fn has_answered(&self, challenge_id: &str) -> bool {
        self.answered.iter().any(|a| a.challenge == challenge_id)
    }

    /// The ids of the challenges this device answered that could still be answerable, so a
    /// terminal can say "already answered here" instead of "not found".
    pub fn answered_ids(&self) -> impl Iterator<Item = &str> {
        self.answered.iter().map(|a| a.challenge.as_str())
    }

    /// Opens a challenge meant for this enrollment; refuses one it already answered.
    fn open(&self, jws: &str, now: u64) -> Result<Challenge, PushError> {
        let key = self.encryption_key()?;
        let challenge = open_challenge(jws, &self.portal_key, &key, &self.device_id, now).map_err(
            |e| match e {
                ChallengeError::Expired { .. } => PushError::Expired,
                other => PushError::Challenge(other),
            },
        )?;
        if self.has_answered(&challenge.id) {
            return Err(PushError::AlreadyAnswered);
        }
        Ok(challenge)
    }
}

/// Opens a challenge with whichever of `accounts` it is for (see [`Vault::open_challenge`]).
pub(crate) fn open_among(
    accounts: &[PushAccount],
    jws: &str,
    now: u64,
) -> Result<Challenge, PushError> {
    let mut last_error = PushError::UnknownChallenge;
    for account in accounts {
        match account.open(jws, now) {
            Ok(challenge) if challenge.content.purpose == Purpose::Activate => {
                return Err(PushError::NotARequest);
            }
            Ok(challenge) => return Ok(challenge),
            Err(PushError::Challenge(
                ChallengeError::UnknownPortalKey | ChallengeError::WrongDevice,
            )) => {}
            Err(other) => last_error = other,
        }
    }
    Err(last_error)
}

impl Vault {
    /// The push enrollments of this device.
    pub fn push_accounts(&self) -> &[PushAccount] {
        &self.push
    }

    /// Enrolls from the portal's one QR: adds its TOTP account (unless the vault has it),
    /// creates the device's signing and encryption keys, and returns the registration request.
    /// A previous enrollment with the same portal key and label is replaced.
    pub fn enroll(
        &mut self,
        qr: &str,
        device: DeviceInfo,
        key: KeyChoice<'_>,
        now: u64,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Enrolled, PushError> {
        let parsed = uri::parse_full(qr)?;
        let enrollment =
            PushEnrollment::from_params(&parsed.extra, now)?.ok_or(PushError::NoPushEnrollment)?;
        let label = parsed.account.display_name();

        let encryption = EncryptionKey::generate(rng);
        let (signing, platform) = match key {
            KeyChoice::Software => (
                DeviceKey::Software {
                    secret: KeyBytes(SoftwareSigner::generate(rng).to_bytes()),
                },
                None,
            ),
            KeyChoice::Platform(signer) => {
                let mut alias_bytes = [0u8; 12];
                rng.fill_bytes(&mut alias_bytes);
                let alias = format!("assent-{}", B64.encode(alias_bytes));
                let sec1 = signer.create_key(&alias).map_err(PushError::PlatformKey)?;
                let public = PublicJwk::from_sec1(&sec1).map_err(|_| {
                    PushError::PlatformKey(SignerError::Platform(
                        "the keystore's public key is not a P-256 point".into(),
                    ))
                })?;
                (DeviceKey::Platform { alias, public }, Some(signer))
            }
        };
        let mut account = PushAccount {
            device_id: String::new(),
            account_id: None,
            portal_url: enrollment.portal_url.clone(),
            portal_key: enrollment.portal_key.clone(),
            label,
            state: PushState::Registering,
            device,
            signing,
            encryption: KeyBytes(encryption.to_bytes()),
            answered: Vec::new(),
        };
        let (device_id, body) = account.with_signer(platform, |signer| {
            let body = build_registration(
                signer,
                &enrollment,
                encryption.public_key(),
                account.device.platform,
                &account.device.name,
                account.device.push.as_ref(),
                now,
            );
            (signer.public_key().thumbprint(), body)
        })?;
        let body = body?;
        // Only now that the request exists does the vault change. Enrolling again with the
        // same portal for the same user (after a help-desk reset, a lost phone) brings a new
        // TOTP secret: it replaces the secret of the account the earlier enrollment brought,
        // so that no look-alike with a retired secret stays behind to be typed, and fail.
        let portal_key_id = enrollment.portal_key_id();
        let earlier = self
            .push
            .iter()
            .find(|p| p.portal_key.thumbprint() == portal_key_id && p.label == account.label)
            .and_then(|p| p.account_id.clone())
            .filter(|id| {
                self.get(id)
                    .is_some_and(|e| !e.account.same_codes_as(&parsed.account))
            })
            .filter(|_| {
                !self
                    .entries()
                    .iter()
                    .any(|e| e.account.same_codes_as(&parsed.account))
            });
        let replaced_codes = earlier.is_some();
        let account_id = match earlier {
            Some(id) => {
                self.replace_account(&id, parsed.account)?;
                id
            }
            None => self.add_or_find(parsed.account)?,
        };
        account.device_id = device_id.clone();
        account.account_id = Some(account_id.clone());
        self.push
            .retain(|p| !(p.portal_key.thumbprint() == portal_key_id && p.label == account.label));
        self.push.push(account);
        Ok(Enrolled {
            account_id,
            replaced_codes,
            device_id,
            request: PortalRequest::post(enrollment.endpoint("register"), body),
        })
    }

    /// Handles the portal's response to the registration: opens the activation challenge (which
    /// proves this device holds its encryption key) and returns its automatic approval. The
    /// enrollment is active once the portal accepts that answer.
    pub fn activate(
        &mut self,
        device_id: &str,
        registration_response: &str,
        now: u64,
        platform: Option<&dyn PlatformSigner>,
    ) -> Result<PortalRequest, PushError> {
        let response: RegistrationResponse = serde_json::from_str(registration_response)
            .map_err(|_| PushError::PortalReply("the registration response is not its JSON"))?;
        if response.device_id != device_id {
            return Err(PushError::PortalReply(
                "the portal registered another device id",
            ));
        }
        let challenge = self.open_for(device_id, &response.challenge, now)?;
        if challenge.content.purpose != Purpose::Activate {
            return Err(PushError::PortalReply(
                "the registration response is not an activation",
            ));
        }
        let approve = Response::Approve {
            number: None,
            user_verified: false,
        };
        let request = self.answer(&challenge, &approve, now, platform)?;
        self.push_account_mut(device_id)?.state = PushState::Active;
        Ok(request)
    }

    /// Opens a challenge received by push or by polling: checks the pinned portal key's
    /// signature, the device, the time, and decrypts the context to show. Refuses one this
    /// device already answered. Activation challenges are refused here (they come only as the
    /// registration response).
    pub fn open_challenge(&self, jws: &str, now: u64) -> Result<Challenge, PushError> {
        open_among(&self.push, jws, now)
    }

    /// Opens a challenge received by push or by polling (as [`Vault::open_challenge`]) and keeps
    /// it open for [`Vault::answer_opened`]; says whether it was already open, so that a request
    /// arriving both ways is shown once. Forgets what can no longer be answered.
    pub fn receive(&mut self, jws: &str, now: u64) -> Result<Received, PushError> {
        self.inbox.prune(now);
        let challenge = self.open_challenge(jws, now)?;
        let first_time = self
            .inbox
            .opened
            .insert(challenge.id.clone(), challenge.clone())
            .is_none();
        Ok(Received {
            challenge,
            first_time,
        })
    }

    /// Takes the portal's answer to a poll ([`Vault::poll_request`]), `{"challenges": [...]}`,
    /// and opens each challenge in it as [`Vault::receive`] does. Returns those now open here
    /// (new or already open), oldest first; one answered here or expired is left out, and so is
    /// one that cannot be trusted (its error is in `refused`). A body that is not a poll answer
    /// is the portal's fault ([`PushError::PortalReply`]).
    pub fn receive_pending(&mut self, response_body: &str, now: u64) -> Result<Polled, PushError> {
        let pending: assent_protocol::Pending =
            serde_json::from_str(response_body).map_err(|_| {
                PushError::PortalReply("the answer to a poll is not a list of requests")
            })?;
        let mut polled = Polled::default();
        for jws in &pending.challenges {
            match self.receive(jws, now) {
                Ok(received) => polled.challenges.push(received.challenge),
                Err(PushError::AlreadyAnswered | PushError::Expired) => {}
                Err(other) => polled.refused.push(other),
            }
        }
        Ok(polled)
    }

    /// The challenges open here, soonest to expire first.
    pub fn opened(&self, now: u64) -> Vec<&Challenge> {
        let mut open: Vec<&Challenge> = self
            .inbox
            .opened
            .values()
            .filter(|c| answerable(c.exp, now))
            .collect();
        open.sort_by_key(|c| (c.exp, c.id.as_str()));
        open
    }

    /// Answers a challenge opened with [`Vault::receive`], by id (see [`Vault::answer`]). It is
    /// closed here once answered, or once it turns out to be expired or answered already.
    pub fn answer_opened(
        &mut self,
        challenge_id: &str,
        response: &Response,
        now: u64,
        platform: Option<&dyn PlatformSigner>,
    ) -> Result<PortalRequest, PushError> {
        let challenge = self
            .inbox
            .opened
            .get(challenge_id)
            .cloned()
            .ok_or(PushError::NotOpened)?;
        let answered = self.answer(&challenge, response, now, platform);
        if matches!(
            answered,
            Ok(_) | Err(PushError::AlreadyAnswered | PushError::Expired)
        ) {
            self.inbox.opened.remove(challenge_id);
        }
        answered
    }

    /// Signs the user's answer to an opened challenge and remembers it, so that this device
    /// never answers the same challenge twice. Save the vault after this call, before sending.
    pub fn answer(
        &mut self,
        challenge: &Challenge,
        response: &Response,
        now: u64,
        platform: Option<&dyn PlatformSigner>,
    ) -> Result<PortalRequest, PushError> {
        let account = self.push_account(&challenge.device_id)?;
        if account.has_answered(&challenge.id) {
            return Err(PushError::AlreadyAnswered);
        }
        if !answerable(challenge.exp, now) {
            return Err(PushError::Expired);
        }
        let body = account.with_signer(platform, |signer| {
            build_answer(signer, challenge, response, now)
        })??;
        let url = account.url("answers");
        let account = self.push_account_mut(&challenge.device_id)?;
        account.answered.retain(|a| answerable(a.exp, now));
        account.answered.push(Answered {
            challenge: challenge.id.clone(),
            exp: challenge.exp,
        });
        Ok(PortalRequest::post(url, body))
    }

    /// A signed request for the challenges pending for this device (after a missed
    /// notification, and on desktops without a push service). Open each one the portal returns
    /// with [`Vault::open_challenge`].
    pub fn poll_request(
        &self,
        device_id: &str,
        now: u64,
        platform: Option<&dyn PlatformSigner>,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<PortalRequest, PushError> {
        let account = self.push_account(device_id)?;
        let body = account.with_signer(platform, |signer| build_poll(signer, now, rng))??;
        Ok(PortalRequest::post(account.url("pending"), body))
    }

    /// A signed push-token update (the platform rotated the APNs/FCM token), recorded here too.
    pub fn push_token_update(
        &mut self,
        device_id: &str,
        push: PushConfig,
        now: u64,
        platform: Option<&dyn PlatformSigner>,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<PortalRequest, PushError> {
        let account = self.push_account(device_id)?;
        let body = account.with_signer(platform, |signer| {
            build_push_token_update(signer, &push, now, rng)
        })??;
        let url = account.url("push-token");
        self.push_account_mut(device_id)?.device.push = Some(push);
        Ok(PortalRequest::post(url, body))
    }

    /// The push enrollment that came in the same QR as the account `id`, if any: the product's
    /// one account that shows both a code and sign-in requests.
    pub fn push_account_for(&self, id: &AccountId) -> Option<&PushAccount> {
        self.push.iter().find(|p| p.account_id.as_ref() == Some(id))
    }

    /// Deletes the account `id`. When it is also a push enrollment, `retire_push` must be true
    /// ([`PushError::AlsoPushEnrollment`] otherwise, and nothing changes): the enrollment is
    /// forgotten here too, so this device no longer answers for it (the portal learns it when
    /// the user enrolls again or the help desk resets the user). Returns the retired
    /// enrollment's device id.
    pub fn delete_account(
        &mut self,
        id: &AccountId,
        retire_push: bool,
    ) -> Result<Option<String>, PushError> {
        let linked = self
            .push_account_for(id)
            .map(|p| (p.device_id.clone(), p.label.clone()));
        if let Some((_, label)) = &linked
            && !retire_push
        {
            return Err(PushError::AlsoPushEnrollment(label.clone()));
        }
        self.remove(id)?;
        let retired = linked.map(|(device_id, _)| device_id);
        if let Some(device_id) = &retired {
            self.push.retain(|p| &p.device_id != device_id);
        }
        Ok(retired)
    }

    /// Forgets a push enrollment (the TOTP account stays).
    pub fn remove_push_account(&mut self, device_id: &str) -> Result<(), PushError> {
        let before = self.push.len();
        self.push.retain(|p| p.device_id != device_id);
        if self.push.len() == before {
            return Err(PushError::UnknownPushAccount(device_id.to_owned()));
        }
        Ok(())
    }

    fn open_for(&self, device_id: &str, jws: &str, now: u64) -> Result<Challenge, PushError> {
        self.push_account(device_id)?.open(jws, now)
    }

    fn push_account(&self, device_id: &str) -> Result<&PushAccount, PushError> {
        self.push
            .iter()
            .find(|p| p.device_id == device_id)
            .ok_or_else(|| PushError::UnknownPushAccount(device_id.to_owned()))
    }

    fn push_account_mut(&mut self, device_id: &str) -> Result<&mut PushAccount, PushError> {
        self.push
            .iter_mut()
            .find(|p| p.device_id == device_id)
            .ok_or_else(|| PushError::UnknownPushAccount(device_id.to_owned()))
    }

    /// Adds the account, or returns the id of the one the vault already has.
    fn add_or_find(&mut self, account: Account) -> Result<AccountId, VaultError> {
        match self
            .entries()
            .iter()
            .find(|e| e.account.same_codes_as(&account))
        {
            Some(existing) => Ok(existing.id.clone()),
            None => self.add(account),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use assent_protocol::Signer as _;

    use super::*;

    #[test]
    fn platform_signatures_become_low_s_raw_signatures() {
        let key = SoftwareSigner::generate(&mut assent_protocol::system_rng());
        let raw = key.sign(b"header.payload").unwrap();
        let low = p256::ecdsa::Signature::from_slice(&raw)
            .unwrap()
            .normalize_s();
        let (r, s) = low.split_scalars();
        let high = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        let expected: [u8; 64] = low.to_bytes().into();
        for platform in [
            low.to_bytes().to_vec(),
            low.to_der().as_bytes().to_vec(),
            high.to_bytes().to_vec(),
            high.to_der().as_bytes().to_vec(),
        ] {
            assert_eq!(jws_signature(&platform).unwrap(), expected);
        }
        for garbage in [&[][..], &[0u8; 63], &[0u8; 64], b"0\x02\x01\x00"] {
            assert!(matches!(
                jws_signature(garbage),
                Err(SignerError::Platform(_))
            ));
        }
    }

    #[test]
    fn answerable_until_the_skew_allowance_is_over() {
        let exp = 1_000;
        assert!(answerable(exp, exp));
        assert!(answerable(exp, exp + assent_protocol::CLOCK_SKEW));
        assert!(!answerable(exp, exp + assent_protocol::CLOCK_SKEW + 1));
        assert!(answerable(u64::MAX, u64::MAX));
    }
}
