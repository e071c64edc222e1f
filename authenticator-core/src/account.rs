//! An OTP account: who it is for and how its codes are made.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::otp::{Algorithm, Code, OtpKind, OtpParams};
use crate::secret::SecretBytes;

/// One account in the authenticator: an issuer ("GitHub"), an account name ("alice@example.com"),
/// the code parameters and the shared secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The service that issued the secret; may be empty.
    pub issuer: String,
    /// The user's name at that service; may be empty.
    pub name: String,
    /// How codes are made.
    pub otp: OtpParams,
    /// The shared secret.
    pub secret: SecretBytes,
    /// The otpauth `image` parameter: the URL of the issuer's logo, as the issuer gave it. Not
    /// fetched (that would tell a server which accounts a device holds); [`crate::icons`]
    /// matches its host against the bundled brands' domains.
    pub image: Option<String>,
}

impl Account {
    /// The code at `unix_seconds` (HOTP: at the stored counter).
    pub fn code(&self, unix_seconds: u64) -> Code {
        self.otp.code(&self.secret, unix_seconds)
    }

    /// `Issuer (name)`, `Issuer`, or `name`: how a person refers to the account.
    pub fn display_name(&self) -> String {
        match (self.issuer.is_empty(), self.name.is_empty()) {
            (false, false) => format!("{} ({})", self.issuer, self.name),
            (false, true) => self.issuer.clone(),
            _ => self.name.clone(),
        }
    }

    /// True when `query` (case-insensitive) occurs in the issuer or the name.
    pub fn matches(&self, query: &str) -> bool {
        let query = query.to_lowercase();
        self.issuer.to_lowercase().contains(&query) || self.name.to_lowercase().contains(&query)
    }

    /// True when both accounts make the same codes: the same secret and parameters (the HOTP
    /// counter aside). Names are not compared: the same secret under another label is the same
    /// account.
    pub fn same_codes_as(&self, other: &Account) -> bool {
        self.secret == other.secret
            && self.otp.kind() == other.otp.kind()
            && self.otp.algorithm() == other.otp.algorithm()
            && self.otp.digits() == other.otp.digits()
            && (self.otp.kind() == OtpKind::Hotp || self.otp.period() == other.otp.period())
    }
}

/// The stored form of an account (vault, encrypted backup): flat, explicit, and the secret in
/// base32. It is also what `list --json` builds on.
#[derive(Serialize, Deserialize)]
struct AccountRecord {
    issuer: String,
    name: String,
    #[serde(rename = "type")]
    kind: OtpKind,
    algorithm: Algorithm,
    digits: u32,
    period: u32,
    counter: u64,
    secret: Base32Secret,
    /// Absent from vaults written before it existed, and omitted when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<String>,
}

struct Base32Secret(SecretBytes);

impl Serialize for Base32Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_base32())
    }
}

impl<'de> Deserialize<'de> for Base32Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Base32Secret;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a base32 secret")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Base32Secret, E> {
                SecretBytes::from_base32(text)
                    .map(Base32Secret)
                    .map_err(|e| E::custom(format_args!("secret: {e}")))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl Serialize for Account {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AccountRecord {
            issuer: self.issuer.clone(),
            name: self.name.clone(),
            kind: self.otp.kind(),
            algorithm: self.otp.algorithm(),
            digits: u32::from(self.otp.digits()),
            period: self.otp.period(),
            counter: self.otp.counter(),
            secret: Base32Secret(self.secret.clone()),
            image: self.image.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let record = AccountRecord::deserialize(deserializer)?;
        let otp = OtpParams::new(
            record.kind,
            record.algorithm,
            record.digits,
            record.period,
            record.counter,
        )
        .map_err(serde::de::Error::custom)?;
        Ok(Account {
            issuer: record.issuer,
            name: record.name,
            otp,
            secret: record.secret.0.clone(),
            image: record.image,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(issuer: &str, name: &str, secret: &[u8]) -> Account {
        Account {
            issuer: issuer.into(),
            name: name.into(),
            otp: OtpParams::totp(Algorithm::Sha1, 6, 30).unwrap(),
            secret: SecretBytes::new(secret.to_vec()),
            image: None,
        }
    }

    #[test]
    fn stored_form_round_trips_and_names_every_field() {
        let a = account("GitHub", "alice", b"0123456789abcdef");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"issuer":"GitHub","name":"alice","type":"totp","algorithm":"SHA1","digits":6,"period":30,"counter":0,"secret":"GAYTEMZUGU3DOOBZMFRGGZDFMY"}"#
        );
        let back: Account = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn stored_form_keeps_the_image_and_loads_records_without_one() {
        let a = Account {
            image: Some("https://github.com/logo.png".into()),
            ..account("GitHub", "alice", b"0123456789abcdef")
        };
        let json = serde_json::to_string(&a).unwrap();
        assert!(
            json.ends_with(r#""image":"https://github.com/logo.png"}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Account>(&json).unwrap(), a);
        // A record from before the field existed (the first test's output) loads with none.
        let old = r#"{"issuer":"GitHub","name":"alice","type":"totp","algorithm":"SHA1","digits":6,"period":30,"counter":0,"secret":"GAYTEMZUGU3DOOBZMFRGGZDFMY"}"#;
        let loaded: Account = serde_json::from_str(old).unwrap();
        assert_eq!(loaded.image, None);
        assert_eq!(loaded, account("GitHub", "alice", b"0123456789abcdef"));
    }

    #[test]
    fn stored_form_refuses_bad_parameters() {
        let bad = r#"{"issuer":"","name":"x","type":"totp","algorithm":"SHA1","digits":12,"period":30,"counter":0,"secret":"GAYTEMZUGU3DOOBZ"}"#;
        let err = serde_json::from_str::<Account>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("digits"), "{err}");
    }

    #[test]
    fn search_and_identity() {
        let a = account("GitHub", "alice@example.com", b"0123456789abcdef");
        assert!(a.matches("git"));
        assert!(a.matches("ALICE"));
        assert!(!a.matches("bob"));
        let renamed = account("Other", "name", b"0123456789abcdef");
        assert!(a.same_codes_as(&renamed));
        assert!(!a.same_codes_as(&account("GitHub", "alice@example.com", b"fedcba9876543210")));
        assert_eq!(a.display_name(), "GitHub (alice@example.com)");
    }
}
