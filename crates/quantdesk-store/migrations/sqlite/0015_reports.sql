-- Research reports (issue 19): prompt templates, one row per version (an edit is a new version;
-- a report keeps the version it used), and reports, the source of truth every replica reads.
-- `is_default` marks every version of the default template of a kind and language; `uses`
-- counts the reports written with a version. A report holds its Markdown, the full context
-- (JSON), the warnings of the citation check (JSON array) and what the generation cost.
CREATE TABLE IF NOT EXISTS prompt_templates (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    lang        TEXT NOT NULL,
    system      TEXT NOT NULL,
    user_text   TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    uses        INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE IF NOT EXISTS reports (
    id              INTEGER PRIMARY KEY,
    owner           TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    report_date     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    lang            TEXT NOT NULL,
    industry        TEXT NOT NULL DEFAULT '',
    provider        TEXT NOT NULL,
    model           TEXT NOT NULL,
    prompt_id       INTEGER,
    prompt_name     TEXT NOT NULL DEFAULT '',
    prompt_version  INTEGER NOT NULL DEFAULT 0,
    markdown        TEXT NOT NULL,
    context         TEXT NOT NULL,
    warnings        TEXT NOT NULL DEFAULT '[]',
    tokens_in       INTEGER NOT NULL DEFAULT 0,
    tokens_out      INTEGER NOT NULL DEFAULT 0,
    latency_ms      INTEGER NOT NULL DEFAULT 0,
    job_id          INTEGER,
    created_at      INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS reports_by_owner ON reports (owner, created_at);
CREATE INDEX IF NOT EXISTS reports_by_symbol ON reports (symbol, report_date);
