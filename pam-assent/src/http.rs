//! The portal's relying-party API over HTTPS (reqwest, rustls with ring): every call bounded in
//! time, the key sent only as a bearer token and never logged.

use std::time::Duration;

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;
use zeroize::Zeroizing;

use crate::{Answer, Api, ApiError};

/// The portal, as this module reaches it.
pub struct Portal {
    base: String,
    key: Zeroizing<String>,
    signer: Option<EcdsaKeyPair>,
    http: reqwest::blocking::Client,
}

impl Portal {
    /// A client for the portal at `url` with the relying party's `key`, signing each request
    /// with `signing` (PKCS#8 DER) when given.
    pub fn new(
        url: &str,
        key: Zeroizing<String>,
        signing: Option<&[u8]>,
    ) -> Result<Self, ApiError> {
        let signer = match signing {
            Some(der) => Some(
                EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &SystemRandom::new(),
                )
                .map_err(|_| {
                    ApiError::Refused("the request key is not a P-256 PKCS#8 key".into())
                })?,
            ),
            None => None,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // The longest call is a 60-second long poll.
            .timeout(Duration::from_secs(75))
            .user_agent(concat!("pam_assent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Unreachable(format!("cannot set up HTTPS: {e}")))?;
        Ok(Self {
            base: format!("{}/rp/v1", url.trim_end_matches('/')),
            key,
            signer,
            http,
        })
    }

    /// The `Assent-Signature` of a request: ES256 over `"<t>.<METHOD> <path>\n"` and the body.
    fn signature(&self, request: &reqwest::blocking::Request) -> Result<Option<String>, ApiError> {
        use base64::Engine as _;
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let url = request.url();
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .unwrap_or_default();
        let mut message = format!("{t}.{} {path}\n", request.method()).into_bytes();
        message.extend_from_slice(body);
        let signature = signer
            .sign(&SystemRandom::new(), &message)
            .map_err(|_| ApiError::Unreachable("cannot sign the request".into()))?;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.as_ref());
        Ok(Some(format!("t={t},sig={sig}")))
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<Answer, ApiError> {
        let mut request = request
            .bearer_auth(self.key.as_str())
            .build()
            .map_err(|_| ApiError::Unreachable("cannot build the request".into()))?;
        if let Some(signature) = self.signature(&request)? {
            let value = reqwest::header::HeaderValue::from_str(&signature)
                .map_err(|_| ApiError::Unreachable("cannot sign the request".into()))?;
            request.headers_mut().insert("assent-signature", value);
        }
        let response = self.http.execute(request).map_err(|e| {
            ApiError::Unreachable(if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "no connection".to_owned()
            } else {
                "the request failed".to_owned()
            })
        })?;
        let status = response.status();
        if status.is_server_error() {
            return Err(ApiError::Unreachable(format!(
                "the portal answered {status}"
            )));
        }
        let body: serde_json::Value = response
            .json()
            .map_err(|_| ApiError::Unreachable("an unreadable answer".into()))?;
        if status.is_client_error() && status.as_u16() != 429 {
            let message = body["message"].as_str().unwrap_or("refused").to_owned();
            return Err(ApiError::Refused(message));
        }
        serde_json::from_value(body)
            .map_err(|_| ApiError::Unreachable("an unreadable answer".into()))
    }
}

impl Api for Portal {
    fn start(&self, user: &str, application: &str, ip: Option<&str>) -> Result<Answer, ApiError> {
        let body = json!({ "user": user, "application": application, "ip": ip });
        self.send(
            self.http
                .post(format!("{}/verifications", self.base))
                .json(&body),
        )
    }

    fn poll(&self, id: &str, wait: u64) -> Result<Answer, ApiError> {
        let url = format!("{}/verifications/{}?wait={wait}", self.base, encode(id));
        self.send(self.http.get(url))
    }

    fn withdraw(&self, id: &str) -> Result<Answer, ApiError> {
        let url = format!("{}/verifications/{}", self.base, encode(id));
        self.send(self.http.delete(url))
    }

    fn code(
        &self,
        user: &str,
        code: &str,
        ip: Option<&str>,
        verification: Option<&str>,
    ) -> Result<Answer, ApiError> {
        let body = Zeroizing::new(
            json!({ "user": user, "code": code, "ip": ip, "verification": verification })
                .to_string(),
        );
        self.send(
            self.http
                .post(format!("{}/codes", self.base))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.as_str().to_owned()),
        )
    }
}

/// A verification id in a URL path (ids are base64url; anything else is escaped).
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
