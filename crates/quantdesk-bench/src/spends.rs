//! `quantdesk-bench spends --url postgres://… [--clients 64] [--spends 20000] [--accounts 1]`:
//! coin spends per second through the ledger port (`LedgerStore::apply_coins`, one transaction
//! each: the conditional update and the ledger row) from N concurrent clients, in a fresh schema
//! dropped afterwards. `--accounts 1` puts every client on one account (every spend waits for
//! the row lock: the worst case); `--accounts N` spreads them. The balances must come out exact:
//! each account ends at its grant less its successful spends, and `verify_ledger` finds nothing.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use quantdesk_store::ledger::{Applied, CoinChange, CoinKind};
use quantdesk_store::{PgStore, Store};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

pub fn run(args: &[String]) -> Result<()> {
    let url = arg(args, "--url", &std::env::var("QUANTDESK_TEST_POSTGRES_URL").unwrap_or_default());
    if !url.starts_with("postgres") {
        bail!("give a PostgreSQL URL: --url postgres://… (or QUANTDESK_TEST_POSTGRES_URL)");
    }
    let clients: usize = arg(args, "--clients", "64").parse().context("--clients")?;
    let spends: usize = arg(args, "--spends", "20000").parse().context("--spends")?;
    let accounts: i64 = arg(args, "--accounts", "1").parse().context("--accounts")?;
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(&url, clients, spends, accounts))
}

async fn bench(url: &str, clients: usize, spends: usize, accounts: i64) -> Result<()> {
    let schema = format!("qd_bench_spends_{}", std::process::id());
    let admin = sqlx::PgPool::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await?;
    let opts = sqlx::postgres::PgConnectOptions::from_str(url)?.options([("search_path", schema.as_str())]);
    let result = async {
        let store: Arc<dyn Store> = Arc::new(PgStore::open_with(opts, clients as u32).await?);
        // Each account can pay for 3/4 of the spends aimed at it: the rest are refused exactly.
        let per_account = (spends as i64 + accounts - 1) / accounts;
        let grant = per_account * 3 / 4;
        for user in 0..accounts {
            let g = CoinChange {
                user_id: user,
                kind: CoinKind::Grant,
                available: grant,
                frozen: 0,
                reason: "bench",
                related: "",
                idem_key: "grant",
                actor: "bench",
                at: 0,
            };
            store.apply_coins(&g).await?;
        }
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (store, next) = (store.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut ok = vec![0i64; accounts as usize];
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= spends {
                        return Ok::<_, anyhow::Error>(ok);
                    }
                    let user = i as i64 % accounts;
                    let key = format!("spend:{i}");
                    let c = CoinChange {
                        user_id: user,
                        kind: CoinKind::Spend,
                        available: -1,
                        frozen: 0,
                        reason: "bench",
                        related: "",
                        idem_key: &key,
                        actor: "bench",
                        at: i as i64,
                    };
                    if let Applied::Done(_) = store.apply_coins(&c).await? {
                        ok[user as usize] += 1;
                    }
                }
            }));
        }
        let mut ok = vec![0i64; accounts as usize];
        for t in tasks {
            for (a, n) in t.await??.into_iter().enumerate() {
                ok[a] += n;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        for (user, n) in ok.iter().enumerate() {
            let a = store.coin_account(user as i64).await?.context("an account")?;
            let aimed = (0..spends).filter(|i| *i as i64 % accounts == user as i64).count() as i64;
            if a.available != grant - n || *n != grant.min(aimed) {
                bail!("account {user}: {} available after {n} spends of a grant of {grant}", a.available);
            }
        }
        let bad = store.verify_ledger().await?;
        if !bad.is_empty() {
            bail!("the ledger does not re-derive {} balance(s)", bad.len());
        }
        let done: i64 = ok.iter().sum();
        println!(
            "spends: {spends} attempts ({done} succeeded, {} refused) from {clients} clients on {accounts} account(s) in {secs:.2} s: {:.0} spends/s; balances exact, ledger verified",
            spends as i64 - done,
            spends as f64 / secs
        );
        Ok(())
    }
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&admin).await?;
    result
}
