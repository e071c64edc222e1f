//! The push provider abstraction: one trait, with `apns`, `fcm` and `direct` beside it, and the
//! retry loop they share.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::request::Push;

pub use assent_relay_api::Outcome;

/// The result of a push: the body of the synchronous response.
pub type Delivery = assent_relay_api::PushReply;

/// The HTTP status of the synchronous response carrying `outcome`.
pub fn status(outcome: Outcome) -> StatusCode {
    StatusCode::from_u16(outcome.status()).unwrap_or(StatusCode::BAD_GATEWAY)
}

/// Why one delivery attempt did not succeed; each variant fixes what the relay does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The device token is no longer valid (APNs 410, `BadDeviceToken`; FCM `UNREGISTERED`).
    #[error("unregistered: {0}")]
    Unregistered(String),
    /// The provider refused this push (bad payload, too large, ...): not retried.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The relay's credential was refused as expired or invalid: the provider has dropped it,
    /// and the push is retried once with a new one.
    #[error("credential refused: {0}")]
    Credential(String),
    /// A transient failure (429, 5xx, timeout, dropped connection): retried with backoff.
    #[error("transient: {reason}")]
    Transient {
        /// The provider's or the relay's reason.
        reason: String,
        /// The provider's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// A failure that retrying will not fix (misconfiguration, unexpected answer).
    #[error("failed: {0}")]
    Failed(String),
}

impl ProviderError {
    /// A transient error without `Retry-After`.
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// The outcome reported if this error ends the push.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Unregistered(_) => Outcome::Unregistered,
            Self::Rejected(_) => Outcome::Rejected,
            Self::Credential(_) | Self::Transient { .. } | Self::Failed(_) => Outcome::Failed,
        }
    }

    /// The reason reported with the outcome.
    pub fn reason(&self) -> &str {
        match self {
            Self::Unregistered(r) | Self::Rejected(r) | Self::Credential(r) | Self::Failed(r) => r,
            Self::Transient { reason, .. } => reason,
        }
    }

    fn into_delivery(self) -> Delivery {
        Delivery {
            outcome: self.outcome(),
            reason: Some(self.reason().to_owned()),
            provider_id: None,
        }
    }
}

/// A boxed future, so providers can sit behind `Arc<dyn Provider>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A way to reach devices: APNs, FCM or a direct stream.
pub trait Provider: Send + Sync + 'static {
    /// `apns`, `fcm` or `direct`, for logs and metrics.
    fn name(&self) -> &'static str;

    /// Makes one attempt; `Ok` carries the provider's message id.
    fn attempt<'a>(
        &'a self,
        push: &'a Push,
    ) -> BoxFuture<'a, Result<Option<String>, ProviderError>>;

    /// Opens connections ahead of the first push.
    fn warm_up(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// How retries are spaced.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts, the first included.
    pub max_attempts: u32,
    /// First delay before full jitter.
    pub base: Duration,
    /// Cap of the delay before jitter.
    pub max: Duration,
    /// Time limit of one attempt.
    pub attempt_timeout: Duration,
}

/// The delay before retry number `retry` (1 for the first retry): exponential backoff with full
/// jitter (`unit` in 0..1 is the random draw), never shorter than the provider's `Retry-After`.
pub fn backoff_delay(
    policy: &RetryPolicy,
    retry: u32,
    unit: f64,
    retry_after: Option<Duration>,
) -> Duration {
    let exp = policy
        .base
        .saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(policy.max);
    let jittered = exp.mul_f64(unit.clamp(0.0, 1.0));
    match retry_after {
        Some(ra) => ra.max(jittered),
        None => jittered,
    }
}

fn unit_random() -> f64 {
    let mut b = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

/// Delivers `push` through `provider`, retrying transient failures with backoff and refreshing a
/// refused credential once, never past `deadline` (the push's expiry).
pub async fn deliver(
    provider: &dyn Provider,
    push: &Push,
    deadline: Instant,
    policy: &RetryPolicy,
    metrics: &Metrics,
) -> Delivery {
    let mut attempts = 0u32;
    let mut refreshed = false;
    loop {
        attempts += 1;
        let now = Instant::now();
        if now >= deadline {
            return ProviderError::Failed("Expired".into()).into_delivery();
        }
        let limit = policy.attempt_timeout.min(deadline - now);
        let started = Instant::now();
        let result = match tokio::time::timeout(limit, provider.attempt(push)).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::transient("Timeout")),
        };
        metrics.observe_attempt(provider.name(), started.elapsed());
        let err = match result {
            Ok(provider_id) => {
                return Delivery {
                    outcome: Outcome::Delivered,
                    reason: None,
                    provider_id,
                };
            }
            Err(e) => e,
        };
        match &err {
            ProviderError::Credential(reason) if !refreshed => {
                // The provider dropped the refused credential in `attempt`, where it knows which
                // one was refused; the retry signs or fetches a new one.
                refreshed = true;
                metrics.retry(provider.name(), reason);
                continue;
            }
            ProviderError::Transient {
                reason,
                retry_after,
            } if attempts < policy.max_attempts => {
                let delay = backoff_delay(policy, attempts, unit_random(), *retry_after);
                if Instant::now() + delay >= deadline {
                    return err.into_delivery();
                }
                metrics.retry(provider.name(), reason);
                tokio::time::sleep(delay).await;
            }
            _ => return err.into_delivery(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            attempt_timeout: Duration::from_secs(1),
        };
        assert_eq!(backoff_delay(&p, 1, 1.0, None), Duration::from_millis(100));
        assert_eq!(backoff_delay(&p, 3, 1.0, None), Duration::from_millis(400));
        assert_eq!(backoff_delay(&p, 9, 1.0, None), Duration::from_millis(1000));
        assert_eq!(
            backoff_delay(&p, 40, 1.0, None),
            Duration::from_millis(1000)
        );
        assert_eq!(backoff_delay(&p, 3, 0.5, None), Duration::from_millis(200));
        assert_eq!(
            backoff_delay(&p, 1, 0.0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }
}
