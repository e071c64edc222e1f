//! `portal demo`: the whole stack on one machine with embedded defaults: the portal on SQLite,
//! a push relay (in this process) with direct delivery for desktop devices, and a demo user.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::settings::Settings;

/// The demo user's name.
pub const DEMO_USER: &str = "alice";
/// The demo user's password (a demo; never reuse).
pub const DEMO_PASSWORD: &str = "correct horse battery";

/// Options of `portal demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// Where the portal listens.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub portal_listen: SocketAddr,
    /// Where the relay listens.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub relay_listen: SocketAddr,
    /// Directory for the demo's database.
    #[arg(long, default_value = "assent-demo")]
    pub dir: PathBuf,
}

/// Runs the demo until ctrl-c.
pub async fn run(options: DemoOptions) -> Result<(), String> {
    std::fs::create_dir_all(&options.dir).map_err(|e| format!("{}: {e}", options.dir.display()))?;
    let api_key = crate::app::random_token::<32>();
    let mut relay_settings = push_relay::settings::Settings {
        listen: options.relay_listen,
        shutdown_grace_seconds: 1,
        ..Default::default()
    };
    relay_settings
        .tenants
        .push(push_relay::settings::TenantSettings {
            id: "demo-portal".into(),
            api_key_sha256: crate::app::sha256_hex(api_key.as_bytes()),
            rate_per_second: 100.0,
            burst: 200,
            apns: None,
            fcm: None,
            direct: true,
            request_public_key: None,
        });
    let relay = push_relay::Relay::new(&relay_settings, Arc::new(push_relay::clock::SystemClock))
        .map_err(|e| format!("relay: {e}"))?;
    let relay_listener = tokio::net::TcpListener::bind(options.relay_listen)
        .await
        .map_err(|e| format!("relay: cannot listen on {}: {e}", options.relay_listen))?;
    let relay_url = format!(
        "http://{}",
        relay_listener.local_addr().map_err(|e| e.to_string())?
    );

    let portal_listener = tokio::net::TcpListener::bind(options.portal_listen)
        .await
        .map_err(|e| format!("portal: cannot listen on {}: {e}", options.portal_listen))?;
    let portal_addr = portal_listener.local_addr().map_err(|e| e.to_string())?;
    let settings = Settings {
        listen: portal_addr,
        db: options.dir.join("portal.db"),
        relay_url: Some(relay_url.clone()),
        relay_api_key: api_key,
        admin_token: Some(crate::app::random_token::<24>()),
        ..Settings::defaults().map_err(|e| e.to_string())?
    };
    let admin_token = settings.admin_token.clone().unwrap_or_default();
    let portal = crate::open(settings)?;
    if portal
        .db
        .user_by_name(DEMO_USER)
        .map_err(|e| e.to_string())?
        .is_none()
    {
        portal
            .create_user(DEMO_USER, DEMO_PASSWORD)
            .map_err(|e| e.to_string())?;
    }
    let url = portal.settings.public_url();
    println!(
        "Assent demo is running (ctrl-c stops it).\n\
         \n  Portal  {url}   user {DEMO_USER}, password \"{DEMO_PASSWORD}\"\
         \n  Relay   {relay_url}   direct delivery for desktop devices\
         \n  Data    {db}\
         \n  Admin   curl -H 'Authorization: Bearer {admin_token}' {url}/admin/api/users\
         \n\nNext:\
         \n  1. Open {url} and sign in as {DEMO_USER}: the portal shows the enrollment QR.\
         \n  2. Save the QR image (or copy the text under it) and enroll the terminal device:\
         \n       cargo run --release -p assent -- enroll --relay {relay_url} QR.png\
         \n  3. Watch for requests:  cargo run --release -p assent -- watch\
         \n  4. Sign out and sign in again: approve in `assent watch` by typing the number the\
         \n     page shows. Codes work too:  cargo run --release -p assent -- list\n",
        db = options.dir.join("portal.db").display(),
    );
    let relay_task = tokio::spawn(push_relay::serve(
        relay_listener,
        relay,
        push_relay::shutdown_signal(),
    ));
    crate::serve(portal_listener, portal, push_relay::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    let _ = relay_task.await;
    Ok(())
}
