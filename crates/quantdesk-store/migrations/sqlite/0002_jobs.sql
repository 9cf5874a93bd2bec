-- The durable job queue: jobs, their bounded logs and their artifacts.
CREATE TABLE IF NOT EXISTS jobs (
    id               INTEGER PRIMARY KEY,
    owner            TEXT NOT NULL DEFAULT '',
    kind             TEXT NOT NULL,
    queue            TEXT NOT NULL DEFAULT 'default',
    params           TEXT NOT NULL,
    state            TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    timeout_ms       INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    lease_until      INTEGER,
    worker           TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    idempotency_key  TEXT UNIQUE,
    progress_done    INTEGER NOT NULL DEFAULT 0,
    progress_total   INTEGER NOT NULL DEFAULT 0,
    progress_message TEXT NOT NULL DEFAULT '',
    result           TEXT,
    error            TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (state, queue, priority, run_at, id);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, id);

CREATE TABLE IF NOT EXISTS job_logs (
    job_id INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    line   TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS job_artifacts (
    job_id       INTEGER NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (job_id, name)
) WITHOUT ROWID;
