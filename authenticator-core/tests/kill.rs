//! The crash test: a child process saves the vault in a loop and is killed (SIGKILL) at
//! pseudo-random instants, many times. After every kill the vault must open with its key and
//! hold at least as many accounts as before: the old vault or the new one, never a broken one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking"
)]

mod common;

use authenticator_core::seal::{Unlock, VaultKey};
use authenticator_core::vault::Vault;
use common::account;

const CHILD_ENV: &str = "ASSENT_KILL_TEST_VAULT";
const KEY: [u8; 32] = [0x42; 32];

/// In the child: add an account and save, forever, until killed.
fn save_forever(path: &str) -> ! {
    let key = VaultKey::from_bytes(KEY);
    let mut vault = Vault::open(std::path::Path::new(path), Unlock::Key(&key)).unwrap();
    let mut i = 1_000_000 + std::process::id() as u64 * 10_000;
    loop {
        i += 1;
        vault.add(account(i)).unwrap();
        vault.save().unwrap();
    }
}

#[test]
fn a_kill_at_any_instant_leaves_a_vault_that_opens() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        save_forever(&path);
    }
    // On disk (not tmpfs), so fsync and rename take real time and kills land mid-save.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("vault.json");
    let key = VaultKey::from_bytes(KEY);
    let mut vault = Vault::create_with_key(&path, key.clone()).unwrap();
    vault.add_all((0..200).map(account).collect()).unwrap();
    vault.save().unwrap();

    let mut killer = common::Killer::new(2_000, 40_000);
    let mut previous = 200;
    let rounds = 150;
    for round in 0..rounds {
        killer.run_and_kill(
            "a_kill_at_any_instant_leaves_a_vault_that_opens",
            CHILD_ENV,
            &path,
        );

        let reopened = Vault::open(&path, Unlock::Key(&key))
            .unwrap_or_else(|e| panic!("round {round}: the vault does not open after a kill: {e}"));
        let count = reopened.entries().len();
        assert!(
            count >= previous,
            "round {round}: {count} accounts, fewer than {previous}"
        );
        previous = count;
    }
    // Each kill that landed between creating and renaming a temporary file left that file.
    let mid_save_kills = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-")
        })
        .count();
    eprintln!(
        "{rounds} kills: the vault opened every time and grew from 200 to {previous} accounts; \
         {mid_save_kills} kills landed mid-save (after the temporary file was created)"
    );
    assert!(
        previous > 200,
        "the child never completed a save: the test proved nothing"
    );
}
