-- Whetstone coordinator schema, version 2 (PostgreSQL; mirrors migrations/0002_trajectories.sql):
-- run trajectories and submission rate limits.

ALTER TABLE runs ADD COLUMN llm_spent_micro_usd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN llm_refused BIGINT NOT NULL DEFAULT 0;

CREATE TABLE llm_calls (
    run_id            TEXT NOT NULL REFERENCES runs (run_id),
    seq               BIGINT NOT NULL,
    model             TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_micro_usd    BIGINT NOT NULL,
    latency_ms        BIGINT NOT NULL,
    status            BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE INDEX agents_by_hotkey ON agents (hotkey, submitted_at_ms);
