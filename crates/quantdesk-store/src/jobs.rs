//! The durable job queue's storage: jobs with leases, progress, bounded logs and artifacts.
//!
//! Workers claim a queued job by setting a lease; they renew it with heartbeats. A worker that
//! dies stops renewing, its lease expires, and `requeue_expired` puts the job back (or fails it
//! once its attempts are spent). Every write a worker makes is fenced by its worker id and the
//! `running` state, so a worker that lost its lease cannot overwrite the job's outcome.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub owner: String,
    pub kind: String,
    pub queue: String,
    /// JSON text.
    pub params: String,
    /// Higher runs first.
    pub priority: i32,
    pub max_attempts: u32,
    pub timeout_ms: i64,
    /// Not before this time (Unix milliseconds); now when `None`.
    pub run_at: Option<i64>,
    /// A second enqueue with the same key returns the first job instead of a new one.
    pub idempotency_key: Option<String>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub owner: String,
    pub kind: String,
    pub queue: String,
    pub params: String,
    pub state: JobState,
    pub priority: i32,
    pub attempts: u32,
    pub max_attempts: u32,
    pub timeout_ms: i64,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub worker: Option<String>,
    pub cancel_requested: bool,
    pub idempotency_key: Option<String>,
    pub progress_done: i64,
    pub progress_total: i64,
    pub progress_message: String,
    pub result: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// How a run of a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// With the result as JSON text.
    Succeeded(String),
    /// Retried at `retry_at` when given (and attempts remain), failed otherwise.
    Failed {
        error: String,
        retry_at: Option<i64>,
    },
    Cancelled,
}

/// Filters for listing jobs, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub owner: Option<String>,
    pub state: Option<JobState>,
    pub kind: Option<String>,
    /// Only jobs with a smaller id (paging).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: i64,
    pub name: String,
    /// The user the schedule's jobs run as (`""` for the built-in ones, which only admins see).
    #[serde(default)]
    pub owner: String,
    /// A cron expression (5 fields, or 6 with seconds).
    pub cron: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    pub kind: String,
    pub params: String,
    pub enabled: bool,
    /// Fire the most recent tick missed while nothing ran, once, on start-up.
    pub catch_up: bool,
    /// The last tick handled (fired or skipped), Unix milliseconds.
    pub last_fire: Option<i64>,
    pub created_at: i64,
}

/// Lines kept per job log; older lines are dropped.
pub const LOG_LINES: i64 = 500;

/// Storage of the job queue.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Enqueues a job; returns its id and whether it was created (false: an existing job with
    /// the same idempotency key).
    async fn enqueue(&self, job: &NewJob, now: i64) -> Result<(i64, bool)>;
    async fn job(&self, id: i64) -> Result<Option<Job>>;
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>>;
    /// Claims the most urgent due job of `queues` for `worker`, leasing it until `now + lease_ms`.
    ///
    /// With `per_owner = Some(n)`, the jobs of an owner who already has `n` running jobs (on any
    /// worker) are passed over, so one person's jobs cannot take every worker; jobs without an
    /// owner (`""`: built-in schedules, backups, the command line's) are not capped. Among due
    /// jobs of equal priority, those of owners with fewer running jobs come first. The cap is
    /// exact on both backends: SQLite's single writer runs the whole claim as one write, and on
    /// PostgreSQL capped claims take a transaction-scoped advisory lock first, so two workers
    /// cannot both see an owner below the cap and both claim past it.
    async fn claim(
        &self,
        worker: &str,
        queues: &[String],
        now: i64,
        lease_ms: i64,
        per_owner: Option<u32>,
    ) -> Result<Option<Job>>;
    /// Renews the lease and records progress. `None` when the worker no longer holds the job;
    /// otherwise whether cancellation was requested.
    async fn heartbeat(
        &self,
        id: i64,
        worker: &str,
        lease_until: i64,
        progress: (i64, i64, &str),
    ) -> Result<Option<bool>>;
    /// Records how a run ended. False when the worker no longer held the job.
    async fn finish(&self, id: i64, worker: &str, outcome: &Outcome, now: i64) -> Result<bool>;
    /// Cancels a queued job at once, or asks a running one to stop. Returns the state after.
    async fn cancel(&self, id: i64, now: i64) -> Result<Option<JobState>>;
    /// Puts a failed or cancelled job back in the queue with fresh attempts.
    async fn retry(&self, id: i64, now: i64) -> Result<bool>;
    /// Deletes a finished job (succeeded, failed or cancelled) with its log and artifacts, in one
    /// transaction; a schedule run that made it keeps its tick without the job. `false` when the
    /// job does not exist or has not finished (cancel it first).
    async fn delete_job(&self, id: i64) -> Result<bool>;
    /// Requeues (or fails, when out of attempts) running jobs whose lease has expired.
    async fn requeue_expired(&self, now: i64) -> Result<u64>;
    async fn append_log(&self, id: i64, at: i64, line: &str) -> Result<()>;
    /// The last `limit` log lines, oldest first.
    async fn job_logs(&self, id: i64, limit: i64) -> Result<Vec<(i64, String)>>;
    async fn put_artifact(&self, id: i64, name: &str, content_type: &str, data: &[u8]) -> Result<()>;
    async fn artifact(&self, id: i64, name: &str) -> Result<Option<(String, Vec<u8>)>>;
    /// (name, content type, size) of each artifact.
    async fn artifacts(&self, id: i64) -> Result<Vec<(String, String, i64)>>;
    /// Jobs per (kind, state), for metrics and readiness.
    async fn job_counts(&self) -> Result<Vec<(String, JobState, i64)>>;

    async fn schedules(&self) -> Result<Vec<Schedule>>;
    /// Creates or replaces the schedule called `s.name` (its id and history are kept).
    async fn upsert_schedule(&self, s: &Schedule) -> Result<i64>;
    async fn remove_schedule(&self, name: &str) -> Result<bool>;
    /// Fires tick `fire_at` of a schedule, once: records the tick, enqueues `job` and moves
    /// `last_fire`, all in one transaction. `None` when another scheduler fired it first.
    async fn fire_schedule(&self, schedule_id: i64, fire_at: i64, job: &NewJob, now: i64) -> Result<Option<i64>>;
    /// Moves `last_fire` forward without firing (a missed tick of a schedule without catch-up).
    async fn skip_schedule(&self, schedule_id: i64, fire_at: i64) -> Result<()>;
}

pub(crate) const JOB_COLUMNS: &str = "id, owner, kind, queue, params, state, priority, attempts, max_attempts, timeout_ms, \
     run_at, lease_until, worker, cancel_requested, idempotency_key, progress_done, progress_total, progress_message, \
     result, error, created_at, started_at, finished_at";

pub(crate) fn job_from_row<'r, R>(row: &'r R) -> Result<Job>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = row.try_get(5)?;
    Ok(Job {
        id: row.try_get(0)?,
        owner: row.try_get(1)?,
        kind: row.try_get(2)?,
        queue: row.try_get(3)?,
        params: row.try_get(4)?,
        state: JobState::parse(&state).ok_or_else(|| crate::StoreError::Corrupt(format!("job state {state:?}")))?,
        priority: row.try_get::<i64, _>(6)? as i32,
        attempts: row.try_get::<i64, _>(7)? as u32,
        max_attempts: row.try_get::<i64, _>(8)? as u32,
        timeout_ms: row.try_get(9)?,
        run_at: row.try_get(10)?,
        lease_until: row.try_get(11)?,
        worker: row.try_get(12)?,
        cancel_requested: row.try_get::<i64, _>(13)? != 0,
        idempotency_key: row.try_get(14)?,
        progress_done: row.try_get(15)?,
        progress_total: row.try_get(16)?,
        progress_message: row.try_get(17)?,
        result: row.try_get(18)?,
        error: row.try_get(19)?,
        created_at: row.try_get(20)?,
        started_at: row.try_get(21)?,
        finished_at: row.try_get(22)?,
    })
}

/// The job INSERT shared by `enqueue` and `fire_schedule`; callers append their own tail.
macro_rules! insert_job_sql {
    () => {
        "INSERT INTO jobs (owner, kind, queue, params, state, priority, max_attempts, timeout_ms, run_at, idempotency_key, created_at) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10)"
    };
}

/// Binds a [`NewJob`] to the ten parameters of [`insert_job_sql`].
macro_rules! bind_new_job {
    ($query:expr, $j:expr, $now:expr) => {
        $query
            .bind(&$j.owner)
            .bind(&$j.kind)
            .bind(&$j.queue)
            .bind(&$j.params)
            .bind(i64::from($j.priority))
            .bind(i64::from($j.max_attempts.max(1)))
            .bind($j.timeout_ms)
            .bind($j.run_at.unwrap_or($now))
            .bind(&$j.idempotency_key)
            .bind($now)
    };
}

/// Implements [`JobStore`] for a backend; `$claim` is its claim statement (`$1` worker, `$2`
/// lease end, `$3` now, `$4` queues as a JSON array, `$5` the per-owner cap or NULL), which
/// differs between SQLite and PostgreSQL; `$claim_lock`, when given, is run first in the same
/// transaction by claims with a cap, to serialize them (PostgreSQL).
macro_rules! job_store_impl {
    ($store:ty, $claim:expr, $claim_lock:expr) => {
        #[async_trait::async_trait]
        impl $crate::jobs::JobStore for $store {
            async fn enqueue(&self, j: &$crate::jobs::NewJob, now: i64) -> $crate::Result<(i64, bool)> {
                let sql = concat!(
                    $crate::jobs::insert_job_sql!(),
                    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
                );
                let inserted: Option<i64> = $crate::jobs::bind_new_job!(sqlx::query_scalar(sql), j, now)
                    .fetch_optional(&self.pool)
                    .await?;
                if let Some(id) = inserted {
                    return Ok((id, true));
                }
                let id: i64 = sqlx::query_scalar("SELECT id FROM jobs WHERE idempotency_key = $1")
                    .bind(&j.idempotency_key)
                    .fetch_one(&self.pool)
                    .await?;
                Ok((id, false))
            }

            async fn job(&self, id: i64) -> $crate::Result<Option<$crate::jobs::Job>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM jobs WHERE id = $1", $crate::jobs::JOB_COLUMNS));
                let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::jobs::job_from_row).transpose()
            }

            async fn list_jobs(&self, f: &$crate::jobs::JobFilter) -> $crate::Result<Vec<$crate::jobs::Job>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM jobs WHERE ($1 IS NULL OR owner = $1) AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR kind = $3) \
                     AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
                    $crate::jobs::JOB_COLUMNS
                ));
                let rows = sqlx::query(sql)
                    .bind(f.owner.as_deref())
                    .bind(f.state.map(|s| s.as_str()))
                    .bind(f.kind.as_deref())
                    .bind(f.before_id)
                    .bind(i64::from(f.limit.clamp(1, 1000)))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::jobs::job_from_row).collect()
            }

            async fn claim(
                &self,
                worker: &str,
                queues: &[String],
                now: i64,
                lease_ms: i64,
                per_owner: Option<u32>,
            ) -> $crate::Result<Option<$crate::jobs::Job>> {
                let queues = format!("[{}]", queues.iter().map(|q| format!("{q:?}")).collect::<Vec<_>>().join(","));
                let sql = sqlx::AssertSqlSafe(format!("{} RETURNING {}", $claim, $crate::jobs::JOB_COLUMNS));
                let query = sqlx::query(sql)
                    .bind(worker)
                    .bind(now + lease_ms)
                    .bind(now)
                    .bind(queues)
                    .bind(per_owner.map(i64::from));
                let lock: Option<&'static str> = $claim_lock;
                let row = match (lock, per_owner) {
                    (Some(lock), Some(_)) => {
                        // The lock is taken before the claim's statement starts, so its snapshot
                        // sees every claim committed by the previous holder.
                        let mut tx = self.pool.begin().await?;
                        sqlx::query(lock).execute(&mut *tx).await?;
                        let row = query.fetch_optional(&mut *tx).await?;
                        tx.commit().await?;
                        row
                    }
                    _ => query.fetch_optional(&self.pool).await?,
                };
                row.as_ref().map($crate::jobs::job_from_row).transpose()
            }

            async fn heartbeat(&self, id: i64, worker: &str, lease_until: i64, p: (i64, i64, &str)) -> $crate::Result<Option<bool>> {
                let cancel: Option<i64> = sqlx::query_scalar(
                    "UPDATE jobs SET lease_until = $3, progress_done = $4, progress_total = $5, progress_message = $6 \
                     WHERE id = $1 AND worker = $2 AND state = 'running' RETURNING cancel_requested",
                )
                .bind(id)
                .bind(worker)
                .bind(lease_until)
                .bind(p.0)
                .bind(p.1)
                .bind(p.2)
                .fetch_optional(&self.pool)
                .await?;
                Ok(cancel.map(|c| c != 0))
            }

            async fn finish(&self, id: i64, worker: &str, outcome: &$crate::jobs::Outcome, now: i64) -> $crate::Result<bool> {
                use $crate::jobs::Outcome;
                let q = match outcome {
                    Outcome::Succeeded(result) => sqlx::query(
                        "UPDATE jobs SET state = 'succeeded', result = $3, error = NULL, finished_at = $4, lease_until = NULL \
                         WHERE id = $1 AND worker = $2 AND state = 'running'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(result.clone())
                    .bind(now),
                    Outcome::Failed { error, retry_at } => sqlx::query(
                        "UPDATE jobs SET state = CASE WHEN $4 IS NOT NULL AND attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
                         run_at = COALESCE($4, run_at), error = $3, lease_until = NULL, worker = NULL, \
                         finished_at = CASE WHEN $4 IS NOT NULL AND attempts < max_attempts THEN NULL ELSE $5 END \
                         WHERE id = $1 AND worker = $2 AND state = 'running'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(error.clone())
                    .bind(*retry_at)
                    .bind(now),
                    Outcome::Cancelled => sqlx::query(
                        "UPDATE jobs SET state = 'cancelled', finished_at = $3, lease_until = NULL \
                         WHERE id = $1 AND worker = $2 AND state = 'running'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(now),
                };
                Ok(q.execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn cancel(&self, id: i64, now: i64) -> $crate::Result<Option<$crate::jobs::JobState>> {
                sqlx::query("UPDATE jobs SET state = 'cancelled', finished_at = $2 WHERE id = $1 AND state = 'queued'")
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = $1 AND state = 'running'")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok($crate::jobs::JobStore::job(self, id).await?.map(|j| j.state))
            }

            async fn retry(&self, id: i64, now: i64) -> $crate::Result<bool> {
                let n = sqlx::query(
                    "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, error = NULL, result = NULL, cancel_requested = 0, \
                     finished_at = NULL, worker = NULL WHERE id = $1 AND state IN ('failed', 'cancelled')",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn delete_job(&self, id: i64) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("DELETE FROM jobs WHERE id = $1 AND state IN ('succeeded', 'failed', 'cancelled')")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    sqlx::query("DELETE FROM job_logs WHERE job_id = $1").bind(id).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM job_artifacts WHERE job_id = $1").bind(id).execute(&mut *tx).await?;
                    sqlx::query("UPDATE schedule_runs SET job_id = NULL WHERE job_id = $1").bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(n == 1)
            }

            async fn requeue_expired(&self, now: i64) -> $crate::Result<u64> {
                Ok(sqlx::query(
                    "UPDATE jobs SET state = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
                     error = 'the worker stopped renewing its lease', run_at = $1, worker = NULL, lease_until = NULL, \
                     finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE $1 END \
                     WHERE state = 'running' AND lease_until < $1",
                )
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn append_log(&self, id: i64, at: i64, line: &str) -> $crate::Result<()> {
                // Single statements, no read-then-write transaction: on SQLite such a transaction
                // can fail at once with SQLITE_BUSY when another writer commits in between.
                let seq: i64 = sqlx::query_scalar(
                    "INSERT INTO job_logs (job_id, seq, at, line) \
                     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3 FROM job_logs WHERE job_id = $1 RETURNING seq",
                )
                .bind(id)
                .bind(at)
                .bind(line)
                .fetch_one(&self.pool)
                .await?;
                if seq > $crate::jobs::LOG_LINES {
                    sqlx::query("DELETE FROM job_logs WHERE job_id = $1 AND seq <= $2")
                        .bind(id)
                        .bind(seq - $crate::jobs::LOG_LINES)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(())
            }

            async fn job_logs(&self, id: i64, limit: i64) -> $crate::Result<Vec<(i64, String)>> {
                let mut rows: Vec<(i64, String)> =
                    sqlx::query_as("SELECT at, line FROM job_logs WHERE job_id = $1 ORDER BY seq DESC LIMIT $2")
                        .bind(id)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?;
                rows.reverse();
                Ok(rows)
            }

            async fn put_artifact(&self, id: i64, name: &str, content_type: &str, data: &[u8]) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO job_artifacts (job_id, name, content_type, data) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (job_id, name) DO UPDATE SET content_type = excluded.content_type, data = excluded.data",
                )
                .bind(id)
                .bind(name)
                .bind(content_type)
                .bind(data)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn artifact(&self, id: i64, name: &str) -> $crate::Result<Option<(String, Vec<u8>)>> {
                Ok(sqlx::query_as("SELECT content_type, data FROM job_artifacts WHERE job_id = $1 AND name = $2")
                    .bind(id)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn artifacts(&self, id: i64) -> $crate::Result<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT name, content_type, CAST(LENGTH(data) AS BIGINT) FROM job_artifacts WHERE job_id = $1 ORDER BY name",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn schedules(&self) -> $crate::Result<Vec<$crate::jobs::Schedule>> {
                let rows: Vec<(i64, String, String, String, String, String, i64, i64, Option<i64>, i64, String)> = sqlx::query_as(
                    "SELECT id, name, cron, timezone, kind, params, enabled, catch_up, last_fire, created_at, owner FROM schedules ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::jobs::Schedule {
                        id: r.0,
                        name: r.1,
                        cron: r.2,
                        timezone: r.3,
                        kind: r.4,
                        params: r.5,
                        enabled: r.6 != 0,
                        catch_up: r.7 != 0,
                        last_fire: r.8,
                        created_at: r.9,
                        owner: r.10,
                    })
                    .collect())
            }

            async fn upsert_schedule(&self, s: &$crate::jobs::Schedule) -> $crate::Result<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO schedules (name, cron, timezone, kind, params, enabled, catch_up, last_fire, created_at, owner) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, \
                     timezone = excluded.timezone, kind = excluded.kind, params = excluded.params, enabled = excluded.enabled, \
                     catch_up = excluded.catch_up RETURNING id",
                )
                .bind(&s.name)
                .bind(&s.cron)
                .bind(&s.timezone)
                .bind(&s.kind)
                .bind(&s.params)
                .bind(i64::from(s.enabled))
                .bind(i64::from(s.catch_up))
                .bind(s.last_fire)
                .bind(s.created_at)
                .bind(&s.owner)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn remove_schedule(&self, name: &str) -> $crate::Result<bool> {
                Ok(sqlx::query("DELETE FROM schedules WHERE name = $1").bind(name).execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn fire_schedule(
                &self,
                schedule_id: i64,
                fire_at: i64,
                j: &$crate::jobs::NewJob,
                now: i64,
            ) -> $crate::Result<Option<i64>> {
                let mut tx = self.pool.begin().await?;
                let claimed = sqlx::query(
                    "INSERT INTO schedule_runs (schedule_id, fire_at) VALUES ($1, $2) ON CONFLICT (schedule_id, fire_at) DO NOTHING",
                )
                .bind(schedule_id)
                .bind(fire_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed == 0 {
                    return Ok(None);
                }
                let sql = concat!($crate::jobs::insert_job_sql!(), " RETURNING id");
                let id: i64 = $crate::jobs::bind_new_job!(sqlx::query_scalar(sql), j, now).fetch_one(&mut *tx).await?;
                sqlx::query("UPDATE schedule_runs SET job_id = $3 WHERE schedule_id = $1 AND fire_at = $2")
                    .bind(schedule_id)
                    .bind(fire_at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE schedules SET last_fire = $2 WHERE id = $1 AND (last_fire IS NULL OR last_fire < $2)")
                    .bind(schedule_id)
                    .bind(fire_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(id))
            }

            async fn skip_schedule(&self, schedule_id: i64, fire_at: i64) -> $crate::Result<()> {
                sqlx::query("UPDATE schedules SET last_fire = $2 WHERE id = $1 AND (last_fire IS NULL OR last_fire < $2)")
                    .bind(schedule_id)
                    .bind(fire_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn job_counts(&self) -> $crate::Result<Vec<(String, $crate::jobs::JobState, i64)>> {
                let rows: Vec<(String, String, i64)> =
                    sqlx::query_as("SELECT kind, state, CAST(COUNT(*) AS BIGINT) FROM jobs GROUP BY kind, state ORDER BY kind, state")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().filter_map(|(k, s, n)| $crate::jobs::JobState::parse(&s).map(|s| (k, s, n))).collect())
            }
        }
    };
}

pub(crate) use {bind_new_job, insert_job_sql, job_store_impl};
