-- Market data from real sources: what the instrument masters tell beyond the basics, financial
-- statements kept per revision, and the calls made to outside sources.
ALTER TABLE instruments ADD COLUMN industry TEXT NOT NULL DEFAULT '';
ALTER TABLE instruments ADD COLUMN area TEXT NOT NULL DEFAULT '';
ALTER TABLE instruments ADD COLUMN controller TEXT NOT NULL DEFAULT '';

-- One row per revision of one period of one statement. `fields` is the JSON object of every
-- field the source gave. `known_on` is f_ann_date, else ann_date, else period: the day the row
-- became public, which as-of reads filter on. The id only orders backups (the key has NULLs,
-- which the two engines sort differently).
CREATE TABLE IF NOT EXISTS statements (
    id          INTEGER PRIMARY KEY,
    symbol      TEXT NOT NULL,
    statement   TEXT NOT NULL,
    period      TEXT NOT NULL,
    report_type TEXT NOT NULL DEFAULT '',
    end_type    TEXT NOT NULL DEFAULT '',
    update_flag TEXT NOT NULL DEFAULT '',
    ann_date    TEXT,
    f_ann_date  TEXT,
    known_on    TEXT NOT NULL,
    fields      TEXT NOT NULL
);
-- NULLs never collide in a unique index, so missing dates take a sentinel in the key. The
-- same expressions name the key in `ON CONFLICT`, on both engines.
CREATE UNIQUE INDEX IF NOT EXISTS statements_key ON statements
    (symbol, statement, period, report_type, end_type, update_flag,
     COALESCE(ann_date, '0001-01-01'), COALESCE(f_ann_date, '0001-01-01'));
CREATE INDEX IF NOT EXISTS statements_known ON statements (symbol, statement, known_on);

-- Calls to one outside source on one day (UTC), with the latest success and failure that day.
CREATE TABLE IF NOT EXISTS source_calls (
    source          TEXT NOT NULL,
    day             TEXT NOT NULL,
    calls           INTEGER NOT NULL DEFAULT 0,
    last_success_ms INTEGER,
    last_error_ms   INTEGER,
    last_error      TEXT,
    PRIMARY KEY (source, day)
) WITHOUT ROWID;
