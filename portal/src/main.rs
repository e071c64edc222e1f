//! The `portal` binary: serve, manage users, and the help desk's actions. (The whole stack with
//! a relay and a demo user is `assent-demo`, its own binary.)

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portal::admin::{Action, Actor};
use portal::db::Role;
use portal::settings::Settings;

/// mimalloc instead of glibc's allocator: the portal's requests allocate on several threads at
/// once, where glibc's arenas cost about 5 % of its CPU per approval (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "portal",
    version,
    about = "The reference Assent identity provider"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Help-desk actions on the database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Relying parties: servers that ask for verifications (the PAM module, applications).
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a relying party and print its API key (shown once; only its hash is kept).
    Create {
        /// Its name (letters, digits, '-', '_'): the key's first part and the log's name for it.
        name: String,
        /// How it verifies users.
        #[arg(long, value_enum, default_value = "push_number")]
        mode: portal::db::ClientMode,
        /// A file with the P-256 public key (PEM `PUBLIC KEY`, or the base64url point) that
        /// must sign each of its requests: the API key alone is then not enough.
        #[arg(long)]
        request_key: Option<std::path::PathBuf>,
    },
    /// List the relying parties.
    List,
    /// Remove a relying party: its key stops working at once.
    Delete {
        /// Its name.
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from PORTAL_NEW_PASSWORD or the first line of stdin.
    Add {
        /// The login name.
        username: String,
    },
    /// Set a user's password (read like `add`).
    Passwd {
        /// The login name.
        username: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// List users with their MFA, lockout and suspension state.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Clear a user's failed-attempt counter and any lockout timer.
    Unlock {
        /// The user.
        username: String,
    },
    /// Remove a user's push device and TOTP; they enroll again at the next sign-in.
    ResetMfa {
        /// The user.
        username: String,
    },
    /// Let a user sign in with the password alone for a while (or until `require-mfa`).
    RemoveMfa {
        /// The user.
        username: String,
        /// For how long (1 to 168 hours).
        #[arg(long, default_value_t = portal::admin::DEFAULT_MFA_REMOVAL_HOURS)]
        hours: u64,
    },
    /// Require MFA again.
    RequireMfa {
        /// The user.
        username: String,
    },
    /// Block a user's sign-in and end their sessions.
    Suspend {
        /// The user.
        username: String,
    },
    /// Lift a suspension.
    Restore {
        /// The user.
        username: String,
    },
    /// Require a new password at the user's next sign-in.
    ForcePasswordChange {
        /// The user.
        username: String,
    },
    /// Create a console account (the first administrator, say); its password is read like
    /// `user add`. MFA is required: it enrolls a device at its first sign-in at /admin.
    CreateAdmin {
        /// The login name.
        username: String,
        /// What it may do.
        #[arg(long, value_enum, default_value = "administrator")]
        role: Role,
    },
    /// Change a console account's role.
    SetRole {
        /// The console account.
        username: String,
        /// Its new role.
        #[arg(long, value_enum)]
        role: Role,
    },
    /// Require MFA for every console account.
    RequireMfaForAdmins,
    /// Show a user's event log.
    Events {
        /// The user.
        username: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

fn read_password() -> Result<zeroize::Zeroizing<String>, String> {
    if let Ok(p) = std::env::var("PORTAL_NEW_PASSWORD") {
        return Ok(zeroize::Zeroizing::new(p));
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password: {e}"))?;
    Ok(zeroize::Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    portal::install_crypto();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PORTAL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("portal=info,warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portal: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime()?.block_on(async move {
            let mut settings = cli.settings;
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            settings.listen = addr;
            let portal = portal::open(settings)?;
            // Tests read this line to learn the port when listening on port 0.
            println!("portal listening on http://{addr}");
            tracing::info!(%addr, url = %portal.settings().public_url(), "portal started");
            portal::serve(listener, portal, portal::shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }),
        Command::User(UserCommand::Add { username }) => {
            let portal = portal::open(cli.settings)?;
            let password = read_password()?;
            portal
                .create_user(&username, &password)
                .map_err(|e| e.to_string())?;
            println!("created user {username}");
            Ok(())
        }
        Command::User(UserCommand::Passwd { username }) => {
            let portal = portal::open(cli.settings)?;
            let user = portal.user(&username).map_err(|e| e.to_string())?;
            let password = read_password()?;
            portal
                .set_password(&user, &password)
                .map_err(|e| e.to_string())?;
            println!("password changed for {username}");
            Ok(())
        }
        Command::Client(command) => {
            let portal = portal::open(cli.settings)?;
            client(&portal, command).map_err(|e| e.to_string())
        }
        Command::Admin(command) => {
            let portal = portal::open(cli.settings)?;
            admin(&portal, command).map_err(|e| e.to_string())
        }
    }
}

fn client(portal: &portal::Portal, command: ClientCommand) -> Result<(), portal::app::PortalError> {
    match command {
        ClientCommand::Create {
            name,
            mode,
            request_key,
        } => {
            let public = match request_key {
                Some(path) => Some(std::fs::read_to_string(&path).map_err(|_| {
                    portal::app::PortalError::Invalid("cannot read the request key file")
                })?),
                None => None,
            };
            let (client, key) = portal.create_client(&name, mode, public.as_deref())?;
            eprintln!(
                "created relying party {} ({}); its key, shown once:",
                client.name,
                client.mode.as_str()
            );
            println!("{}", key.as_str());
        }
        ClientCommand::List => {
            for c in portal.clients()? {
                println!(
                    "{:<32} {:<12} {:<8} created {}",
                    c.name,
                    c.mode.as_str(),
                    if c.request_key.is_some() {
                        "signed"
                    } else {
                        "key only"
                    },
                    portal::html::utc(c.created_at)
                );
            }
        }
        ClientCommand::Delete { name } => {
            if portal.delete_client(&name)? {
                println!("deleted relying party {name}");
            } else {
                return Err(portal::app::PortalError::NoSuchUser);
            }
        }
    }
    Ok(())
}

/// Why a `portal admin` command failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The portal refused or failed.
    #[error(transparent)]
    Portal(#[from] portal::app::PortalError),
    /// The input (a password) could not be read.
    #[error("{0}")]
    Input(String),
}

fn admin(portal: &portal::Portal, command: AdminCommand) -> Result<(), CliError> {
    match command {
        AdminCommand::List { json } => {
            let users = portal.list_users()?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&users).unwrap_or_default()
                );
            } else {
                println!(
                    "{:<24} {:<14} {:<8} {:<6} {:<6} {:<9} DEVICE",
                    "USER", "ROLE", "MFA", "LOCKED", "FAILED", "SUSPENDED"
                );
                for u in users {
                    let mfa = match (u.mfa_required, u.push_enrolled, u.totp_enrolled) {
                        (false, _, _) => "off",
                        (true, true, _) => "push",
                        (true, false, true) => "totp",
                        (true, false, false) => "pending",
                    };
                    println!(
                        "{:<24} {:<14} {:<8} {:<6} {:<6} {:<9} {}",
                        u.username,
                        u.role.map_or("-", |r| r.as_str()),
                        mfa,
                        if u.locked { "yes" } else { "no" },
                        u.failed_totp,
                        if u.suspended { "yes" } else { "no" },
                        u.device.unwrap_or_default()
                    );
                }
            }
        }
        AdminCommand::Unlock { username } => act(portal, &username, Action::Unlock)?,
        AdminCommand::ResetMfa { username } => act(portal, &username, Action::ResetMfa)?,
        AdminCommand::RemoveMfa { username, hours } => {
            portal.admin_action(&username, Action::RemoveMfa, &Actor::cli(), Some(hours))?;
            println!("{username}: remove-mfa done, for {hours} h");
        }
        AdminCommand::RequireMfa { username } => act(portal, &username, Action::RequireMfa)?,
        AdminCommand::Suspend { username } => act(portal, &username, Action::Suspend)?,
        AdminCommand::Restore { username } => act(portal, &username, Action::Restore)?,
        AdminCommand::ForcePasswordChange { username } => {
            act(portal, &username, Action::ForcePasswordChange)?;
        }
        AdminCommand::CreateAdmin { username, role } => {
            let password = read_password().map_err(CliError::Input)?;
            portal.create_admin(&Actor::cli(), &username, &password, role)?;
            println!("created console account {username} ({})", role.as_str());
        }
        AdminCommand::SetRole { username, role } => {
            portal.set_role(&Actor::cli(), &username, role)?;
            println!("{username} is now {}", role.as_str());
        }
        AdminCommand::RequireMfaForAdmins => {
            let changed = portal.require_mfa_for_admins(&Actor::cli())?;
            println!("MFA required for every console account ({changed} changed)");
        }
        AdminCommand::Events { username, json } => {
            let events = portal.user_events(&username)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&events).unwrap_or_default()
                );
            } else {
                for e in events {
                    println!(
                        "{:<20}  {:<15} {:<20} {:<11} {}",
                        portal::html::utc(e.at),
                        e.ip,
                        e.kind,
                        e.outcome,
                        e.detail
                    );
                }
            }
        }
    }
    Ok(())
}

fn act(
    portal: &portal::Portal,
    username: &str,
    action: Action,
) -> Result<(), portal::app::PortalError> {
    portal.admin_action(username, action, &Actor::cli(), None)?;
    println!("{username}: {} done", action.name());
    Ok(())
}
