-- Whetstone coordinator schema, version 3 (PostgreSQL; mirrors migrations/0003_verdict_ledger.sql):
-- validators decide. Grade slots per run, an append-only ledger of signed verdicts, and the
-- miners' signed claims. SQLite rebuilds `grades` to drop its UNIQUE (run_id); here the
-- constraint is dropped in place.

ALTER TABLE runs ADD COLUMN runner_hotkey TEXT;
ALTER TABLE runs ADD COLUMN patch_digest TEXT;

ALTER TABLE agents ADD COLUMN claimed_at_ms BIGINT;
ALTER TABLE agents ADD COLUMN claim_signature BYTEA;

-- `seq` only grows (a sequence never hands a number out twice); rows are never updated or
-- deleted. One verdict per validator per run: the first is kept.
CREATE TABLE verdicts (
    seq            BIGSERIAL PRIMARY KEY,
    run_id         TEXT NOT NULL REFERENCES runs (run_id),
    validator      TEXT NOT NULL,
    statement      BYTEA NOT NULL,
    signature      BYTEA NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    UNIQUE (run_id, validator)
);

ALTER TABLE grades DROP CONSTRAINT grades_run_id_key;
ALTER TABLE grades ADD COLUMN purpose TEXT NOT NULL DEFAULT 'replica' CHECK (purpose IN ('replica', 'dispute', 'audit'));
ALTER TABLE grades ADD COLUMN validator TEXT;
ALTER TABLE grades ADD COLUMN verdict_seq BIGINT REFERENCES verdicts (seq);
CREATE INDEX grades_by_run ON grades (run_id);
