//! The push relay's HTTP API (`POST /v1/push`, push-relay/openapi.json) as types: the relay
//! parses and answers with them, and a tenant (the reference portal) sends and reads them, so
//! the two cannot drift apart. Serde only, no I/O.

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// Where a push goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Apple Push Notification service.
    Apns,
    /// Firebase Cloud Messaging.
    Fcm,
    /// A device holding a stream open to this relay.
    Direct,
}

impl Platform {
    /// The lower-case name used in the API, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apns => "apns",
            Self::Fcm => "fcm",
            Self::Direct => "direct",
        }
    }
}

/// The body of `POST /v1/push`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// Where it goes.
    pub platform: Platform,
    /// The device's token on that platform.
    pub device_token: String,
    /// The opaque, end-to-end encrypted challenge (base64url, or a compact JWS).
    pub payload: String,
    /// Unix seconds after which the push is worthless (at most 60 s ahead).
    pub expires_at: u64,
    /// Lets a later push replace an undelivered earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collapse_id: Option<String>,
}

/// What happened to a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The provider (or the device's stream) accepted it.
    Delivered,
    /// The token is dead: forget the device's token.
    Unregistered,
    /// The provider refused this push; sending it again will not help.
    Rejected,
    /// Not delivered, after retries within the push's expiry.
    Failed,
}

impl Outcome {
    /// Lower-case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Unregistered => "unregistered",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    /// The HTTP status of the synchronous answer carrying this outcome.
    pub fn status(self) -> u16 {
        match self {
            Self::Delivered => 200,
            Self::Unregistered => 410,
            Self::Rejected => 422,
            Self::Failed => 502,
        }
    }
}

/// The answer to a push that was tried: its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReply {
    /// What happened.
    pub outcome: Outcome,
    /// The provider's reason (Apple's `reason`, FCM's `errorCode`) or the relay's, when not
    /// delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The provider's id for the message (`apns-id`, FCM message name) when delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
}

/// The answer to a request refused before any delivery was tried (bad key, bad body, limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// A stable machine-readable code (`invalid_json`, `rate_limited`, ...).
    pub error: String,
    /// A sentence for the operator.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_forms_are_the_documented_ones() {
        let request = PushRequest {
            platform: Platform::Fcm,
            device_token: "t".into(),
            payload: "p".into(),
            expires_at: 5,
            collapse_id: None,
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"platform":"fcm","device_token":"t","payload":"p","expires_at":5}"#
        );
        let reply: PushReply =
            serde_json::from_str(r#"{"outcome":"unregistered","reason":"BadDeviceToken"}"#)
                .unwrap();
        assert_eq!(reply.outcome, Outcome::Unregistered);
        assert_eq!(reply.outcome.status(), 410);
        for outcome in [
            Outcome::Delivered,
            Outcome::Unregistered,
            Outcome::Rejected,
            Outcome::Failed,
        ] {
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
        }
        assert!(
            serde_json::from_str::<PushRequest>(
                r#"{"platform":"fcm","device_token":"t","payload":"p","expires_at":5,"x":1}"#
            )
            .is_err()
        );
    }
}
