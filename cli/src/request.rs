//! A sign-in request this device was sent, as found for one of its push enrollments, and how it
//! is shown to the person who decides on it (`pending`, `watch`).

use assent_protocol::{Challenge, Purpose};

/// A request found for one of the vault's push enrollments.
#[derive(Debug)]
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

/// The first 8 characters of an id: how ids are shown.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
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

/// Seconds from `now` until the request expires (0 when it has).
pub fn seconds_left(challenge: &Challenge, now: u64) -> u64 {
    challenge.exp.saturating_sub(now)
}

/// The lines that describe a request for a person to decide on, at `now`.
pub fn describe(challenge: &Challenge, now: u64) -> Vec<String> {
    let c = &challenge.content;
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
    lines.push(format!("  expires in:  {} s", seconds_left(challenge, now)));
    if let Some(n) = c.number_matching {
        lines.push(format!(
            "  number:      type the {}-digit number shown on the sign-in page",
            n.digits
        ));
    }
    lines
}
