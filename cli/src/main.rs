//! `assent`: a terminal authenticator over authenticator-core.
//!
//! `main` only parses arguments, hands the commands the system clock, and turns a failure into
//! one line on standard error.

#![forbid(unsafe_code)]

mod accounts;
mod args;
mod auto_backup;
mod clipboard;
mod clock;
mod commands;
mod decision;
mod demo;
mod direct;
mod exchanges;
mod failure;
mod history;
mod interactive;
mod os_keyring;
mod passphrase;
mod portal_client;
mod prompt;
mod push;
mod qr_image;
mod relays;
mod request;
mod session;
mod store;
mod transfer;
mod watch;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Args::parse();
    // HTTPS to portals and relays goes through rustls with ring; a second install (none
    // happens here) would only say one is already in place.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match commands::run(args, &clock::SystemClock) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("assent: {failure}");
            ExitCode::FAILURE
        }
    }
}
