//! What this device sends its portals: the registration (and activation) of `enroll`, the polls
//! for pending requests, and the answers. The core builds and signs each request; this module
//! saves the vault when the request changed it, before the request goes out, so that a crash
//! never forgets an answer that left; then sends it.

use std::time::Duration;

use assent_protocol::{Challenge, Pending, Response};
use authenticator_core::Unlock;
use authenticator_core::push::{
    DeviceInfo, KeyChoice, PortalRequest, PushAccount, PushError, PushState,
};
use authenticator_core::vault::Vault;

use crate::clock::Clock;
use crate::failure::Failure;
use crate::history::History;
use crate::portal_client::{Exchange, PortalClient};
use crate::relays::Relays;
use crate::request::Found;
use crate::store;

/// How many times a registration is sent when no answer comes back (1 s, 2 s, 4 s apart).
const REGISTRATION_TRIES: u32 = 4;

/// What [`register`] set up.
pub struct Registered {
    /// The new enrollment's device id.
    pub device_id: String,
    /// Who the enrollment is for, as the QR labelled it (`Issuer (name)`).
    pub label: String,
    /// Whether the QR's TOTP secret replaced the one an earlier enrollment with this portal
    /// brought.
    pub replaced_codes: bool,
}

/// Enrolls `vault` from the enrollment URI `qr` and registers `device` with the portal, then
/// activates it; `relay` is recorded as where its pushes stream from. The caller holds the
/// vault's write lock throughout, so that going back on a failure loses no one else's change.
///
/// On a failure the vault file goes back to what it was, with the QR's account added for its
/// codes, and the relay is forgotten.
pub fn register(
    vault: &mut Vault,
    qr: &str,
    device: DeviceInfo,
    relay: Option<&str>,
    client: &PortalClient,
    clock: &dyn Clock,
) -> Result<Registered, Failure> {
    // Enrolling replaces an earlier enrollment of the same account; if this one fails, the
    // earlier one must still be there.
    let before = vault.to_bytes()?;
    let mut rng = assent_protocol::system_rng();
    let enrolled = vault.enroll(qr, device, KeyChoice::Software, clock.now(), &mut rng)?;
    let device_id = enrolled.device_id.clone();
    vault.save()?;
    let mut relays = Relays::load(vault.path())?;
    relays.set(&device_id, relay)?;

    // A registration whose answer was lost is sent again: the portal answers the same device
    // again (docs/protocol.md §4.3), where a new QR would otherwise be needed.
    let activated = client
        .send_again_if_unanswered(
            &enrolled.request,
            Exchange::Registration,
            REGISTRATION_TRIES,
            Duration::from_secs(1),
        )
        .and_then(|body| Ok(vault.activate(&device_id, &body, clock.now(), None)?))
        .and_then(|activation| {
            vault.save()?;
            client.send(&activation, Exchange::Activation)
        });
    if let Err(failure) = activated {
        // A registration the portal never activated changes nothing there: go back to the
        // vault as it was, with the new account's codes.
        // (When the QR's secret replaced an earlier enrollment's, the vault goes back to that
        // one: the new secret counts at the portal only once the device is activated.)
        let mut restored = Vault::from_bytes(vault.path(), &before, Unlock::Key(vault.key()))?;
        if !enrolled.replaced_codes
            && let Some(entry) = vault.get(&enrolled.account_id)
        {
            restored.add_all(vec![entry.account.clone()])?;
        }
        restored.save()?;
        store::after_change(&restored, clock.now());
        relays.set(&device_id, None)?;
        return Err(Failure::new(format!(
            "{failure}; the codes were kept, push was not set up"
        )));
    }
    let live: Vec<&str> = vault
        .push_accounts()
        .iter()
        .map(|p| p.device_id.as_str())
        .collect();
    relays.keep_only(&live)?;
    let label = vault
        .push_accounts()
        .iter()
        .find(|p| p.device_id == device_id)
        .map(|p| p.label.clone())
        .unwrap_or_default();
    Ok(Registered {
        device_id,
        label,
        replaced_codes: enrolled.replaced_codes,
    })
}

/// The active push enrollments of the vault.
pub fn active(vault: &Vault) -> Vec<&PushAccount> {
    vault
        .push_accounts()
        .iter()
        .filter(|p| p.state == PushState::Active)
        .collect()
}

/// Asks the portal of `account` for its pending challenges (the poll signed at `now`) and
/// returns the raw JWS strings.
pub fn poll(
    vault: &Vault,
    account: &PushAccount,
    client: &PortalClient,
    now: u64,
) -> Result<Vec<String>, Failure> {
    let mut rng = assent_protocol::system_rng();
    let request = vault.poll_request(&account.device_id, now, None, &mut rng)?;
    let body = client.send(&request, Exchange::Poll)?;
    let pending: Pending = serde_json::from_str(&body).map_err(|_| {
        Failure::new(format!(
            "the portal at {} answered the poll with something else than a list of requests",
            account.portal_url
        ))
    })?;
    Ok(pending.challenges)
}

/// Every pending request of every active enrollment. A portal that cannot be asked is reported
/// on standard error and skipped, unless every one fails.
pub fn fetch_all(
    vault: &Vault,
    client: &PortalClient,
    clock: &dyn Clock,
) -> Result<Vec<Found>, Failure> {
    let accounts = active(vault);
    if accounts.is_empty() {
        return Err(Failure::new(
            "no push enrollment in this vault: enroll with `assent enroll <uri>` or `--qr IMAGE`",
        ));
    }
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for account in &accounts {
        match poll(vault, account, client, clock.now()) {
            Ok(challenges) => {
                for jws in challenges {
                    match open(vault, &jws, clock.now()) {
                        Ok(Some(f)) => found.push(f),
                        Ok(None) => {}
                        Err(why) => eprintln!("assent: {why}"),
                    }
                }
            }
            Err(why) => failures.push(why),
        }
    }
    if failures.len() == accounts.len() && !failures.is_empty() {
        return Err(failures.remove(0));
    }
    for why in &failures {
        eprintln!("assent: {why}");
    }
    found.sort_by_key(|f| f.challenge.iat);
    remember_seen(vault, &found, clock.now());
    Ok(found)
}

/// Adds requests just found to the terminal's history (see [`crate::history`]); a history that
/// cannot be written only costs a less precise message later, so it is said and not fatal.
fn remember_seen(vault: &Vault, found: &[Found], now: u64) {
    let mut history = History::load(vault.path());
    history.saw(
        found
            .iter()
            .map(|f| (f.challenge.id.as_str(), f.challenge.exp)),
        now,
    );
    if let Err(why) = history.save() {
        eprintln!("assent: {why}");
    }
}

/// Opens a pushed or polled challenge at `now`: `Ok(None)` for one that needs no prompt
/// (already answered here, or expired), an error for one that cannot be trusted.
pub fn open(vault: &Vault, jws: &str, now: u64) -> Result<Option<Found>, Failure> {
    closed_is_none(vault.open_challenge(jws, now).map(|c| found(vault, c)))
}

/// Like [`open`], keeping the request open in `vault`: `None` as well when it was open already
/// (the same request by the relay's stream and by a poll).
pub fn receive(vault: &mut Vault, jws: &str, now: u64) -> Result<Option<Found>, Failure> {
    let received = closed_is_none(vault.receive(jws, now))?;
    let shown = received
        .filter(|r| r.first_time)
        .map(|r| found(vault, r.challenge));
    if let Some(f) = &shown {
        remember_seen(vault, std::slice::from_ref(f), now);
    }
    Ok(shown)
}

/// A request that can no longer be answered is nothing to show; other errors are reported.
fn closed_is_none<T>(opened: Result<T, PushError>) -> Result<Option<T>, Failure> {
    match opened {
        Ok(value) => Ok(Some(value)),
        Err(PushError::AlreadyAnswered | PushError::Expired) => Ok(None),
        Err(e) => Err(Failure::new(format!("a request was ignored: {e}"))),
    }
}

fn found(vault: &Vault, challenge: Challenge) -> Found {
    let account = vault
        .push_accounts()
        .iter()
        .find(|p| p.device_id == challenge.device_id);
    Found {
        device_id: challenge.device_id.clone(),
        label: account.map(|p| p.label.clone()).unwrap_or_default(),
        portal: account.map(|p| p.portal_url.clone()).unwrap_or_default(),
        challenge,
    }
}

/// Answers `challenge` with `response`: the one way an answer leaves this device, for
/// `approve`, `deny` and `watch`. Signs on a fresh copy of the vault read under the write lock,
/// saves it with the challenge marked answered, releases the lock, then sends; `vault` becomes
/// that copy. Returns the portal's verdict, `approved` or `denied`.
pub fn answer(
    vault: &mut Vault,
    challenge: &Challenge,
    response: &Response,
    client: &PortalClient,
    clock: &dyn Clock,
) -> Result<String, Failure> {
    // Why this answers a request at most once, though no lock is held over the network (the
    // poll that found the request, and the send below):
    // - the core refuses to sign an answer to a challenge the vault marks answered, and marks
    //   it when it signs; that check-and-mark happens on a copy read under the write lock and
    //   is saved before the lock is released, so two `assent` processes answering the same
    //   request take turns, and the second finds it answered and sends nothing;
    // - the mark is saved before the request leaves, so a crash after the save cannot lead to
    //   a second answer (at worst the answer is lost, and the request expires unanswered);
    // - what was read without the lock (`vault` and the challenge) is never written back: a
    //   change another `assent` saved meanwhile is in the fresh copy, and kept.
    let request = {
        let _lock = store::lock(vault.path())?;
        let mut fresh = Vault::open(vault.path(), Unlock::Key(vault.key()))?;
        let request = fresh.answer(challenge, response, clock.now(), None)?;
        fresh.save()?;
        store::after_change(&fresh, clock.now());
        *vault = fresh;
        request
    };
    let sent = send_answer(client, &request);
    let mut history = History::load(vault.path());
    let outcome = match &sent {
        Ok(status) => status.clone(),
        Err(why) => why.to_string(),
    };
    history.answered(&challenge.id, challenge.exp, &outcome);
    if let Err(why) = history.save() {
        eprintln!("assent: {why}");
    }
    sent
}

/// Sends a signed answer; the portal's verdict, `approved` or `denied`.
fn send_answer(client: &PortalClient, request: &PortalRequest) -> Result<String, Failure> {
    let body = client.send(request, Exchange::Answer)?;
    let status = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "answered".to_owned());
    Ok(status)
}
