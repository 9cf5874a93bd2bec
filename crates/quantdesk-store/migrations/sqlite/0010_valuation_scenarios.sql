-- Saved valuation scenarios: per user, a name (unique per owner), an optional preset and an
-- overlay of `dotted.path=value` edits (the `--set` vocabulary), kept as a JSON array of those
-- texts in the order they apply. `preset` is '' when the scenario names none.
CREATE TABLE IF NOT EXISTS valuation_scenarios (
    id          INTEGER PRIMARY KEY,
    owner       TEXT NOT NULL,
    name        TEXT NOT NULL,
    preset      TEXT NOT NULL DEFAULT '',
    overlay     TEXT NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (owner, name)
);
