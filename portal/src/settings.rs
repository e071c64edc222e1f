//! The portal's settings: command-line flags, each also readable from a `PORTAL_*` environment
//! variable (see `portal serve --help`).

use std::net::SocketAddr;

use assent_protocol::UserVerification;

use crate::db::Location;

/// `--db`, read.
fn parse_location(text: &str) -> Result<Location, String> {
    Location::parse(text).map_err(|e| e.to_string())
}

/// Everything the portal needs to run.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "PORTAL_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Where the portal keeps its state: a SQLite file (`sqlite:PATH`, or just the path;
    /// created if missing), or a PostgreSQL database several portals share
    /// (`postgres://USER:PASSWORD@HOST:PORT/DB`; its schema is created if missing).
    #[arg(long, env = "PORTAL_DB", default_value = "portal.db", value_parser = parse_location)]
    pub db: Location,
    /// The URL devices and browsers reach the portal at (goes into the enrollment QR).
    /// Defaults to `http://<listen>`.
    #[arg(long, env = "PORTAL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The organisation name shown in authenticator apps (the TOTP issuer).
    #[arg(long, env = "PORTAL_ISSUER", default_value = "Assent Demo")]
    pub issuer: String,
    /// The application name shown in push prompts.
    #[arg(long, env = "PORTAL_APPLICATION", default_value = "Assent Demo Portal")]
    pub application: String,
    /// The push relay's base URL; without it devices are reached by polling only.
    #[arg(long, env = "PORTAL_RELAY_URL")]
    pub relay_url: Option<String>,
    /// This portal's API key at the relay (a tenant key).
    #[arg(
        long,
        env = "PORTAL_RELAY_API_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub relay_api_key: String,
    /// A P-256 private key (PKCS#8 PEM, as `openssl genpkey -algorithm EC -pkeyopt
    /// ec_paramgen_curve:P-256` writes) to sign each push request to the relay with
    /// (`Assent-Signature`), for a relay tenant that sets `request_public_key`.
    #[arg(long, env = "PORTAL_RELAY_SIGNING_KEY")]
    pub relay_signing_key: Option<std::path::PathBuf>,
    /// Bearer token for the help-desk JSON API under /admin/api; the API is off without it.
    #[arg(long, env = "PORTAL_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Wrong TOTP codes before the account is locked.
    #[arg(long, env = "PORTAL_TOTP_MAX_ATTEMPTS", default_value_t = 5)]
    pub totp_max_attempts: u32,
    /// How long a TOTP lockout lasts, in minutes (an admin can unlock sooner).
    #[arg(long, env = "PORTAL_LOCKOUT_MINUTES", default_value_t = 15)]
    pub lockout_minutes: u64,
    /// Wrong passwords for one user name within `password-window-seconds` before that name must
    /// wait (a throttle, not a lock: it lifts by itself, or with `portal admin unlock`).
    #[arg(long, env = "PORTAL_PASSWORD_USER_LIMIT", default_value_t = 10)]
    pub password_user_limit: u32,
    /// Wrong passwords from one client address within `password-window-seconds` before that
    /// address must wait. Checked before the password is hashed, so guessing costs no Argon2id.
    #[arg(long, env = "PORTAL_PASSWORD_IP_LIMIT", default_value_t = 30)]
    pub password_ip_limit: u32,
    /// The wrong-password throttles' window.
    #[arg(long, env = "PORTAL_PASSWORD_WINDOW_SECONDS", default_value_t = 900)]
    pub password_window_seconds: u64,
    /// Pushes per user allowed within `push-window-seconds` (against MFA bombing).
    #[arg(long, env = "PORTAL_PUSH_LIMIT", default_value_t = 5)]
    pub push_limit: u32,
    /// The push rate limit's window.
    #[arg(long, env = "PORTAL_PUSH_WINDOW_SECONDS", default_value_t = 300)]
    pub push_window_seconds: u64,
    /// Pushes one relying party may ask for within a minute.
    #[arg(long, env = "PORTAL_RP_PUSH_LIMIT", default_value_t = 60)]
    pub rp_push_limit: u64,
    /// MFA-fatigue protection: a user whose sign-in pushes went unapproved (denied, expired,
    /// wrong number) this many times within `fatigue-window-seconds` gets no more relying-party
    /// pushes until the window has passed (codes still work).
    #[arg(long, env = "PORTAL_FATIGUE_LIMIT", default_value_t = 3)]
    pub fatigue_limit: u64,
    /// The MFA-fatigue window.
    #[arg(long, env = "PORTAL_FATIGUE_WINDOW_SECONDS", default_value_t = 900)]
    pub fatigue_window_seconds: u64,
    /// Digits of the number the user types in the app (2 or 3; 0 turns number matching off).
    #[arg(long, env = "PORTAL_NUMBER_DIGITS", default_value_t = 2)]
    pub number_digits: u8,
    /// Whether approving requires the device to verify the user (Face ID, fingerprint,
    /// passcode): `required`, `preferred` or `discouraged`. Any other value stops the portal.
    #[arg(long, env = "PORTAL_USER_VERIFICATION", default_value = "preferred")]
    pub user_verification: UserVerification,
    /// How long an enrollment QR stays valid, in seconds.
    #[arg(long, env = "PORTAL_ENROLLMENT_SECONDS", default_value_t = 600)]
    pub enrollment_seconds: u64,
    /// Session lifetime in seconds.
    #[arg(long, env = "PORTAL_SESSION_SECONDS", default_value_t = 8 * 3600)]
    pub session_seconds: u64,
    /// How long an approved step-up lasts, in seconds.
    #[arg(long, env = "PORTAL_STEP_UP_SECONDS", default_value_t = 300)]
    pub step_up_seconds: u64,
    /// Where to post alerts for the help desk (a "not me" deny, a TOTP lockout, a replaced
    /// device) as JSON; none are sent without it. docs/portal.md describes the body.
    #[arg(long, env = "PORTAL_ALERT_WEBHOOK")]
    pub alert_webhook: Option<String>,
    /// Signs each alert with HMAC-SHA256 under this secret (header `X-Assent-Signature`).
    #[arg(long, env = "PORTAL_ALERT_WEBHOOK_SECRET", hide_env_values = true)]
    pub alert_webhook_secret: Option<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    #[arg(long, env = "PORTAL_TRUST_PROXY", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub trust_proxy: bool,
    /// Tests only: serve `POST /test/clock` with `{"advance": SECONDS}` (negative moves it back)
    /// to move the portal's clock; it answers `{"now": UNIX_SECONDS}`. Refused unless the
    /// portal listens on a loopback address.
    #[arg(long, env = "PORTAL_TEST_CLOCK", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub test_clock: bool,
}

impl Settings {
    /// The URL in the QR and links.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether cookies get `Secure`.
    pub fn https(&self) -> bool {
        self.public_url().starts_with("https://")
    }
}

/// For [`Settings::defaults`]: the settings parsed from no arguments.
#[derive(clap::Parser)]
struct DefaultsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// The defaults declared on the fields above, with any `PORTAL_*` variables applied: the
    /// same values `portal` starts with when given no flags, so they are written once. Fails
    /// only on a malformed `PORTAL_*` variable.
    pub fn defaults() -> Result<Self, clap::Error> {
        use clap::Parser as _;
        DefaultsOnly::try_parse_from(["portal"]).map(|d| d.settings)
    }
}
