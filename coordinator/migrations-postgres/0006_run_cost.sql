-- Whetstone coordinator schema, version 6 (PostgreSQL; mirrors migrations/0006_run_cost.sql):
-- what each run cost beside its LLM spend.

-- How long the agent's container ran (created to removed), as its agent-runner reported it.
ALTER TABLE runs ADD COLUMN sandbox_ms BIGINT NOT NULL DEFAULT 0;
