//! A relay configuration pointing at the mocks, for tests that run the `push-relay` binary as a
//! separate process.
//!
//! What the relay needs to reach the mocks, key by key:
//!
//! | relay key | comes from |
//! |---|---|
//! | `extra_ca_file` | a PEM file holding both mocks' `server.ca_pem` (self-signed `localhost`) |
//! | `[[apns]] host` | [`MockApns`]`.server.authority()` (`localhost:PORT`) |
//! | `[[apns]] key_file` | a file holding [`MockApns`]`.key_pem` (the team's .p8, PKCS#8 PEM) |
//! | `[[apns]] key_id`, `team_id`, `topic` | [`apns::KEY_ID`], [`apns::TEAM_ID`], [`apns::TOPIC`] |
//! | `[[fcm]] host` | [`MockFcm`]`.server.authority()` |
//! | `[[fcm]] token_uri` | [`MockFcm::token_uri`] |
//! | `[[fcm]] service_account_file` | a file holding [`fcm::SERVICE_ACCOUNT`] |
//! | `[[tenants]] api_key_sha256` | hex SHA-256 of the tenant's API key |

use std::path::Path;

use toml::{Table, Value};

use crate::{MockApns, MockFcm, apns, fcm};

/// Name of the APNs credentials in the configuration [`relay_config_toml`] writes.
pub const APNS_NAME: &str = "assent-ios";
/// Name of the FCM credentials in the configuration [`relay_config_toml`] writes.
pub const FCM_NAME: &str = "assent-android";

/// Writes the mocks' CA roots (`ca.pem`), the APNs team key (`apns.p8`) and the FCM service
/// account (`fcm-service-account.json`) into `dir`, and returns the text of a relay TOML file
/// that listens on `listen` (`host:port`), sends APNs and FCM pushes to the mocks, and has one
/// tenant `tenant_id` whose API key is `api_key`, allowed APNs, FCM and direct delivery, with a
/// rate limit no test reaches. Logs at `warn`.
///
/// Write the text to a file and start the relay with `--config FILE` (see
/// [`crate::RelayProcess`]).
pub fn relay_config_toml(
    apns: &MockApns,
    fcm: &MockFcm,
    dir: &Path,
    listen: &str,
    tenant_id: &str,
    api_key: &str,
) -> String {
    relay_config(apns, fcm, dir, listen, tenant_id, api_key).to_string()
}

/// Like [`relay_config_toml`], for one copy of a fleet: the relay joins the NATS server at
/// `nats_url` (`[nats]`, fleet name `name`), and the tenant's requests must be signed with the
/// P-256 key whose public half is `request_public_key` (a PEM `PUBLIC KEY` or the base64url
/// point).
#[allow(
    clippy::too_many_arguments,
    reason = "the fleet's settings, each named"
)]
pub fn fleet_relay_config_toml(
    apns: &MockApns,
    fcm: &MockFcm,
    dir: &Path,
    listen: &str,
    tenant_id: &str,
    api_key: &str,
    request_public_key: &str,
    nats_url: &str,
    name: &str,
) -> String {
    let mut config = relay_config(apns, fcm, dir, listen, tenant_id, api_key);
    if let Some(Value::Array(tenants)) = config.get_mut("tenants")
        && let Some(Value::Table(tenant)) = tenants.first_mut()
    {
        tenant.insert(
            "request_public_key".into(),
            Value::String(request_public_key.to_owned()),
        );
    }
    let nats: Table = [
        ("url", Value::String(nats_url.to_owned())),
        ("name", Value::String(name.to_owned())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    config.insert("nats".into(), Value::Table(nats));
    config.to_string()
}

fn relay_config(
    apns: &MockApns,
    fcm: &MockFcm,
    dir: &Path,
    listen: &str,
    tenant_id: &str,
    api_key: &str,
) -> Table {
    let write = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        Value::String(path.to_string_lossy().into_owned())
    };
    let ca_file = write(
        "ca.pem",
        &format!("{}{}", apns.server.ca_pem, fcm.server.ca_pem),
    );
    let key_file = write("apns.p8", &apns.key_pem);
    let service_account_file = write("fcm-service-account.json", fcm::SERVICE_ACCOUNT);

    let s = |v: &str| Value::String(v.to_owned());
    let table = |pairs: Vec<(&str, Value)>| -> Table {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    let tenant = table(vec![
        ("id", s(tenant_id)),
        ("api_key_sha256", s(&sha256_hex(api_key))),
        ("rate_per_second", Value::Float(100_000.0)),
        ("burst", Value::Integer(100_000)),
        ("apns", s(APNS_NAME)),
        ("fcm", s(FCM_NAME)),
        ("direct", Value::Boolean(true)),
    ]);
    let apns_table = table(vec![
        ("name", s(APNS_NAME)),
        ("team_id", s(apns::TEAM_ID)),
        ("key_id", s(apns::KEY_ID)),
        ("key_file", key_file),
        ("topic", s(apns::TOPIC)),
        ("environment", s("sandbox")),
        ("host", s(&apns.server.authority())),
    ]);
    let fcm_table = table(vec![
        ("name", s(FCM_NAME)),
        ("service_account_file", service_account_file),
        ("host", s(&fcm.server.authority())),
        ("token_uri", s(&fcm.token_uri())),
    ]);
    table(vec![
        ("listen", s(listen)),
        ("log_level", s("warn")),
        ("extra_ca_file", ca_file),
        (
            "direct",
            Value::Table(table(vec![("enabled", Value::Boolean(true))])),
        ),
        ("tenants", Value::Array(vec![Value::Table(tenant)])),
        ("apns", Value::Array(vec![Value::Table(apns_table)])),
        ("fcm", Value::Array(vec![Value::Table(fcm_table)])),
    ])
}

fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_the_files_it_names_and_hashes_the_key() {
        let apns = MockApns::start().await;
        let fcm = MockFcm::start().await;
        let dir = std::env::temp_dir().join(format!("push-mocks-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = relay_config_toml(&apns, &fcm, &dir, "127.0.0.1:9", "acme", "test");
        let v: Table = text.parse().unwrap();
        assert_eq!(
            v["tenants"][0]["api_key_sha256"].as_str().unwrap(),
            // printf %s test | sha256sum
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        let read = |v: &Value| std::fs::read_to_string(v.as_str().unwrap()).unwrap();
        assert_eq!(read(&v["apns"][0]["key_file"]), apns.key_pem);
        assert_eq!(
            read(&v["fcm"][0]["service_account_file"]),
            fcm::SERVICE_ACCOUNT
        );
        let ca = read(&v["extra_ca_file"]);
        assert!(ca.contains(&apns.server.ca_pem) && ca.contains(&fcm.server.ca_pem));
        assert_eq!(v["fcm"][0]["token_uri"].as_str().unwrap(), fcm.token_uri());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
