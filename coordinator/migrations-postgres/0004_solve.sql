-- Whetstone coordinator schema, version 4 (PostgreSQL; mirrors migrations/0004_solve.sql):
-- the developers' solve API. Only each key's SHA-256 is kept; NULL limits mean the
-- `[solve]` configuration's defaults.
CREATE TABLE solve_keys (
    key_id              TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    key_sha256          TEXT NOT NULL UNIQUE,
    created_at_ms       BIGINT NOT NULL,
    revoked_at_ms       BIGINT,
    rate_per_minute     BIGINT,
    max_concurrent      BIGINT,
    spend_cap_micro_usd BIGINT
);

CREATE TABLE solve_jobs (
    solve_id        TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL REFERENCES solve_keys (key_id),
    agent_digest    TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    finished_at_ms  BIGINT,
    status          TEXT,
    spent_micro_usd BIGINT NOT NULL
);

CREATE INDEX solve_jobs_by_key ON solve_jobs (key_id, created_at_ms);
