//! What the commands share: the database, output, progress bars and usage errors.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{Context, Result};
use quantdesk_app::config::Config;

/// Opens (and migrates) the configured database.
pub async fn open_store(cfg: &Config) -> Result<Arc<dyn quantdesk_store::Store>> {
    quantdesk_store::open(cfg.database.database_url.expose(), cfg.database.database_max_connections).await.with_context(
        || format!("cannot open the database {}", quantdesk_store::redact_url(cfg.database.database_url.expose())),
    )
}

/// Writes `text` to stdout; a reader that went away (`| head`) is not an error.
pub fn print_all(text: &str) -> Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Writes `value` to stdout as pretty JSON and a newline, through a buffer (no intermediate string
/// or `serde_json::Value`); a reader that went away (`| head`) is not an error.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(1 << 18, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// A progress bar over `total` bytes on stderr, hidden when stderr is not a terminal.
pub fn byte_progress(total: u64, verb: &str) -> indicatif::ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!("{verb} [{{bar:40}}] {{bytes}}/{{total_bytes}} ({{eta}})"))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// The UTC date of Unix seconds `t` (empty if out of range).
pub fn utc_date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.date_naive().to_string()).unwrap_or_default()
}

/// Reports a command line clap refused as every other refusal is reported (`Error: …` on stderr),
/// with clap's exit code (2); help and version print as clap prints them.
pub fn usage_error(e: clap::Error) -> ! {
    if !e.use_stderr() {
        e.exit();
    }
    let styled = e.render();
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = if color { styled.ansi().to_string() } else { styled.to_string() };
    // Help shown for a missing subcommand has no prefix to replace.
    let ours = if styled.to_string().starts_with("error:") { text.replacen("error:", "Error:", 1) } else { text };
    eprint!("{ours}");
    std::process::exit(e.exit_code());
}
