//! Automatic backups through the public API: what is written, when, where, and what the status
//! says, with the time passed in (no sleeping).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

use std::path::{Path, PathBuf};

use authenticator_core::autobackup::{
    self, AutoBackupError, BackupOutcome, DEBOUNCE_SECONDS, FailureKind,
};
use authenticator_core::seal::{KdfParams, SealError, Unlock, VaultKey};
use authenticator_core::{Account, Vault, backup, import, uri};

const PASS: &[u8] = b"backup passphrase";
const T: u64 = 1_796_126_400; // 2026-12-01T12:00:00Z

const A: &str = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP";
const B: &str = "otpauth://totp/AWS:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const C: &str = "otpauth://hotp/Bank:carol?secret=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U&counter=3";

fn account(text: &str) -> Account {
    uri::parse(text).unwrap()
}

fn cheap() -> KdfParams {
    KdfParams::with_cost(KdfParams::MIN_MEMORY_KIB, 2).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    vault_path: PathBuf,
    folder: PathBuf,
    key: VaultKey,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("backups");
        std::fs::create_dir(&folder).unwrap();
        Self {
            vault_path: dir.path().join("vault.json"),
            folder,
            key: VaultKey::from_bytes([0x17; 32]),
            _dir: dir,
        }
    }

    /// A saved vault holding A, with backups on into the folder, keeping `keep`.
    fn vault(&self, keep: u32) -> Vault {
        let mut vault = Vault::create_with_key(&self.vault_path, self.key.clone()).unwrap();
        vault.add(account(A)).unwrap();
        vault
            .enable_auto_backup_with_kdf(&self.folder, keep, PASS, cheap())
            .unwrap();
        vault.save().unwrap();
        vault
    }

    fn reopen(&self) -> Vault {
        Vault::open(&self.vault_path, Unlock::Key(&self.key)).unwrap()
    }

    fn folder_names(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn written(outcome: BackupOutcome) -> PathBuf {
    match outcome {
        BackupOutcome::Written(w) => w.file,
        other => panic!("expected a written version, got {other:?}"),
    }
}

fn issuers(accounts: &[Account]) -> Vec<&str> {
    accounts.iter().map(|a| a.issuer.as_str()).collect()
}

#[test]
fn a_version_opens_with_the_existing_import_and_the_backup_passphrase() {
    let setup = Setup::new();
    let mut vault = setup.vault(5);
    vault.add(account(C)).unwrap();
    vault.save().unwrap();
    let file = written(vault.flush_backup(T).unwrap());
    assert_eq!(
        file.file_name().unwrap(),
        "assent-backup-20261201T120000Z.json"
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(backup::is_backup(&bytes));
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("JBSWY3DP") && !text.contains("GitHub"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let imported = import::import(&bytes, Some("backup passphrase")).unwrap();
    assert_eq!(issuers(&imported.accounts), ["GitHub", "Bank"]);
    assert_eq!(imported.accounts[1].otp.counter(), 3);
    assert!(matches!(
        import::import(&bytes, None),
        Err(import::ImportError::PasswordRequired { .. })
    ));
    assert!(import::import(&bytes, Some("wrong")).is_err());
    // Never the vault key.
    assert!(matches!(
        authenticator_core::seal::open("assent-backup", &bytes, Unlock::Key(&setup.key)),
        Err(SealError::WrongKeyOrTampered)
    ));
}

#[test]
fn changes_are_debounced_and_a_flush_writes_regardless() {
    let setup = Setup::new();
    let mut vault = setup.vault(10);
    let first = written(vault.backup_after_change(T).unwrap());
    assert_eq!(
        vault.backup_after_change(T + 1).unwrap(),
        BackupOutcome::UpToDate
    );

    vault.add(account(B)).unwrap();
    vault.save().unwrap();
    assert_eq!(
        vault.backup_after_change(T + 5).unwrap(),
        BackupOutcome::Deferred {
            due_at: T + DEBOUNCE_SECONDS
        }
    );
    let status = vault.backup_status().unwrap().unwrap();
    assert!(status.pending);
    assert_eq!(status.last_success.as_ref().unwrap().file, first);
    assert_eq!(
        vault.backup_after_change(T + DEBOUNCE_SECONDS - 1).unwrap(),
        BackupOutcome::Deferred {
            due_at: T + DEBOUNCE_SECONDS
        }
    );
    let second = written(vault.backup_after_change(T + DEBOUNCE_SECONDS).unwrap());
    assert!(!vault.backup_status().unwrap().unwrap().pending);

    vault.add(account(C)).unwrap();
    vault.save().unwrap();
    let third = written(vault.flush_backup(T + DEBOUNCE_SECONDS + 1).unwrap());
    assert_eq!(
        vault.flush_backup(T + DEBOUNCE_SECONDS + 2).unwrap(),
        BackupOutcome::UpToDate
    );
    let listed: Vec<_> = autobackup::versions(&setup.folder)
        .unwrap()
        .into_iter()
        .map(|v| v.file)
        .collect();
    assert_eq!(listed, [third, second, first]);
}

#[test]
fn keeps_the_last_n_and_never_touches_files_that_are_not_ours() {
    let setup = Setup::new();
    let foreign = [
        "notes.txt",
        "assent-backup-20261201T120000Z.json.bak",
        "assent-backup-latest.json",
        ".notes.txt.tmp-1-2",
    ];
    for name in foreign {
        std::fs::write(setup.folder.join(name), name).unwrap();
    }
    // A folder named like a version is not a version either.
    std::fs::create_dir(setup.folder.join("assent-backup-20261201T120005Z.json")).unwrap();

    let mut vault = setup.vault(3);
    let mut files = Vec::new();
    for i in 0..6u64 {
        vault
            .rename(
                &vault.entries()[0].id.clone(),
                Some(format!("GitHub {i}")),
                None,
            )
            .unwrap();
        vault.save().unwrap();
        // Two versions in the same second (i = 2, 3), then one at a time set back an hour.
        let now = match i {
            2 | 3 => T + 5,
            5 => T - 3600,
            _ => T + i,
        };
        files.push(written(vault.flush_backup(now).unwrap()));
    }
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "assent-backup-20261201T120000Z.json",
            "assent-backup-20261201T120001Z.json",
            "assent-backup-20261201T120005Z_2.json",
            "assent-backup-20261201T120005Z_3.json",
            "assent-backup-20261201T120005Z_4.json",
            "assent-backup-20261201T120005Z_5.json",
        ]
    );
    let versions = autobackup::versions(&setup.folder).unwrap();
    assert_eq!(
        versions.iter().map(|v| &v.file).collect::<Vec<_>>(),
        files.iter().rev().take(3).collect::<Vec<_>>()
    );
    let newest = std::fs::read(&versions[0].file).unwrap();
    let accounts = backup::open_backup(&newest, PASS).unwrap();
    assert_eq!(issuers(&accounts), ["GitHub 5"]);

    let left = setup.folder_names();
    for name in foreign {
        assert!(left.contains(&name.to_owned()), "{name} was touched");
        assert_eq!(
            std::fs::read_to_string(setup.folder.join(name)).unwrap(),
            name
        );
    }
    assert!(
        setup
            .folder
            .join("assent-backup-20261201T120005Z.json")
            .is_dir()
    );
    assert_eq!(left.len(), foreign.len() + 1 + 3);
}

#[test]
fn settings_and_status_survive_a_restart() {
    let setup = Setup::new();
    let vault = setup.vault(4);
    let first = written(vault.flush_backup(T).unwrap());
    drop(vault);

    // A new process: the settings come from the vault, the fingerprint from the status file.
    let mut vault = setup.reopen();
    let status = vault.backup_status().unwrap().unwrap();
    assert_eq!(status.folder, setup.folder);
    assert_eq!(status.keep, 4);
    assert_eq!(status.last_success.as_ref().unwrap().file, first);
    assert_eq!(status.last_success.as_ref().unwrap().at, T);
    assert!(!status.pending);
    assert_eq!(
        vault.flush_backup(T + 100).unwrap(),
        BackupOutcome::UpToDate
    );
    // Still debounced across the restart.
    vault.add(account(B)).unwrap();
    vault.save().unwrap();
    drop(vault);
    let vault = setup.reopen();
    assert!(vault.backup_status().unwrap().unwrap().pending);
    assert!(matches!(
        vault.backup_after_change(T + 1).unwrap(),
        BackupOutcome::Deferred { .. }
    ));
    written(vault.flush_backup(T + 2).unwrap());

    // Nothing secret in the status file.
    let status_file =
        std::fs::read_to_string(format!("{}.backup-status.json", setup.vault_path.display()))
            .unwrap();
    assert!(!status_file.contains("JBSWY3DP") && !status_file.contains("GitHub"));
    assert!(status_file.contains("assent-backup-20261201T120002Z.json"));
}

#[test]
fn a_deleted_newest_version_or_a_damaged_status_is_written_again() {
    let setup = Setup::new();
    let vault = setup.vault(4);
    let first = written(vault.flush_backup(T).unwrap());
    std::fs::remove_file(&first).unwrap();
    assert!(vault.backup_status().unwrap().unwrap().pending);
    written(vault.flush_backup(T + 1).unwrap());
    let status = PathBuf::from(format!("{}.backup-status.json", setup.vault_path.display()));
    std::fs::write(&status, b"{ damaged").unwrap();
    let status_now = vault.backup_status().unwrap().unwrap();
    assert!(status_now.pending && status_now.last_success.is_none());
    written(vault.flush_backup(T + 2).unwrap());
    assert!(!vault.backup_status().unwrap().unwrap().pending);
}

#[test]
fn a_missing_or_unwritable_folder_is_a_recorded_failure_and_the_vault_change_stands() {
    let setup = Setup::new();
    let mut vault = setup.vault(4);
    written(vault.flush_backup(T).unwrap());
    std::fs::rename(&setup.folder, setup.folder.with_extension("away")).unwrap();

    vault.add(account(B)).unwrap();
    vault.save().unwrap();
    let err = vault.backup_after_change(T + 100).unwrap_err();
    assert!(matches!(err, AutoBackupError::FolderMissing(_)), "{err}");
    assert!(err.to_string().contains("reconnect"), "{err}");
    let status = vault.backup_status().unwrap().unwrap();
    let failure = status.last_failure.unwrap();
    assert_eq!(
        (failure.at, failure.kind),
        (T + 100, FailureKind::FolderMissing)
    );
    assert_eq!(failure.message, err.to_string());
    assert!(status.pending && status.last_success.is_some());
    // The change itself was saved and stays.
    assert_eq!(setup.reopen().entries().len(), 2);
    // A failure does not start the debounce interval: the next call tries again at once.
    assert!(vault.backup_after_change(T + 101).is_err());

    // A file where the folder should be.
    std::fs::write(&setup.folder, b"not a folder").unwrap();
    assert!(matches!(
        vault.flush_backup(T + 102),
        Err(AutoBackupError::FolderMissing(_))
    ));
    std::fs::remove_file(&setup.folder).unwrap();

    // The folder is back: the next backup succeeds and clears the failure.
    std::fs::rename(setup.folder.with_extension("away"), &setup.folder).unwrap();
    written(vault.backup_after_change(T + 104).unwrap());
    let status = vault.backup_status().unwrap().unwrap();
    assert!(status.last_failure.is_none() && !status.pending);
}

#[test]
fn old_vaults_open_and_settings_persist_until_turned_off() {
    let setup = Setup::new();
    // A vault payload from before automatic backups existed.
    let old =
        authenticator_core::seal::seal("assent-vault", &setup.key, None, br#"{"accounts":[]}"#)
            .unwrap();
    let mut vault = Vault::from_bytes(&setup.vault_path, &old, Unlock::Key(&setup.key)).unwrap();
    assert_eq!(vault.backup_status().unwrap(), None);
    assert_eq!(vault.flush_backup(T).unwrap(), BackupOutcome::Off);
    assert!(!vault.disable_auto_backup());

    vault
        .enable_auto_backup_with_kdf(&setup.folder, 2, PASS, cheap())
        .unwrap();
    vault.save().unwrap();
    assert!(setup.reopen().backup_status().unwrap().is_some());
    assert!(vault.disable_auto_backup());
    vault.save().unwrap();
    let vault = setup.reopen();
    assert_eq!(vault.backup_status().unwrap(), None);
    assert_eq!(vault.backup_after_change(T).unwrap(), BackupOutcome::Off);
    assert!(setup.folder_names().is_empty());
}

#[test]
fn turning_on_again_starts_a_fresh_status_under_the_new_passphrase() {
    let setup = Setup::new();
    let mut vault = setup.vault(4);
    let first = written(vault.flush_backup(T).unwrap());
    vault
        .enable_auto_backup_with_kdf(&setup.folder, 4, b"another passphrase", cheap())
        .unwrap();
    vault.save().unwrap();
    let status = vault.backup_status().unwrap().unwrap();
    assert!(status.pending && status.last_success.is_none());
    let second = written(vault.backup_after_change(T + 1).unwrap());
    assert!(backup::open_backup(&std::fs::read(&first).unwrap(), PASS).is_ok());
    let reopened = backup::open_backup(&std::fs::read(&second).unwrap(), b"another passphrase");
    assert_eq!(issuers(&reopened.unwrap()), ["GitHub"]);
}

#[test]
fn turning_on_refuses_what_cannot_work() {
    let setup = Setup::new();
    let mut vault = Vault::create_with_key(&setup.vault_path, setup.key.clone()).unwrap();
    assert!(matches!(
        vault.enable_auto_backup_with_kdf(&setup.folder, 0, PASS, cheap()),
        Err(AutoBackupError::KeepZero)
    ));
    assert!(matches!(
        vault.enable_auto_backup_with_kdf(Path::new("backups"), 3, PASS, cheap()),
        Err(AutoBackupError::BadFolderPath(_))
    ));
    assert!(matches!(
        vault.enable_auto_backup(&setup.folder, 3, b""),
        Err(AutoBackupError::EmptyPassphrase)
    ));
    assert_eq!(vault.backup_status().unwrap(), None);
}

#[test]
fn stale_temporary_files_of_versions_are_removed_by_the_next_write() {
    let setup = Setup::new();
    let vault = setup.vault(4);
    let set_age = |name: &str, at: u64| {
        let path = setup.folder.join(name);
        std::fs::write(&path, b"half a backup").unwrap();
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    };
    set_age(".assent-backup-20261201T115000Z.json.tmp-41-7", T - 120);
    set_age(".assent-backup-20261201T115959Z_2.json.tmp-42-8", T - 10);
    set_age(".notes.txt.tmp-43-9", T - 3600);
    written(vault.flush_backup(T).unwrap());
    assert_eq!(
        setup.folder_names(),
        [
            ".assent-backup-20261201T115959Z_2.json.tmp-42-8",
            ".notes.txt.tmp-43-9",
            "assent-backup-20261201T120000Z.json",
        ],
        "only the minute-old temporary file of a version goes"
    );
}

#[cfg(unix)]
#[test]
fn an_unwritable_folder_is_a_typed_failure() {
    use std::os::unix::fs::PermissionsExt;
    let setup = Setup::new();
    let mut vault = setup.vault(4);
    std::fs::set_permissions(&setup.folder, std::fs::Permissions::from_mode(0o500)).unwrap();
    let folder = if std::fs::write(setup.folder.join("probe"), b"").is_err() {
        setup.folder.clone()
    } else if cfg!(target_os = "linux") {
        // Root writes into any folder it may read; sysfs refuses new files even to root.
        PathBuf::from("/sys")
    } else {
        eprintln!("skipped: running as root");
        return;
    };
    vault
        .enable_auto_backup_with_kdf(&folder, 4, PASS, cheap())
        .unwrap();
    vault.save().unwrap();
    let err = vault.flush_backup(T).unwrap_err();
    assert!(
        matches!(err, AutoBackupError::FolderUnwritable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("permissions"), "{err}");
    let failure = vault
        .backup_status()
        .unwrap()
        .unwrap()
        .last_failure
        .unwrap();
    assert_eq!(failure.kind, FailureKind::FolderUnwritable);
    std::fs::set_permissions(&setup.folder, std::fs::Permissions::from_mode(0o700)).unwrap();
}
