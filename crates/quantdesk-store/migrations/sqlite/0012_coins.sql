-- The coin ledger. `coin_accounts` holds each user's balances (available to spend, frozen by
-- reservations) and the check-in state; `coin_ledger` is append-only: every change of a balance
-- is one row with both changes, the balances before and after, a reason, the related object and
-- an idempotency key unique per user, so the balances can be re-derived (`quantdesk ledger
-- verify`). `coin_reservations` is a report's (or any operation's) frozen cost: held, then
-- captured or released exactly once. Amounts are whole coins.
CREATE TABLE IF NOT EXISTS coin_accounts (
    user_id      INTEGER PRIMARY KEY,
    available    INTEGER NOT NULL DEFAULT 0 CHECK (available >= 0),
    frozen       INTEGER NOT NULL DEFAULT 0 CHECK (frozen >= 0),
    checkin_day  TEXT NOT NULL DEFAULT '',
    streak       INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS coin_ledger (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    amount           INTEGER NOT NULL,
    frozen_change    INTEGER NOT NULL,
    available_before INTEGER NOT NULL,
    available_after  INTEGER NOT NULL,
    frozen_before    INTEGER NOT NULL,
    frozen_after     INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    related          TEXT NOT NULL DEFAULT '',
    idem_key         TEXT NOT NULL,
    actor            TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    UNIQUE (user_id, idem_key)
);
CREATE INDEX IF NOT EXISTS coin_ledger_user ON coin_ledger (user_id, id);

CREATE TABLE IF NOT EXISTS coin_reservations (
    res_key     TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    amount      INTEGER NOT NULL CHECK (amount >= 0),
    state       TEXT NOT NULL CHECK (state IN ('held', 'captured', 'released')),
    related     TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Packages of coins for a price. Prices are exact: whole fen (0.01 CNY). Admins edit them
-- (none at first: a migration writes no rows, so a fresh database restores a backup).
CREATE TABLE IF NOT EXISTS coin_packages (
    package_id  TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    coins       INTEGER NOT NULL CHECK (coins > 0),
    price_fen   INTEGER NOT NULL CHECK (price_fen > 0),
    currency    TEXT NOT NULL DEFAULT 'CNY',
    active      INTEGER NOT NULL DEFAULT 1,
    sort        INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

-- Orders: pending, then exactly once paid, cancelled, expired or refunded. The amount is the
-- package's price when ordered, in fen; a payment for another amount is refused.
CREATE TABLE IF NOT EXISTS coin_orders (
    order_no        TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL,
    package_id      TEXT NOT NULL,
    coins           INTEGER NOT NULL CHECK (coins > 0),
    amount_fen      INTEGER NOT NULL CHECK (amount_fen > 0),
    currency        TEXT NOT NULL,
    payment_method  TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'cancelled', 'expired', 'refunded')),
    provider_ref    TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS coin_orders_user ON coin_orders (user_id, created_at);

-- Every payment notification received, once per (provider, event id): a replayed event is
-- recognised and changes nothing. `outcome` says what it did (credited, duplicate order,
-- unknown order, amount mismatch, final order).
CREATE TABLE IF NOT EXISTS payment_events (
    provider     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    order_no     TEXT NOT NULL,
    amount_fen   INTEGER NOT NULL,
    outcome      TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
);
