//! Runs a test body against every configured backend.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use quantdesk_store::{PgStore, SqliteStore, Store};

/// The PostgreSQL URL for tests, if configured.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("QUANTDESK_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() {
            panic!(
                "QUANTDESK_TEST_POSTGRES_URL is not set, and QUANTDESK_TEST_REQUIRE_ALL (set by .ci/run) forbids skipping"
            );
        }
        eprintln!("skipped: QUANTDESK_TEST_POSTGRES_URL is not set (the PostgreSQL backend)");
    }
    url
}

/// A fresh SQLite store in a temporary folder (kept alive by the returned guard).
pub async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (Arc::new(SqliteStore::open(&url, 4).await.unwrap()), dir)
}

/// A fresh PostgreSQL store in a schema of its own, dropped afterwards by [`drop_schema`].
pub async fn postgres(url: &str) -> (Arc<dyn Store>, String) {
    let schema = format!("qd_test_{}_{}", std::process::id(), rand_suffix());
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.unwrap();
    admin.close().await;
    let opts = sqlx::postgres::PgConnectOptions::from_str(url).unwrap().options([("search_path", schema.as_str())]);
    (Arc::new(PgStore::open_with(opts, 4).await.unwrap()), schema)
}

pub async fn drop_schema(url: &str, schema: &str) {
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&admin).await.unwrap();
    admin.close().await;
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    u64::from(nanos) * 1000 + N.fetch_add(1, Ordering::Relaxed)
}

/// Runs `body` on SQLite, then on PostgreSQL when configured.
pub async fn each_backend<F, Fut>(body: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let (store, _dir) = sqlite().await;
    body(store).await;
    if let Some(url) = postgres_url() {
        let (store, schema) = postgres(&url).await;
        body(store.clone()).await;
        drop(store);
        drop_schema(&url, &schema).await;
    }
}
