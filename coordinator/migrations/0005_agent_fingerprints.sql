-- Whetstone coordinator schema, version 5: copied agents.
-- Each agent's structural fingerprint (whetstone_tasks::similarity: winnowed k-gram hashes of
-- its normalised token streams), kept so a submission is compared with every earlier agent
-- without re-reading their packages; and, for an agent accepted as a copy (policy "flag"),
-- which earlier agent it copies and how closely (per mille).

CREATE TABLE agent_fingerprints (
    digest  TEXT PRIMARY KEY NOT NULL REFERENCES agents (digest),
    version INTEGER NOT NULL,
    hashes  BLOB NOT NULL
);

ALTER TABLE agents ADD COLUMN copy_of TEXT;
ALTER TABLE agents ADD COLUMN copy_permille INTEGER;
