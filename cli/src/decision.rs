//! What the person decided about a request, and the protocol answer it becomes: checked against
//! what the request needs (its number, user verification) before anything is signed.

use assent_protocol::{Challenge, DenyReason, Response, UserVerification};

use crate::failure::Failure;

/// What the user decided, on the command line or at `watch`'s prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approve, with the typed number when there is one.
    Approve {
        /// `--number`, or the digits typed at the prompt.
        number: Option<String>,
    },
    /// Deny.
    Deny {
        /// Report the request as not made by the user (`--not-me`, `r` at the prompt).
        not_me: bool,
    },
}

/// The answer to `challenge` that `decision` makes, or why it cannot be sent.
pub fn response(challenge: &Challenge, decision: Decision) -> Result<Response, Failure> {
    match decision {
        Decision::Approve { number } => approval(challenge, number),
        Decision::Deny { not_me } => Ok(Response::Deny {
            reason: Some(if not_me {
                DenyReason::NotMe
            } else {
                DenyReason::Cancelled
            }),
            user_verified: false,
        }),
    }
}

/// The approval of `challenge` with `number`, checked against what the request needs.
fn approval(challenge: &Challenge, number: Option<String>) -> Result<Response, Failure> {
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
    if challenge.content.user_verification == UserVerification::Required {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert!(is_number("07", 2));
        assert!(!is_number("7", 2));
        assert!(!is_number("0a", 2));
        assert!(is_number("123", 3));
    }
}
