//! Prometheus metrics, encoded in the text exposition format at `/metrics`.

use std::sync::OnceLock;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Longest reason label kept (provider reasons come from the network).
const MAX_REASON: usize = 48;

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

/// All of the relay's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    outcomes: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    shed: Family<Labels, Counter>,
    push_latency: Family<Labels, Histogram, fn() -> Histogram>,
    attempt_latency: Family<Labels, Histogram, fn() -> Histogram>,
    in_flight: Gauge<i64, AtomicI64>,
    direct_streams: Gauge<i64, AtomicI64>,
    /// Per provider (`apns`, `fcm`, `direct`): the series every delivered push touches, looked
    /// up once. A lookup builds a label vector of owned strings and hashes it under a lock;
    /// four per push were a measurable share of the relay's CPU. Each is created on first use,
    /// so `/metrics` shows only series that happened.
    delivered: [OnceLock<Counter>; 3],
    push_latency_by_provider: [OnceLock<Histogram>; 3],
    attempt_latency_by_provider: [OnceLock<Histogram>; 3],
    /// Registered only with a `[nats]` section, so a lone relay's `/metrics` is unchanged.
    fleet: Option<FleetMetrics>,
}

/// The metrics of a copy running in a fleet over NATS. Handles are shared: clones count into
/// the same series.
#[derive(Debug, Clone, Default)]
pub struct FleetMetrics {
    connected: Gauge<i64, AtomicI64>,
    disconnects: Counter,
    forwarded: Family<Labels, Counter>,
    answered: Family<Labels, Counter>,
    local_replay: Family<Labels, Counter>,
}

impl FleetMetrics {
    /// Records whether the NATS connection is up.
    pub fn set_connected(&self, up: bool) {
        self.connected.set(i64::from(up));
    }

    /// Counts a lost NATS connection.
    pub fn disconnected(&self) {
        self.disconnects.inc();
    }

    /// Counts a push for a stream on no local connection, sent over NATS, by what came of it.
    pub fn forwarded(&self, outcome: &'static str) {
        self.forwarded
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// Counts a push another copy forwarded to one of this copy's streams, by the answer.
    pub fn answered(&self, answer: &'static str) {
        self.answered
            .get_or_create(&vec![("answer", answer.to_owned())])
            .inc();
    }

    /// Counts a signature checked against this copy's memory only, by why the shared memory
    /// was not used.
    pub fn local_replay_only(&self, reason: &'static str) {
        self.local_replay
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }
}

fn provider_index(provider: &str) -> Option<usize> {
    match provider {
        "apns" => Some(0),
        "fcm" => Some(1),
        "direct" => Some(2),
        _ => None,
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn clean_reason(reason: &str) -> String {
    reason
        .chars()
        .take(MAX_REASON)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Metrics {
    /// Registers every metric of a copy running alone.
    pub fn new() -> Self {
        Self::build(false)
    }

    /// Registers every metric, the fleet's included (see [`FleetMetrics`]).
    pub fn with_fleet() -> Self {
        Self::build(true)
    }

    fn build(fleet: bool) -> Self {
        let mut registry = Registry::with_prefix("push_relay");
        let requests = Family::<Labels, Counter>::default();
        let outcomes = Family::<Labels, Counter>::default();
        let retries = Family::<Labels, Counter>::default();
        let shed = Family::<Labels, Counter>::default();
        let push_latency =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let attempt_latency =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let in_flight = Gauge::<i64, AtomicI64>::default();
        let direct_streams = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "requests",
            "Push requests received, by tenant and platform",
            requests.clone(),
        );
        registry.register(
            "outcomes",
            "Push outcomes, by provider, outcome and reason",
            outcomes.clone(),
        );
        registry.register(
            "retries",
            "Provider attempts retried, by provider and reason",
            retries.clone(),
        );
        registry.register(
            "shed",
            "Requests refused to protect the relay, by reason",
            shed.clone(),
        );
        registry.register(
            "push_duration_seconds",
            "Time from request to outcome, by provider",
            push_latency.clone(),
        );
        registry.register(
            "provider_attempt_duration_seconds",
            "Time of one provider attempt, by provider",
            attempt_latency.clone(),
        );
        registry.register(
            "in_flight",
            "Push requests being handled",
            in_flight.clone(),
        );
        registry.register(
            "direct_streams",
            "Open direct-delivery streams",
            direct_streams.clone(),
        );
        let fleet = fleet.then(|| {
            let f = FleetMetrics::default();
            registry.register(
                "nats_connected",
                "Whether the NATS connection of the fleet is up (1) or not (0)",
                f.connected.clone(),
            );
            registry.register(
                "nats_disconnects",
                "NATS connections lost",
                f.disconnects.clone(),
            );
            registry.register(
                "forwarded",
                "Direct pushes for streams on no local connection sent to the fleet, by outcome",
                f.forwarded.clone(),
            );
            registry.register(
                "forwarded_answered",
                "Direct pushes forwarded by other copies to this copy's streams, by answer",
                f.answered.clone(),
            );
            registry.register(
                "replay_local_only",
                "Signatures checked against this copy's memory only, the shared one unavailable, by reason",
                f.local_replay.clone(),
            );
            f
        });
        Self {
            fleet,
            registry,
            requests,
            outcomes,
            retries,
            shed,
            push_latency,
            attempt_latency,
            in_flight,
            direct_streams,
            delivered: Default::default(),
            push_latency_by_provider: Default::default(),
            attempt_latency_by_provider: Default::default(),
        }
    }

    /// A handle on the requests counter of `tenant` and `platform`, for the caller to keep
    /// (see [`crate::tenant::Tenant`]) rather than look up per push.
    pub fn requests_counter(&self, tenant: &str, platform: &'static str) -> Counter {
        self.requests
            .get_or_create(&vec![
                ("tenant", tenant.to_owned()),
                ("platform", platform.to_owned()),
            ])
            .clone()
    }

    /// Counts a request accepted for delivery.
    pub fn request(&self, tenant: &str, platform: &'static str) {
        self.requests
            .get_or_create(&vec![
                ("tenant", tenant.to_owned()),
                ("platform", platform.to_owned()),
            ])
            .inc();
    }

    /// Counts an outcome and observes the request's duration.
    pub fn outcome(
        &self,
        provider: &'static str,
        outcome: &'static str,
        reason: Option<&str>,
        took: Duration,
    ) {
        if outcome == "delivered"
            && reason.is_none()
            && let Some(i) = provider_index(provider)
        {
            self.delivered[i]
                .get_or_init(|| {
                    self.outcomes
                        .get_or_create(&vec![
                            ("provider", provider.to_owned()),
                            ("outcome", outcome.to_owned()),
                            ("reason", String::new()),
                        ])
                        .clone()
                })
                .inc();
            self.push_latency_by_provider[i]
                .get_or_init(|| {
                    self.push_latency
                        .get_or_create(&vec![("provider", provider.to_owned())])
                        .clone()
                })
                .observe(took.as_secs_f64());
            return;
        }
        self.outcomes
            .get_or_create(&vec![
                ("provider", provider.to_owned()),
                ("outcome", outcome.to_owned()),
                ("reason", reason.map(clean_reason).unwrap_or_default()),
            ])
            .inc();
        self.push_latency
            .get_or_create(&vec![("provider", provider.to_owned())])
            .observe(took.as_secs_f64());
    }

    /// Observes one provider attempt's duration.
    pub fn observe_attempt(&self, provider: &'static str, took: Duration) {
        if let Some(i) = provider_index(provider) {
            self.attempt_latency_by_provider[i]
                .get_or_init(|| {
                    self.attempt_latency
                        .get_or_create(&vec![("provider", provider.to_owned())])
                        .clone()
                })
                .observe(took.as_secs_f64());
            return;
        }
        self.attempt_latency
            .get_or_create(&vec![("provider", provider.to_owned())])
            .observe(took.as_secs_f64());
    }

    /// Counts a retry.
    pub fn retry(&self, provider: &'static str, reason: &str) {
        self.retries
            .get_or_create(&vec![
                ("provider", provider.to_owned()),
                ("reason", clean_reason(reason)),
            ])
            .inc();
    }

    /// Counts a shed request (`overloaded`, `rate_limited`, `shutting_down`).
    pub fn shed(&self, reason: &'static str) {
        self.shed
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    /// The in-flight gauge.
    pub fn in_flight(&self) -> &Gauge<i64, AtomicI64> {
        &self.in_flight
    }

    /// The open direct streams gauge.
    pub fn direct_streams(&self) -> &Gauge<i64, AtomicI64> {
        &self.direct_streams
    }

    /// The fleet's metrics, when a `[nats]` section is configured.
    pub fn fleet(&self) -> Option<&FleetMetrics> {
        self.fleet.as_ref()
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}
