//! Which module runs each command: the dispatcher, and nothing else.

use std::io::IsTerminal;

use crate::args::{Args, Command};
use crate::clock::Clock;
use crate::decision::Decision;
use crate::failure::Failure;
use crate::{
    accounts, auto_backup, clipboard, demo, interactive, push, session, store, transfer, watch,
};

/// Runs the parsed command line, reading the time from `clock`.
pub fn run(args: Args, clock: &dyn Clock) -> Result<(), Failure> {
    let command = match args.command {
        Some(Command::Code { uri, at }) => return accounts::code(&uri, at, clock),
        Some(Command::ClipboardHold { seconds }) => return clipboard::hold(seconds),
        Some(Command::Demo) => return demo::run(clock),
        Some(command) => command,
        None => {
            let path = store::locate(args.vault.clone())?;
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                let vault = store::open(&path)?;
                return interactive::run(vault, clock);
            }
            Command::List {
                query: None,
                json: false,
                at: None,
            }
        }
    };
    let path = store::locate(args.vault)?;
    match command {
        Command::Init {
            keyring,
            passphrase,
        } => store::init(
            &path,
            match (keyring, passphrase) {
                (true, _) => store::Protection::Keyring,
                (_, true) => store::Protection::Passphrase,
                _ => store::Protection::Automatic,
            },
        ),
        Command::Add { uri, qr } => transfer::add(&path, uri, qr, clock),
        Command::Import { sources } => transfer::import(&path, &sources, clock),
        Command::List { query, json, at } => {
            accounts::list(&path, query.as_deref(), json, at, clock)
        }
        Command::Copy { query, print, at } => accounts::copy(&path, &query, print, at, clock),
        Command::Rename {
            query,
            issuer,
            name,
        } => accounts::rename(&path, &query, issuer, name, clock),
        Command::Remove {
            query,
            yes,
            retire_push,
        } => accounts::remove(&path, &query, yes, retire_push, clock),
        Command::Move { query, position } => accounts::move_to(&path, &query, position, clock),
        Command::Export { format, output } => transfer::export(&path, format, output.as_deref()),
        Command::Enroll {
            uri,
            qr,
            name,
            relay,
        } => push::enroll(&path, uri, qr, name, relay, clock),
        Command::Pending { json } => push::pending(&path, json, clock),
        Command::Approve { id, number } => {
            push::respond(&path, &id, Decision::Approve { number }, clock)
        }
        Command::Deny { id, not_me } => push::respond(&path, &id, Decision::Deny { not_me }, clock),
        Command::Watch { once } => watch::watch(&path, once, clock),
        Command::Backup { action } => auto_backup::run(&path, action, clock),
        Command::Unlock { raw } => session::unlock(&path, raw),
        Command::Lock => session::lock(&path),
        Command::Passwd => store::change_passphrase(&path),
        Command::Code { .. } | Command::ClipboardHold { .. } | Command::Demo => Ok(()),
    }
}
