//! Accounts and API keys: `quantdesk user`, `quantdesk key`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use quantdesk_server::{AppState, Config};

use super::common::open_store;
use super::options::RoleArg;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a verified account. The password comes from --password-file, else
    /// QUANTDESK_USER_PASSWORD, else a random one is made and printed.
    Create {
        #[arg(long)]
        email: String,
        /// admin, analyst or viewer.
        #[arg(long, value_enum, default_value = "analyst")]
        role: RoleArg,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// If the account exists, give it this password and role (and enable it).
        #[arg(long)]
        reset: bool,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an API key for an account and print its token (shown this once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Comma-separated: read, jobs, admin (at most what the account's role allows).
        #[arg(long, default_value = "read", value_delimiter = ',')]
        scopes: Vec<String>,
        /// Days until the key expires.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
}

pub async fn user(cfg: &Config, c: UserCommand) -> Result<()> {
    let store = open_store(cfg).await?;
    match c {
        UserCommand::Create { email, role, password_file, reset } => {
            let (password, generated) = match (password_file, std::env::var("QUANTDESK_USER_PASSWORD").ok()) {
                (Some(f), _) => (
                    std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?
                        .trim_end_matches(['\n', '\r'])
                        .to_string(),
                    false,
                ),
                (None, Some(p)) if !p.is_empty() => (p, false),
                _ => (quantdesk_server::auth::secrets::random_hex(12), true),
            };
            let (u, created) =
                quantdesk_server::auth::service::ensure_user(&*store, &email, &password, role.into(), reset)
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
            println!("{} {} (role {})", if created { "created" } else { "reset" }, u.email, u.role.as_str());
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            for u in store.users().await? {
                let state = if u.disabled {
                    "disabled"
                } else if u.verified {
                    "active"
                } else {
                    "unverified"
                };
                println!("{:>5}  {:<40} {:<8} {}", u.id, u.email, u.role.as_str(), state);
            }
        }
    }
    Ok(())
}

pub async fn key(cfg: Config, c: KeyCommand) -> Result<()> {
    let KeyCommand::Create { email, name, scopes, days } = c;
    let store = open_store(&cfg).await?;
    let email = quantdesk_server::auth::service::normalize_email(&email).map_err(|e| anyhow::anyhow!(e.message))?;
    let u = store.user_by_email(&email).await?.ok_or_else(|| anyhow::anyhow!("no account {email}"))?;
    let state = AppState::new(store, cfg, quantdesk_server::ops::metrics_handle());
    let p = quantdesk_server::auth::Principal {
        user_id: u.id,
        email: u.email.clone(),
        role: u.role,
        via: quantdesk_server::auth::Via::Session { id_hash: String::new(), csrf: String::new() },
    };
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let (row, token) = quantdesk_server::auth::service::create_key(&state, &ip, &p, &name, &scopes, days)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    eprintln!("key {} for {} with scopes {} (shown once):", row.id, u.email, row.scopes);
    println!("{token}");
    Ok(())
}
