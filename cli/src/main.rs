//! `assent`: a terminal authenticator over authenticator-core.
//!
//! `main` only parses arguments and turns a failure into one line on standard error.

#![forbid(unsafe_code)]

mod args;
mod clipboard;
mod commands;
mod failure;
mod interactive;
mod os_keyring;
mod passphrase;
mod session;
mod store;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Args::parse();
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("assent: {failure}");
            ExitCode::FAILURE
        }
    }
}
