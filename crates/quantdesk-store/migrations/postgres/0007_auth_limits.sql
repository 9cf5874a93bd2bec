-- Abuse limits that concurrency cannot race: one row per limited key (a login from an address,
-- codes issued to an account, wrong code guesses, …) holding its window, the attempts taken in it
-- and the last one. Attempts are taken with a compare-and-set before any password or code is
-- checked. Keys `known:<email>|<address>` remember addresses an account signed in from.
CREATE TABLE IF NOT EXISTS auth_counters (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    n            BIGINT NOT NULL,
    last_at      BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_counters_last ON auth_counters (last_at);

-- A sign-up's password hash travels with its code: the account is created only when the code is
-- confirmed, so nobody but the code's holder can set a pending account's password.
ALTER TABLE email_codes ADD COLUMN secret TEXT NOT NULL DEFAULT '';
