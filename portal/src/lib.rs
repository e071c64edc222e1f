//! The reference Assent portal: an identity provider with users and passwords, one-QR
//! enrollment of push and TOTP, push login with number matching (valid 60 s), TOTP with
//! lockout, step-up and password reset by push, and help-desk actions with a per-user event log.
//! It speaks docs/protocol.md to devices and push-relay/openapi.json to the relay.
//!
//! - [`app`]: the behaviour ([`app::Portal`]), independent of HTTP, and the only code that
//!   reaches the database: sessions, factors, the device endpoints' checks
//!   ([`app::devices`]), help-desk actions ([`app::admin`]);
//! - [`web`], [`html`], [`qr`]: the browser pages; [`api`]: the router;
//! - [`db`]: SQLite; [`relay`]: the relay client; [`alerts`]: the help desk's webhook;
//!   [`clock`], [`settings`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alerts;
pub mod api;
pub mod app;
pub mod clock;
pub mod db;
pub mod html;
pub mod qr;
pub mod relay;
pub mod settings;
pub mod web;

use std::sync::Arc;

pub use app::{Portal, admin};

/// The relay request signer `--relay-signing-key` names, read now so a bad file stops the start.
fn signer(settings: &settings::Settings) -> Result<Option<relay::RequestSigner>, String> {
    let Some(path) = &settings.relay_signing_key else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--relay-signing-key {}: {e}", path.display()))?;
    relay::RequestSigner::from_pem(&text)
        .map(Some)
        .map_err(|e| format!("--relay-signing-key {}: {e}", path.display()))
}

/// Opens the database and the portal for `settings`, with the relay client they name.
pub fn open(settings: settings::Settings) -> Result<Arc<Portal>, String> {
    // Refused settings create nothing (not even the database file).
    if settings.test_clock && !settings.listen.ip().is_loopback() {
        return Err("--test-clock is only allowed on a loopback address".into());
    }
    let relay: Arc<dyn relay::PushSender> = match &settings.relay_url {
        Some(url) => Arc::new(
            relay::RelayClient::new(url, &settings.relay_api_key, signer(&settings)?)
                .map_err(|e| format!("relay client: {e}"))?,
        ),
        None => Arc::new(relay::NoRelay),
    };
    let db =
        db::Db::open_at(&settings.db).map_err(|e| format!("{}: {e}", settings.db.display()))?;
    let clock = Arc::new(clock::SystemClock::default());
    let test_clock = settings.test_clock.then(|| clock.clone());
    let alerts = match &settings.alert_webhook {
        Some(url) => Some(Arc::new(
            alerts::Alerts::new(url, settings.alert_webhook_secret.as_deref(), clock.clone())
                .map_err(|e| format!("alert webhook: {e}"))?,
        )),
        None => None,
    };
    let parts = app::Parts {
        clock,
        relay,
        test_clock,
        alerts,
    };
    let portal = Portal::with_parts(settings, db, parts).map_err(|e| e.to_string())?;
    Ok(Arc::new(portal))
}

/// Serves the portal on `listener` until `shutdown` resolves, and expires challenges whose
/// 60 seconds are up once a second (so status polls and device polls only read).
pub async fn serve(
    listener: tokio::net::TcpListener,
    portal: Arc<Portal>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let expiry = tokio::spawn(expire_challenges(portal.clone()));
    let app = api::router(portal);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    expiry.abort();
    served
}

/// The periodic expiry: SQLite off the runtime's threads, a failure logged and tried again at
/// the next tick.
async fn expire_challenges(portal: Arc<Portal>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = portal.blocking(|p| p.expire_due()).await {
            tracing::error!(error = %e, "cannot expire challenges");
        }
    }
}

/// Installs the process-wide TLS provider (ring) for the relay client. Call once at start.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves when the process is asked to stop: ctrl-c, or SIGTERM on Unix.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
