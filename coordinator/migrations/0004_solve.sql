-- Whetstone coordinator schema, version 4: the developers' solve API (issue 12).

-- API keys made by the operator (`whetstone keys create`). Only the key's SHA-256 is kept:
-- the key itself is shown once, when it is made. A revoked key stays for the record.
-- NULL limits mean the `[solve]` configuration's defaults.
CREATE TABLE solve_keys (
    key_id              TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    key_sha256          TEXT NOT NULL UNIQUE,
    created_at_ms       INTEGER NOT NULL,
    revoked_at_ms       INTEGER,
    rate_per_minute     INTEGER,
    max_concurrent      INTEGER,
    spend_cap_micro_usd INTEGER
);

-- One row per solve job, for the rate limit and the spend cap. The snapshot, statement and
-- diff are never stored: they live in memory for the job and its retention only.
CREATE TABLE solve_jobs (
    solve_id        TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL REFERENCES solve_keys (key_id),
    agent_digest    TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    finished_at_ms  INTEGER,
    status          TEXT,
    -- The job's budget until it finishes (so running jobs count against the cap), then what
    -- it spent.
    spent_micro_usd INTEGER NOT NULL
);

CREATE INDEX solve_jobs_by_key ON solve_jobs (key_id, created_at_ms);
