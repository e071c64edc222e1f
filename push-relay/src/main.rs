//! The `push-relay` binary: the operator's command line, then the relay. All behaviour is in
//! the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use push_relay::clock::SystemClock;
use push_relay::settings::Settings;
use push_relay::{Relay, init_tracing, serve, shutdown_signal};

/// The Assent push relay: fans portals' push requests out to APNs, FCM and devices' direct
/// streams. Settings come from the TOML file, then from PUSH_RELAY_* environment variables
/// (docs/relay-operations.md).
#[derive(Debug, Parser)]
#[command(name = "push-relay", version)]
struct Cli {
    /// The settings file (TOML). Without one, the defaults and PUSH_RELAY_* variables apply.
    #[arg(
        long,
        short,
        global = true,
        env = "PUSH_RELAY_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Starts the relay (what a command line without a subcommand does).
    Run,
    /// Checks the settings as a start would (the file, the variables, every key file and
    /// tenant), prints a summary and exits: 0 when valid, 2 when not. Opens no port.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("push-relay: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("push-relay: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => runtime.block_on(async {
            // Building the relay reads every key file and credential, as a start would.
            match Relay::new(&settings, Arc::new(SystemClock)) {
                Ok(_) => {
                    let fleet = match &settings.nats {
                        Some(n) => format!("fleet {:?} over NATS", n.name),
                        None => "no fleet".to_owned(),
                    };
                    println!(
                        "push-relay: settings are valid: listen {}, {} tenant(s), {} APNs and {} FCM credential(s), direct delivery {}, {fleet}",
                        settings.listen,
                        settings.tenants.len(),
                        settings.apns.len(),
                        settings.fcm.len(),
                        if settings.direct.enabled { "on" } else { "off" },
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("push-relay: {e}");
                    ExitCode::from(2)
                }
            }
        }),
        Command::Run => {
            init_tracing(&settings);
            runtime.block_on(run(settings))
        }
    }
}

async fn run(settings: Settings) -> ExitCode {
    let relay = match Relay::new(&settings, Arc::new(SystemClock)) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = relay.join_fleet().await {
        tracing::error!(error = %e, "cannot start");
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, listen = %settings.listen, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let warm = relay.clone();
    tokio::spawn(async move { warm.warm_up().await });
    tracing::info!(listen = %settings.listen, tenants = settings.tenants.len(), "push-relay started");
    match serve(listener, relay, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}
