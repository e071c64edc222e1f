//! The relay's configuration: one serde struct with defaults, read from a TOML file and then
//! overridden by `PUSH_RELAY_`-prefixed environment variables.
//!
//! Environment keys are the TOML path in upper case joined by `__`; array items are addressed by
//! index: `PUSH_RELAY_LISTEN=0.0.0.0:8080`, `PUSH_RELAY_APNS__0__HOST=localhost:8443`,
//! `PUSH_RELAY_TENANTS__1__API_KEY_SHA256=...`. A value is read as TOML when it parses as one
//! (numbers, booleans, arrays) and as a plain string otherwise.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The prefix of environment variables that override the file.
pub const ENV_PREFIX: &str = "PUSH_RELAY_";

/// Everything the relay reads at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP API listens on (HTTP/1.1 and cleartext HTTP/2; put TLS in front).
    pub listen: SocketAddr,
    /// Push requests handled at once; beyond it requests are shed with 503.
    pub max_in_flight: usize,
    /// Push requests one tenant may have in flight at once, so one portal cannot take the whole
    /// relay; beyond it that tenant gets 429. Unset: half of `max_in_flight` (see
    /// [`Settings::tenant_in_flight_limit`]).
    pub max_in_flight_per_tenant: Option<usize>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Attempts per push, the first included, for retryable provider answers.
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubles per attempt, with full jitter.
    pub backoff_base_ms: u64,
    /// Largest retry delay in milliseconds.
    pub backoff_max_ms: u64,
    /// Time limit of one provider attempt in milliseconds (also bounded by the push's expiry).
    pub attempt_timeout_ms: u64,
    /// Seconds to wait for in-flight requests after SIGTERM or ctrl-c before exiting anyway.
    pub shutdown_grace_seconds: u64,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing `EnvFilter` directive such as `info` or `push_relay=debug,info`.
    pub log_level: String,
    /// A PEM file of extra certificate authorities trusted for APNs/FCM (sandboxes, tests).
    pub extra_ca_file: Option<PathBuf>,
    /// Direct delivery to devices that keep a stream open.
    pub direct: DirectSettings,
    /// The portals allowed to send pushes.
    pub tenants: Vec<TenantSettings>,
    /// APNs credentials, referred to by name from tenants.
    pub apns: Vec<ApnsSettings>,
    /// FCM credentials, referred to by name from tenants.
    pub fcm: Vec<FcmSettings>,
    /// Running as one copy of a fleet over NATS (docs/relay-operations.md, "Running a fleet").
    /// Without it the copy shares nothing with others.
    pub nats: Option<NatsSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_in_flight: 10_000,
            max_in_flight_per_tenant: None,
            max_body_bytes: 8 * 1024,
            max_attempts: 5,
            backoff_base_ms: 100,
            backoff_max_ms: 5_000,
            attempt_timeout_ms: 10_000,
            shutdown_grace_seconds: 65,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            extra_ca_file: None,
            direct: DirectSettings::default(),
            tenants: Vec::new(),
            apns: Vec::new(),
            fcm: Vec::new(),
            nats: None,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Direct delivery settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectSettings {
    /// Whether devices may open streams at all.
    pub enabled: bool,
    /// Pushes buffered per stream before further ones fail.
    pub queue: usize,
    /// Seconds between SSE keep-alive comments.
    pub keepalive_seconds: u64,
    /// Streams open at once; beyond it new streams get 503.
    pub max_streams: usize,
}

impl Default for DirectSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            queue: 16,
            keepalive_seconds: 25,
            max_streams: 10_000,
        }
    }
}

/// One portal allowed to send pushes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Short name used in logs and metrics.
    pub id: String,
    /// Lower-case hex SHA-256 of the tenant's API key (`printf %s KEY | sha256sum`).
    pub api_key_sha256: String,
    /// Sustained pushes per second.
    #[serde(default = "default_rate")]
    pub rate_per_second: f64,
    /// Pushes allowed in a burst above the sustained rate.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Name of the `[[apns]]` entry this tenant's iOS pushes use.
    #[serde(default)]
    pub apns: Option<String>,
    /// Name of the `[[fcm]]` entry this tenant's Android pushes use.
    #[serde(default)]
    pub fcm: Option<String>,
    /// Whether this tenant may push to directly connected devices.
    #[serde(default = "default_true")]
    pub direct: bool,
    /// If set, every request must also carry an `Assent-Signature` header made with the matching
    /// P-256 private key (ES256): a PEM `PUBLIC KEY` or the base64url uncompressed point.
    #[serde(default)]
    pub request_public_key: Option<crate::signature::RequestKey>,
}

fn default_rate() -> f64 {
    100.0
}
fn default_burst() -> u32 {
    200
}
fn default_true() -> bool {
    true
}

/// APNs environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApnsEnvironment {
    /// `api.push.apple.com`.
    Production,
    /// `api.sandbox.push.apple.com`.
    Sandbox,
}

impl ApnsEnvironment {
    /// Apple's host and port for this environment.
    pub fn authority(self) -> &'static str {
        match self {
            Self::Production => "api.push.apple.com:443",
            Self::Sandbox => "api.sandbox.push.apple.com:443",
        }
    }
}

/// One APNs signing key and app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApnsSettings {
    /// Name tenants use to refer to it.
    pub name: String,
    /// Apple developer team id (the JWT `iss`).
    pub team_id: String,
    /// Key id of the .p8 key (the JWT `kid`).
    pub key_id: String,
    /// Path of the .p8 (PKCS#8 PEM) signing key.
    pub key_file: PathBuf,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// Production or sandbox.
    #[serde(default = "default_env")]
    pub environment: ApnsEnvironment,
    /// `host:port` replacing Apple's host (tests, proxies).
    #[serde(default)]
    pub host: Option<String>,
    /// HTTP/2 connections kept open to APNs for this key and environment.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Minutes after which the provider token is replaced; clamped to 20..=59.
    #[serde(default = "default_refresh")]
    pub token_refresh_minutes: u64,
    /// Seconds between HTTP/2 PINGs on each connection.
    #[serde(default = "default_ping")]
    pub ping_interval_seconds: u64,
}

fn default_env() -> ApnsEnvironment {
    ApnsEnvironment::Production
}
fn default_connections() -> usize {
    2
}
fn default_refresh() -> u64 {
    40
}
fn default_ping() -> u64 {
    60
}

/// One Firebase project and service account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcmSettings {
    /// Name tenants use to refer to it.
    pub name: String,
    /// Path of the service-account JSON downloaded from the Firebase console.
    pub service_account_file: PathBuf,
    /// `host:port` replacing `fcm.googleapis.com:443` (tests, proxies).
    #[serde(default)]
    pub host: Option<String>,
    /// OAuth token URI replacing the one in the service-account file (tests).
    #[serde(default)]
    pub token_uri: Option<String>,
    /// HTTP/2 connections kept open to FCM.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Seconds between HTTP/2 PINGs on each connection.
    #[serde(default = "default_ping")]
    pub ping_interval_seconds: u64,
}

/// The NATS server a fleet of relays shares: direct streams announce themselves on it, and the
/// memory of accepted request signatures lives in one of its JetStream key-value buckets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSettings {
    /// Server addresses, comma-separated: `nats://10.0.0.5:4222`, `tls://nats.internal:4222`;
    /// the client moves to another when one fails.
    pub url: String,
    /// Prefix of the fleet's subjects and name of its bucket: `assent` gives subjects
    /// `assent.direct.<hash>` and the bucket `assent-signatures`. Fleets sharing a NATS server
    /// use different names.
    #[serde(default = "default_nats_name")]
    pub name: String,
    /// Token the server requires (`authorization { token: ... }`).
    #[serde(default)]
    pub token: Option<Secret>,
    /// User the server requires, with `password`.
    #[serde(default)]
    pub user: Option<String>,
    /// Password of `user`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Milliseconds to wait for the copy holding a stream to answer a forwarded push; then the
    /// push is `failed` (`ForwardTimeout`).
    #[serde(default = "default_forward_timeout_ms")]
    pub forward_timeout_ms: u64,
    /// Milliseconds to wait for the shared signature memory before accepting a signature on this
    /// copy's memory alone.
    #[serde(default = "default_replay_timeout_ms")]
    pub replay_timeout_ms: u64,
    /// Copies of the signature bucket JetStream keeps (1 on a single server, 3 on a cluster).
    #[serde(default = "default_replicas")]
    pub signature_replicas: usize,
}

fn default_nats_name() -> String {
    "assent".to_owned()
}
fn default_forward_timeout_ms() -> u64 {
    2_000
}
fn default_replay_timeout_ms() -> u64 {
    1_000
}
fn default_replicas() -> usize {
    1
}

/// Longest fleet name: subjects and bucket names stay short.
pub const MAX_NATS_NAME: usize = 32;

/// A credential read from the settings, which never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What is wrong with a `[nats]` section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatsSettingsError {
    /// `url` names no server.
    #[error("nats.url is empty: give at least one server, e.g. nats://127.0.0.1:4222")]
    NoServer,
    /// One of the comma-separated addresses is not a NATS server address. The address itself is
    /// not repeated: it may carry a password.
    #[error("nats.url: address {position} is not a NATS server address ({reason})")]
    BadServer {
        /// Its place in the list, from 1.
        position: usize,
        /// Why the client refuses it.
        reason: String,
    },
    /// `name` cannot be part of a subject and a bucket name.
    #[error(
        "nats.name {0:?} must be 1 to {MAX_NATS_NAME} ASCII letters, digits, '-' or '_' (it becomes a subject prefix and a bucket name)"
    )]
    BadName(String),
    /// `user` without `password`, or the other way round.
    #[error("nats.user and nats.password go together: set both or neither")]
    HalfCredentials,
    /// Both a token and a user were given.
    #[error("nats.token and nats.user are alternatives: set one")]
    TwoCredentials,
    /// A timeout of zero would fail every forwarded push or every shared check.
    #[error("nats.{0} must be positive")]
    ZeroTimeout(&'static str),
    /// Replicas outside what JetStream allows.
    #[error("nats.signature_replicas must be 1 to 5")]
    BadReplicas,
}

impl NatsSettings {
    /// Settings for the server at `url`, every other key at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: default_nats_name(),
            token: None,
            user: None,
            password: None,
            forward_timeout_ms: default_forward_timeout_ms(),
            replay_timeout_ms: default_replay_timeout_ms(),
            signature_replicas: default_replicas(),
        }
    }

    /// The server addresses of `url`, checked.
    pub fn servers(&self) -> Result<Vec<async_nats::ServerAddr>, NatsSettingsError> {
        let servers = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| {
                let bad = |reason: String| NatsSettingsError::BadServer {
                    position: i + 1,
                    reason,
                };
                let addr = s
                    .parse::<async_nats::ServerAddr>()
                    .map_err(|e| bad(e.to_string()))?;
                // The client is built without WebSocket support, which a relay next to its
                // NATS server does not need.
                if addr.is_websocket() {
                    return Err(bad("use nats:// or tls://, not WebSocket".into()));
                }
                Ok(addr)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(NatsSettingsError::NoServer);
        }
        Ok(servers)
    }

    fn check(&self) -> Result<(), NatsSettingsError> {
        self.servers()?;
        let name_ok = (1..=MAX_NATS_NAME).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(NatsSettingsError::BadName(self.name.clone()));
        }
        if self.user.is_some() != self.password.is_some() {
            return Err(NatsSettingsError::HalfCredentials);
        }
        if self.token.is_some() && self.user.is_some() {
            return Err(NatsSettingsError::TwoCredentials);
        }
        if self.forward_timeout_ms == 0 {
            return Err(NatsSettingsError::ZeroTimeout("forward_timeout_ms"));
        }
        if self.replay_timeout_ms == 0 {
            return Err(NatsSettingsError::ZeroTimeout("replay_timeout_ms"));
        }
        if !(1..=5).contains(&self.signature_replicas) {
            return Err(NatsSettingsError::BadReplicas);
        }
        Ok(())
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file or an environment override is not valid TOML for these settings.
    #[error("invalid settings: {0}")]
    Invalid(String),
    /// The `[nats]` section is unusable.
    #[error("invalid settings: {0}")]
    Nats(#[from] NatsSettingsError),
}

impl Settings {
    /// Reads `path` (if any), applies the process's `PUSH_RELAY_*` variables and checks the result.
    pub fn load(path: Option<&Path>) -> Result<Self, SettingsError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                path: path.to_owned(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_toml_and_env(&text, std::env::vars())
    }

    /// Parses `text`, then applies the overrides among `vars` whose names start with
    /// [`ENV_PREFIX`] (except `PUSH_RELAY_CONFIG`, the file's path).
    pub fn from_toml_and_env(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let mut overrides: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k != "PUSH_RELAY_CONFIG")
            .collect();
        overrides.sort();
        for (key, value) in overrides {
            let path: Vec<String> = key[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            set_path(&mut table, &path, parse_env_value(&value))
                .map_err(|e| SettingsError::Invalid(format!("{key}: {e}")))?;
        }
        let settings: Settings = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| SettingsError::Invalid(e.to_string()))?;
        settings.check()?;
        Ok(settings)
    }

    /// Pushes one tenant may have in flight: `max_in_flight_per_tenant`, by default half of
    /// `max_in_flight` (at least 1), never more than `max_in_flight`.
    pub fn tenant_in_flight_limit(&self) -> usize {
        self.max_in_flight_per_tenant
            .unwrap_or(self.max_in_flight / 2)
            .clamp(1, self.max_in_flight.max(1))
    }

    fn check(&self) -> Result<(), SettingsError> {
        let bad = |m: String| Err(SettingsError::Invalid(m));
        if self.max_in_flight == 0 || self.max_attempts == 0 {
            return bad("max_in_flight and max_attempts must be positive".into());
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return bad(format!(
                "log_level {:?} is not a log filter ({e}); use a level such as info or debug, or directives such as push_relay=debug,info",
                self.log_level
            ));
        }
        if self.max_in_flight_per_tenant == Some(0) {
            return bad("max_in_flight_per_tenant must be positive".into());
        }
        for t in &self.tenants {
            if t.api_key_sha256.len() != 64
                || !t.api_key_sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return bad(format!(
                    "tenant {}: api_key_sha256 must be 64 hex digits",
                    t.id
                ));
            }
            if t.rate_per_second.is_nan() || t.rate_per_second <= 0.0 {
                return bad(format!("tenant {}: rate_per_second must be positive", t.id));
            }
            if let Some(a) = &t.apns
                && !self.apns.iter().any(|x| &x.name == a)
            {
                return bad(format!("tenant {}: no [[apns]] named {a}", t.id));
            }
            if let Some(f) = &t.fcm
                && !self.fcm.iter().any(|x| &x.name == f)
            {
                return bad(format!("tenant {}: no [[fcm]] named {f}", t.id));
            }
        }
        if let Some(nats) = &self.nats {
            nats.check()?;
        }
        Ok(())
    }
}

fn parse_env_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return Err("empty key".into());
    };
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return Ok(());
    }
    let entry = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    set_value(entry, rest, value)
}

fn set_value(node: &mut toml::Value, path: &[String], value: toml::Value) -> Result<(), String> {
    match node {
        toml::Value::Table(t) => set_path(t, path, value),
        toml::Value::Array(items) => {
            let Some((index, rest)) = path.split_first() else {
                return Err("empty key".into());
            };
            let i: usize = index
                .parse()
                .map_err(|_| format!("{index} is not an index"))?;
            while items.len() <= i {
                items.push(toml::Value::Table(toml::Table::new()));
            }
            if rest.is_empty() {
                items[i] = value;
                Ok(())
            } else {
                set_value(&mut items[i], rest, value)
            }
        }
        _ => Err("cannot descend into a plain value".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_values_nested_and_indexed() {
        let text = r#"
            listen = "127.0.0.1:9000"
            [[tenants]]
            id = "acme"
            api_key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
        "#;
        let vars = [
            ("PUSH_RELAY_LISTEN".to_owned(), "0.0.0.0:8443".to_owned()),
            ("PUSH_RELAY_MAX_IN_FLIGHT".to_owned(), "42".to_owned()),
            (
                "PUSH_RELAY_TENANTS__0__RATE_PER_SECOND".to_owned(),
                "7.5".to_owned(),
            ),
            ("PUSH_RELAY_DIRECT__ENABLED".to_owned(), "false".to_owned()),
            ("OTHER".to_owned(), "x".to_owned()),
        ];
        let s = Settings::from_toml_and_env(text, vars).unwrap();
        assert_eq!(s.listen.to_string(), "0.0.0.0:8443");
        assert_eq!(s.max_in_flight, 42);
        assert_eq!(s.tenants[0].rate_per_second, 7.5);
        assert!(!s.direct.enabled);
        assert_eq!(s.max_body_bytes, 8 * 1024);
    }

    #[test]
    fn a_tenant_gets_half_the_in_flight_capacity_unless_told() {
        let s = Settings::from_toml_and_env("max_in_flight = 101", []).unwrap();
        assert_eq!(s.tenant_in_flight_limit(), 50);
        let s = Settings::from_toml_and_env("max_in_flight = 1", []).unwrap();
        assert_eq!(s.tenant_in_flight_limit(), 1);
        let s =
            Settings::from_toml_and_env("max_in_flight = 100\nmax_in_flight_per_tenant = 80", [])
                .unwrap();
        assert_eq!(s.tenant_in_flight_limit(), 80);
        let s =
            Settings::from_toml_and_env("max_in_flight = 100\nmax_in_flight_per_tenant = 500", [])
                .unwrap();
        assert_eq!(
            s.tenant_in_flight_limit(),
            100,
            "never more than the relay's"
        );
        assert!(Settings::from_toml_and_env("max_in_flight_per_tenant = 0", []).is_err());
    }

    #[test]
    fn the_example_configuration_parses() {
        let text = include_str!("../relay.example.toml");
        let s = Settings::from_toml_and_env(text, []).unwrap();
        assert_eq!(s.tenants.len(), 1);
        assert_eq!(s.apns[0].environment, ApnsEnvironment::Production);
        assert!(s.nats.is_none());
        // Its commented-out fleet section is valid once uncommented.
        let (head, fleet) = text.split_once("# [nats]").unwrap();
        let fleet: String = fleet
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .unwrap_or(l)
                    .replace("\"...\"", "\"x\"")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let s = Settings::from_toml_and_env(&format!("{head}[nats]{fleet}"), []).unwrap();
        assert_eq!(s.nats.map(|n| n.name), Some("assent".to_owned()));
    }

    #[test]
    fn a_request_key_is_parsed_once_when_the_settings_are_read() {
        let tenant = |key: &str| {
            format!(
                "[[tenants]]\nid = \"acme\"\napi_key_sha256 = \"{}\"\nrequest_public_key = \"{key}\"\n",
                "0".repeat(64)
            )
        };
        let good = crate::jwt::b64url(&[4u8; 65]);
        let s = Settings::from_toml_and_env(&tenant(&good), []).unwrap();
        assert!(s.tenants[0].request_public_key.is_some());
        let err = Settings::from_toml_and_env(&tenant("not-a-key"), [])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("request_public_key is not a P-256 public key"),
            "{err}"
        );
    }

    #[test]
    fn a_log_level_that_is_not_a_filter_stops_the_relay() {
        for good in ["info", "debug", "push_relay=debug,info", "warn,h2=off"] {
            assert!(
                Settings::from_toml_and_env(&format!("log_level = {good:?}"), []).is_ok(),
                "{good}"
            );
        }
        let err = Settings::from_toml_and_env("log_level = \"infoo=[\"", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("log_level"), "{err}");
    }

    #[test]
    fn without_a_nats_section_there_is_no_fleet() {
        assert!(Settings::from_toml_and_env("", []).unwrap().nats.is_none());
    }

    #[test]
    fn a_nats_section_reads_from_the_file_and_the_environment() {
        let text = r#"
            [nats]
            url = "nats://10.0.0.5:4222, tls://nats-2.internal:4222"
            token = "s3cret-nats-token"
            forward_timeout_ms = 500
        "#;
        let s = Settings::from_toml_and_env(text, []).unwrap();
        let n = s.nats.unwrap();
        assert_eq!(n.servers().unwrap().len(), 2);
        assert_eq!(n.name, "assent");
        assert_eq!(n.forward_timeout_ms, 500);
        assert_eq!(n.replay_timeout_ms, 1_000);
        assert_eq!(n.signature_replicas, 1);
        assert_eq!(
            n.token.as_ref().map(Secret::expose),
            Some("s3cret-nats-token")
        );
        // Credentials never print.
        let debug = format!("{n:?}");
        assert!(!debug.contains("s3cret"), "{debug}");

        let vars = [
            (
                "PUSH_RELAY_NATS__URL".to_owned(),
                "nats://127.0.0.1:4222".to_owned(),
            ),
            ("PUSH_RELAY_NATS__NAME".to_owned(), "fleet-eu_1".to_owned()),
            ("PUSH_RELAY_NATS__USER".to_owned(), "relay".to_owned()),
            ("PUSH_RELAY_NATS__PASSWORD".to_owned(), "pw".to_owned()),
        ];
        let n = Settings::from_toml_and_env("", vars).unwrap().nats.unwrap();
        assert_eq!(n.name, "fleet-eu_1");
        assert_eq!(n.user.as_deref(), Some("relay"));
    }

    #[test]
    fn a_bad_nats_section_stops_the_relay_with_its_reason() {
        let err = |body: &str| match Settings::from_toml_and_env(&format!("[nats]\n{body}"), []) {
            Err(SettingsError::Nats(e)) => e,
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(err(r#"url = " , ""#), NatsSettingsError::NoServer);
        assert!(matches!(
            err(r#"url = "nats://ok:4222,http://x:1""#),
            NatsSettingsError::BadServer { position: 2, .. }
        ));
        assert!(matches!(
            err(r#"url = "ws://127.0.0.1:8080""#),
            NatsSettingsError::BadServer { position: 1, .. }
        ));
        // The address may hold a password: the message does not repeat it.
        let message = err(r#"url = "nats://u:hunter2@[::1""#).to_string();
        assert!(!message.contains("hunter2"), "{message}");
        let url = r#"url = "nats://127.0.0.1:4222""#;
        for name in ["", "a.b", "a*", "a b", &"n".repeat(MAX_NATS_NAME + 1)] {
            assert_eq!(
                err(&format!("{url}\nname = {name:?}")),
                NatsSettingsError::BadName(name.to_owned())
            );
        }
        assert_eq!(
            err(&format!("{url}\nuser = \"u\"")),
            NatsSettingsError::HalfCredentials
        );
        assert_eq!(
            err(&format!(
                "{url}\ntoken = \"t\"\nuser = \"u\"\npassword = \"p\""
            )),
            NatsSettingsError::TwoCredentials
        );
        assert_eq!(
            err(&format!("{url}\nforward_timeout_ms = 0")),
            NatsSettingsError::ZeroTimeout("forward_timeout_ms")
        );
        assert_eq!(
            err(&format!("{url}\nreplay_timeout_ms = 0")),
            NatsSettingsError::ZeroTimeout("replay_timeout_ms")
        );
        assert_eq!(
            err(&format!("{url}\nsignature_replicas = 0")),
            NatsSettingsError::BadReplicas
        );
        // Unknown keys and a missing url are refused like anywhere else.
        assert!(Settings::from_toml_and_env("[nats]\nurl = \"n:4222\"\nurll = 1", []).is_err());
        assert!(Settings::from_toml_and_env("[nats]\nname = \"x\"", []).is_err());
    }

    #[test]
    fn rejects_unknown_keys_and_dangling_references() {
        assert!(Settings::from_toml_and_env("lisen = 1", []).is_err());
        let text = r#"
            [[tenants]]
            id = "acme"
            api_key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
            apns = "missing"
        "#;
        assert!(Settings::from_toml_and_env(text, []).is_err());
    }
}
