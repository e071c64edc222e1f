//! `push-relay`: the server a relay operator runs for many portals (tenants). It carries opaque,
//! end-to-end encrypted challenges to APNs, FCM and directly connected devices, and tells the
//! portal synchronously whether each push was delivered, its token is dead, it was rejected, or
//! it failed after retries. It never sees what a challenge says and keeps no state beyond open
//! connections and the signatures it accepted in the last minute, so operators scale it by
//! running more copies; with a `[nats]` section the copies form a fleet ([`fleet`]) that
//! forwards direct pushes to the copy holding the stream and shares the memory of signatures.

#![forbid(unsafe_code)]

pub mod api;
pub mod apns;
pub mod clock;
pub mod direct;
pub mod fcm;
pub mod fleet;
pub mod jwt;
pub mod metrics;
pub mod provider;
pub mod replay;
pub mod request;
pub mod settings;
pub mod signature;
pub mod tenant;
pub mod upstream;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::clock::Clock;
use crate::direct::{Direct, DirectHub};
use crate::fleet::{Fleet, FleetError};
use crate::metrics::Metrics;
use crate::provider::{Provider, RetryPolicy};
use crate::settings::{DirectSettings, LogFormat, NatsSettings, Settings};
use crate::tenant::Tenants;

/// The running relay's shared state.
pub struct Relay {
    tenants: Tenants,
    apns: HashMap<String, Arc<dyn Provider>>,
    fcm: HashMap<String, Arc<dyn Provider>>,
    direct: Arc<dyn Provider>,
    hub: Arc<DirectHub>,
    direct_settings: DirectSettings,
    /// Metrics, rendered at `/metrics`.
    pub metrics: Metrics,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    max_body_bytes: usize,
    in_flight: Semaphore,
    shutdown_grace: Duration,
    drain_tx: watch::Sender<bool>,
    drain_rx: watch::Receiver<bool>,
    /// The `[nats]` section, if this copy is one of a fleet.
    nats: Option<NatsSettings>,
    /// The fleet connection, once [`Relay::join_fleet`] set it up.
    fleet: OnceLock<Arc<Fleet>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A provider's key, account file or host is unusable.
    #[error("{0}")]
    Provider(String),
    /// The listening socket could not be bound.
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    /// The NATS client of a fleet could not be set up (an unreachable server is not this: the
    /// copy starts and keeps trying).
    #[error("{0}")]
    Fleet(#[from] FleetError),
}

impl Relay {
    /// Builds the relay from checked settings. Provider connections open in the background.
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Arc<Self>, StartError> {
        let extra_ca = match &settings.extra_ca_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| StartError::Provider(format!("extra_ca_file: {e}")))?,
            ),
            None => None,
        };
        let tls = upstream::tls_config(extra_ca.as_deref()).map_err(StartError::Provider)?;
        let mut apns: HashMap<String, Arc<dyn Provider>> = HashMap::new();
        for a in &settings.apns {
            let p = apns::Apns::new(a, tls.clone(), clock.clone()).map_err(StartError::Provider)?;
            apns.insert(a.name.clone(), Arc::new(p));
        }
        let mut fcm: HashMap<String, Arc<dyn Provider>> = HashMap::new();
        for f in &settings.fcm {
            let p = fcm::Fcm::new(f, tls.clone(), clock.clone()).map_err(StartError::Provider)?;
            fcm.insert(f.name.clone(), Arc::new(p));
        }
        let hub = Arc::new(DirectHub::default());
        let (drain_tx, drain_rx) = watch::channel(false);
        Ok(Arc::new(Self {
            tenants: Tenants::new(
                &settings.tenants,
                settings.tenant_in_flight_limit(),
                clock.clone(),
            ),
            apns,
            fcm,
            direct: Arc::new(Direct::new(hub.clone())),
            hub,
            direct_settings: settings.direct.clone(),
            metrics: if settings.nats.is_some() {
                Metrics::with_fleet()
            } else {
                Metrics::new()
            },
            clock,
            retry: RetryPolicy {
                max_attempts: settings.max_attempts,
                base: Duration::from_millis(settings.backoff_base_ms),
                max: Duration::from_millis(settings.backoff_max_ms),
                attempt_timeout: Duration::from_millis(settings.attempt_timeout_ms),
            },
            max_body_bytes: settings.max_body_bytes,
            in_flight: Semaphore::new(settings.max_in_flight),
            shutdown_grace: Duration::from_secs(settings.shutdown_grace_seconds),
            drain_tx,
            drain_rx,
            nats: settings.nats.clone(),
            fleet: OnceLock::new(),
        }))
    }

    /// With a `[nats]` section, starts this copy's NATS connection (in the background: an
    /// unreachable server delays nothing) and makes its direct streams part of the fleet;
    /// without one, does nothing. [`serve`] calls it; later calls do nothing.
    pub async fn join_fleet(&self) -> Result<(), StartError> {
        let (Some(nats), Some(metrics)) = (&self.nats, self.metrics.fleet()) else {
            return Ok(());
        };
        if self.fleet.get().is_some() {
            return Ok(());
        }
        let fleet = Fleet::connect(nats, metrics.clone()).await?;
        if self.fleet.set(fleet.clone()).is_ok() {
            self.hub.join(fleet);
            tracing::info!(
                fleet = %nats.name,
                "joining the fleet over NATS (connecting in the background)"
            );
        }
        Ok(())
    }

    /// The fleet connection, when this copy is one of a fleet.
    pub fn fleet(&self) -> Option<&Arc<Fleet>> {
        self.fleet.get()
    }

    /// Opens the APNs and FCM connections now rather than on the first push.
    pub async fn warm_up(&self) {
        for p in self.apns.values().chain(self.fcm.values()) {
            p.warm_up().await;
        }
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        *self.drain_rx.borrow()
    }

    /// Starts shutdown: `/readyz` turns 503, new pushes are refused, direct streams end.
    pub fn begin_drain(&self) {
        let _ = self.drain_tx.send(true);
        self.hub.close_all();
    }
}

/// Joins the fleet if configured ([`Relay::join_fleet`]), then serves the API on `listener`
/// until `shutdown` completes, then lets in-flight requests finish for up to the configured
/// grace period.
pub async fn serve(
    listener: TcpListener,
    relay: Arc<Relay>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    relay.join_fleet().await.map_err(std::io::Error::other)?;
    let app = api::router(relay.clone());
    let drained = relay.clone();
    let mut drain_rx = relay.drain_rx.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        drained.begin_drain();
    };
    // `into_make_service`: serving the `Router` itself rebuilds its route table for every
    // connection (3.5 KB and a dozen allocations each), which a portal opening an HTTP/1.1
    // connection per push pays on every push; this hands each connection a reference to one.
    let server = axum::serve(listener, app.into_make_service()).with_graceful_shutdown(signal);
    let grace = relay.shutdown_grace;
    let deadline = async move {
        let _ = drain_rx.wait_for(|d| *d).await;
        tokio::time::sleep(grace).await;
        tracing::warn!("grace period over: exiting with requests still in flight");
    };
    tokio::select! {
        r = server => r,
        () = deadline => Ok(()),
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Installs the global tracing subscriber described by the settings (whose `log_level` was
/// checked when they were loaded), less [`nats_trace_filter`]'s events. Text logs are coloured
/// only on a terminal: never in files or journald.
pub fn init_tracing(settings: &Settings) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().finish().with(nats_trace_filter()).try_init(),
        LogFormat::Text => builder.finish().with(nats_trace_filter()).try_init(),
    };
}

/// A filter dropping the NATS client's TRACE events, whatever `log_level` says: they print each
/// protocol message it reads or writes, forwarded payloads and the connection's credentials
/// included. Its DEBUG events and above (connections, subjects, errors) stay.
pub fn nats_trace_filter()
-> tracing_subscriber::filter::FilterFn<fn(&tracing::Metadata<'_>) -> bool> {
    fn keep(meta: &tracing::Metadata<'_>) -> bool {
        !(*meta.level() == tracing::Level::TRACE && meta.target().starts_with("async_nats"))
    }
    tracing_subscriber::filter::filter_fn(keep as fn(&tracing::Metadata<'_>) -> bool)
}
