//! The wire names of the protocol's enums as text: `as_str` and `FromStr` give exactly the names
//! serde writes, so a portal's database, a CLI's `--json` and the bindings all spell a purpose or
//! a policy the same way, and nobody writes that mapping by hand again. A test holds every name
//! against serde's.

use crate::answer::{Decision, DenyReason};
use crate::challenge::{Purpose, UserVerification};
use crate::registration::{ApnsEnvironment, Platform, Transport};

/// Text that is not one of an enum's wire names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (expected one of: {expected})")]
pub struct UnknownName {
    /// Which enum was asked for (`purpose`, `user verification`, ...).
    pub kind: &'static str,
    /// The text given (at most 64 bytes of it).
    pub value: String,
    /// The accepted names, comma-separated.
    pub expected: &'static str,
}

macro_rules! wire_names {
    ($ty:ident, $kind:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The wire name, as serde writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownName;

            fn from_str(text: &str) -> Result<Self, UnknownName> {
                match text {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(UnknownName {
                        kind: $kind,
                        value: text.chars().take(64).collect(),
                        expected: wire_names!(@list $($name),+),
                    }),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (@list $first:literal $(, $rest:literal)*) => {
        concat!($first $(, ", ", $rest)*)
    };
}

wire_names!(Purpose, "purpose", {
    Login => "login",
    StepUp => "step_up",
    PasswordReset => "password_reset",
    Activate => "activate",
});

wire_names!(UserVerification, "user verification", {
    Required => "required",
    Preferred => "preferred",
    Discouraged => "discouraged",
});

wire_names!(Decision, "decision", {
    Approve => "approve",
    Deny => "deny",
});

wire_names!(DenyReason, "deny reason", {
    NotMe => "not_me",
    Cancelled => "cancelled",
});

wire_names!(Platform, "platform", {
    Ios => "ios",
    Android => "android",
    Desktop => "desktop",
});

wire_names!(Transport, "transport", {
    Apns => "apns",
    Fcm => "fcm",
    Direct => "direct",
});

wire_names!(ApnsEnvironment, "APNs environment", {
    Production => "production",
    Sandbox => "sandbox",
});

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::str::FromStr;

    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::*;

    fn agrees_with_serde<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + Serialize + DeserializeOwned,
        T: FromStr<Err = UnknownName>,
    {
        for &value in all {
            let name = value.to_string();
            assert_eq!(
                serde_json::to_string(&value).unwrap(),
                format!("\"{name}\"")
            );
            assert_eq!(T::from_str(&name).unwrap(), value);
            let from_serde: T = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(from_serde, value);
        }
    }

    #[test]
    fn every_name_is_the_one_serde_writes() {
        agrees_with_serde(Purpose::ALL);
        agrees_with_serde(UserVerification::ALL);
        agrees_with_serde(Decision::ALL);
        agrees_with_serde(DenyReason::ALL);
        agrees_with_serde(Platform::ALL);
        agrees_with_serde(Transport::ALL);
        agrees_with_serde(ApnsEnvironment::ALL);
    }

    #[test]
    fn unknown_names_say_what_is_accepted() {
        let error = Purpose::from_str("Login").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown purpose \"Login\" (expected one of: login, step_up, password_reset, activate)"
        );
        let long = "x".repeat(1000);
        assert_eq!(
            UserVerification::from_str(&long).unwrap_err().value.len(),
            64
        );
    }
}
