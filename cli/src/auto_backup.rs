//! `assent backup ...`: turning automatic backups on and off, their status, a version now. The
//! backup each vault-changing command writes after saving is [`store::after_change`].

use std::path::{Path, PathBuf};

use authenticator_core::autobackup::{self, AutoBackupError, BackupOutcome, BackupStatus};
use serde::Serialize;

use crate::args::BackupAction;
use crate::clock::Clock;
use crate::failure::{Context, Failure};
use crate::{passphrase, store};

/// Runs `assent backup <action>` on the vault at `path`.
pub fn run(path: &Path, action: BackupAction, clock: &dyn Clock) -> Result<(), Failure> {
    match action {
        BackupAction::Auto { dir, keep } => auto(path, &dir, keep, clock),
        BackupAction::Off => off(path),
        BackupAction::Status { json } => status(path, json, clock),
        BackupAction::Now => write_now(path, clock),
    }
}

fn auto(path: &Path, dir: &Path, keep: u32, clock: &dyn Clock) -> Result<(), Failure> {
    let dir = std::path::absolute(dir).context(|| format!("resolving {}", dir.display()))?;
    if !dir.is_dir() {
        return Err(AutoBackupError::FolderMissing(dir).into());
    }
    let _lock = store::lock(path)?;
    let mut vault = store::open(path)?;
    let pass = passphrase::ask_new("backup", passphrase::BACKUP_ENV)?;
    vault.enable_auto_backup(&dir, keep, pass.as_bytes())?;
    drop(pass);
    // The first version is written before the settings are saved: if it cannot be written,
    // the command fails and nothing changed.
    let first = vault.flush_backup(clock.now())?;
    vault.save()?;
    eprintln!(
        "Automatic backups are on: after every change, a new encrypted version in {} (the last {keep} kept).",
        dir.display()
    );
    if let BackupOutcome::Written(written) = first {
        eprintln!("First backup: {}", written.file.display());
    }
    eprintln!("Restore any version with `assent import FILE` and the backup passphrase.");
    Ok(())
}

fn off(path: &Path) -> Result<(), Failure> {
    let _lock = store::lock(path)?;
    let mut vault = store::open(path)?;
    let folder = vault.backup_status().ok().flatten().map(|s| s.folder);
    if !vault.disable_auto_backup() {
        eprintln!("Automatic backups were already off.");
        return Ok(());
    }
    vault.save()?;
    match folder {
        Some(folder) => eprintln!(
            "Automatic backups are off; the versions in {} were left in place.",
            folder.display()
        ),
        None => eprintln!("Automatic backups are off."),
    }
    Ok(())
}

fn write_now(path: &Path, clock: &dyn Clock) -> Result<(), Failure> {
    let _lock = store::lock(path)?;
    let vault = store::open(path)?;
    match vault.flush_backup(clock.now())? {
        BackupOutcome::Off => return Err(off_failure()),
        BackupOutcome::Written(written) => {
            eprintln!("Backed up to {}", written.file.display());
        }
        BackupOutcome::UpToDate | BackupOutcome::Deferred { .. } => {
            eprintln!("Nothing changed since the last backup.");
        }
    }
    Ok(())
}

fn off_failure() -> Failure {
    Failure::new(
        "automatic backups are off: turn them on with `assent backup auto --dir DIR [--keep N]`",
    )
}

/// `backup status --json`.
#[derive(Serialize)]
struct StatusJson {
    enabled: bool,
    #[serde(flatten)]
    status: Option<BackupStatus>,
    /// The versions in the folder, newest first; `null` when the folder cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    versions: Option<Option<Vec<VersionJson>>>,
}

#[derive(Serialize)]
struct VersionJson {
    file: PathBuf,
    time: u64,
}

fn status(path: &Path, json: bool, clock: &dyn Clock) -> Result<(), Failure> {
    let vault = store::open(path)?;
    let status = vault.backup_status()?;
    let versions = status.as_ref().map(|s| autobackup::versions(&s.folder));
    if json {
        let out = StatusJson {
            enabled: status.is_some(),
            versions: versions.map(|v| {
                v.ok().map(|list| {
                    list.into_iter()
                        .map(|v| VersionJson {
                            file: v.file,
                            time: v.time,
                        })
                        .collect()
                })
            }),
            status,
        };
        let text = serde_json::to_string_pretty(&out).map_err(|e| Failure::new(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let (Some(status), Some(versions)) = (status, versions) else {
        println!(
            "Automatic backups are off: turn them on with `assent backup auto --dir DIR [--keep N]`."
        );
        return Ok(());
    };
    let now = clock.now();
    println!(
        "Automatic backups are on, into {} (the last {} versions kept).",
        status.folder.display(),
        status.keep
    );
    match &status.last_success {
        Some(last) => println!(
            "Last backup: {}, {}",
            ago(now, last.at),
            last.file.display()
        ),
        None => println!("Last backup: none yet"),
    }
    if let Some(failure) = &status.last_failure {
        println!(
            "Last failure: {}: {}",
            ago(now, failure.at),
            failure.message
        );
    }
    if status.pending {
        println!("Pending: a change is not backed up yet; `assent backup now` writes it.");
    } else {
        println!("Pending: nothing; the newest version holds every account.");
    }
    match versions {
        Ok(list) => println!(
            "Versions: {} in the folder; restore one with `assent import FILE`.",
            list.len()
        ),
        Err(e) => println!("Versions: cannot be listed: {e}"),
    }
    Ok(())
}

/// How long ago `at` was, roughly.
fn ago(now: u64, at: u64) -> String {
    let Some(seconds) = now.checked_sub(at) else {
        return format!("at {at} (Unix time, ahead of this clock)");
    };
    match seconds {
        0..5 => "just now".to_owned(),
        5..120 => format!("{seconds} s ago"),
        120..7_200 => format!("{} min ago", seconds / 60),
        7_200..172_800 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_reads_naturally() {
        assert_eq!(ago(100, 98), "just now");
        assert_eq!(ago(100, 40), "60 s ago");
        assert_eq!(ago(10_000, 10_000 - 600), "10 min ago");
        assert_eq!(ago(100_000, 100_000 - 7_200), "2 h ago");
        assert_eq!(ago(1_000_000, 1_000_000 - 3 * 86_400), "3 days ago");
        assert!(ago(5, 10).contains("ahead"));
    }
}
