//! `quantdesk schedule`: cron schedules, read in a time zone, that enqueue jobs.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use quantdesk_app::config::Config;

use super::common::open_store;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// List schedules with their next tick.
    List,
    /// Create or replace a schedule.
    Add {
        name: String,
        /// Cron expression, e.g. "0 18 * * 1-5" (minute hour day month weekday; 6 fields add seconds).
        #[arg(long)]
        cron: String,
        /// Job kind to enqueue at each tick.
        #[arg(long)]
        kind: String,
        /// Job parameters as JSON.
        #[arg(long, default_value = "{}")]
        params: String,
        #[arg(long, default_value = "Asia/Shanghai")]
        timezone: String,
        /// Fire the most recent tick missed while nothing ran, once, on start-up.
        #[arg(long)]
        catch_up: bool,
        /// Create it switched off.
        #[arg(long)]
        disabled: bool,
    },
    /// Delete a schedule.
    Remove { name: String },
}

pub async fn run(cfg: &Config, c: ScheduleCommand) -> Result<()> {
    use quantdesk_store::jobs::Schedule;
    let store = open_store(cfg).await?;
    match c {
        ScheduleCommand::List => {
            let now = quantdesk_jobs::now_ms();
            for s in store.schedules().await? {
                let next = quantdesk_jobs::schedule::validate(&s.cron, &s.timezone).ok().and_then(|(cron, tz)| {
                    let at = chrono::DateTime::<chrono::Utc>::from_timestamp(now / 1000, 0)?.with_timezone(&tz);
                    cron.find_next_occurrence(&at, false).ok().map(|d| d.to_rfc3339())
                });
                println!(
                    "{:<20} {:<16} {:<14} {:<10} {} catch-up={} next={}",
                    s.name,
                    s.cron,
                    s.timezone,
                    s.kind,
                    if s.enabled { "on " } else { "off" },
                    s.catch_up,
                    next.unwrap_or_else(|| "-".into())
                );
            }
        }
        ScheduleCommand::Add { name, cron, kind, params, timezone, catch_up, disabled } => {
            quantdesk_jobs::schedule::validate(&cron, &timezone).map_err(|e| anyhow::anyhow!(e))?;
            let job_kind = quantdesk_app::jobs::JobKind::parse_submittable(&kind)?;
            let parsed: serde_json::Value = serde_json::from_str(&params).context("--params is not JSON")?;
            if !parsed.is_object() {
                bail!("--params must be a JSON object");
            }
            job_kind.check_params(&parsed)?;
            let s = Schedule {
                id: 0,
                owner: String::new(),
                name: name.clone(),
                cron,
                timezone,
                kind,
                params: parsed.to_string(),
                enabled: !disabled,
                catch_up,
                last_fire: None,
                created_at: quantdesk_jobs::now_ms(),
            };
            store.upsert_schedule(&s).await?;
            println!("schedule {name} saved");
        }
        ScheduleCommand::Remove { name } => {
            if !store.remove_schedule(&name).await? {
                bail!("no schedule {name:?}");
            }
            println!("schedule {name} removed");
        }
    }
    Ok(())
}
