-- Market data: instruments, bars, adjustment factors, trading calendar.
CREATE TABLE IF NOT EXISTS instruments (
    symbol      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    abbrev      TEXT NOT NULL DEFAULT '',
    exchange    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    board       TEXT NOT NULL DEFAULT '',
    currency    TEXT NOT NULL,
    lot_size    INTEGER NOT NULL,
    tick_size   REAL NOT NULL,
    price_limit REAL,
    list_date   TEXT,
    delist_date TEXT,
    session     TEXT NOT NULL,
    timezone    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instruments_abbrev ON instruments (abbrev);

-- One row per stored (symbol, resolution): its id keys the bars, and it summarises them so
-- nothing has to scan bars to learn what exists.
CREATE TABLE IF NOT EXISTS series (
    id         INTEGER PRIMARY KEY,
    symbol     TEXT NOT NULL,
    resolution TEXT NOT NULL,
    first_ts   INTEGER NOT NULL,
    last_ts    INTEGER NOT NULL,
    bar_count  INTEGER NOT NULL,
    -- Bumped by every write, so caches keyed by it never serve replaced bars.
    version    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (symbol, resolution)
);

CREATE TABLE IF NOT EXISTS bars (
    series_id  INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    open       REAL NOT NULL,
    high       REAL NOT NULL,
    low        REAL NOT NULL,
    close      REAL NOT NULL,
    volume     REAL NOT NULL,
    amount     REAL NOT NULL,
    CHECK (high >= low),
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS adj_factors (
    symbol TEXT NOT NULL,
    date   TEXT NOT NULL,
    factor REAL NOT NULL,
    PRIMARY KEY (symbol, date)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS trading_calendar (
    exchange TEXT NOT NULL,
    date     TEXT NOT NULL,
    PRIMARY KEY (exchange, date)
) WITHOUT ROWID;

