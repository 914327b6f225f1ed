-- Whetstone coordinator schema, version 1.
-- Durable state only: leases live in the scheduler's memory, and a run or grade found
-- 'leased' at start-up is requeued (its worker's lease died with the previous process).

CREATE TABLE agents (
    digest          TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    hotkey          TEXT NOT NULL,
    submitted_at_ms INTEGER NOT NULL
);

CREATE TABLE tasks (
    digest          TEXT PRIMARY KEY NOT NULL,
    task_id         TEXT NOT NULL,
    timeout_secs    INTEGER NOT NULL,
    published_at_ms INTEGER NOT NULL
);

CREATE TABLE runs (
    run_id         TEXT PRIMARY KEY NOT NULL,
    agent_digest   TEXT NOT NULL REFERENCES agents (digest),
    task_digest    TEXT NOT NULL REFERENCES tasks (digest),
    state          TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    outcome        TEXT,
    exit_code      INTEGER,
    patch          BLOB,
    log            TEXT,
    error          TEXT,
    duration_ms    INTEGER,
    reported_by    TEXT,
    created_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,
    UNIQUE (agent_digest, task_digest)
);
CREATE INDEX runs_by_state ON runs (state, created_at_ms);

CREATE TABLE grades (
    grade_id       TEXT PRIMARY KEY NOT NULL,
    run_id         TEXT NOT NULL UNIQUE REFERENCES runs (run_id),
    state          TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    status         TEXT,
    verdict        TEXT,
    log            TEXT,
    duration_ms    INTEGER,
    reported_by    TEXT,
    created_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER
);
CREATE INDEX grades_by_state ON grades (state, created_at_ms);
