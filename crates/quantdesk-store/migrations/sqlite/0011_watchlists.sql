-- Watchlists: named lists of symbols per user. Each user has one default list (`is_default` 1,
-- created on first use; at most one per owner), which cannot be deleted. Names are unique per
-- owner; the default list's name is '' until it is renamed (pages show it as "Default").
-- `watchlist_items` keeps each list's symbols in `position` order (0, 1, 2…); a symbol is in a
-- list at most once. Deleting a list deletes its items (in the same statement's transaction).
CREATE TABLE IF NOT EXISTS watchlists (
    id          INTEGER PRIMARY KEY,
    owner       TEXT NOT NULL,
    name        TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (owner, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS watchlists_one_default ON watchlists (owner) WHERE is_default = 1;

CREATE TABLE IF NOT EXISTS watchlist_items (
    list_id     INTEGER NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    symbol      TEXT NOT NULL,
    position    INTEGER NOT NULL,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (list_id, symbol)
);
