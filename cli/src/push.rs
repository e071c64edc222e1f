//! The push commands of the terminal device: `enroll`, `pending`, `approve` and `deny`. What
//! they send is built, saved and sent by [`crate::exchanges`]; `watch` is [`crate::watch`].

use std::path::{Path, PathBuf};

use assent_protocol::{Platform, PushConfig, PushEnrollment, Transport};
use authenticator_core::push::{DeviceInfo, PushError};
use authenticator_core::uri;
use authenticator_core::vault::Vault;
use serde::Serialize;

use crate::clock::Clock;
use crate::decision::{self, Decision};
use crate::exchanges;
use crate::failure::{Context, Failure};
use crate::history::History;
use crate::portal_client::PortalClient;
use crate::request::{self, Found};
use crate::{direct, qr_image, store};

/// The longest device name the protocol allows, in bytes.
const MAX_NAME: usize = 64;

/// `assent enroll`: registers this terminal as the push device of the QR's account.
pub fn enroll(
    path: &Path,
    uri_or_image: Option<String>,
    qr: Option<PathBuf>,
    name: Option<String>,
    relay: Option<String>,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    // The URI holds the one-time enrollment token: wiped from memory once done, never printed.
    let text = zeroize::Zeroizing::new(enrollment_text(uri_or_image, qr)?);
    let parsed = uri::parse_full(&text)?;
    // Checked before anything is created or registered: a QR that cannot enroll changes nothing.
    let offered =
        PushEnrollment::from_params(&parsed.extra, clock.now()).map_err(PushError::from)?;
    if offered.is_none() {
        store::save_new(path, vec![parsed.account], clock)?;
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
    let registered =
        exchanges::register(&mut vault, &text, device, relay.as_deref(), &client, clock)?;
    eprintln!(
        "Enrolled {} for push and codes (device {}…)",
        registered.label,
        request::short(&registered.device_id)
    );
    if registered.replaced_codes {
        eprintln!(
            "Its codes now come from the new QR: the secret of the earlier enrollment with this \
             portal is replaced (the portal no longer accepts it)."
        );
    }
    store::after_change(&vault, clock.now());
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

/// One request as `pending --json` prints it.
#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    device_id: &'a str,
    account: &'a str,
    portal: &'a str,
    purpose: assent_protocol::Purpose,
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
pub fn pending(path: &Path, json: bool, clock: &dyn Clock) -> Result<(), Failure> {
    let vault = store::open(path)?;
    let client = PortalClient::new()?;
    let found = exchanges::fetch_all(&vault, &client, clock)?;
    let now = clock.now();
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
                    seconds_left: request::seconds_left(&f.challenge, now),
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
            request::short(&f.challenge.id),
            request::purpose_text(f.challenge.content.purpose),
            f.label
        );
        for line in request::describe(&f.challenge, now) {
            println!("{line}");
        }
    }
    Ok(())
}

/// `assent approve` and `assent deny`: answers one pending request.
///
/// The portals are polled with no lock held; only the answer takes the vault's write lock, in
/// [`exchanges::answer`], which says why that keeps every request answered at most once.
pub fn respond(
    path: &Path,
    id: &str,
    decision: Decision,
    clock: &dyn Clock,
) -> Result<(), Failure> {
    let mut vault = store::open(path)?;
    let client = PortalClient::new()?;
    let found = find(
        exchanges::fetch_all(&vault, &client, clock)?,
        id,
        &vault,
        clock.now(),
    )?;
    let response = decision::response(&found.challenge, decision)?;
    let status = exchanges::answer(&mut vault, &found.challenge, &response, &client, clock)?;
    println!("{status}");
    Ok(())
}

/// The one pending request whose id starts with `prefix`; when there is none, says whether this
/// device answered one by that id already.
fn find(found: Vec<Found>, prefix: &str, vault: &Vault, now: u64) -> Result<Found, Failure> {
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
        0 if let Some(what) = History::load(vault.path()).explain(prefix, now) => {
            Err(Failure::new(format!(
                "no pending request has an id starting with {prefix:?}: {what}"
            )))
        }
        0 if answered_here(vault, prefix) => Err(Failure::new(format!(
            "no pending request has an id starting with {prefix:?}: it was already answered from this device"
        ))),
        0 => Err(Failure::new(format!(
            "no pending request has an id starting with {prefix:?} (answered, expired, or never sent here?): see `assent pending`"
        ))),
        1 => Ok(matching.remove(0)),
        n => Err(Failure::new(format!(
            "{n} pending requests have ids starting with {prefix:?}: give more characters"
        ))),
    }
}

/// Whether this device answered a request whose id starts with `prefix` (and still remembers
/// it: the core may forget an answer once the request can no longer be answered anyway).
fn answered_here(vault: &Vault, prefix: &str) -> bool {
    vault
        .push_accounts()
        .iter()
        .any(|account| account.answered_ids().any(|id| id.starts_with(prefix)))
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
}
