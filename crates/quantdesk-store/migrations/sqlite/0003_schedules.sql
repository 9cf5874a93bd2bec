-- Schedules (cron in a time zone) and the ticks they fired: the unique key makes each tick fire
-- exactly once however many schedulers run.
CREATE TABLE IF NOT EXISTS schedules (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    cron       TEXT NOT NULL,
    timezone   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    params     TEXT NOT NULL,
    enabled    INTEGER NOT NULL,
    catch_up   INTEGER NOT NULL,
    last_fire  INTEGER,
    created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS schedule_runs (
    schedule_id INTEGER NOT NULL,
    fire_at     INTEGER NOT NULL,
    job_id      INTEGER,
    PRIMARY KEY (schedule_id, fire_at)
);
