//! Accounts and API keys: `quantdesk user`, `quantdesk key`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use quantdesk_app::accounts::{Accounts, Actor, normalize_email, secrets};
use quantdesk_app::config::Config;

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
                _ => (secrets::random_hex(12), true),
            };
            let accounts = Accounts::from_config(store.clone(), cfg);
            let (u, created) = accounts.ensure_user(&email, &password, role.into(), reset).await?;
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
    let email = normalize_email(&email)?;
    let u = store.user_by_email(&email).await?.ok_or_else(|| anyhow::anyhow!("no account {email}"))?;
    // The operator acts for the account, with its role: no session, no key.
    let actor = Actor::command_line(&u);
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let accounts = Accounts::from_config(store, &cfg);
    let (row, token) = accounts.create_key(&ip, &actor, &name, &scopes, days).await?;
    eprintln!("key {} for {} with scopes {} (shown once):", row.id, u.email, row.scopes);
    println!("{token}");
    Ok(())
}
