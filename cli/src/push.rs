//! The push commands of the terminal device: `enroll`, `pending`, `approve` and `deny`, and what
//! `watch` shares with them (polling, describing a request, answering it).
//!
//! The core builds every request and the CLI sends it; the vault is saved after each call that
//! changes it and before the request goes out, so a crash never forgets an answer that left.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assent_protocol::{
    Challenge, DenyReason, Pending, Platform, Purpose, PushConfig, PushEnrollment, Response,
    Transport,
};
use authenticator_core::push::{DeviceInfo, KeyChoice, PushAccount, PushError, PushState};
use authenticator_core::vault::Vault;
use authenticator_core::{Unlock, uri};
use serde::Serialize;

use crate::commands::{now, save_new};
use crate::failure::{Context, Failure};
use crate::portal_client::{Exchange, PortalClient};
use crate::relays::Relays;
use crate::{auto_backup, direct, qr_image, store};

/// The longest device name the protocol allows, in bytes.
const MAX_NAME: usize = 64;
/// How many times a registration is sent when no answer comes back (1 s, 2 s, 4 s apart).
const REGISTRATION_TRIES: u32 = 4;

/// `assent enroll`: registers this terminal as the push device of the QR's account.
pub fn enroll(
    path: &Path,
    uri_or_image: Option<String>,
    qr: Option<PathBuf>,
    name: Option<String>,
    relay: Option<String>,
) -> Result<(), Failure> {
    // The URI holds the one-time enrollment token: wiped from memory once done, never printed.
    let text = zeroize::Zeroizing::new(enrollment_text(uri_or_image, qr)?);
    let parsed = uri::parse_full(&text)?;
    // Checked before anything is created or registered: a QR that cannot enroll changes nothing.
    let offered = PushEnrollment::from_params(&parsed.extra, now()).map_err(PushError::from)?;
    if offered.is_none() {
        save_new(path, vec![parsed.account])?;
        eprintln!(
            "This QR code does not offer push sign-in approvals: it was added for codes only."
        );
        return Ok(());
    }
    let name = device_name(name)?;
    let relay = relay.as_deref().map(direct::relay_url).transpose()?;
    let client = PortalClient::new()?;
    // Without a relay the device registers with no push address: the portal reaches it by
    // its polls alone (docs/protocol.md §4.1).
    let push = match &relay {
        Some(url) => Some(PushConfig {
            transport: Transport::Direct,
            token: direct::register(url)?,
            environment: None,
            topic: None,
        }),
        None => None,
    };
    let device = DeviceInfo {
        platform: Platform::Desktop,
        name,
        push,
    };

    let _lock = store::lock(path)?;
    let mut vault = store::open_or_create(path)?;
    // Enrolling replaces an earlier enrollment of the same account; if this one fails, the
    // earlier one must still be there.
    let before = vault.to_bytes()?;
    let mut rng = assent_protocol::system_rng();
    let enrolled = vault.enroll(&text, device, KeyChoice::Software, now(), &mut rng)?;
    let device_id = enrolled.device_id.clone();
    vault.save()?;
    let mut relays = Relays::load(path)?;
    relays.set(&device_id, relay.as_deref())?;

    // A registration whose answer was lost is sent again: the portal answers the same device
    // again (docs/protocol.md §4.3), where a new QR would otherwise be needed.
    let activated = client
        .send_again_if_unanswered(
            &enrolled.request,
            Exchange::Registration,
            REGISTRATION_TRIES,
            Duration::from_secs(1),
        )
        .and_then(|body| Ok(vault.activate(&device_id, &body, now(), None)?))
        .and_then(|activation| {
            vault.save()?;
            client.send(&activation, Exchange::Activation)
        });
    if let Err(failure) = activated {
        // A registration the portal never activated changes nothing there: go back to the
        // vault as it was, with the new account's codes.
        // (When the QR's secret replaced an earlier enrollment's, the vault goes back to that
        // one: the new secret counts at the portal only once the device is activated.)
        let mut restored = Vault::from_bytes(path, &before, Unlock::Key(vault.key()))?;
        if !enrolled.replaced_codes
            && let Some(entry) = vault.get(&enrolled.account_id)
        {
            restored.add_all(vec![entry.account.clone()])?;
        }
        restored.save()?;
        auto_backup::after_change(&restored);
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
    eprintln!(
        "Enrolled {label} for push and codes (device {}…)",
        short(&device_id)
    );
    if enrolled.replaced_codes {
        eprintln!(
            "Its codes now come from the new QR: the secret of the earlier enrollment with this \
             portal is replaced (the portal no longer accepts it)."
        );
    }
    auto_backup::after_change(&vault);
    match &relay {
        Some(url) => eprintln!("Requests arrive through the relay at {url}: run `assent watch`."),
        None => eprintln!(
            "No relay was given (--relay or ASSENT_RELAY_URL): requests reach this device only \
             when it polls, with `assent pending` or `assent watch`."
        ),
    }
    Ok(())
}

/// The enrollment URI: given, or read from a QR image (`--qr`, or a file path given in place of
/// the URI).
fn enrollment_text(uri_or_image: Option<String>, qr: Option<PathBuf>) -> Result<String, Failure> {
    let image = match (uri_or_image, qr) {
        (Some(text), _)
            if text
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("otpauth:") =>
        {
            return Ok(text.trim().to_owned());
        }
        (Some(text), _) if Path::new(&text).is_file() => PathBuf::from(text),
        (Some(_), _) => {
            return Err(Failure::new(
                "give the enrollment otpauth:// URI, or a QR image with --qr IMAGE",
            ));
        }
        (None, Some(image)) => image,
        (None, None) => return Err(Failure::new("give the enrollment URI or --qr IMAGE")),
    };
    let bytes = std::fs::read(&image).context(|| format!("reading {}", image.display()))?;
    let texts =
        qr_image::read(&bytes).map_err(|e| Failure::new(format!("{}: {e}", image.display())))?;
    texts
        .into_iter()
        .find(|t| t.to_ascii_lowercase().starts_with("otpauth://"))
        .ok_or_else(|| {
            Failure::new(format!(
                "{}: the QR code is not an otpauth URI",
                image.display()
            ))
        })
}

/// The device name: given (checked), else "assent on <hostname>", at most 64 bytes.
fn device_name(given: Option<String>) -> Result<String, Failure> {
    if let Some(name) = given {
        if !assent_protocol::is_display_text(&name, MAX_NAME) {
            return Err(Failure::new(format!(
                "the device name must be 1 to {MAX_NAME} bytes without control characters, \
                 bidirectional controls or line separators"
            )));
        }
        return Ok(name);
    }
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let mut name = String::from("assent on ");
    for c in host
        .chars()
        .filter(|&c| !assent_protocol::refused_in_display_text(c))
    {
        if name.len() + c.len_utf8() > MAX_NAME {
            break;
        }
        name.push(c);
    }
    if name.ends_with(' ') {
        name.push_str("this computer");
    }
    Ok(name)
}

/// The first 8 characters of an id: how ids are shown.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A request found for one of the vault's push enrollments.
pub struct Found {
    /// The enrollment's device id.
    pub device_id: String,
    /// Who the enrollment is for (`Issuer (name)`).
    pub label: String,
    /// The portal.
    pub portal: String,
    /// The opened challenge.
    pub challenge: Challenge,
}

/// The active push enrollments of the vault.
pub fn active(vault: &Vault) -> Vec<&PushAccount> {
    vault
        .push_accounts()
        .iter()
        .filter(|p| p.state == PushState::Active)
        .collect()
}

/// Asks the portal of `account` for its pending challenges and returns the raw JWS strings.
pub fn poll(
    vault: &Vault,
    account: &PushAccount,
    client: &PortalClient,
) -> Result<Vec<String>, Failure> {
    let mut rng = assent_protocol::system_rng();
    let request = vault.poll_request(&account.device_id, now(), None, &mut rng)?;
    let body = client.send(&request, Exchange::Poll)?;
    let pending: Pending = serde_json::from_str(&body).map_err(|_| {
        Failure::new(format!(
            "the portal at {} answered the poll with something else than a list of requests",
            account.portal_url
        ))
    })?;
    Ok(pending.challenges)
}

/// Opens a pushed or polled challenge: `Ok(None)` for one that needs no prompt (already
/// answered here, or expired), an error for one that cannot be trusted.
pub fn open(vault: &Vault, jws: &str) -> Result<Option<Found>, Failure> {
    closed_is_none(vault.open_challenge(jws, now()).map(|c| found(vault, c)))
}

/// Like [`open`], keeping the request open in `vault`: `None` as well when it was open already
/// (the same request by the relay's stream and by a poll).
pub fn receive(vault: &mut Vault, jws: &str) -> Result<Option<Found>, Failure> {
    let received = closed_is_none(vault.receive(jws, now()))?;
    Ok(received
        .filter(|r| r.first_time)
        .map(|r| found(vault, r.challenge)))
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

/// Every pending request of every active enrollment. A portal that cannot be asked is reported
/// on standard error and skipped, unless every one fails.
pub fn fetch_all(vault: &Vault, client: &PortalClient) -> Result<Vec<Found>, Failure> {
    let accounts = active(vault);
    if accounts.is_empty() {
        return Err(Failure::new(
            "no push enrollment in this vault: enroll with `assent enroll <uri>` or `--qr IMAGE`",
        ));
    }
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for account in &accounts {
        match poll(vault, account, client) {
            Ok(challenges) => {
                for jws in challenges {
                    match open(vault, &jws) {
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
    Ok(found)
}

/// The purpose in the user's words.
pub fn purpose_text(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Login => "sign-in",
        Purpose::StepUp => "step-up",
        Purpose::PasswordReset => "password reset",
        Purpose::Activate => "activation",
    }
}

/// Seconds until the request expires (0 when it has).
pub fn seconds_left(challenge: &Challenge) -> u64 {
    challenge.exp.saturating_sub(now())
}

/// The lines that describe a request for a person to decide on.
pub fn describe(found: &Found) -> Vec<String> {
    let c = &found.challenge.content;
    let ctx = &c.context;
    let mut lines = vec![
        format!("  user:        {}", ctx.user),
        format!("  application: {}", ctx.application),
    ];
    let from: Vec<&str> = [ctx.ip.as_deref(), ctx.location.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    lines.push(format!(
        "  from:        {}",
        if from.is_empty() {
            "unknown".to_owned()
        } else {
            from.join(", ")
        }
    ));
    let client = match (ctx.browser.as_deref(), ctx.os.as_deref()) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(x), None) | (None, Some(x)) => x.to_owned(),
        (None, None) => "unknown".to_owned(),
    };
    lines.push(format!("  browser:     {client}"));
    lines.push(format!(
        "  expires in:  {} s",
        seconds_left(&found.challenge)
    ));
    if let Some(n) = c.number_matching {
        lines.push(format!(
            "  number:      type the {}-digit number shown on the sign-in page",
            n.digits
        ));
    }
    lines
}

/// One request as `pending --json` prints it.
#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    device_id: &'a str,
    account: &'a str,
    portal: &'a str,
    purpose: Purpose,
    user: &'a str,
    application: &'a str,
    ip: Option<&'a str>,
    location: Option<&'a str>,
    browser: Option<&'a str>,
    os: Option<&'a str>,
    expires_at: u64,
    seconds_left: u64,
    number_digits: Option<u8>,
    user_verification: assent_protocol::UserVerification,
}

/// `assent pending`: the requests waiting for an answer.
pub fn pending(path: &Path, json: bool) -> Result<(), Failure> {
    let vault = store::open(path)?;
    let client = PortalClient::new()?;
    let found = fetch_all(&vault, &client)?;
    if json {
        let listed: Vec<Listed<'_>> = found
            .iter()
            .map(|f| {
                let c = &f.challenge.content;
                Listed {
                    id: &f.challenge.id,
                    device_id: &f.device_id,
                    account: &f.label,
                    portal: &f.portal,
                    purpose: c.purpose,
                    user: &c.context.user,
                    application: &c.context.application,
                    ip: c.context.ip.as_deref(),
                    location: c.context.location.as_deref(),
                    browser: c.context.browser.as_deref(),
                    os: c.context.os.as_deref(),
                    expires_at: f.challenge.exp,
                    seconds_left: seconds_left(&f.challenge),
                    number_digits: c.number_matching.map(|n| n.digits),
                    user_verification: c.user_verification,
                }
            })
            .collect();
        let text =
            serde_json::to_string_pretty(&listed).map_err(|e| Failure::new(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    if found.is_empty() {
        eprintln!("No request is waiting.");
    }
    for f in &found {
        println!(
            "{}  {} request for {}",
            short(&f.challenge.id),
            purpose_text(f.challenge.content.purpose),
            f.label
        );
        for line in describe(f) {
            println!("{line}");
        }
    }
    Ok(())
}

/// The one pending request whose id starts with `prefix`.
fn find(found: Vec<Found>, prefix: &str) -> Result<Found, Failure> {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return Err(Failure::new(
            "give the request's id (or its first characters)",
        ));
    }
    let mut matching: Vec<Found> = found
        .into_iter()
        .filter(|f| f.challenge.id.starts_with(prefix))
        .collect();
    match matching.len() {
        0 => Err(Failure::new(format!(
            "no pending request has an id starting with {prefix:?} (answered, expired, or never sent here?): see `assent pending`"
        ))),
        1 => Ok(matching.remove(0)),
        n => Err(Failure::new(format!(
            "{n} pending requests have ids starting with {prefix:?}: give more characters"
        ))),
    }
}

/// `assent approve` and `assent deny`: answers one pending request.
pub fn respond(path: &Path, id: &str, decision: Decision) -> Result<(), Failure> {
    let lock = store::lock(path)?;
    let mut vault = store::open(path)?;
    let client = PortalClient::new()?;
    let found = find(fetch_all(&vault, &client)?, id)?;
    let response = match decision {
        Decision::Approve { number } => approval(&found.challenge, number)?,
        Decision::Deny { not_me } => Response::Deny {
            reason: Some(if not_me {
                DenyReason::NotMe
            } else {
                DenyReason::Cancelled
            }),
            user_verified: false,
        },
    };
    let request = vault.answer(&found.challenge, &response, now(), None)?;
    vault.save()?;
    auto_backup::after_change(&vault);
    drop(lock);
    let status = send_answer(&client, &request)?;
    println!("{status}");
    Ok(())
}

/// What the user decided on the command line.
pub enum Decision {
    /// `approve`, with the typed number when there is one.
    Approve {
        /// `--number`.
        number: Option<String>,
    },
    /// `deny`.
    Deny {
        /// `--not-me`: report the request as not made by the user.
        not_me: bool,
    },
}

/// The approval of `challenge` with `number`, checked against what the request needs.
pub fn approval(challenge: &Challenge, number: Option<String>) -> Result<Response, Failure> {
    let number = match (challenge.content.number_matching, number) {
        (Some(n), None) => {
            return Err(Failure::new(format!(
                "this request needs the {}-digit number shown on the sign-in page: pass --number",
                n.digits
            )));
        }
        (Some(n), Some(typed)) => {
            let typed = typed.trim().to_owned();
            if !is_number(&typed, n.digits) {
                return Err(Failure::new(format!(
                    "the number is {} digits, as shown on the sign-in page",
                    n.digits
                )));
            }
            Some(typed)
        }
        (None, _) => None,
    };
    if challenge.content.user_verification == assent_protocol::UserVerification::Required {
        return Err(Failure::new(
            "this portal requires user verification (Face ID, fingerprint), which the terminal cannot give: approve on a phone, or deny",
        ));
    }
    Ok(Response::Approve {
        number,
        user_verified: false,
    })
}

/// Whether `typed` is exactly `digits` ASCII digits.
pub fn is_number(typed: &str, digits: u8) -> bool {
    typed.len() == usize::from(digits) && typed.bytes().all(|b| b.is_ascii_digit())
}

/// Sends a signed answer; the portal's verdict, `approved` or `denied`.
pub fn send_answer(
    client: &PortalClient,
    request: &authenticator_core::push::PortalRequest,
) -> Result<String, Failure> {
    let body = client.send(request, Exchange::Answer)?;
    let status = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "answered".to_owned());
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_device_name_fits() {
        let name = device_name(None).unwrap();
        assert!(name.starts_with("assent on ") && name.len() <= MAX_NAME);
        assert!(device_name(Some("x".repeat(65))).is_err());
        assert!(device_name(Some("a\nb".into())).is_err());
        assert!(device_name(Some("laptop\u{202E}gnp".into())).is_err());
        assert_eq!(device_name(Some("laptop".into())).unwrap(), "laptop");
    }

    #[test]
    fn numbers() {
        assert!(is_number("07", 2));
        assert!(!is_number("7", 2));
        assert!(!is_number("0a", 2));
        assert!(is_number("123", 3));
    }
}
