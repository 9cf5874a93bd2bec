-- Market data: instruments, bars, adjustment factors, trading calendar.
CREATE TABLE IF NOT EXISTS instruments (
    symbol      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    abbrev      TEXT NOT NULL DEFAULT '',
    exchange    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    board       TEXT NOT NULL DEFAULT '',
    currency    TEXT NOT NULL,
    lot_size    BIGINT NOT NULL,
    tick_size   DOUBLE PRECISION NOT NULL,
    price_limit DOUBLE PRECISION,
    list_date   DATE,
    delist_date DATE,
    session     TEXT NOT NULL,
    timezone    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instruments_abbrev ON instruments (abbrev);

CREATE TABLE IF NOT EXISTS bars (
    symbol     TEXT NOT NULL,
    resolution TEXT NOT NULL,
    ts         BIGINT NOT NULL,
    open       DOUBLE PRECISION NOT NULL,
    high       DOUBLE PRECISION NOT NULL,
    low        DOUBLE PRECISION NOT NULL,
    close      DOUBLE PRECISION NOT NULL,
    volume     DOUBLE PRECISION NOT NULL,
    amount     DOUBLE PRECISION NOT NULL,
    CHECK (high >= low),
    PRIMARY KEY (symbol, resolution, ts)
);

CREATE TABLE IF NOT EXISTS adj_factors (
    symbol TEXT NOT NULL,
    date   DATE NOT NULL,
    factor DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (symbol, date)
);

CREATE TABLE IF NOT EXISTS trading_calendar (
    exchange TEXT NOT NULL,
    date     DATE NOT NULL,
    PRIMARY KEY (exchange, date)
);

-- One row per stored (symbol, resolution): what exists, without scanning bars.
CREATE TABLE IF NOT EXISTS series (
    symbol     TEXT NOT NULL,
    resolution TEXT NOT NULL,
    first_ts   BIGINT NOT NULL,
    last_ts    BIGINT NOT NULL,
    bar_count  BIGINT NOT NULL,
    PRIMARY KEY (symbol, resolution)
);
