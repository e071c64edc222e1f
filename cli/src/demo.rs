//! `assent demo`: a throw-away vault with a few accounts of every kind, to try the CLI on.

use std::io::IsTerminal;

use authenticator_core::seal::{KdfParams, Unlock};
use authenticator_core::uri;
use authenticator_core::vault::Vault;

use crate::clock::Clock;
use crate::failure::{Context, Failure};
use crate::interactive;

const DEMO_ACCOUNTS: &[&str] = &[
    "otpauth://totp/GitHub:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
    "otpauth://totp/AWS:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA&issuer=AWS&algorithm=SHA256&digits=8&period=60",
    "otpauth://steam/Steam:alice?secret=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U&issuer=Steam",
    "otpauth://hotp/Bank:alice?secret=KRUGS4ZANFZSAYJAONSWG4TFOQQQ&issuer=Bank&counter=0",
    "otpauth://totp/Caf%C3%A9%20%E2%98%95:alice?secret=ONSWG4TFORZWK2LSMVZQ&issuer=Caf%C3%A9%20%E2%98%95&algorithm=SHA512",
];

/// Opens (or first creates) the demo vault in the temporary directory, passphrase "demo", and
/// shows it: the interactive list on a terminal, the codes otherwise.
pub fn run(clock: &dyn Clock) -> Result<(), Failure> {
    let dir = std::env::temp_dir().join("assent-demo");
    std::fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("vault.json");
    let vault = if path.exists() {
        Vault::open(&path, Unlock::Passphrase(b"demo"))?
    } else {
        let mut vault = Vault::create_with_passphrase(&path, b"demo", KdfParams::recommended()?)?;
        for text in DEMO_ACCOUNTS {
            vault.add(uri::parse(text)?)?;
        }
        vault.save()?;
        vault
    };
    eprintln!("Demo vault: {} (passphrase \"demo\")", path.display());
    eprintln!(
        "Try it from another shell: ASSENT_VAULT={} ASSENT_PASSPHRASE=demo assent list",
        path.display()
    );
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        interactive::run(vault, clock)
    } else {
        let at = clock.now();
        for entry in vault.entries() {
            let code = entry.account.code(at);
            println!("{:<9} {}", code.grouped(), entry.account.display_name());
        }
        Ok(())
    }
}
