//! `assent backup ...` and the version every vault-changing command writes: real processes, a
//! real vault and backup folder in a temporary home.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BACKUP_PASS: &str = "backup pass";
const GITHUB: &str = "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub";
const AWS: &str = "otpauth://totp/AWS:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=AWS";
const BANK: &str =
    "otpauth://hotp/Bank:carol?secret=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U&counter=3&issuer=Bank";

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let home = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(home.folder()).unwrap();
        home
    }

    fn folder(&self) -> PathBuf {
        self.dir.path().join("backups")
    }

    /// `assent` in this home, with the backup passphrase in its environment variable.
    fn cmd(&self) -> Command {
        let mut cmd = common::assent(self.dir.path());
        cmd.env("ASSENT_BACKUP_PASSPHRASE", BACKUP_PASS)
            .current_dir(self.dir.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs a command that must succeed; its standard error.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "assent {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn stdout(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "assent {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    fn turn_on(&self, keep: &str) -> String {
        // A relative folder: stored as absolute, so later commands elsewhere find it.
        self.ok(&["backup", "auto", "--dir", "backups", "--keep", keep])
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout(&["backup", "status", "--json"])).unwrap()
    }

    /// The version files in the folder, oldest first, as `backup status --json` lists them
    /// (same-second versions are numbered, so the bytes of the names do not order them).
    fn versions(&self) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(self.folder())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| is_version_name(&p.file_name().unwrap().to_string_lossy()))
            .collect();
        files.sort();
        if let Some(listed) = self.status()["versions"].as_array() {
            let mut listed: Vec<PathBuf> = listed
                .iter()
                .rev()
                .map(|v| PathBuf::from(v["file"].as_str().unwrap()))
                .collect();
            let in_order = listed.clone();
            listed.sort();
            assert_eq!(files, listed, "status lists exactly the version files");
            return in_order;
        }
        files
    }

    fn issuers(&self) -> Vec<String> {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&self.stdout(&["list", "--json", "--at", "59"])).unwrap();
        list.iter()
            .map(|a| a["issuer"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Imports `file` (a backup version) with the backup passphrase; its standard error.
    fn import(&self, file: &Path) -> String {
        let out = self
            .cmd()
            .env("ASSENT_IMPORT_PASSWORD", BACKUP_PASS)
            .arg("import")
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

/// `assent-backup-YYYYMMDDTHHMMSSZ[_N].json`, as docs/vault.md names versions.
fn is_version_name(name: &str) -> bool {
    let Some(stem) = name
        .strip_prefix("assent-backup-")
        .and_then(|n| n.strip_suffix(".json"))
    else {
        return false;
    };
    let stamp = stem.split('_').next().unwrap();
    stamp.len() == 16 && &stamp[8..9] == "T" && stamp.ends_with('Z')
}

#[test]
fn every_change_writes_a_version_and_any_version_restores_with_import() {
    let home = Home::new();
    home.ok(&["add", GITHUB]);
    home.ok(&["add", AWS]);
    let said = home.turn_on("3");
    assert!(said.contains("Automatic backups are on"), "{said}");
    assert!(said.contains("assent import"), "{said}");
    assert_eq!(home.versions().len(), 1);

    home.ok(&["rename", "github", "--name", "alice@work"]);
    assert_eq!(home.versions().len(), 2);
    // Reading changes nothing, and neither does a no-op: no version.
    home.stdout(&["list"]);
    home.stdout(&["backup", "status"]);
    assert_eq!(home.versions().len(), 2);
    let with_aws = home.versions()[1].clone();

    home.ok(&["remove", "aws", "--yes"]);
    home.ok(&["add", BANK]);
    home.ok(&["copy", "bank", "--print"]); // the HOTP counter moves: a change too
    let versions = home.versions();
    assert_eq!(versions.len(), 3, "only the last 3 are kept");
    assert!(!versions.contains(&with_aws), "the oldest were deleted");
    assert_eq!(home.issuers(), ["GitHub", "Bank"]);
    for version in &versions {
        let text = std::fs::read_to_string(version).unwrap();
        assert!(text.contains("assent-backup") && !text.contains("JBSWY3DP"));
    }

    // The newest version restores everything on a new machine.
    let other = Home::new();
    other.import(versions.last().unwrap());
    assert_eq!(other.issuers(), ["GitHub", "Bank"]);
    let restored: Vec<serde_json::Value> =
        serde_json::from_str(&other.stdout(&["list", "--json", "--at", "59"])).unwrap();
    assert_eq!(restored[0]["name"], "alice@work");
    assert_eq!(restored[1]["counter"], 4);

    // An older version brings back what was removed since.
    let older = Home::new();
    older.ok(&["add", GITHUB]);
    older.turn_on("5");
    older.ok(&["add", AWS]);
    older.ok(&["add", BANK]);
    older.ok(&["remove", "aws", "--yes"]);
    older.ok(&["remove", "bank", "--yes"]);
    assert_eq!(older.issuers(), ["GitHub"]);
    let versions = older.versions();
    assert_eq!(versions.len(), 5);
    let said = older.import(&versions[2]);
    assert!(said.contains("2 added, 1 already present"), "{said}");
    assert_eq!(older.issuers(), ["GitHub", "AWS", "Bank"]);
    // Restoring is a change like any other: one more version, the oldest goes.
    let after = older.versions();
    assert_eq!(after.len(), 5);
    assert_eq!(after[..4], versions[1..]);
}

#[test]
fn status_in_text_and_json() {
    let home = Home::new();
    home.ok(&["add", GITHUB]);
    assert_eq!(home.status(), serde_json::json!({"enabled": false}));
    let text = home.stdout(&["backup", "status"]);
    assert!(
        text.contains("off") && text.contains("assent backup auto"),
        "{text}"
    );

    home.turn_on("4");
    let status = home.status();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["keep"], 4);
    assert_eq!(status["pending"], false);
    assert_eq!(
        status["folder"].as_str().unwrap(),
        home.folder().to_str().unwrap()
    );
    assert!(status["last_failure"].is_null());
    let last = status["last_success"]["file"].as_str().unwrap();
    assert!(Path::new(last).is_file());
    assert!(status["last_success"]["at"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(status["versions"].as_array().unwrap().len(), 1);

    let text = home.stdout(&["backup", "status"]);
    assert!(text.contains("Automatic backups are on"), "{text}");
    assert!(
        text.contains("Last backup: just now") && text.contains(last),
        "{text}"
    );
    assert!(text.contains("Pending: nothing"), "{text}");
    assert!(!text.contains("Last failure"), "{text}");
}

#[test]
fn a_backup_failure_warns_in_one_line_and_the_command_still_succeeds() {
    let home = Home::new();
    home.ok(&["add", GITHUB]);
    home.turn_on("4");
    let away = home.dir.path().join("unplugged");
    std::fs::rename(home.folder(), &away).unwrap();

    let said = home.ok(&["add", AWS]);
    let warnings: Vec<_> = said.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{said}");
    assert!(
        warnings[0].contains("automatic backup failed") && warnings[0].contains("missing"),
        "{said}"
    );
    assert_eq!(home.issuers(), ["GitHub", "AWS"], "the change stands");
    let status = home.status();
    assert_eq!(status["last_failure"]["kind"], "folder-missing");
    assert_eq!(status["pending"], true);
    assert!(status["versions"].is_null());
    let text = home.stdout(&["backup", "status"]);
    assert!(
        text.contains("Last failure: just now: the backup folder"),
        "{text}"
    );
    assert!(
        text.contains("Pending: a change is not backed up yet"),
        "{text}"
    );

    let err = common::one_line_error(&["backup", "now"], home.run(&["backup", "now"]));
    assert!(err.contains("missing or is not a folder"), "{err}");

    // The drive is back: `backup now` catches up.
    std::fs::rename(&away, home.folder()).unwrap();
    let said = home.ok(&["backup", "now"]);
    assert!(said.contains("Backed up to"), "{said}");
    let status = home.status();
    assert!(status["last_failure"].is_null());
    assert_eq!(status["pending"], false);
    assert_eq!(home.versions().len(), 2);
    let said = home.ok(&["backup", "now"]);
    assert!(said.contains("Nothing changed"), "{said}");
}

#[test]
fn turning_on_needs_an_existing_folder_and_a_passphrase_and_off_stops_versions() {
    let home = Home::new();
    home.ok(&["add", GITHUB]);
    let args = ["backup", "auto", "--dir", "nowhere", "--keep", "3"];
    let err = common::one_line_error(&args, home.run(&args));
    assert!(err.contains("nowhere") && err.contains("missing"), "{err}");
    let args = ["backup", "auto", "--dir", "backups", "--keep", "0"];
    assert!(!home.run(&args).status.success());
    let args = ["backup", "auto", "--dir", "backups"];
    let out = home
        .cmd()
        .env_remove("ASSENT_BACKUP_PASSPHRASE")
        .args(args)
        .output()
        .unwrap();
    let err = common::one_line_error(&args, out);
    assert!(err.contains("ASSENT_BACKUP_PASSPHRASE"), "{err}");
    assert_eq!(home.status()["enabled"], false, "nothing changed");
    assert!(home.versions().is_empty());

    home.turn_on("10");
    assert_eq!(home.status()["keep"], 10);
    let said = home.ok(&["backup", "off"]);
    assert!(said.contains("left in place"), "{said}");
    home.ok(&["add", AWS]);
    assert_eq!(home.status()["enabled"], false);
    let err = common::one_line_error(&["backup", "now"], home.run(&["backup", "now"]));
    assert!(err.contains("off"), "{err}");
    assert_eq!(
        std::fs::read_dir(home.folder()).unwrap().count(),
        1,
        "the first version stays, no new one"
    );
}
