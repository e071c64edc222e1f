//! The `push-relay` binary: reads settings, then starts the relay. All behaviour is in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use push_relay::clock::SystemClock;
use push_relay::settings::Settings;
use push_relay::{Relay, init_tracing, serve, shutdown_signal};

fn config_path() -> Option<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--config" || a == "-c" {
            return args.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os("PUSH_RELAY_CONFIG").map(PathBuf::from)
}

fn main() -> ExitCode {
    let settings = match Settings::load(config_path().as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("push-relay: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings);
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
    runtime.block_on(async move {
        let relay = match Relay::new(&settings, Arc::new(SystemClock)) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return ExitCode::from(2);
            }
        };
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
    })
}
