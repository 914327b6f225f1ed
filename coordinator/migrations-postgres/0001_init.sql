-- Whetstone coordinator schema, version 1 (PostgreSQL; mirrors migrations/0001_init.sql).
-- Integers are BIGINT throughout (the code reads every integer as i64), bytes are BYTEA.

CREATE TABLE agents (
    digest          TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    hotkey          TEXT NOT NULL,
    submitted_at_ms BIGINT NOT NULL
);

CREATE TABLE tasks (
    digest          TEXT PRIMARY KEY NOT NULL,
    task_id         TEXT NOT NULL,
    timeout_secs    BIGINT NOT NULL,
    published_at_ms BIGINT NOT NULL
);

CREATE TABLE runs (
    run_id         TEXT PRIMARY KEY NOT NULL,
    agent_digest   TEXT NOT NULL REFERENCES agents (digest),
    task_digest    TEXT NOT NULL REFERENCES tasks (digest),
    state          TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    outcome        TEXT,
    exit_code      BIGINT,
    patch          BYTEA,
    log            TEXT,
    error          TEXT,
    duration_ms    BIGINT,
    reported_by    TEXT,
    created_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT,
    UNIQUE (agent_digest, task_digest)
);
CREATE INDEX runs_by_state ON runs (state, created_at_ms);

CREATE TABLE grades (
    grade_id       TEXT PRIMARY KEY NOT NULL,
    run_id         TEXT NOT NULL UNIQUE REFERENCES runs (run_id),
    state          TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    status         TEXT,
    verdict        TEXT,
    log            TEXT,
    duration_ms    BIGINT,
    reported_by    TEXT,
    created_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT
);
CREATE INDEX grades_by_state ON grades (state, created_at_ms);
