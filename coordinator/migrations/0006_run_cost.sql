-- Whetstone coordinator schema, version 6: what each run cost beside its LLM spend.

-- How long the agent's container ran (created to removed), as its agent-runner reported it.
ALTER TABLE runs ADD COLUMN sandbox_ms INTEGER NOT NULL DEFAULT 0;
