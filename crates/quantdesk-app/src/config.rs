//! Configuration: defaults, then a TOML file, then `QUANTDESK_*` environment variables, then flags.
//!
//! Every secret-bearing setting also reads from a file named by `<VAR>_FILE` (for Docker and
//! Kubernetes secrets). Secrets are kept in [`Secret`], whose `Debug` and `Serialize` print `***`.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A string that never shows itself in logs or printed configuration.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself. Call only where it is used, never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The effective configuration, one section per concern. In TOML each section is a table
/// (`[server]`, `[database]`…); the variables keep their flat names (`QUANTDESK_LISTEN`,
/// `QUANTDESK_DATABASE_URL`…).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Fill an empty database with demo data on start.
    pub demo: bool,
    /// How the server listens and what it accepts: limits, access, rate limits.
    pub server: ServerConfig,
    /// Where everything is stored.
    pub database: DatabaseConfig,
    /// Caches in the process and, with Redis, between replicas.
    pub cache: CacheConfig,
    /// Log output.
    pub log: LogConfig,
    /// Accounts and sessions.
    pub auth: AuthConfig,
    /// Outgoing mail (codes and notices).
    pub mail: MailConfig,
    /// Background job workers.
    pub jobs: JobsConfig,
    /// Scheduled backups and their retention.
    pub backups: BackupsConfig,
    /// Outside market-data sources and the evening sync.
    pub sources: SourcesConfig,
    /// Each user's watchlists and their sizes.
    pub watchlists: WatchlistsConfig,
    /// LLM providers for research reports: a default one, and the key that encrypts stored keys.
    pub llm: LlmConfig,
    /// The coin ledger: grants, the daily check-in and what operations cost.
    pub coins: CoinsConfig,
    /// Orders of coin packages and the payment providers' notifications.
    pub payments: PaymentsConfig,
}

/// How the server listens and what it accepts: limits, access, rate limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to serve HTTP on.
    pub listen: SocketAddr,
    /// Largest accepted upload (CSV import), in bytes.
    pub max_upload_bytes: u64,
    /// Largest accepted request body other than uploads, in bytes.
    pub max_body_bytes: u64,
    /// Imports (`/api/v1/imports/bars`, `/api/v1/imports/instruments`) one user may run at once
    /// in this process; more are answered 429. Uploads are spooled to the temporary folder
    /// (`TMPDIR`), so it needs up to this many times `max_upload_bytes` per importing user.
    pub imports_per_user: u32,
    /// Seconds a request may take before it is answered with a timeout.
    pub request_timeout_secs: u64,
    /// CPU-heavy request work (Chan analyses, nesting, marks, overlays) runs on this many
    /// blocking threads at once, never on the async workers; 0: the number of cores.
    pub cpu_workers: usize,
    /// Heavy requests that may wait for a CPU worker; more are refused at once with 503 `busy`
    /// and `Retry-After`.
    pub cpu_queue: usize,
    /// The site is reached over HTTPS (directly or through a TLS-terminating proxy): session
    /// cookies become `__Host-` and `Secure`, and responses carry HSTS.
    pub tls: bool,
    /// Serve the UDF datafeed (`/udf/*`, read-only) without credentials, for chart embedding.
    pub udf_public: bool,
    /// CIDR ranges allowed to use the server; empty allows everyone. Health probes are exempt.
    pub allow_cidrs: Vec<String>,
    /// CIDR ranges of proxies whose `X-Forwarded-For` names the client (nginx, the ingress).
    pub trusted_proxies: Vec<String>,
    /// Origins allowed to call the API from a browser on another site (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// Requests per minute allowed to one API key or signed-in user.
    pub rate_limit_per_minute: u32,
    /// Requests per minute allowed from one client address.
    pub rate_limit_ip_per_minute: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_upload_bytes: 256 * 1024 * 1024,
            max_body_bytes: 1024 * 1024,
            imports_per_user: 2,
            request_timeout_secs: 30,
            cpu_workers: 0,
            cpu_queue: 32,
            tls: false,
            udf_public: false,
            allow_cidrs: Vec::new(),
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            rate_limit_per_minute: 600,
            rate_limit_ip_per_minute: 1200,
        }
    }
}

/// Where everything is stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (the embedded default) or `postgres://…`. May hold a password: a secret.
    pub database_url: Secret,
    pub database_max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { database_url: Secret::new("sqlite://./data/quantdesk.db"), database_max_connections: 8 }
    }
}

/// Caches in the process and, with Redis, between replicas.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// `redis://…` to share caches between replicas; none by default. May hold a password.
    pub redis_url: Secret,
    /// Seconds a computed datafeed response may be served from the in-process cache (0: no cache).
    pub cache_ttl_secs: u64,
    /// Megabytes of stored bars kept in memory by the block cache (0: no cache).
    pub bar_cache_mb: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { redis_url: Secret::new(""), cache_ttl_secs: 2, bar_cache_mb: 256 }
    }
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter, such as `info` or `quantdesk=debug,info`.
    pub log_level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { log_format: LogFormat::Text, log_level: "info".into() }
    }
}

/// Accounts and sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Minutes a browser session lasts without use.
    pub session_idle_mins: u64,
    /// Hours a browser session lasts at most, however much it is used.
    pub session_max_hours: u64,
    /// Whether anyone may sign up (with a verified e-mail address).
    pub signup: bool,
    /// The role of people who sign up: viewer, analyst or admin.
    pub signup_role: String,
    /// Password of the demo account `serve --demo` creates; random (and printed) when empty.
    pub demo_password: Secret,
    /// How long a resolved API key or session is reused without reading the database again, in
    /// milliseconds (0: every request reads it). A change made through this process (a revoked
    /// key, a logout, a disabled account) takes effect at once; one made by another replica or
    /// the command line within this bound.
    pub credential_cache_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_idle_mins: 8 * 60,
            session_max_hours: 7 * 24,
            signup: true,
            signup_role: "analyst".into(),
            demo_password: Secret::new(""),
            credential_cache_ms: 1000,
        }
    }
}

/// Outgoing mail (codes and notices).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtps://user:pass@host` (or `smtp://…`) to send mail; empty writes mail to `mailbox_dir`.
    pub smtp_url: Secret,
    /// The sender of quantdesk's mail.
    pub mail_from: String,
    /// Where mail goes when no SMTP server is configured.
    pub mailbox_dir: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_url: Secret::new(""),
            mail_from: "quantdesk <noreply@quantdesk.localhost>".into(),
            mailbox_dir: "./data/mailbox".into(),
        }
    }
}

/// Background job workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs a process runs at once (`serve` without `--no-workers`, and `worker`).
    pub worker_concurrency: usize,
    /// Fair share: jobs one owner may have running at once, counted over every worker sharing
    /// the database; a worker passes over the jobs of an owner at the cap (jobs without an owner,
    /// such as backups, are not capped). 0: half of the process's `worker_concurrency`, at least
    /// 1, so on a default `serve` (2 workers) one person's jobs always leave one for others.
    pub jobs_per_owner: u32,
    /// Seconds a worker's claim on a job lasts without a heartbeat: how soon a dead worker's job
    /// runs elsewhere. Heartbeats come every sixth of it.
    pub job_lease_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { worker_concurrency: 2, jobs_per_owner: 0, job_lease_secs: 30 }
    }
}

/// Scheduled backups and their retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupsConfig {
    /// Folder of scheduled backups (and the default of `quantdesk backup --dir`); empty: none.
    pub backup_dir: String,
    /// When scheduled backups run: a cron expression read in UTC, e.g. `0 2 * * *`; empty: never.
    /// Needs `backup_dir`. The job runs on the `backup` queue.
    pub backup_cron: String,
    /// Retention: the newest backup of each of this many most recent days is kept…
    pub backup_keep_daily: usize,
    /// …and of each of this many most recent ISO weeks.
    pub backup_keep_weekly: usize,
}

impl Default for BackupsConfig {
    fn default() -> Self {
        BackupsConfig {
            backup_dir: String::new(),
            backup_cron: String::new(),
            backup_keep_daily: 7,
            backup_keep_weekly: 4,
        }
    }
}

/// Outside market-data sources (TuShare Pro, Eastmoney, Yahoo) and the evening sync.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourcesConfig {
    /// TuShare Pro token (secret); empty: TuShare is skipped.
    pub tushare_token: Secret,
    /// TuShare's endpoint (a proxy, a mirror or a test server may stand in).
    pub tushare_url: String,
    /// Eastmoney's kline and quote host.
    pub eastmoney_url: String,
    /// Yahoo's chart API host.
    pub yahoo_url: String,
    /// Fallback order of sources; sources without credentials are skipped.
    pub data_sources: Vec<String>,
    /// TuShare calls per minute (the client-side rate limiter; 0 switches it off).
    pub tushare_calls_per_minute: u32,
    /// Eastmoney calls per minute (0: no limiter).
    pub eastmoney_calls_per_minute: u32,
    /// Yahoo calls per minute (0: no limiter).
    pub yahoo_calls_per_minute: u32,
    /// Seconds before a call to a source times out.
    pub source_timeout_secs: u64,
    /// Retries of a call after a timeout, a 5xx or a rate-limit answer.
    pub source_retries: u32,
    /// When the built-in `sync-daily` schedule runs `sync all`: a cron expression read in
    /// Asia/Shanghai (`30 17 * * 1-5`: 17:30 on weekdays, skipped on days the calendar says
    /// are closed); empty: the schedule is off.
    pub sync_cron: String,
    /// Seconds a live quote is cached.
    pub quote_cache_secs: u64,
    /// Live quotes for `/udf/quotes` and the chart legend from Eastmoney or Yahoo when configured.
    pub live_quotes: bool,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            tushare_token: Secret::default(),
            tushare_url: "http://api.tushare.pro".into(),
            eastmoney_url: "https://push2his.eastmoney.com".into(),
            yahoo_url: "https://query1.finance.yahoo.com".into(),
            data_sources: vec!["tushare".into(), "eastmoney".into(), "yahoo".into()],
            tushare_calls_per_minute: 200,
            eastmoney_calls_per_minute: 60,
            yahoo_calls_per_minute: 60,
            source_timeout_secs: 20,
            source_retries: 3,
            sync_cron: String::new(),
            quote_cache_secs: 5,
            live_quotes: false,
        }
    }
}

/// Each user's watchlists: how many lists and how many symbols in each. The plans will set the
/// symbols per list by plan; until then every user gets `max_symbols_free`
/// (`quantdesk_app::watchlists::watchlist_limit` is the one place that decides).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchlistsConfig {
    /// Symbols in one list for a user on the free plan.
    pub max_symbols_free: u32,
    /// Lists one user may keep, the default list included.
    pub max_lists: u32,
}

impl Default for WatchlistsConfig {
    fn default() -> Self {
        WatchlistsConfig { max_symbols_free: 20, max_lists: 10 }
    }
}

/// LLM providers (any OpenAI-compatible chat-completions endpoint). Providers an admin stores
/// come first; the one configured here is the default for scripts and containers. With neither,
/// reports are written offline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// The default provider's base URL, up to the version (`https://api.deepseek.com/v1`); empty:
    /// none configured.
    pub llm_base_url: String,
    /// The default provider's key (secret); empty for local servers that need none.
    pub llm_api_key: Secret,
    /// The default provider's model (`deepseek-chat`, `qwen-plus`…).
    pub llm_model: String,
    /// Encrypts the keys of stored providers at rest (AES-256-GCM with a key derived from this;
    /// secret, at least 16 characters). Empty: providers can be stored only without a key.
    pub llm_secret_key: Secret,
    /// Seconds an attempt may take (until the answer starts, then between pieces of a stream).
    pub llm_timeout_secs: u64,
    /// Retries of a call after a timeout, a connection failure, a 429 or a 5xx.
    pub llm_retries: u32,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            llm_base_url: String::new(),
            llm_api_key: Secret::default(),
            llm_model: String::new(),
            llm_secret_key: Secret::default(),
            llm_timeout_secs: 120,
            llm_retries: 2,
        }
    }
}

/// The coin ledger: what a sign-up and a check-in give and what operations cost, in whole coins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoinsConfig {
    /// Coins a new account gets when its sign-up is confirmed.
    pub signup_coins: i64,
    /// A check-in gives `checkin_base + min(checkin_step × streak, checkin_cap)` coins, where the
    /// streak is the number of consecutive days before today with a check-in.
    pub checkin_base: i64,
    pub checkin_step: i64,
    pub checkin_cap: i64,
    /// What a report costs (0: free). Reserved when its job is enqueued, taken when the report
    /// is stored, released when the job fails or is cancelled.
    pub cost_report: i64,
    /// What a batch analysis costs per symbol (0: free).
    pub cost_batch_symbol: i64,
    /// Administrators pay nothing.
    pub admins_exempt: bool,
    /// The calendar day of a check-in is the user's (the `time_zone` preference), else this zone's.
    pub default_time_zone: String,
}

impl Default for CoinsConfig {
    fn default() -> Self {
        CoinsConfig {
            signup_coins: 20,
            checkin_base: 20,
            checkin_step: 2,
            checkin_cap: 50,
            cost_report: 10,
            cost_batch_symbol: 10,
            admins_exempt: true,
            default_time_zone: "Asia/Shanghai".into(),
        }
    }
}

/// Orders of coin packages and the payment providers' notifications.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// The mock provider for development: `POST /api/v1/orders/{order_no}/mock-pay` marks an
    /// order paid with no money moving. Off by default; refused with `tls = true` unless
    /// `payments_mock_force`.
    pub payments_mock: bool,
    /// Allow the mock provider on a TLS (production-looking) deployment anyway.
    pub payments_mock_force: bool,
    /// The Stripe endpoint secret (`whsec_…`) that signs `POST /api/v1/payments/webhook/stripe`;
    /// empty: Stripe is off and its webhook refuses everything.
    pub payments_webhook_secret: Secret,
    /// The WeChat Pay (API v2) merchant key that signs its notifications; empty: off.
    pub wechat_api_key: Secret,
    /// Seconds a signed notification's timestamp may be away from now (Stripe's tolerance).
    pub payments_webhook_tolerance_secs: i64,
    /// Minutes a pending order waits for its payment before it expires.
    pub order_ttl_mins: i64,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            payments_mock: false,
            payments_mock_force: false,
            payments_webhook_secret: Secret::default(),
            wechat_api_key: Secret::default(),
            payments_webhook_tolerance_secs: 300,
            order_ttl_mins: 30,
        }
    }
}

/// Settings given on the command line; `None` leaves the layer below in force.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub demo: Option<bool>,
}

fn flag(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

/// A comma-separated list, trimmed, without empty items.
fn list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// A CIDR range (`10.0.0.0/8`, `::1/128`) or a single address.
pub fn parse_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR range or an address"))
}

/// A configuration problem, with the setting it concerns.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Builds the effective configuration from its four layers. `env` is the process environment
    /// (passed in so tests need not mutate it).
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                toml::from_str::<Config>(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
            }
            None => Config::default(),
        };
        cfg.apply_env(env)?;
        if let Some(v) = flags.listen {
            cfg.server.listen = v;
        }
        if let Some(v) = &flags.database_url {
            cfg.database.database_url = Secret::new(v.clone());
        }
        if let Some(v) = flags.log_format {
            cfg.log.log_format = v;
        }
        if let Some(v) = flags.demo {
            cfg.demo = cfg.demo || v;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        // VAR, or the contents of the file named by VAR_FILE.
        let get = |name: &str| -> Result<Option<String>, ConfigError> {
            if let Some(v) = env(name) {
                return Ok(Some(v));
            }
            match env(&format!("{name}_FILE")) {
                Some(path) => std::fs::read_to_string(&path)
                    .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
                    .map_err(|e| ConfigError(format!("{name}_FILE: cannot read {path}: {e}"))),
                None => Ok(None),
            }
        };
        fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError> {
            v.trim().parse().map_err(|_| ConfigError(format!("{name}: {v:?} is not a valid value")))
        }
        if let Some(v) = get("QUANTDESK_LISTEN")? {
            self.server.listen = parse("QUANTDESK_LISTEN", &v)?;
        }
        if let Some(v) = get("QUANTDESK_DATABASE_URL")? {
            self.database.database_url = Secret::new(v);
        }
        if let Some(v) = get("QUANTDESK_REDIS_URL")? {
            self.cache.redis_url = Secret::new(v);
        }
        if let Some(v) = get("QUANTDESK_DATABASE_MAX_CONNECTIONS")? {
            self.database.database_max_connections = parse("QUANTDESK_DATABASE_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_LOG_FORMAT")? {
            self.log.log_format = match v.trim().to_ascii_lowercase().as_str() {
                "json" => LogFormat::Json,
                "text" | "pretty" => LogFormat::Text,
                _ => {
                    return Err(ConfigError(format!("QUANTDESK_LOG_FORMAT: {v:?} is not text or json")));
                }
            };
        }
        if let Some(v) = get("QUANTDESK_LOG_LEVEL")? {
            self.log.log_level = v;
        }
        if let Some(v) = get("QUANTDESK_MAX_UPLOAD_BYTES")? {
            self.server.max_upload_bytes = parse("QUANTDESK_MAX_UPLOAD_BYTES", &v)?;
        }
        if let Some(v) = get("QUANTDESK_MAX_BODY_BYTES")? {
            self.server.max_body_bytes = parse("QUANTDESK_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = get("QUANTDESK_IMPORTS_PER_USER")? {
            self.server.imports_per_user = parse("QUANTDESK_IMPORTS_PER_USER", &v)?;
        }
        if let Some(v) = get("QUANTDESK_CACHE_TTL_SECS")? {
            self.cache.cache_ttl_secs = parse("QUANTDESK_CACHE_TTL_SECS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_BAR_CACHE_MB")? {
            self.cache.bar_cache_mb = parse("QUANTDESK_BAR_CACHE_MB", &v)?;
        }
        if let Some(v) = get("QUANTDESK_REQUEST_TIMEOUT_SECS")? {
            self.server.request_timeout_secs = parse("QUANTDESK_REQUEST_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_CPU_WORKERS")? {
            self.server.cpu_workers = parse("QUANTDESK_CPU_WORKERS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_CPU_QUEUE")? {
            self.server.cpu_queue = parse("QUANTDESK_CPU_QUEUE", &v)?;
        }
        if let Some(v) = get("QUANTDESK_WORKER_CONCURRENCY")? {
            self.jobs.worker_concurrency = parse("QUANTDESK_WORKER_CONCURRENCY", &v)?;
        }
        if let Some(v) = get("QUANTDESK_JOBS_PER_OWNER")? {
            self.jobs.jobs_per_owner = parse("QUANTDESK_JOBS_PER_OWNER", &v)?;
        }
        if let Some(v) = get("QUANTDESK_JOB_LEASE_SECS")? {
            self.jobs.job_lease_secs = parse("QUANTDESK_JOB_LEASE_SECS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_DEMO")? {
            self.demo = flag(&v);
        }
        if let Some(v) = get("QUANTDESK_TLS")? {
            self.server.tls = flag(&v);
        }
        if let Some(v) = get("QUANTDESK_SESSION_IDLE_MINS")? {
            self.auth.session_idle_mins = parse("QUANTDESK_SESSION_IDLE_MINS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_CREDENTIAL_CACHE_MS")? {
            self.auth.credential_cache_ms = parse("QUANTDESK_CREDENTIAL_CACHE_MS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_SESSION_MAX_HOURS")? {
            self.auth.session_max_hours = parse("QUANTDESK_SESSION_MAX_HOURS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_SIGNUP")? {
            self.auth.signup = flag(&v);
        }
        if let Some(v) = get("QUANTDESK_SIGNUP_ROLE")? {
            self.auth.signup_role = v.trim().to_string();
        }
        if let Some(v) = get("QUANTDESK_UDF_PUBLIC")? {
            self.server.udf_public = flag(&v);
        }
        if let Some(v) = get("QUANTDESK_ALLOW_CIDRS")? {
            self.server.allow_cidrs = list(&v);
        }
        if let Some(v) = get("QUANTDESK_TRUSTED_PROXIES")? {
            self.server.trusted_proxies = list(&v);
        }
        if let Some(v) = get("QUANTDESK_CORS_ORIGINS")? {
            self.server.cors_origins = list(&v);
        }
        if let Some(v) = get("QUANTDESK_RATE_LIMIT_PER_MINUTE")? {
            self.server.rate_limit_per_minute = parse("QUANTDESK_RATE_LIMIT_PER_MINUTE", &v)?;
        }
        if let Some(v) = get("QUANTDESK_RATE_LIMIT_IP_PER_MINUTE")? {
            self.server.rate_limit_ip_per_minute = parse("QUANTDESK_RATE_LIMIT_IP_PER_MINUTE", &v)?;
        }
        if let Some(v) = get("QUANTDESK_SMTP_URL")? {
            self.mail.smtp_url = Secret::new(v);
        }
        if let Some(v) = get("QUANTDESK_MAIL_FROM")? {
            self.mail.mail_from = v;
        }
        if let Some(v) = get("QUANTDESK_MAILBOX_DIR")? {
            self.mail.mailbox_dir = v;
        }
        if let Some(v) = get("QUANTDESK_DEMO_PASSWORD")? {
            self.auth.demo_password = Secret::new(v);
        }
        if let Some(v) = get("QUANTDESK_BACKUP_DIR")? {
            self.backups.backup_dir = v;
        }
        if let Some(v) = get("QUANTDESK_BACKUP_CRON")? {
            self.backups.backup_cron = v;
        }
        if let Some(v) = get("QUANTDESK_BACKUP_KEEP_DAILY")? {
            self.backups.backup_keep_daily = parse("QUANTDESK_BACKUP_KEEP_DAILY", &v)?;
        }
        if let Some(v) = get("QUANTDESK_BACKUP_KEEP_WEEKLY")? {
            self.backups.backup_keep_weekly = parse("QUANTDESK_BACKUP_KEEP_WEEKLY", &v)?;
        }
        if let Some(v) = get("QUANTDESK_WATCHLIST_MAX_SYMBOLS_FREE")? {
            self.watchlists.max_symbols_free = parse("QUANTDESK_WATCHLIST_MAX_SYMBOLS_FREE", &v)?;
        }
        if let Some(v) = get("QUANTDESK_WATCHLIST_MAX_LISTS")? {
            self.watchlists.max_lists = parse("QUANTDESK_WATCHLIST_MAX_LISTS", &v)?;
        }
        let s = &mut self.sources;
        if let Some(v) = get("QUANTDESK_TUSHARE_TOKEN")? {
            s.tushare_token = Secret::new(v.trim());
        }
        if let Some(v) = get("QUANTDESK_TUSHARE_URL")? {
            s.tushare_url = v;
        }
        if let Some(v) = get("QUANTDESK_EASTMONEY_URL")? {
            s.eastmoney_url = v;
        }
        if let Some(v) = get("QUANTDESK_YAHOO_URL")? {
            s.yahoo_url = v;
        }
        if let Some(v) = get("QUANTDESK_DATA_SOURCES")? {
            s.data_sources = list(&v);
        }
        if let Some(v) = get("QUANTDESK_TUSHARE_CALLS_PER_MINUTE")? {
            s.tushare_calls_per_minute = parse("QUANTDESK_TUSHARE_CALLS_PER_MINUTE", &v)?;
        }
        if let Some(v) = get("QUANTDESK_EASTMONEY_CALLS_PER_MINUTE")? {
            s.eastmoney_calls_per_minute = parse("QUANTDESK_EASTMONEY_CALLS_PER_MINUTE", &v)?;
        }
        if let Some(v) = get("QUANTDESK_YAHOO_CALLS_PER_MINUTE")? {
            s.yahoo_calls_per_minute = parse("QUANTDESK_YAHOO_CALLS_PER_MINUTE", &v)?;
        }
        if let Some(v) = get("QUANTDESK_SOURCE_TIMEOUT_SECS")? {
            s.source_timeout_secs = parse("QUANTDESK_SOURCE_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_SOURCE_RETRIES")? {
            s.source_retries = parse("QUANTDESK_SOURCE_RETRIES", &v)?;
        }
        if let Some(v) = get("QUANTDESK_SYNC_CRON")? {
            s.sync_cron = v;
        }
        if let Some(v) = get("QUANTDESK_QUOTE_CACHE_SECS")? {
            s.quote_cache_secs = parse("QUANTDESK_QUOTE_CACHE_SECS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_LIVE_QUOTES")? {
            s.live_quotes = flag(&v);
        }
        let l = &mut self.llm;
        if let Some(v) = get("QUANTDESK_LLM_BASE_URL")? {
            l.llm_base_url = v.trim().to_string();
        }
        if let Some(v) = get("QUANTDESK_LLM_API_KEY")? {
            l.llm_api_key = Secret::new(v.trim());
        }
        if let Some(v) = get("QUANTDESK_LLM_MODEL")? {
            l.llm_model = v.trim().to_string();
        }
        if let Some(v) = get("QUANTDESK_LLM_SECRET_KEY")? {
            l.llm_secret_key = Secret::new(v.trim());
        }
        if let Some(v) = get("QUANTDESK_LLM_TIMEOUT_SECS")? {
            l.llm_timeout_secs = parse("QUANTDESK_LLM_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_LLM_RETRIES")? {
            l.llm_retries = parse("QUANTDESK_LLM_RETRIES", &v)?;
        }
        let c = &mut self.coins;
        for (name, field) in [
            ("QUANTDESK_SIGNUP_COINS", &mut c.signup_coins),
            ("QUANTDESK_CHECKIN_BASE", &mut c.checkin_base),
            ("QUANTDESK_CHECKIN_STEP", &mut c.checkin_step),
            ("QUANTDESK_CHECKIN_CAP", &mut c.checkin_cap),
            ("QUANTDESK_COST_REPORT", &mut c.cost_report),
            ("QUANTDESK_COST_BATCH_SYMBOL", &mut c.cost_batch_symbol),
        ] {
            if let Some(v) = get(name)? {
                *field = parse(name, &v)?;
            }
        }
        if let Some(v) = get("QUANTDESK_COINS_ADMINS_EXEMPT")? {
            c.admins_exempt = flag(&v);
        }
        if let Some(v) = get("QUANTDESK_DEFAULT_TIME_ZONE")? {
            c.default_time_zone = v.trim().to_string();
        }
        let p = &mut self.payments;
        if let Some(v) = get("QUANTDESK_PAYMENTS_MOCK")? {
            p.payments_mock = flag(&v);
        }
        if let Some(v) = get("QUANTDESK_PAYMENTS_MOCK_FORCE")? {
            p.payments_mock_force = flag(&v);
        }
        if let Some(v) = get("QUANTDESK_PAYMENTS_WEBHOOK_SECRET")? {
            p.payments_webhook_secret = Secret::new(v.trim());
        }
        if let Some(v) = get("QUANTDESK_WECHAT_API_KEY")? {
            p.wechat_api_key = Secret::new(v.trim());
        }
        if let Some(v) = get("QUANTDESK_PAYMENTS_WEBHOOK_TOLERANCE_SECS")? {
            p.payments_webhook_tolerance_secs = parse("QUANTDESK_PAYMENTS_WEBHOOK_TOLERANCE_SECS", &v)?;
        }
        if let Some(v) = get("QUANTDESK_ORDER_TTL_MINS")? {
            p.order_ttl_mins = parse("QUANTDESK_ORDER_TTL_MINS", &v)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database.database_url.expose();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError("database_url must start with sqlite: or postgres://".into()));
        }
        let redis = self.cache.redis_url.expose();
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(ConfigError("redis_url must start with redis://".into()));
        }
        if self.database.database_max_connections == 0 {
            return Err(ConfigError("database_max_connections must be at least 1".into()));
        }
        if self.jobs.job_lease_secs < 2 {
            return Err(ConfigError("job_lease_secs must be at least 2".into()));
        }
        if quantdesk_store::auth::Role::parse(&self.auth.signup_role).is_none() {
            return Err(ConfigError("signup_role must be viewer, analyst or admin".into()));
        }
        for (name, list) in
            [("allow_cidrs", &self.server.allow_cidrs), ("trusted_proxies", &self.server.trusted_proxies)]
        {
            for c in list {
                parse_cidr(c).map_err(|e| ConfigError(format!("{name}: {e}")))?;
            }
        }
        if self.server.rate_limit_per_minute == 0 || self.server.rate_limit_ip_per_minute == 0 {
            return Err(ConfigError("rate limits must be at least 1 request per minute".into()));
        }
        if self.auth.credential_cache_ms > 60_000 {
            return Err(ConfigError(
                "credential_cache_ms must be at most 60000 (a revoked key must stop working within a minute)".into(),
            ));
        }
        if self.auth.session_idle_mins == 0 || self.auth.session_max_hours == 0 {
            return Err(ConfigError("session_idle_mins and session_max_hours must be at least 1".into()));
        }
        if !self.backups.backup_cron.trim().is_empty() {
            if self.backups.backup_dir.trim().is_empty() {
                return Err(ConfigError("backup_cron needs backup_dir: the folder the scheduled backups go to".into()));
            }
            <croner::Cron as std::str::FromStr>::from_str(&self.backups.backup_cron).map_err(|e| {
                ConfigError(format!("backup_cron {:?} is not a cron expression: {e}", self.backups.backup_cron))
            })?;
        }
        if self.server.max_upload_bytes < 1024 {
            return Err(ConfigError("max_upload_bytes must be at least 1024".into()));
        }
        if self.watchlists.max_symbols_free == 0 || self.watchlists.max_lists == 0 {
            return Err(ConfigError("watchlists: max_symbols_free and max_lists must be at least 1".into()));
        }
        if self.server.imports_per_user == 0 {
            return Err(ConfigError("imports_per_user must be at least 1".into()));
        }
        let s = &self.sources;
        for name in &s.data_sources {
            if !["tushare", "eastmoney", "yahoo"].contains(&name.as_str()) {
                return Err(ConfigError(format!(
                    "data_sources: unknown source {name:?} (expected tushare, eastmoney, yahoo)"
                )));
            }
        }
        for (name, url) in
            [("tushare_url", &s.tushare_url), ("eastmoney_url", &s.eastmoney_url), ("yahoo_url", &s.yahoo_url)]
        {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError(format!("{name} must start with http:// or https://")));
            }
        }
        if s.source_timeout_secs == 0 {
            return Err(ConfigError("source_timeout_secs must be at least 1".into()));
        }
        if !s.sync_cron.trim().is_empty() {
            <croner::Cron as std::str::FromStr>::from_str(&s.sync_cron)
                .map_err(|e| ConfigError(format!("sync_cron {:?} is not a cron expression: {e}", s.sync_cron)))?;
        }
        let l = &self.llm;
        let base = l.llm_base_url.trim();
        if !(base.is_empty() || base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ConfigError("llm_base_url must start with http:// or https://".into()));
        }
        if !base.is_empty() && l.llm_model.trim().is_empty() {
            return Err(ConfigError("llm_base_url needs llm_model: the model the default provider calls".into()));
        }
        if base.is_empty() && !(l.llm_model.trim().is_empty() && l.llm_api_key.expose().is_empty()) {
            return Err(ConfigError("llm_model and llm_api_key need llm_base_url: the endpoint they are for".into()));
        }
        let secret = l.llm_secret_key.expose();
        if !secret.is_empty() && secret.chars().count() < 16 {
            return Err(ConfigError("llm_secret_key must be at least 16 characters".into()));
        }
        if l.llm_timeout_secs == 0 {
            return Err(ConfigError("llm_timeout_secs must be at least 1".into()));
        }
        let c = &self.coins;
        for (name, v) in [
            ("signup_coins", c.signup_coins),
            ("checkin_base", c.checkin_base),
            ("checkin_step", c.checkin_step),
            ("checkin_cap", c.checkin_cap),
            ("cost_report", c.cost_report),
            ("cost_batch_symbol", c.cost_batch_symbol),
        ] {
            if !(0..=1_000_000_000).contains(&v) {
                return Err(ConfigError(format!("{name} must be a whole number of coins from 0 to 1000000000")));
            }
        }
        let p = &self.payments;
        if p.payments_mock && self.server.tls && !p.payments_mock_force {
            return Err(ConfigError(
                "payments_mock is for development and refused with tls = true (set payments_mock_force to insist)"
                    .into(),
            ));
        }
        if !(1..=3600).contains(&p.payments_webhook_tolerance_secs) || !(1..=10_080).contains(&p.order_ttl_mins) {
            return Err(ConfigError(
                "payments_webhook_tolerance_secs must be 1 to 3600 and order_ttl_mins 1 to 10080".into(),
            ));
        }
        if c.default_time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError(format!(
                "default_time_zone {:?} is not an IANA time zone (Asia/Shanghai, Europe/Berlin…)",
                c.default_time_zone
            )));
        }
        Ok(())
    }

    /// The configuration as TOML with secrets redacted, for `quantdesk config print`.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn coins_are_layered_and_checked() {
        let c = Config::load(None, &env_of(&[]), &Overrides::default()).unwrap().coins;
        assert_eq!((c.signup_coins, c.checkin_base, c.checkin_step, c.checkin_cap), (20, 20, 2, 50));
        assert_eq!((c.cost_report, c.cost_batch_symbol, c.admins_exempt), (10, 10, true));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "[coins]\ncost_report = 0\ncheckin_cap = 30\n").unwrap();
        let env = env_of(&[("QUANTDESK_CHECKIN_CAP", "40"), ("QUANTDESK_COINS_ADMINS_EXEMPT", "false")]);
        let c = Config::load(Some(&file), &env, &Overrides::default()).unwrap().coins;
        assert_eq!((c.cost_report, c.checkin_cap, c.admins_exempt), (0, 40, false), "an operation can be free");
        for (k, v) in [("QUANTDESK_COST_REPORT", "-1"), ("QUANTDESK_DEFAULT_TIME_ZONE", "Mars/Olympus")] {
            let e = Config::load(None, &env_of(&[(k, v)]), &Overrides::default()).unwrap_err();
            assert!(e.0.contains("report") || e.0.contains("time_zone"), "{e}");
        }
    }

    #[test]
    fn the_mock_provider_is_off_by_default_and_refused_over_tls() {
        let p = Config::load(None, &env_of(&[]), &Overrides::default()).unwrap().payments;
        assert!(!p.payments_mock && p.payments_webhook_secret.expose().is_empty());
        let mock = [("QUANTDESK_PAYMENTS_MOCK", "true"), ("QUANTDESK_TLS", "true")];
        let e = Config::load(None, &env_of(&mock), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("payments_mock"), "{e}");
        let forced = [mock[0], mock[1], ("QUANTDESK_PAYMENTS_MOCK_FORCE", "1")];
        assert!(Config::load(None, &env_of(&forced), &Overrides::default()).unwrap().payments.payments_mock);
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("whsec");
        std::fs::write(&secret, "whsec_test_123\n").unwrap();
        let env = env_of(&[("QUANTDESK_PAYMENTS_WEBHOOK_SECRET_FILE", secret.to_str().unwrap())]);
        let c = Config::load(None, &env, &Overrides::default()).unwrap();
        assert_eq!(c.payments.payments_webhook_secret.expose(), "whsec_test_123");
        let printed = c.to_redacted_toml();
        assert!(printed.contains("payments_webhook_secret = \"***\"") && !printed.contains("whsec_test"), "{printed}");
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"0.0.0.0:9000\"\n[log]\nlog_level = \"debug\"\n[cache]\ncache_ttl_secs = 7\n",
        )
        .unwrap();
        let env = env_of(&[("QUANTDESK_LOG_LEVEL", "warn"), ("QUANTDESK_LISTEN", "127.0.0.1:9100")]);
        let flags = Overrides { listen: Some("127.0.0.1:9200".parse().unwrap()), ..Default::default() };
        let c = Config::load(Some(&file), &env, &flags).unwrap();
        assert_eq!(c.cache.cache_ttl_secs, 7, "file beats default");
        assert_eq!(c.log.log_level, "warn", "env beats file");
        assert_eq!(c.server.listen.port(), 9200, "flag beats env");
    }

    #[test]
    fn file_variants_read_secrets_and_print_redacts_them() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db");
        std::fs::write(&secret, "postgres://app:hunter22@db/quantdesk\n").unwrap();
        let path = secret.display().to_string();
        let env = env_of(&[("QUANTDESK_DATABASE_URL_FILE", path.as_str())]);
        let c = Config::load(None, &env, &Overrides::default()).unwrap();
        assert_eq!(c.database.database_url.expose(), "postgres://app:hunter22@db/quantdesk");
        let printed = c.to_redacted_toml();
        assert!(!printed.contains("hunter22"), "{printed}");
        assert!(printed.contains("database_url = \"***\""));
        assert!(!format!("{c:?}").contains("hunter22"));
    }

    #[test]
    fn watchlist_limits_are_layered_and_checked() {
        let d = Config::default().watchlists;
        assert_eq!((d.max_symbols_free, d.max_lists), (20, 10));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "[watchlists]\nmax_symbols_free = 30\nmax_lists = 4\n").unwrap();
        let c = Config::load(Some(&file), &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!((c.watchlists.max_symbols_free, c.watchlists.max_lists), (30, 4));
        let c = Config::load(Some(&file), &env_of(&[("QUANTDESK_WATCHLIST_MAX_LISTS", "7")]), &Overrides::default())
            .unwrap();
        assert_eq!((c.watchlists.max_symbols_free, c.watchlists.max_lists), (30, 7), "env beats file");
        let e = Config::load(None, &env_of(&[("QUANTDESK_WATCHLIST_MAX_SYMBOLS_FREE", "0")]), &Overrides::default())
            .unwrap_err();
        assert!(e.0.contains("max_symbols_free"), "{e}");
    }

    #[test]
    fn jobs_per_owner_is_automatic_by_default_and_layered() {
        assert_eq!(Config::default().jobs.jobs_per_owner, 0, "0: derived from the worker concurrency");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "[jobs]\njobs_per_owner = 3\n").unwrap();
        let c = Config::load(Some(&file), &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.jobs.jobs_per_owner, 3);
        let c =
            Config::load(Some(&file), &env_of(&[("QUANTDESK_JOBS_PER_OWNER", "5")]), &Overrides::default()).unwrap();
        assert_eq!(c.jobs.jobs_per_owner, 5, "env beats file");
        let e = Config::load(None, &env_of(&[("QUANTDESK_JOBS_PER_OWNER", "-1")]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("QUANTDESK_JOBS_PER_OWNER"));
    }

    #[test]
    fn imports_per_user_defaults_to_two_and_is_layered() {
        assert_eq!(Config::default().server.imports_per_user, 2);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "[server]\nimports_per_user = 3\n").unwrap();
        let c = Config::load(Some(&file), &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.server.imports_per_user, 3);
        let c =
            Config::load(Some(&file), &env_of(&[("QUANTDESK_IMPORTS_PER_USER", "5")]), &Overrides::default()).unwrap();
        assert_eq!(c.server.imports_per_user, 5, "env beats file");
        let e = Config::load(None, &env_of(&[("QUANTDESK_IMPORTS_PER_USER", "0")]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("imports_per_user"), "{}", e.0);
        let e = Config::load(None, &env_of(&[("QUANTDESK_IMPORTS_PER_USER", "x")]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("QUANTDESK_IMPORTS_PER_USER"), "{}", e.0);
    }

    #[test]
    fn cpu_pool_is_sized_by_cores_by_default_and_layered() {
        let d = Config::default();
        assert_eq!((d.server.cpu_workers, d.server.cpu_queue), (0, 32), "0: the number of cores");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "[server]\ncpu_workers = 3\ncpu_queue = 8\n").unwrap();
        let c = Config::load(Some(&file), &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!((c.server.cpu_workers, c.server.cpu_queue), (3, 8));
        let env = env_of(&[("QUANTDESK_CPU_WORKERS", "1"), ("QUANTDESK_CPU_QUEUE", "0")]);
        let c = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!((c.server.cpu_workers, c.server.cpu_queue), (1, 0), "env beats file");
        let e = Config::load(None, &env_of(&[("QUANTDESK_CPU_QUEUE", "many")]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("QUANTDESK_CPU_QUEUE"));
    }

    #[test]
    fn sources_are_layered_and_the_token_never_prints() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "tok-secret-123\n").unwrap();
        let env = env_of(&[
            ("QUANTDESK_TUSHARE_TOKEN_FILE", token_file.to_str().unwrap()),
            ("QUANTDESK_TUSHARE_URL", "http://127.0.0.1:9/"),
            ("QUANTDESK_DATA_SOURCES", "eastmoney, tushare"),
        ]);
        let cfg = Config::load(None, &env, &Overrides::default()).unwrap();
        assert_eq!(cfg.sources.tushare_token.expose(), "tok-secret-123");
        assert_eq!(cfg.sources.tushare_url, "http://127.0.0.1:9/");
        assert_eq!(cfg.sources.data_sources, vec!["eastmoney", "tushare"]);
        assert_eq!(cfg.sources.tushare_calls_per_minute, 200);
        let printed = cfg.to_redacted_toml();
        assert!(!printed.contains("tok-secret-123") && !format!("{cfg:?}").contains("tok-secret-123"));
        assert!(printed.contains("[sources]"), "{printed}");
        let e =
            Config::load(None, &env_of(&[("QUANTDESK_DATA_SOURCES", "bloomberg")]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("bloomberg"), "{}", e.0);
        let e = Config::load(None, &env_of(&[("QUANTDESK_SYNC_CRON", "every evening")]), &Overrides::default())
            .unwrap_err();
        assert!(e.0.contains("sync_cron"), "{}", e.0);
    }

    #[test]
    fn llm_is_layered_and_its_secrets_never_print() {
        assert!(Config::default().llm.llm_base_url.is_empty(), "no provider by default: reports are offline");
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("llm_key");
        std::fs::write(&key_file, "sk-llm-secret-777\n").unwrap();
        let secret_file = dir.path().join("llm_secret");
        std::fs::write(&secret_file, "master-secret-0123456789\n").unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "[llm]\nllm_model = \"from-file\"\nllm_timeout_secs = 30\n").unwrap();
        let env = env_of(&[
            ("QUANTDESK_LLM_BASE_URL", "https://api.deepseek.com/v1"),
            ("QUANTDESK_LLM_API_KEY_FILE", key_file.to_str().unwrap()),
            ("QUANTDESK_LLM_MODEL", "deepseek-chat"),
            ("QUANTDESK_LLM_SECRET_KEY_FILE", secret_file.to_str().unwrap()),
        ]);
        let cfg = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(cfg.llm.llm_api_key.expose(), "sk-llm-secret-777");
        assert_eq!(cfg.llm.llm_secret_key.expose(), "master-secret-0123456789");
        assert_eq!((cfg.llm.llm_model.as_str(), cfg.llm.llm_timeout_secs), ("deepseek-chat", 30), "env beats file");
        let printed = cfg.to_redacted_toml();
        assert!(printed.contains("[llm]") && printed.contains("llm_api_key = \"***\""), "{printed}");
        for shown in [printed, format!("{cfg:?}")] {
            assert!(!shown.contains("sk-llm-secret-777") && !shown.contains("master-secret"), "{shown}");
        }
        let e = Config::load(None, &env_of(&[("QUANTDESK_LLM_BASE_URL", "https://x/v1")]), &Overrides::default())
            .unwrap_err();
        assert!(e.0.contains("llm_model"), "{}", e.0);
        let e =
            Config::load(None, &env_of(&[("QUANTDESK_LLM_BASE_URL", "ftp://x")]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("llm_base_url"), "{}", e.0);
        let e =
            Config::load(None, &env_of(&[("QUANTDESK_LLM_SECRET_KEY", "short")]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("llm_secret_key") && !e.0.contains("short"), "{}", e.0);
        let e = Config::load(None, &env_of(&[("QUANTDESK_LLM_MODEL", "m")]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("llm_base_url"), "{}", e.0);
    }

    #[test]
    fn bad_values_are_named() {
        let env = env_of(&[("QUANTDESK_LISTEN", "not-an-address")]);
        let e = Config::load(None, &env, &Overrides::default()).unwrap_err();
        assert!(e.0.contains("QUANTDESK_LISTEN"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&file), &env_of(&[]), &Overrides::default()).unwrap_err();
        assert!(e.0.contains("lisen"), "{}", e.0);
        let env = env_of(&[("QUANTDESK_DATABASE_URL", "mysql://x")]);
        assert!(Config::load(None, &env, &Overrides::default()).is_err());
    }
}
