//! `assent-demo`: the whole stack on one machine with embedded defaults: the reference portal on
//! SQLite, a push relay (in this process) with direct delivery for desktop devices, and a demo
//! user. Its own binary, so that the portal does not link the relay server.
//!
//! Every portal setting applies as it does to `portal` (flags and `PORTAL_*` variables), except
//! the three the demo owns because it runs the relay itself: the relay's URL and API key, and the
//! admin token (printed).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser};
use portal::settings::Settings;

/// The demo user's name.
const DEMO_USER: &str = "alice";
/// The demo user's password (a demo; never reuse).
const DEMO_PASSWORD: &str = "correct horse battery";
/// The demo's help-desk console account (an administrator; it enrolls MFA at first sign-in).
const DEMO_ADMIN: &str = "helpdesk";

/// Runs the reference portal and a push relay on this machine, with a demo user.
#[derive(Debug, Parser)]
#[command(name = "assent-demo", version)]
struct Cli {
    /// The portal's settings, as `portal` takes them.
    #[command(flatten)]
    settings: Settings,
    /// Where the relay listens.
    #[arg(long, default_value = "127.0.0.1:8001")]
    relay_listen: SocketAddr,
    /// Folder of the demo's database, unless `--db` names one.
    #[arg(long, default_value = "assent-demo")]
    dir: PathBuf,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let given = |id: &str| {
        matches
            .value_source(id)
            .is_some_and(|s| s != clap::parser::ValueSource::DefaultValue)
    };
    for id in ["relay_url", "relay_api_key", "admin_token"] {
        if given(id) {
            eprintln!(
                "assent-demo: {} is set by the demo (it runs the relay); leave it out",
                id.replace('_', "-")
            );
            return ExitCode::from(2);
        }
    }
    if !given("db") {
        cli.settings.db = portal::db::Location::Sqlite(cli.dir.join("portal.db"));
    }
    portal::install_crypto();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PORTAL_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("portal=info,push_relay=info,warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("assent-demo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("assent-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the demo until ctrl-c.
async fn run(cli: Cli) -> Result<(), String> {
    let Cli {
        mut settings,
        relay_listen,
        ..
    } = cli;
    if let portal::db::Location::Sqlite(path) = &settings.db
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let api_key = portal::app::random_token::<32>();
    let mut relay_settings = push_relay::settings::Settings {
        listen: relay_listen,
        shutdown_grace_seconds: 1,
        ..Default::default()
    };
    relay_settings
        .tenants
        .push(push_relay::settings::TenantSettings {
            id: "demo-portal".into(),
            api_key_sha256: portal::app::sha256_hex(api_key.as_bytes()),
            rate_per_second: 100.0,
            burst: 200,
            apns: None,
            fcm: None,
            direct: true,
            request_public_key: None,
        });
    let relay = push_relay::Relay::new(&relay_settings, Arc::new(push_relay::clock::SystemClock))
        .map_err(|e| format!("relay: {e}"))?;
    let relay_listener = tokio::net::TcpListener::bind(relay_listen)
        .await
        .map_err(|e| format!("relay: cannot listen on {relay_listen}: {e}"))?;
    let relay_url = format!(
        "http://{}",
        relay_listener.local_addr().map_err(|e| e.to_string())?
    );

    let portal_listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("portal: cannot listen on {}: {e}", settings.listen))?;
    settings.listen = portal_listener.local_addr().map_err(|e| e.to_string())?;
    settings.relay_url = Some(relay_url.clone());
    settings.relay_api_key = api_key;
    let admin_token = portal::app::random_token::<24>();
    settings.admin_token = Some(admin_token.clone());
    let db = settings.db.clone();
    let portal = portal::open(settings)?;
    match portal.user(DEMO_USER) {
        Ok(_) => {}
        Err(portal::app::PortalError::NoSuchUser) => {
            portal
                .create_user(DEMO_USER, DEMO_PASSWORD)
                .map_err(|e| e.to_string())?;
        }
        Err(e) => return Err(e.to_string()),
    }
    match portal.user(DEMO_ADMIN) {
        Ok(_) => {}
        Err(portal::app::PortalError::NoSuchUser) => {
            let role = portal::db::Role::Administrator;
            portal
                .create_admin(
                    &portal::admin::Actor::cli(),
                    DEMO_ADMIN,
                    DEMO_PASSWORD,
                    role,
                )
                .map_err(|e| e.to_string())?;
        }
        Err(e) => return Err(e.to_string()),
    }
    let url = portal.settings().public_url();
    println!(
        "Assent demo is running (ctrl-c stops it).\n\
         \n  Portal  {url}   user {DEMO_USER}, password \"{DEMO_PASSWORD}\"\
         \n  Relay   {relay_url}   direct delivery for desktop devices\
         \n  Data    {db}\
         \n  Console {url}/admin   admin {DEMO_ADMIN}, same password (enrolls MFA first)\
         \n  Admin   curl -H 'Authorization: Bearer {admin_token}' {url}/admin/api/users\
         \n\nNext:\
         \n  1. Open {url} and sign in as {DEMO_USER}: the portal shows the enrollment QR.\
         \n  2. Save the QR image (or copy the text under it) and enroll the terminal device:\
         \n       cargo run --release -p assent -- enroll --relay {relay_url} QR.png\
         \n  3. Watch for requests:  cargo run --release -p assent -- watch\
         \n  4. Sign out and sign in again: approve in `assent watch` by typing the number the\
         \n     page shows. Codes work too:  cargo run --release -p assent -- list\n",
        db = db.display(),
    );
    let relay_task = tokio::spawn(push_relay::serve(
        relay_listener,
        relay,
        push_relay::shutdown_signal(),
    ));
    portal::serve(portal_listener, portal, push_relay::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    let _ = relay_task.await;
    Ok(())
}
