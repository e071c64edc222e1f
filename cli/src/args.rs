//! The command line: the contract scripts depend on. Extend it; do not break it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// A terminal authenticator over an encrypted vault.
///
/// With no command on a terminal, shows every account with its code and a live countdown: type
/// to filter, Enter copies.
#[derive(Debug, Parser)]
#[command(name = "assent", version, about, long_about = None)]
pub struct Args {
    /// The vault file [default: the platform data directory, e.g. ~/.local/share/assent/vault.json]
    #[arg(long, global = true, env = "ASSENT_VAULT", value_name = "PATH")]
    pub vault: Option<PathBuf>,

    /// What to do (nothing: the interactive list)
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the code of an otpauth URI, without a vault
    Code {
        /// otpauth://totp/... or otpauth://hotp/... (HOTP: the code at the URI's counter)
        uri: String,
        /// Compute for this Unix time instead of now
        #[arg(long, value_name = "UNIX_SECONDS")]
        at: Option<u64>,
    },
    /// Create an empty vault (the first `add` or `import` also creates one)
    Init {
        /// Keep a random vault key in the OS keyring (the default when the keyring works)
        #[arg(long, conflicts_with = "passphrase")]
        keyring: bool,
        /// Protect the vault with a passphrase instead
        #[arg(long)]
        passphrase: bool,
    },
    /// Add an account from an otpauth URI or a QR image
    Add {
        /// otpauth URI (or otpauth-migration URI)
        #[arg(required_unless_present = "qr", conflicts_with = "qr")]
        uri: Option<String>,
        /// A PNG or JPEG with the account's QR code
        #[arg(long, value_name = "IMAGE")]
        qr: Option<PathBuf>,
    },
    /// Import accounts: Google Authenticator export, Aegis, 2FAS, Assent backup, URI list, QR image
    Import {
        /// Files (exports, QR images, URI lists) or otpauth / otpauth-migration URIs; give every
        /// QR code of a Google Authenticator export that was split over several
        #[arg(required = true, value_name = "FILE_OR_URI")]
        sources: Vec<String>,
    },
    /// List accounts with their current codes
    List {
        /// Only accounts whose issuer or name contains this
        query: Option<String>,
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
        /// Compute codes for this Unix time instead of now
        #[arg(long, value_name = "UNIX_SECONDS")]
        at: Option<u64>,
    },
    /// Copy one account's code to the clipboard (cleared after 30 s)
    Copy {
        /// Issuer, name or id of exactly one account
        query: String,
        /// Print the code instead of copying it
        #[arg(long)]
        print: bool,
        /// Compute the code for this Unix time instead of now
        #[arg(long, value_name = "UNIX_SECONDS")]
        at: Option<u64>,
    },
    /// Change an account's issuer and/or name
    Rename {
        /// Issuer, name or id of exactly one account
        query: String,
        /// New issuer
        #[arg(long)]
        issuer: Option<String>,
        /// New account name
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove an account
    Remove {
        /// Issuer, name or id of exactly one account
        query: String,
        /// Do not ask for confirmation
        #[arg(long, short)]
        yes: bool,
        /// Also retire the push enrollment that came with the account (required when it has one)
        #[arg(long)]
        retire_push: bool,
    },
    /// Move an account to another position in the list
    Move {
        /// Issuer, name or id of exactly one account
        query: String,
        /// New position, 1 = first
        position: usize,
    },
    /// Export every account
    Export {
        /// `uris`: otpauth URIs in clear; `backup`: encrypted with a backup passphrase
        #[arg(long, value_enum, default_value_t = ExportFormat::Backup)]
        format: ExportFormat,
        /// Write to this file instead of standard output
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Enroll this terminal as the push device of a portal account (from its one QR), with codes
    Enroll {
        /// The enrollment otpauth URI (or the path of a QR image)
        #[arg(
            required_unless_present = "qr",
            conflicts_with = "qr",
            value_name = "URI"
        )]
        uri: Option<String>,
        /// A PNG or JPEG with the enrollment QR code
        #[arg(long, value_name = "IMAGE")]
        qr: Option<PathBuf>,
        /// The device name the portal shows [default: "assent on <hostname>"]
        #[arg(long)]
        name: Option<String>,
        /// The push relay that delivers requests to `assent watch` at once; without one, this
        /// device is reached by polling only
        #[arg(long, env = "ASSENT_RELAY_URL", value_name = "URL")]
        relay: Option<String>,
    },
    /// List the sign-in requests waiting for an answer
    Pending {
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending request
    Approve {
        /// The request's id, or its first characters (see `assent pending`); ids are base64url
        /// and may begin with `-`
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// The number shown on the sign-in page, when the request asks for one
        #[arg(long)]
        number: Option<String>,
    },
    /// Deny a pending request
    Deny {
        /// The request's id, or its first characters (see `assent pending`); ids are base64url
        /// and may begin with `-`
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Report it: you did not try to sign in
        #[arg(long)]
        not_me: bool,
    },
    /// Wait for requests and answer each on the terminal (Ctrl-C stops)
    Watch {
        /// Exit after one request was handled
        #[arg(long)]
        once: bool,
    },
    /// Automatic encrypted backups: a new version in a folder after every change
    Backup {
        /// What to do
        #[command(subcommand)]
        action: BackupAction,
    },
    /// Unlock the vault once and print a session for ASSENT_SESSION
    Unlock {
        /// Print only the session token
        #[arg(long)]
        raw: bool,
    },
    /// End every session of this vault
    Lock,
    /// Change the vault's passphrase (a keyring vault moves to a passphrase)
    Passwd,
    /// Try Assent on a demo vault with a few accounts (passphrase "demo")
    Demo,
    /// Hold a code on the clipboard and clear it later (internal)
    #[command(name = "__clipboard-hold", hide = true)]
    ClipboardHold {
        /// Seconds before the clipboard is cleared
        seconds: u64,
    },
}

/// `assent backup ...`.
#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// Turn automatic backups on: after every change, a new encrypted version in DIR (asks a
    /// backup passphrase, or reads ASSENT_BACKUP_PASSPHRASE)
    Auto {
        /// The folder for the versions; it must exist (a missing one is reported, never created)
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// How many versions to keep (the oldest beyond are deleted)
        #[arg(long, value_name = "N", default_value_t = 10,
              value_parser = clap::value_parser!(u32).range(1..))]
        keep: u32,
    },
    /// Turn automatic backups off (the versions already written stay)
    Off,
    /// Show the folder, the last backup, the last failure and whether a change waits
    Status {
        /// Print JSON for scripts
        #[arg(long)]
        json: bool,
    },
    /// Write a version now if the vault changed since the last one (after a failure, say)
    Now,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// One otpauth URI per line, secrets in clear
    Uris,
    /// An encrypted Assent backup (Argon2id + AES-256-GCM)
    Backup,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_may_begin_with_a_hyphen() {
        // One request id in 64 begins with '-': it must not be read as an option.
        for (args, not_me) in [
            (&["assent", "deny", "-LYWHKbEf6"][..], false),
            (&["assent", "deny", "-LYWHKbEf6", "--not-me"], true),
        ] {
            let Ok(Args {
                command: Some(Command::Deny { id, not_me: got }),
                ..
            }) = Args::try_parse_from(args)
            else {
                panic!("{args:?} did not parse as a deny");
            };
            assert_eq!((id.as_str(), got), ("-LYWHKbEf6", not_me));
        }
        let Ok(Args {
            command: Some(Command::Approve { id, number }),
            ..
        }) = Args::try_parse_from(["assent", "approve", "-x9", "--number", "42"])
        else {
            panic!("approve did not parse");
        };
        assert_eq!((id.as_str(), number.as_deref()), ("-x9", Some("42")));
    }
}
