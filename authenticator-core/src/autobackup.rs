//! Automatic encrypted backups: after a change to the vault, a new version of the encrypted
//! backup ([`crate::backup`], kind `assent-backup`) in a folder the user chose, keeping the last
//! N versions. Any version is restored with the ordinary import ([`crate::import::import`],
//! `assent import FILE`) and the backup passphrase.
//!
//! # How it works, and why
//!
//! **The key.** Turning backups on takes a backup passphrase, never the vault key: a backup must
//! open on a new device, where a platform-held vault key is gone. Its Argon2id key is derived
//! once, when backups are turned on ([`KdfParams::recommended`]), and kept with its parameters
//! (the salt) in the vault's encrypted payload. Every later version is then only JSON and one
//! AES-256-GCM seal with a fresh random nonce: no prompt and no Argon2id per change. Each
//! version's envelope carries those same parameters, so the import derives the same key from the
//! passphrase. Keeping the derived key in the vault gives whoever opens the vault nothing they
//! did not have (the accounts themselves); the passphrase is not stored and cannot be recovered
//! from the key. Turning backups on again derives a new key with a new salt.
//!
//! **What "changed" means, across processes.** A version is written only when the backup's
//! plaintext differs from the one last written. Its fingerprint (HMAC-SHA256 of the plaintext
//! under a key derived from the backup key) is kept, with the last success and the last failure,
//! in a small status file beside the vault: `<vault file>.backup-status.json`. Why there:
//! - not in the vault payload: recording each backup would seal and write the vault a second
//!   time after every change, and a failed backup would have to rewrite the vault to say so.
//!   Nothing in the status is secret (the fingerprint is keyed, so it reveals nothing about the
//!   content), so it needs no encryption;
//! - not in the backup folder: the failure the status must report most is "the folder cannot be
//!   reached", which could not be recorded there, and a folder synced between devices would mix
//!   their statuses.
//!
//! The status file also holds a check value of the backup key, so after turning backups on again
//! the old status is ignored. A damaged or unreadable status file counts as none: the next
//! backup is written (one version more than needed) and the file rewritten. A version counts as
//! current only while its file is still in the folder, so deleting the newest version by hand
//! gets it written again. Push enrollments are not in a backup (their keys belong to this
//! device), so answering a sign-in request changes nothing to back up.
//!
//! **Debounce.** [`Vault::backup_after_change`] writes at once when the last version was written
//! at least [`DEBOUNCE_SECONDS`] ago, so a lone change is backed up immediately. Within that
//! interval it writes nothing and answers [`BackupOutcome::Deferred`] with the time the backup
//! becomes due: a burst of changes (accounts added one by one, an account dragged through ten
//! positions) becomes one version instead of pushing the older versions out. The change stays
//! pending (the status says so, in any process, as the fingerprints differ) until a call after
//! that time, or until [`Vault::flush_backup`], which writes regardless of the interval: apps
//! call it when going to the background and at start (for a change a killed app left pending),
//! the CLI at the end of every command that changed the vault. Only successes start the
//! interval: after a failure the next change tries again at once. A clock set back before the
//! last version counts as "the interval has passed".
//!
//! **Files.** Each version is its own file, `assent-backup-YYYYMMDDTHHMMSSZ.json` (UTC), written
//! with [`crate::atomic::write`]: a temporary file, fsync, rename, directory fsync, mode 0600. A
//! file of that name therefore only ever appears complete. A second version in the same second
//! is `..._2.json`, then `_3`...; versions are ordered by (time, number), parsed, not by the
//! bytes of the name. A new version is always the newest: if the clock is behind the newest
//! version in the folder, the new one takes that version's time with the next number. Once the
//! new file is in place, the oldest versions beyond the N to keep are deleted. Only regular files
//! whose whole name parses as a version are ours: nothing else in the folder is read, counted
//! or deleted, except temporary files left by a killed write of one of ours (`.assent-backup-
//! ....json.tmp-...`), removed once they are a minute old by the clock the caller passes. The
//! folder is never created: a missing folder is often an unmounted drive, and creating it would
//! put the backups on the wrong disk. One folder should serve one vault, since each keeps only
//! its own last N of whatever versions it finds.
//!
//! **Failures.** These calls only read the vault; the caller has saved the change before, so a
//! backup failure can neither fail nor roll back the change. A failure is returned as an
//! [`AutoBackupError`] and recorded as the last failure, which the next success clears.

use std::fmt;
use std::fs;
use std::io;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::backup;
use crate::seal::{KdfParams, SealError, VaultKey};
use crate::vault::Vault;

/// The shortest time between two versions written by [`Vault::backup_after_change`], in seconds.
pub const DEBOUNCE_SECONDS: u64 = 30;

/// Age in seconds after which a temporary file of a version counts as left by a killed write.
const STALE_TEMP_SECONDS: u64 = 60;
const PREFIX: &str = "assent-backup-";
const SUFFIX: &str = ".json";
const STATUS_VERSION: u32 = 1;
/// 9999-12-31T23:59:59Z, the last second a version name can express.
const MAX_TIME: u64 = 253_402_300_799;

/// Why turning backups on, writing one or reading their status failed.
#[derive(Debug, thiserror::Error)]
pub enum AutoBackupError {
    /// Turning backups on with `keep` = 0: at least the newest version must be kept.
    #[error("keep at least one backup version")]
    KeepZero,
    /// The folder was given as a relative path (it would depend on the current directory of
    /// whichever process writes next) or one that is not valid UTF-8 (the vault cannot store it).
    #[error("the backup folder must be an absolute path in UTF-8, not {0}")]
    BadFolderPath(PathBuf),
    /// Turning backups on with an empty passphrase.
    #[error("the backup passphrase must not be empty")]
    EmptyPassphrase,
    /// The folder does not exist or is not a folder: a drive that is not connected, a folder
    /// renamed or deleted, a permission the platform withdrew. The user reconnects it or
    /// chooses another folder.
    #[error(
        "the backup folder {0} is missing or is not a folder: reconnect its drive or choose another folder"
    )]
    FolderMissing(PathBuf),
    /// The folder exists but the backup could not be written into it (permissions, read-only
    /// file system, disk full). The user fixes the folder or chooses another.
    #[error(
        "could not write a backup into {folder}: {source}; check the folder's permissions and free space, or choose another folder"
    )]
    FolderUnwritable {
        /// The backup folder.
        folder: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The backup was written, but the status file beside the vault could not be: the status
    /// does not show this backup, and the next change writes one more version than needed.
    #[error(
        "the backup {file} was written, but its status could not be saved in {status}: {source}; check the permissions of the vault's folder"
    )]
    StatusNotSaved {
        /// The version just written.
        file: PathBuf,
        /// The status file.
        status: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The status file beside the vault exists but cannot be read.
    #[error(
        "could not read the backup status {status}: {source}; check the permissions of the vault's folder"
    )]
    StatusUnreadable {
        /// The status file.
        status: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Deriving the key or sealing the backup failed (the system's random generator).
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// What the app offers after a failed backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The folder is gone or unreachable ([`AutoBackupError::FolderMissing`]): reconnect it or
    /// choose it again (an iOS bookmark or an Android tree permission may have lapsed).
    FolderMissing,
    /// The folder refused the file ([`AutoBackupError::FolderUnwritable`]): permissions or
    /// free space.
    FolderUnwritable,
    /// Anything else: show the message.
    Other,
}

impl FailureKind {
    fn of(error: &AutoBackupError) -> Self {
        match error {
            AutoBackupError::FolderMissing(_) => Self::FolderMissing,
            AutoBackupError::FolderUnwritable { .. } => Self::FolderUnwritable,
            _ => Self::Other,
        }
    }
}

/// A version that was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupWritten {
    /// When (Unix seconds, as passed in).
    pub at: u64,
    /// The file.
    pub file: PathBuf,
}

/// A backup that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFailure {
    /// When (Unix seconds, as passed in).
    pub at: u64,
    /// What the app can offer.
    pub kind: FailureKind,
    /// The error, as a sentence for the user (no secrets).
    pub message: String,
}

/// Where automatic backups stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupStatus {
    /// The folder versions are written to.
    pub folder: PathBuf,
    /// How many versions are kept.
    pub keep: u32,
    /// The last version written.
    pub last_success: Option<BackupWritten>,
    /// The last failure since the last success (cleared by the next success).
    pub last_failure: Option<BackupFailure>,
    /// True when the vault holds changes no version has yet.
    pub pending: bool,
}

/// What a backup call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupOutcome {
    /// Automatic backups are off for this vault.
    Off,
    /// The newest version already holds the vault's content; nothing was written.
    UpToDate,
    /// Changed, but the last version is less than [`DEBOUNCE_SECONDS`] old: nothing was written
    /// yet. Call [`Vault::backup_after_change`] again at `due_at`, or [`Vault::flush_backup`].
    Deferred {
        /// When the backup becomes due (Unix seconds).
        due_at: u64,
    },
    /// A new version was written.
    Written(BackupWritten),
}

/// One version in a backup folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupVersion {
    /// The file; open it with the import and the backup passphrase.
    pub file: PathBuf,
    /// The time in its name (Unix seconds): when it was written, or the time of the version
    /// before it if the clock was behind.
    pub time: u64,
}

/// The versions in `folder`, newest first: what an app lists to offer a restore.
pub fn versions(folder: &Path) -> Result<Vec<BackupVersion>, AutoBackupError> {
    let mut found = scan(folder, None)?;
    found.sort_by_key(|(name, _)| std::cmp::Reverse(*name));
    Ok(found
        .into_iter()
        .map(|(name, file)| BackupVersion {
            file,
            time: name.time,
        })
        .collect())
}

/// True when `file_name` is the name of a backup version (what [`versions`] lists).
pub fn is_version_name(file_name: &str) -> bool {
    VersionName::parse(file_name).is_some()
}

impl Vault {
    /// Turns automatic backups on (in memory; call [`Vault::save`], then
    /// [`Vault::flush_backup`] to write the first version): versions go to `folder` (absolute,
    /// never created), the last `keep` are kept. Derives the key from `passphrase` with
    /// [`KdfParams::recommended`]: slow on purpose, once. Replaces earlier settings.
    pub fn enable_auto_backup(
        &mut self,
        folder: &Path,
        keep: u32,
        passphrase: &[u8],
    ) -> Result<(), AutoBackupError> {
        self.enable_auto_backup_with_kdf(folder, keep, passphrase, KdfParams::recommended()?)
    }

    /// [`Vault::enable_auto_backup`] with chosen Argon2id parameters (tests use the cheapest
    /// accepted ones).
    pub fn enable_auto_backup_with_kdf(
        &mut self,
        folder: &Path,
        keep: u32,
        passphrase: &[u8],
        kdf: KdfParams,
    ) -> Result<(), AutoBackupError> {
        let keep = check_settings(folder, keep, passphrase)?;
        let key = kdf.derive(passphrase)?;
        self.auto_backup = Some(Settings {
            folder: folder.to_path_buf(),
            keep,
            kdf,
            key,
        });
        Ok(())
    }

    /// Turns automatic backups off (in memory; call [`Vault::save`]). The versions already
    /// written stay where they are. False when they were not on.
    pub fn disable_auto_backup(&mut self) -> bool {
        self.auto_backup.take().is_some()
    }

    /// Call after every saved change. Writes a version when the content changed since the last
    /// one and that one is at least [`DEBOUNCE_SECONDS`] old; otherwise answers
    /// [`BackupOutcome::Deferred`] (or [`BackupOutcome::UpToDate`]). A failure is recorded in
    /// the status and returned; the change itself is unaffected.
    pub fn backup_after_change(&self, now: u64) -> Result<BackupOutcome, AutoBackupError> {
        self.back_up(now, false)
    }

    /// Writes a version now if the content changed since the last one, whatever its age: when
    /// the app goes to the background, at its start, at the end of a CLI command.
    pub fn flush_backup(&self, now: u64) -> Result<BackupOutcome, AutoBackupError> {
        self.back_up(now, true)
    }

    /// The settings, the last success and failure, and whether a change waits to be backed up;
    /// `None` when automatic backups are off.
    pub fn backup_status(&self) -> Result<Option<BackupStatus>, AutoBackupError> {
        let Some(settings) = &self.auto_backup else {
            return Ok(None);
        };
        let status = StatusFile::load(&status_path(self.path()), settings)?;
        let plaintext = backup::plaintext(self.entries().iter().map(|e| &e.account))?;
        let pending = !status.is_current(&settings.fingerprint(&plaintext));
        Ok(Some(BackupStatus {
            folder: settings.folder.clone(),
            keep: settings.keep.get(),
            last_success: status.last_success,
            last_failure: status.last_failure,
            pending,
        }))
    }

    fn back_up(&self, now: u64, flush: bool) -> Result<BackupOutcome, AutoBackupError> {
        let Some(settings) = &self.auto_backup else {
            return Ok(BackupOutcome::Off);
        };
        let plaintext = backup::plaintext(self.entries().iter().map(|e| &e.account))?;
        let fingerprint = settings.fingerprint(&plaintext);
        let status_path = status_path(self.path());
        // A status that cannot be read must not stop the backup: saving it below reports it.
        let mut status = StatusFile::load(&status_path, settings)
            .unwrap_or_else(|_| StatusFile::fresh(settings));
        if status.is_current(&fingerprint) {
            return Ok(BackupOutcome::UpToDate);
        }
        if !flush && let Some(due_at) = status.due_at(now) {
            return Ok(BackupOutcome::Deferred { due_at });
        }
        match write_version(settings, &plaintext, now) {
            Ok(file) => {
                let written = BackupWritten { at: now, file };
                status.fingerprint = Some(fingerprint);
                status.last_success = Some(written.clone());
                status.last_failure = None;
                status
                    .save(&status_path)
                    .map_err(|source| AutoBackupError::StatusNotSaved {
                        file: written.file.clone(),
                        status: status_path,
                        source,
                    })?;
                Ok(BackupOutcome::Written(written))
            }
            Err(error) => {
                status.last_failure = Some(BackupFailure {
                    at: now,
                    kind: FailureKind::of(&error),
                    message: error.to_string(),
                });
                // The backup's own error is what the caller must see; a status that cannot be
                // saved either has the same cause far more often than not.
                let _ = status.save(&status_path);
                Err(error)
            }
        }
    }
}

/// Checks what [`Vault::enable_auto_backup`] is given, before the slow derivation.
fn check_settings(
    folder: &Path,
    keep: u32,
    passphrase: &[u8],
) -> Result<NonZeroU32, AutoBackupError> {
    let keep = NonZeroU32::new(keep).ok_or(AutoBackupError::KeepZero)?;
    if !folder.is_absolute() || folder.to_str().is_none() {
        return Err(AutoBackupError::BadFolderPath(folder.to_path_buf()));
    }
    if passphrase.is_empty() {
        return Err(AutoBackupError::EmptyPassphrase);
    }
    Ok(keep)
}

/// The settings, in the vault's encrypted payload as
/// `"auto_backup": {"folder": "/abs/path", "keep": 10, "kdf": {...}, "key": "<base64>"}`.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Settings {
    folder: PathBuf,
    keep: NonZeroU32,
    kdf: KdfParams,
    #[serde(with = "key_base64")]
    key: VaultKey,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("folder", &self.folder)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The fingerprint of a backup's plaintext, in hex.
    fn fingerprint(&self, plaintext: &[u8]) -> String {
        hex::encode(hmac::sign(&self.subkey(b"fingerprint"), plaintext))
    }

    /// A value that changes with the key, so a status left by earlier settings is recognised.
    fn setup_check(&self) -> String {
        hex::encode(&hmac::sign(&self.subkey(b"setup"), b"").as_ref()[..8])
    }

    /// A key for `label`, separate from the encryption key.
    fn subkey(&self, label: &[u8]) -> hmac::Key {
        let root = hmac::Key::new(hmac::HMAC_SHA256, self.key.expose());
        let mut info = b"assent auto-backup ".to_vec();
        info.extend_from_slice(label);
        hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&root, &info).as_ref())
    }
}

/// The status file beside the vault (see the module documentation).
#[derive(Serialize, Deserialize)]
struct StatusFile {
    version: u32,
    setup: String,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    last_success: Option<BackupWritten>,
    #[serde(default)]
    last_failure: Option<BackupFailure>,
}

impl StatusFile {
    fn fresh(settings: &Settings) -> Self {
        Self {
            version: STATUS_VERSION,
            setup: settings.setup_check(),
            fingerprint: None,
            last_success: None,
            last_failure: None,
        }
    }

    /// The status of `settings` at `path`; a fresh one when there is none, or when it is
    /// damaged, of another version or left by earlier settings.
    fn load(path: &Path, settings: &Settings) -> Result<Self, AutoBackupError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::fresh(settings)),
            Err(source) => {
                return Err(AutoBackupError::StatusUnreadable {
                    status: path.to_path_buf(),
                    source,
                });
            }
        };
        Ok(serde_json::from_slice::<Self>(&bytes)
            .ok()
            .filter(|s| s.version == STATUS_VERSION && s.setup == settings.setup_check())
            .unwrap_or_else(|| Self::fresh(settings)))
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        bytes.push(b'\n');
        atomic::write(path, &bytes)
    }

    /// True when the last version holds content with `fingerprint` and is still in its folder.
    fn is_current(&self, fingerprint: &str) -> bool {
        self.fingerprint.as_deref() == Some(fingerprint)
            && self
                .last_success
                .as_ref()
                .is_some_and(|last| last.file.is_file())
    }

    /// When a debounced backup becomes due, if it is not yet.
    fn due_at(&self, now: u64) -> Option<u64> {
        let last = self.last_success.as_ref()?.at;
        let due = last.saturating_add(DEBOUNCE_SECONDS);
        (now >= last && now < due).then_some(due)
    }
}

fn status_path(vault: &Path) -> PathBuf {
    let mut name = vault.as_os_str().to_owned();
    name.push(".backup-status.json");
    PathBuf::from(name)
}

/// Writes a new version of `plaintext` into the folder, then deletes versions beyond `keep`.
fn write_version(
    settings: &Settings,
    plaintext: &[u8],
    now: u64,
) -> Result<PathBuf, AutoBackupError> {
    let folder = &settings.folder;
    let mut found = scan(folder, Some(now))?;
    let mut name = VersionName::next(found.iter().map(|(n, _)| *n).max(), now);
    // Only something that is not a regular file (a folder, a link) can hold a name past the
    // newest version; step over it rather than replace it.
    while fs::symlink_metadata(folder.join(name.file_name())).is_ok() {
        name.seq += 1;
    }
    let sealed = backup::seal_plaintext(plaintext, &settings.key, &settings.kdf)?;
    let path = folder.join(name.file_name());
    atomic::write(&path, &sealed).map_err(|e| folder_error(folder, e))?;
    // Only now that the new version is safely in place may older ones go.
    found.push((name, path.clone()));
    found.sort_by_key(|(name, _)| std::cmp::Reverse(*name));
    for (_, old) in found.iter().skip(settings.keep.get() as usize) {
        // A version that cannot be deleted now is considered again after the next one.
        let _ = fs::remove_file(old);
    }
    Ok(path)
}

/// The versions in `folder`. With `now`, also deletes the stale temporary files of versions.
fn scan(folder: &Path, now: Option<u64>) -> Result<Vec<(VersionName, PathBuf)>, AutoBackupError> {
    match fs::metadata(folder) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(AutoBackupError::FolderMissing(folder.to_path_buf())),
        Err(e) => return Err(folder_error(folder, e)),
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(folder).map_err(|e| folder_error(folder, e))? {
        let entry = entry.map_err(|e| folder_error(folder, e))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str().filter(|_| is_file) else {
            continue;
        };
        if let Some(name) = VersionName::parse(file_name) {
            found.push((name, entry.path()));
        } else if let Some(now) = now
            && is_temp_of_version(file_name)
            && is_stale(&entry, now)
        {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(found)
}

fn folder_error(folder: &Path, source: io::Error) -> AutoBackupError {
    if source.kind() == io::ErrorKind::NotFound {
        AutoBackupError::FolderMissing(folder.to_path_buf())
    } else {
        AutoBackupError::FolderUnwritable {
            folder: folder.to_path_buf(),
            source,
        }
    }
}

/// The temporary file [`atomic::write`] creates for a version: `.<version name>.tmp-<...>`.
fn is_temp_of_version(file_name: &str) -> bool {
    file_name
        .strip_prefix('.')
        .and_then(|rest| rest.split_once(".tmp-"))
        .is_some_and(|(target, _)| is_version_name(target))
}

fn is_stale(entry: &fs::DirEntry, now: u64) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .is_some_and(|m| now >= m.as_secs().saturating_add(STALE_TEMP_SECONDS))
}

/// A version's name: its time and its number within that second (1 when unnumbered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct VersionName {
    time: u64,
    seq: u32,
}

impl VersionName {
    /// The name of a new version written at `now` when the newest one is `newest`: after it,
    /// even when the clock is behind.
    fn next(newest: Option<Self>, now: u64) -> Self {
        let now = now.min(MAX_TIME);
        match newest {
            Some(newest) if newest.time >= now => Self {
                time: newest.time,
                seq: newest.seq + 1,
            },
            _ => Self { time: now, seq: 1 },
        }
    }

    fn parse(file_name: &str) -> Option<Self> {
        let stem = file_name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
        let (stamp, seq) = match stem.split_once('_') {
            None => (stem, 1),
            Some((stamp, seq)) => {
                let canonical = !seq.is_empty()
                    && seq.len() <= 9
                    && seq.bytes().all(|b| b.is_ascii_digit())
                    && !seq.starts_with('0');
                let seq: u32 = seq.parse().ok().filter(|&n| canonical && n >= 2)?;
                (stamp, seq)
            }
        };
        Some(Self {
            time: parse_stamp(stamp)?,
            seq,
        })
    }

    fn file_name(&self) -> String {
        let stamp = stamp(self.time);
        if self.seq <= 1 {
            format!("{PREFIX}{stamp}{SUFFIX}")
        } else {
            format!("{PREFIX}{stamp}_{}{SUFFIX}", self.seq)
        }
    }
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time (UTC).
fn stamp(time: u64) -> String {
    let (days, secs) = (time / 86_400, time % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The Unix time of a `YYYYMMDDTHHMMSSZ` stamp; `None` unless it is exactly what [`stamp`]
/// writes (so no impossible dates, no other spellings).
fn parse_stamp(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if y < 1970 || !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 {
        return None;
    }
    let time = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
    (stamp(time) == text).then_some(time)
}

/// Days since 1970-01-01 of a date from 1970 on (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// The derived key as base64 in the (encrypted) vault payload, through wiped buffers.
mod key_base64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use serde::{Deserializer, Serializer, de};
    use zeroize::Zeroizing;

    use crate::seal::VaultKey;

    pub fn serialize<S: Serializer>(key: &VaultKey, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(B64.encode(key.expose()));
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VaultKey, D::Error> {
        struct KeyVisitor;
        impl de::Visitor<'_> for KeyVisitor {
            type Value = VaultKey;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a base64 256-bit key")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<VaultKey, E> {
                let mut bytes = Zeroizing::new([0u8; 48]);
                let len = B64
                    .decode_slice(text.as_bytes(), &mut bytes[..])
                    .map_err(|_| E::custom("the backup key is not base64"))?;
                VaultKey::from_slice(&bytes[..len])
                    .ok_or_else(|| E::custom("the backup key is not 32 bytes"))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_utc_time_and_read_back() {
        // 2026-12-01T12:00:00Z
        let t = 1_796_126_400;
        let first = VersionName { time: t, seq: 1 };
        assert_eq!(first.file_name(), "assent-backup-20261201T120000Z.json");
        let third = VersionName { time: t, seq: 3 };
        assert_eq!(third.file_name(), "assent-backup-20261201T120000Z_3.json");
        for name in [first, third, VersionName { time: 0, seq: 12 }] {
            assert_eq!(VersionName::parse(&name.file_name()), Some(name));
        }
        assert_eq!(stamp(951_782_400), "20000229T000000Z");
        assert_eq!(stamp(MAX_TIME), "99991231T235959Z");
        for t in (0..MAX_TIME).step_by(7_777_777).chain([MAX_TIME]) {
            assert_eq!(parse_stamp(&stamp(t)), Some(t), "{t}");
        }
    }

    #[test]
    fn only_exact_version_names_are_ours() {
        for not_ours in [
            "assent-backup.json",
            "assent-backup-20261201T120000Z.json.bak",
            "assent-backup-20261201T120000Z",
            "Assent-backup-20261201T120000Z.json",
            "assent-backup-20261301T120000Z.json",
            "assent-backup-20260230T120000Z.json",
            "assent-backup-20261201T246000Z.json",
            "assent-backup-2026121T120000Z.json",
            "assent-backup-+0261201T120000Z.json",
            "assent-backup-19691231T235959Z.json",
            "assent-backup-20261201T120000Z_1.json",
            "assent-backup-20261201T120000Z_02.json",
            "assent-backup-20261201T120000Z_.json",
            "assent-backup-20261201T120000Z_x.json",
            "assent-backup-20261201T120000Z_1234567890.json",
            "notes.txt",
        ] {
            assert!(!is_version_name(not_ours), "{not_ours}");
        }
        assert!(is_temp_of_version(
            ".assent-backup-20261201T120000Z_2.json.tmp-123-456"
        ));
        assert!(!is_temp_of_version(".notes.txt.tmp-123-456"));
        assert!(!is_temp_of_version("assent-backup-20261201T120000Z.json"));
    }

    #[test]
    fn versions_order_by_time_then_number_and_a_new_one_is_always_newest() {
        let t = 1_796_126_400;
        let mut names = [
            VersionName { time: t, seq: 10 },
            VersionName {
                time: t + 1,
                seq: 1,
            },
            VersionName { time: t, seq: 1 },
            VersionName { time: t, seq: 9 },
        ];
        names.sort();
        assert_eq!(
            names
                .iter()
                .map(|n| (n.time - t, n.seq))
                .collect::<Vec<_>>(),
            [(0, 1), (0, 9), (0, 10), (1, 1)]
        );
        assert_eq!(VersionName::next(None, t), VersionName { time: t, seq: 1 });
        let newest = VersionName { time: t, seq: 4 };
        assert_eq!(
            VersionName::next(Some(newest), t + 5),
            VersionName {
                time: t + 5,
                seq: 1
            }
        );
        // The same second, and a clock set back: after the newest, never before it.
        assert_eq!(
            VersionName::next(Some(newest), t),
            VersionName { time: t, seq: 5 }
        );
        assert_eq!(
            VersionName::next(Some(newest), t - 3600),
            VersionName { time: t, seq: 5 }
        );
    }

    #[test]
    fn settings_round_trip_and_never_show_the_key() {
        let settings = Settings {
            folder: PathBuf::from("/backups"),
            keep: NonZeroU32::new(3).unwrap(),
            kdf: KdfParams::with_cost(KdfParams::MIN_MEMORY_KIB, 2).unwrap(),
            key: VaultKey::from_bytes([9; 32]),
        };
        let json = serde_json::to_string(&settings).unwrap();
        let back: Settings = serde_json::from_str(&json).unwrap();
        assert!(back.key == settings.key);
        assert_eq!(back.keep.get(), 3);
        assert!(!format!("{settings:?}").contains("CQkJ"));
        let zero = json.replace("\"keep\":3", "\"keep\":0");
        assert!(serde_json::from_str::<Settings>(&zero).is_err());
        // The fingerprint is keyed: another key, another fingerprint of the same content.
        let other = Settings {
            key: VaultKey::from_bytes([10; 32]),
            ..settings.clone()
        };
        assert_ne!(settings.fingerprint(b"x"), other.fingerprint(b"x"));
        assert_ne!(settings.setup_check(), other.setup_check());
        assert_eq!(settings.fingerprint(b"x").len(), 64);
    }

    #[test]
    fn debounce_counts_from_the_last_success() {
        let settings = Settings {
            folder: PathBuf::from("/backups"),
            keep: NonZeroU32::new(3).unwrap(),
            kdf: KdfParams::with_cost(KdfParams::MIN_MEMORY_KIB, 2).unwrap(),
            key: VaultKey::from_bytes([9; 32]),
        };
        let mut status = StatusFile::fresh(&settings);
        assert_eq!(status.due_at(1000), None);
        status.last_success = Some(BackupWritten {
            at: 1000,
            file: PathBuf::from("/backups/x"),
        });
        assert_eq!(status.due_at(1000), Some(1000 + DEBOUNCE_SECONDS));
        assert_eq!(status.due_at(1000 + DEBOUNCE_SECONDS - 1), Some(1030));
        assert_eq!(status.due_at(1000 + DEBOUNCE_SECONDS), None);
        assert_eq!(status.due_at(10), None, "a clock set back writes");
    }
}
