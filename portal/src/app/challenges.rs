//! Challenges: built, signed, encrypted and stored here, handed to the relay, and expired when
//! their 60 seconds are up. Enforces the push rate limit (MFA bombing protection).

use std::sync::Arc;

use assent_protocol::challenge::build_challenge;
use assent_protocol::{ChallengeContent, LoginContext, NumberMatching, Purpose, PushConfig};

use super::client::Client;
use super::{Portal, PortalError};
use crate::db::{
    ChallengeReason, ChallengeRow, ChallengeStatus, DbError, DeliveryState, EventKind, Inserted,
    LogLine, Outcome, Session, User,
};
use crate::relay::Delivery;

/// What a challenge asks about besides its user and purpose: the portal's own sign-ins ask with
/// [`Asked::default`]; a relying party names its application and itself.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The application the phone names (the portal's `--application` when `None`).
    pub application: Option<String>,
    /// Whether the number is shown (when the portal's number matching is on).
    pub number: bool,
    /// The relying party that asked.
    pub client: Option<String>,
}

impl Default for Asked {
    fn default() -> Self {
        Self {
            application: None,
            number: true,
            client: None,
        }
    }
}

/// A stored challenge's push, still to hand to the relay.
struct Outgoing {
    push: PushConfig,
    user_id: i64,
    device_id: String,
}

impl Portal {
    /// Creates a challenge for the user's device and sends it through the relay (in a task of
    /// its own: the browser learns the outcome by polling the status). The database and the
    /// crypto run on a blocking thread. Enforces the push rate limit. Returns the stored
    /// challenge, whose `number` the page shows; with `session`, that browser session now
    /// waits for it, and the push it waited for until now, if still pending, is withdrawn.
    pub async fn send_challenge(
        self: &Arc<Self>,
        user: &User,
        purpose: Purpose,
        client: &Client,
        session: Option<&Session>,
    ) -> Result<ChallengeRow, PortalError> {
        self.send_asked(user, purpose, client, session, Asked::default())
            .await
    }

    /// [`Portal::send_challenge`], asking about `asked`.
    pub(crate) async fn send_asked(
        self: &Arc<Self>,
        user: &User,
        purpose: Purpose,
        client: &Client,
        session: Option<&Session>,
        asked: Asked,
    ) -> Result<ChallengeRow, PortalError> {
        let (user, client) = (user.clone(), client.clone());
        let session = session.map(|s| (s.id.clone(), s.challenge.clone()));
        let (row, outgoing) = self
            .quick(move |p| {
                let (id, replaces) = match &session {
                    Some((id, replaces)) => (Some(id.as_str()), replaces.as_deref()),
                    None => (None, None),
                };
                if let Some(old) = replaces {
                    p.db.settle_challenge(
                        old,
                        ChallengeStatus::Cancelled,
                        Some(ChallengeReason::Superseded),
                        None,
                    )?;
                }
                p.prepare_challenge(&user, purpose, &client, id, &asked)
            })
            .await?;
        if let Some(outgoing) = outgoing {
            let portal = self.clone();
            let (id, jws, exp) = (row.id.clone(), row.jws.clone(), row.exp);
            tokio::spawn(async move {
                let delivery = portal.relay.send(&outgoing.push, &jws, exp, &id).await;
                let recorded = portal
                    .quick(move |p| {
                        Ok(p.record_delivery(
                            outgoing.user_id,
                            &outgoing.device_id,
                            &id,
                            &delivery,
                        )?)
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "cannot record a delivery");
                }
            });
        }
        Ok(row)
    }

    /// The blocking part of [`Portal::send_challenge`]: the rate limit, the challenge built and
    /// stored with its event, and what is left to send.
    fn prepare_challenge(
        &self,
        user: &User,
        purpose: Purpose,
        client: &Client,
        session: Option<&str>,
        asked: &Asked,
    ) -> Result<(ChallengeRow, Option<Outgoing>), PortalError> {
        let now = self.now();
        let device_id = user.device_id.as_deref().ok_or(PortalError::NoDevice)?;
        let device = self.db.device(device_id)?.ok_or(PortalError::NoDevice)?;
        let since = now.saturating_sub(self.settings.push_window_seconds);
        let limited = || -> Result<PortalError, PortalError> {
            let first = self.db.first_push_since(user.id, since)?.unwrap_or(now);
            let retry_after = (first + self.settings.push_window_seconds)
                .saturating_sub(now)
                .max(1);
            self.log(
                user.id,
                &client.ip,
                EventKind::push(purpose),
                Outcome::RateLimited,
                "",
            )?;
            Ok(PortalError::PushLimited { retry_after })
        };
        // Checked before the challenge is built (no P-256 for a push that will be refused),
        // and again, for pushes sent at once, in the transaction that stores it.
        if self.db.pushes_since(user.id, since)? >= self.settings.push_limit {
            return Err(limited()?);
        }
        let digits = self.settings.number_digits;
        let number_matching = (digits >= 2 && asked.number).then_some(NumberMatching {
            digits: digits.min(3),
        });
        let content = ChallengeContent {
            purpose,
            context: LoginContext {
                user: user.username.clone(),
                application: asked
                    .application
                    .clone()
                    .unwrap_or_else(|| self.settings.application.clone()),
                ip: Some(client.ip.clone()).filter(|ip| !ip.is_empty()),
                location: None,
                browser: client.browser.clone(),
                os: client.os.clone(),
            },
            number_matching,
            user_verification: self.settings.user_verification,
        };
        let detail = match (&asked.client, &asked.application) {
            (Some(rp), Some(app)) => format!("to {}, for {rp}: {app}", device.name),
            (Some(rp), None) => format!("to {}, for {rp}", device.name),
            _ => format!("to {}", device.name),
        };
        let line = self.line(
            user.id,
            &client.ip,
            EventKind::push(purpose),
            Outcome::Sent,
            &detail,
        );
        // Without a push address the device finds the challenge by polling; that is its
        // delivery from the start.
        let delivery = device.push.is_none().then_some(DeliveryState::DevicePolls);
        let row = match self.store_challenge(
            (user.id, &device.id),
            &device.encryption_key,
            &content,
            (session, delivery),
            (&line, asked.client.as_deref()),
            Some((since, self.settings.push_limit)),
        ) {
            Err(PortalError::PushLimited { .. }) => return Err(limited()?),
            other => other?,
        };
        let outgoing = device.push.map(|push| Outgoing {
            push,
            user_id: user.id,
            device_id: device.id,
        });
        Ok((row, outgoing))
    }

    /// Builds, signs and stores a challenge, with its event (one transaction). `waiting` is
    /// the browser session that waits for it, and its delivery when that is known already;
    /// beside the event, the relying party that asked, if one did; `limit`, the user's push
    /// limit (pushes since a time, [`PortalError::PushLimited`] when reached).
    pub fn store_challenge(
        &self,
        (user_id, device_id): (i64, &str),
        encryption_key: &assent_protocol::PublicJwk,
        content: &ChallengeContent,
        waiting: (Option<&str>, Option<DeliveryState>),
        (line, asked_by): (&LogLine<'_>, Option<&str>),
        limit: Option<(u64, u32)>,
    ) -> Result<ChallengeRow, PortalError> {
        let mut rng = assent_protocol::system_rng();
        let built = build_challenge(
            &self.key,
            device_id,
            encryption_key,
            content,
            self.now(),
            &mut rng,
        )
        .map_err(|e| PortalError::Challenge(e.to_string()))?;
        let number = content.number_matching.map(|n| n.generate(&mut rng));
        let (session, delivery) = waiting;
        let row = ChallengeRow {
            id: built.id.clone(),
            user_id,
            device_id: device_id.to_owned(),
            hash: built.hash(),
            jws: built.jws,
            purpose: content.purpose,
            iat: built.iat,
            exp: built.exp,
            number,
            user_verification: content.user_verification,
            status: ChallengeStatus::Pending,
            reason: None,
            session: session.map(str::to_owned),
            delivery,
            delivery_detail: None,
            client: asked_by.map(str::to_owned),
        };
        match self.db.insert_challenge_within(&row, line, limit)? {
            Inserted::Stored => Ok(row),
            Inserted::SessionEnded => Err(PortalError::SessionGone),
            // The caller says when it lifts.
            Inserted::Limited => Err(PortalError::PushLimited { retry_after: 1 }),
        }
    }

    /// Stores what the relay said about a push; a dead token is dropped (the device polls).
    fn record_delivery(
        &self,
        user_id: i64,
        device_id: &str,
        challenge: &str,
        delivery: &Delivery,
    ) -> Result<(), DbError> {
        let (state, reason) = match delivery {
            Delivery::Delivered => (DeliveryState::Delivered, None),
            Delivery::Unregistered(r) => (DeliveryState::Unregistered, Some(r.as_str())),
            Delivery::Rejected(r) => (DeliveryState::Rejected, Some(r.as_str())),
            Delivery::Failed(r) => (DeliveryState::Failed, Some(r.as_str())),
        };
        tracing::info!(challenge = %challenge, outcome = %delivery.describe(), "push sent");
        self.db.set_delivery(challenge, state, reason)?;
        match delivery {
            Delivery::Delivered => {}
            Delivery::Unregistered(reason) => {
                self.db.set_push(device_id, None)?;
                self.log(
                    user_id,
                    "relay",
                    EventKind::PushToken,
                    Outcome::Dropped,
                    &format!("the relay reported the token dead ({reason}); the device must poll"),
                )?;
            }
            other => {
                self.log(
                    user_id,
                    "relay",
                    EventKind::PushDelivery,
                    Outcome::Failed,
                    &other.describe(),
                )?;
            }
        }
        Ok(())
    }

    /// A challenge as it stands now: one whose time is up reads as expired even before the
    /// periodic expiry (see [`crate::serve`]) has marked it, so a status poll never writes.
    pub(super) fn as_of_now(&self, mut c: ChallengeRow) -> ChallengeRow {
        if c.status == ChallengeStatus::Pending && c.exp < self.now() {
            c.status = ChallengeStatus::Expired;
        }
        c
    }

    /// Marks challenges past their 60 seconds as expired and logs them: once a second from
    /// [`crate::serve`], and before the help desk reads an event log.
    pub fn expire_due(&self) -> Result<(), PortalError> {
        for c in self.db.expire_challenges(self.now())? {
            if c.purpose != Purpose::Activate {
                self.log(
                    c.user_id,
                    "portal",
                    EventKind::push(c.purpose),
                    Outcome::Expired,
                    "no answer in 60 s",
                )?;
            }
        }
        self.restore_due_mfa()
    }
}
