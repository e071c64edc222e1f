//! The crash test of automatic backups: a child process changes the vault and writes a backup
//! version after each change, in a loop, and is killed (SIGKILL) at pseudo-random instants,
//! many times. After every kill, every file named like a version must open completely (the
//! newest through the ordinary import), and the newest must hold at least what the newest held
//! before. A kill between writing a new version and deleting the oldest leaves one version more
//! than N, never more than one per such kill, and the next completed write deletes down to N.
//! Temporary files are not versions; the next write removes the stale ones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use authenticator_core::autobackup::{self, BackupOutcome};
use authenticator_core::import;
use authenticator_core::seal::{self, KdfParams, Unlock, VaultKey};
use authenticator_core::vault::Vault;
use common::account;

const CHILD_ENV: &str = "ASSENT_BACKUP_KILL_TEST_VAULT";
const KEY: [u8; 32] = [0x24; 32];
const PASS: &str = "backup passphrase";
const KEEP: usize = 3;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// In the child: add an account, save, write a backup version, forever, until killed.
fn change_and_back_up_forever(path: &str) -> ! {
    let key = VaultKey::from_bytes(KEY);
    let mut vault = Vault::open(Path::new(path), Unlock::Key(&key)).unwrap();
    let mut i = 1_000_000 + std::process::id() as u64 * 10_000;
    loop {
        i += 1;
        vault.add(account(i)).unwrap();
        vault.save().unwrap();
        vault.flush_backup(now()).unwrap();
    }
}

fn temp_files(folder: &Path) -> BTreeSet<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp-"))
        .collect()
}

#[test]
fn a_kill_at_any_instant_never_leaves_a_broken_version() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        change_and_back_up_forever(&path);
    }
    // On disk (not tmpfs), so fsync and rename take real time and kills land mid-write.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("vault.json");
    let folder = dir.path().join("backups");
    std::fs::create_dir(&folder).unwrap();
    let key = VaultKey::from_bytes(KEY);
    let mut vault = Vault::create_with_key(&path, key.clone()).unwrap();
    vault.add_all((0..200).map(account).collect()).unwrap();
    let kdf = KdfParams::with_cost(KdfParams::MIN_MEMORY_KIB, 2).unwrap();
    vault
        .enable_auto_backup_with_kdf(&folder, KEEP as u32, PASS.as_bytes(), kdf)
        .unwrap();
    vault.save().unwrap();
    assert!(matches!(
        vault.flush_backup(now()).unwrap(),
        BackupOutcome::Written(_)
    ));
    // All versions share the key derived when backups were turned on: derive it once here to
    // open the older versions quickly; the newest goes through the real import each time.
    let first = &autobackup::versions(&folder).unwrap()[0].file;
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first).unwrap()).unwrap();
    let file_kdf: KdfParams = serde_json::from_value(envelope["kdf"].clone()).unwrap();
    let backup_key = file_kdf.derive(PASS.as_bytes()).unwrap();

    let mut killer = common::Killer::new(5_000, 90_000);
    let mut newest_count = 200;
    let mut names_seen = BTreeSet::new();
    let mut temps_seen = BTreeSet::new();
    let mut most_versions = 0;
    let mut previous_versions = 1;
    let rounds = 150;
    for round in 0..rounds {
        killer.run_and_kill(
            "a_kill_at_any_instant_never_leaves_a_broken_version",
            CHILD_ENV,
            &path,
        );

        let versions = autobackup::versions(&folder).unwrap();
        assert!(!versions.is_empty(), "round {round}: no version left");
        // A kill after the new version is in place and before the oldest are deleted leaves
        // one more; the next completed write deletes down to KEEP again.
        let bound = previous_versions.max(KEEP) + 1;
        assert!(
            versions.len() <= bound,
            "round {round}: {} versions, more than {bound}",
            versions.len()
        );
        previous_versions = versions.len();
        most_versions = most_versions.max(versions.len());
        for version in &versions[1..] {
            let bytes = std::fs::read(&version.file).unwrap();
            seal::open("assent-backup", &bytes, Unlock::Key(&backup_key)).unwrap_or_else(|e| {
                panic!(
                    "round {round}: {} does not open: {e}",
                    version.file.display()
                )
            });
        }
        let newest = std::fs::read(&versions[0].file).unwrap();
        let imported = import::import(&newest, Some(PASS)).unwrap_or_else(|e| {
            panic!(
                "round {round}: the newest version {} does not import: {e}",
                versions[0].file.display()
            )
        });
        let count = imported.accounts.len();
        assert!(
            count >= newest_count,
            "round {round}: the newest version holds {count} accounts, fewer than {newest_count}"
        );
        newest_count = count;
        names_seen.extend(versions.iter().map(|v| v.file.clone()));
        temps_seen.extend(temp_files(&folder));
        // The vault itself survives too, and its backup status reads.
        let reopened = Vault::open(&path, Unlock::Key(&key))
            .unwrap_or_else(|e| panic!("round {round}: the vault does not open: {e}"));
        reopened
            .backup_status()
            .unwrap_or_else(|e| panic!("round {round}: the status does not read: {e}"));
    }
    assert!(
        newest_count > 200,
        "the child never completed a backup: the test proved nothing"
    );

    // The next run: its write removes the temporary files once they are a minute old (by the
    // time it is given, here two minutes on).
    let left = temp_files(&folder);
    let mut vault = Vault::open(&path, Unlock::Key(&key)).unwrap();
    vault.add(account(999_999)).unwrap();
    vault.save().unwrap();
    assert!(matches!(
        vault.flush_backup(now() + 120).unwrap(),
        BackupOutcome::Written(_)
    ));
    let after = temp_files(&folder);
    assert!(
        after.is_empty(),
        "stale temporary files remain after the next write: {after:?}"
    );
    assert_eq!(autobackup::versions(&folder).unwrap().len(), KEEP);
    eprintln!(
        "{rounds} kills: every version opened every time; the newest grew from 200 to \
         {newest_count} accounts; {} distinct versions seen, at most {most_versions} at once; \
         {} kills left a temporary file ({} still there at the end, removed by the next write)",
        names_seen.len(),
        temps_seen.len(),
        left.len()
    );
}
