//! The cache shared between replicas, in Redis: rendered datafeed answers, so that a chart polled
//! through several API replicas is computed once. Optional and never required: every call has a
//! short deadline, failures count as misses, and a lost connection is retried at most every few
//! seconds. `/readyz` reports Redis as `degraded` (not down) when it does not answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

const DEADLINE: Duration = Duration::from_millis(150);
const RETRY: Duration = Duration::from_secs(3);

/// A Redis connection that may come and go.
#[derive(Clone)]
pub struct SharedCache {
    client: redis::Client,
    conn: Arc<Mutex<(Option<ConnectionManager>, Option<Instant>)>>,
}

impl SharedCache {
    /// Prepares a cache for `url` (`redis://host:port/db`); connects on first use.
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(SharedCache { client: redis::Client::open(url)?, conn: Arc::new(Mutex::new((None, None))) })
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = &guard.0 {
            return Some(c.clone());
        }
        if guard.1.is_some_and(|t| t.elapsed() < RETRY) {
            return None;
        }
        guard.1 = Some(Instant::now());
        match tokio::time::timeout(Duration::from_millis(500), self.client.get_connection_manager()).await {
            Ok(Ok(c)) => {
                guard.0 = Some(c.clone());
                Some(c)
            }
            _ => None,
        }
    }

    async fn forget(&self) {
        let mut guard = self.conn.lock().await;
        guard.0 = None;
        guard.1 = Some(Instant::now());
    }

    /// A cached value, or `None` (missing, or Redis unavailable).
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut c = self.connection().await?;
        match tokio::time::timeout(DEADLINE, redis::cmd("GET").arg(key).query_async::<Option<Vec<u8>>>(&mut c)).await {
            Ok(Ok(v)) => v,
            _ => {
                metrics::counter!("redis_errors_total").increment(1);
                self.forget().await;
                None
            }
        }
    }

    /// Stores a value for `ttl`; failures are ignored (the database remains the truth).
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        let Some(mut c) = self.connection().await else { return };
        let cmd = redis::cmd("SET").arg(key).arg(value).arg("PX").arg(ttl.as_millis() as u64).to_owned();
        if !matches!(tokio::time::timeout(DEADLINE, cmd.query_async::<()>(&mut c)).await, Ok(Ok(()))) {
            metrics::counter!("redis_errors_total").increment(1);
            self.forget().await;
        }
    }

    /// PING with its latency, for readiness.
    pub async fn ping(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let Some(mut c) = self.connection().await else { return Err("not connected".into()) };
        match tokio::time::timeout(DEADLINE, redis::cmd("PING").query_async::<String>(&mut c)).await {
            Ok(Ok(_)) => Ok(started.elapsed()),
            _ => {
                self.forget().await;
                Err("no answer".into())
            }
        }
    }
}
