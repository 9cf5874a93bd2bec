//! Operating a deployment: `quantdesk config print`, `quantdesk migrate`, `quantdesk healthcheck`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use quantdesk_app::config::Config;

use super::common::open_store;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML, secrets redacted.
    Print,
}

#[derive(Args)]
pub struct HealthcheckArgs {
    /// The probe to ask (default: /healthz on the configured listen address).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
}

/// `config print`: runs before logging is set up, so nothing but the TOML reaches stdout.
pub fn print_config(cfg: &Config) {
    print!("{}", cfg.to_redacted_toml());
}

pub async fn migrate(cfg: &Config) -> Result<()> {
    let store = open_store(cfg).await?;
    println!("database {} is up to date", store.backend());
    Ok(())
}

/// GET the probe over plain HTTP/1.1 with a 5 s deadline: 200 is healthy. No HTTP client crate,
/// no TLS: the probe is local to the container.
pub async fn healthcheck(cfg: &Config, a: HealthcheckArgs) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = a.url.unwrap_or_else(|| {
        let mut addr = cfg.server.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}/healthz")
    });
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow::anyhow!("--url must start with http://"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let probe = async {
        let mut conn = tokio::net::TcpStream::connect(host).await?;
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
        let mut head = vec![0u8; 64];
        let n = conn.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).into_owned())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), probe).await {
        Ok(Ok(head)) if head.starts_with("HTTP/1.1 200") => {
            println!("healthy: {url}");
            Ok(())
        }
        Ok(Ok(head)) => bail!("unhealthy: {url} answered {:?}", head.lines().next().unwrap_or("")),
        Ok(Err(e)) => bail!("unhealthy: {url}: {e}"),
        Err(_) => bail!("unhealthy: {url} did not answer within 5 s"),
    }
}
