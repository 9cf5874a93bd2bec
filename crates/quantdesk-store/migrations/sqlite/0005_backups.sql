-- Every backup written (by `quantdesk backup` or the scheduled job), newest last: the metrics
-- report the age of the newest so an alert fires when backups stop.
CREATE TABLE IF NOT EXISTS backups (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    file    TEXT NOT NULL,
    bytes   INTEGER NOT NULL,
    row_count INTEGER NOT NULL,
    sha256  TEXT NOT NULL
);
