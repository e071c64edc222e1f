//! `/etc/assent/pam.toml` (or the file named by the module argument `config=PATH`):
//!
//! ```toml
//! portal_url = "https://login.example.com"
//! key_file = "/etc/assent/client.key"   # the key `portal client create` printed; mode 0600
//! users = ["alice"]                     # the users it applies to (and/or groups); none: everyone
//! groups = ["admins"]
//! timeout_seconds = 60                  # how long a login may wait for the phone (10..=300)
//! fail_mode = "closed"                  # "open": allow when the portal cannot be reached
//! application = "ssh to build-01"       # what the phone shows; default "<service> to <host>"
//! request_key_file = "/etc/assent/request.pem"  # a P-256 PKCS#8 key signing every request,
//!                                       # for a client registered with --request-key
//! ```
//!
//! Unknown keys are errors, so a misspelt `fail_mode` cannot silently fail open.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use zeroize::Zeroizing;

/// Refuses `path` unless it is owned by root (or by the user this runs as, for tests run
/// unprivileged) and has none of the permission bits in `forbidden`.
fn guarded(path: &Path, forbidden: u32, what: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let me = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    if meta.uid() != 0 && meta.uid() != me {
        return Err(format!("{}: not owned by root", path.display()));
    }
    if meta.mode() & forbidden != 0 {
        return Err(format!(
            "{}: {what} (mode {:o})",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Where the configuration is read from without a `config=` argument.
pub const DEFAULT_PATH: &str = "/etc/assent/pam.toml";

/// What happens when the portal cannot be reached (never on a denial).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Refuse the login (the default).
    #[default]
    Closed,
    /// Allow the login without the second factor.
    Open,
}

/// The module's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The portal's public URL.
    pub portal_url: String,
    /// The file holding the relying party's key.
    pub key_file: PathBuf,
    /// Users it applies to.
    #[serde(default)]
    pub users: Vec<String>,
    /// Groups whose members it applies to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Seconds a login may wait for the phone.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Closed (default) or open.
    #[serde(default)]
    pub fail_mode: FailMode,
    /// What the phone shows.
    #[serde(default)]
    pub application: Option<String>,
    /// The P-256 private key (PEM `PRIVATE KEY`, PKCS#8) that signs each request, for a client
    /// registered with a request key.
    #[serde(default)]
    pub request_key_file: Option<PathBuf>,
}

fn default_timeout() -> u64 {
    60
}

/// Why the configuration cannot be used: the module refuses the login and says this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read.
    Unreadable(String),
    /// The file is not valid TOML for this module.
    Invalid(String),
    /// The key file could not be read, or is empty.
    Key(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(why) => write!(f, "cannot read the configuration: {why}"),
            Self::Invalid(why) => write!(f, "invalid configuration: {why}"),
            Self::Key(why) => write!(f, "cannot read the client key: {why}"),
        }
    }
}

impl Config {
    /// The path named by the module's arguments (`config=PATH`), or the default.
    pub fn path_from_args(args: &[String]) -> PathBuf {
        args.iter()
            .find_map(|a| a.strip_prefix("config="))
            .map_or_else(|| PathBuf::from(DEFAULT_PATH), PathBuf::from)
    }

    /// Reads and checks the configuration at `path`: root's, and writable by nobody else (a
    /// configuration anyone could edit could be turned to fail open).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        guarded(path, 0o022, "writable by others than root").map_err(ConfigError::Unreadable)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Unreadable(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(e.message().to_owned()))?;
        let url = config.portal_url.trim_end_matches('/');
        if !(url.starts_with("https://")
            || url.starts_with("http://127.")
            || url.starts_with("http://localhost"))
        {
            return Err(ConfigError::Invalid(
                "portal_url must be https:// (plain http only to this machine)".into(),
            ));
        }
        if !(10..=300).contains(&config.timeout_seconds) {
            return Err(ConfigError::Invalid(
                "timeout_seconds must be 10 to 300".into(),
            ));
        }
        Ok(config)
    }

    /// The relying party's key, from `key_file` (root's, and readable by nobody else).
    pub fn key(&self) -> Result<Zeroizing<String>, ConfigError> {
        guarded(&self.key_file, 0o077, "readable by others than root").map_err(ConfigError::Key)?;
        let text = Zeroizing::new(
            std::fs::read_to_string(&self.key_file)
                .map_err(|e| ConfigError::Key(format!("{}: {e}", self.key_file.display())))?,
        );
        let key = Zeroizing::new(text.trim().to_owned());
        if key.is_empty() || !key.contains('.') {
            return Err(ConfigError::Key(format!(
                "{}: not a client key",
                self.key_file.display()
            )));
        }
        Ok(key)
    }

    /// The request-signing key, when one is configured (PKCS#8 DER).
    pub fn request_key(&self) -> Result<Option<Zeroizing<Vec<u8>>>, ConfigError> {
        use base64::Engine as _;
        let Some(path) = &self.request_key_file else {
            return Ok(None);
        };
        let unreadable = |why: &str| ConfigError::Key(format!("{}: {why}", path.display()));
        guarded(path, 0o077, "readable by others than root").map_err(ConfigError::Key)?;
        let pem =
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| unreadable(&e.to_string()))?);
        let body = pem
            .split("-----BEGIN PRIVATE KEY-----")
            .nth(1)
            .and_then(|rest| rest.split("-----END PRIVATE KEY-----").next())
            .ok_or_else(|| unreadable("not a PEM PRIVATE KEY"))?;
        let b64 = Zeroizing::new(
            body.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        );
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| unreadable("not base64"))?;
        Ok(Some(Zeroizing::new(der)))
    }

    /// Whether the module applies to `user`: listed, in a listed group, or no lists at all.
    pub fn applies_to(&self, user: &str) -> bool {
        if self.users.is_empty() && self.groups.is_empty() {
            return true;
        }
        self.users.iter().any(|u| u == user)
            || (!self.groups.is_empty()
                && crate::module::groups_of(user)
                    .iter()
                    .any(|g| self.groups.contains(g)))
    }
}
