//! Backups: `quantdesk backup` (write or verify an archive) and `quantdesk restore`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use quantdesk_app::config::Config;

use super::common::open_store;

#[derive(Args)]
pub struct BackupArgs {
    /// Write the archive to this file (never replacing an existing one).
    #[arg(long, value_name = "FILE", group = "what")]
    output: Option<PathBuf>,
    /// Write a time-named archive into this folder and apply retention (default: backup_dir).
    #[arg(long, value_name = "DIR", group = "what")]
    dir: Option<PathBuf>,
    /// Check an archive (structure, row counts, checksums) without restoring it.
    #[arg(long, value_name = "FILE", group = "what")]
    verify: Option<PathBuf>,
    /// With --dir: days whose newest backup is kept (default: backup_keep_daily).
    #[arg(long)]
    keep_daily: Option<usize>,
    /// With --dir: ISO weeks whose newest backup is kept (default: backup_keep_weekly).
    #[arg(long)]
    keep_weekly: Option<usize>,
}

#[derive(Args)]
pub struct RestoreArgs {
    file: PathBuf,
    /// Delete everything in the target database first (in the same transaction).
    #[arg(long)]
    replace: bool,
}

fn write_info() -> quantdesk_store::backup::archive::WriteInfo {
    quantdesk_store::backup::archive::WriteInfo {
        now_ms: quantdesk_jobs::now_ms(),
        quantdesk_version: quantdesk_app::VERSION.into(),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub async fn backup(cfg: &Config, args: BackupArgs) -> Result<()> {
    use quantdesk_store::backup::{archive, backup_to_dir, backup_to_file};
    if let Some(file) = args.verify {
        let started = std::time::Instant::now();
        let m = archive::verify(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for t in &m.tables {
            println!("{:<18} {:>12} rows  sha256 {}", t.name, t.rows, t.sha256);
        }
        println!(
            "{} is intact: {} rows in {} tables, schema version {}, from {} at {} (checked in {:.1} s)",
            file.display(),
            m.total_rows,
            m.tables.len(),
            m.schema_version,
            m.source_backend,
            m.created_at,
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let store = open_store(cfg).await?;
    let started = std::time::Instant::now();
    let dir = args.dir.or_else(|| (!cfg.backups.backup_dir.is_empty()).then(|| PathBuf::from(&cfg.backups.backup_dir)));
    let (path, written, deleted) = match (args.output, dir) {
        (Some(file), _) => {
            let w = backup_to_file(&*store, &file, &write_info()).await.map_err(|e| anyhow::anyhow!(e))?;
            (file, w, Vec::new())
        }
        (None, Some(dir)) => backup_to_dir(
            &*store,
            &dir,
            args.keep_daily.unwrap_or(cfg.backups.backup_keep_daily),
            args.keep_weekly.unwrap_or(cfg.backups.backup_keep_weekly),
            &write_info(),
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?,
        (None, None) => bail!("say where: --output FILE or --dir DIR (or set backup_dir), or --verify FILE"),
    };
    println!(
        "backup written: {} ({} rows in {} tables, {}, sha256 {}) in {:.1} s",
        path.display(),
        written.manifest.total_rows,
        written.manifest.tables.len(),
        megabytes(written.bytes),
        written.sha256,
        started.elapsed().as_secs_f64()
    );
    for name in deleted {
        println!("retention deleted {name}");
    }
    Ok(())
}

pub async fn restore(cfg: &Config, a: RestoreArgs) -> Result<()> {
    let (file, replace) = (a.file.as_path(), a.replace);
    let store = open_store(cfg).await?;
    let started = std::time::Instant::now();
    let m = quantdesk_store::backup::archive::restore(&*store, file, replace)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!(
        "restored {} rows in {} tables from {} (written by {} at {}) into {} in {:.1} s",
        m.total_rows,
        m.tables.len(),
        file.display(),
        m.source_backend,
        m.created_at,
        store.backend(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
