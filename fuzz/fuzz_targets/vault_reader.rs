//! The vault reader must refuse damaged or hostile files with an error, never a panic.
//!
//! A first byte of 0 makes the rest the *plaintext* of a vault sealed under a fixed key, so the
//! fuzzer also reaches the payload parser (random ciphertexts never pass the GCM tag check);
//! anything else is read as a whole vault file.
#![no_main]

use authenticator_core::seal::{self, Unlock, VaultKey};
use authenticator_core::vault::Vault;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = VaultKey::from_bytes([7u8; 32]);
    match data.split_first() {
        Some((0, plaintext)) => {
            let sealed = seal::seal("assent-vault", &key, None, plaintext).expect("seal");
            if let Ok(vault) = Vault::from_bytes("unused", &sealed, Unlock::Key(&key)) {
                for entry in vault.entries() {
                    let _ = entry.account.code(1_700_000_000);
                }
            }
        }
        _ => {
            let _ = Vault::from_bytes("unused", data, Unlock::Key(&key));
        }
    }
});
