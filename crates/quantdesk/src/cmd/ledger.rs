//! The coin ledger: `quantdesk ledger verify`, `show`, `adjust`.

use anyhow::{Result, bail};
use clap::Subcommand;
use quantdesk_app::accounts::normalize_email;
use quantdesk_app::coins::Coins;
use quantdesk_app::config::Config;

use super::common::{open_store, print_all};

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Re-derive every balance from the ledger; exit 1 naming each user whose stored balance
    /// differs (or whose ledger rows do not follow one another).
    Verify,
    /// A user's balance and latest ledger rows.
    Show {
        #[arg(long)]
        email: String,
        /// Rows to show, newest first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Add coins to (or, negative, take from) a user's available balance, with a reason;
    /// audited as the command line.
    Adjust {
        #[arg(long)]
        email: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: i64,
        #[arg(long)]
        reason: String,
        /// Running the command again with the same key changes nothing.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

pub async fn run(cfg: &Config, c: LedgerCommand) -> Result<()> {
    let store = open_store(cfg).await?;
    let coins = Coins::from_config(store.clone(), cfg);
    let user_of = |email: String| {
        let store = store.clone();
        async move {
            let email = normalize_email(&email)?;
            store.user_by_email(&email).await?.ok_or_else(|| anyhow::anyhow!("no account {email}"))
        }
    };
    match c {
        LedgerCommand::Verify => {
            let bad = coins.verify().await?;
            if bad.is_empty() {
                println!("every balance matches the ledger");
                return Ok(());
            }
            for m in &bad {
                let who = store.user(m.user_id).await?.map(|u| u.email).unwrap_or_else(|| "(no account)".into());
                let row = m
                    .first_bad_row
                    .map(|r| format!("; ledger row {r} does not follow the row before"))
                    .unwrap_or_default();
                eprintln!(
                    "user {} {who}: stored available {} frozen {}, the ledger gives available {} frozen {}{row}",
                    m.user_id, m.available, m.frozen, m.ledger_available, m.ledger_frozen
                );
            }
            bail!("{} user(s) whose balance differs from the ledger", bad.len());
        }
        LedgerCommand::Show { email, limit } => {
            let u = user_of(email).await?;
            let b = coins.balance_at(u.id, quantdesk_app::clock::now_ms()).await?;
            let page = coins.ledger_of(u.id, limit.clamp(1, 1000), 0).await?;
            let mut out = format!(
                "{} available {} frozen {} streak {} ({} rows)\n",
                u.email, b.available, b.frozen, b.streak, page.total
            );
            for e in page.items {
                out += &format!(
                    "{:>8}  {}  {:<8} {:>+8} {:>+8}  {:>8} -> {:<8} {} {}\n",
                    e.id,
                    e.at,
                    e.kind,
                    e.amount,
                    e.frozen_change,
                    e.available_before,
                    e.available_after,
                    e.reason,
                    e.related
                );
            }
            print_all(&out)?;
        }
        LedgerCommand::Adjust { email, amount, reason, idempotency_key } => {
            let u = user_of(email).await?;
            let e = coins.adjust_as_operator(u.id, amount, &reason, idempotency_key.as_deref()).await?;
            println!("{} {:+} coins: {} -> {}", u.email, e.amount, e.available_before, e.available_after);
        }
    }
    Ok(())
}
