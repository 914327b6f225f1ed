-- Whetstone coordinator schema, version 5 (PostgreSQL; mirrors migrations/0005_agent_fingerprints.sql):
-- each agent's structural fingerprint, and which earlier agent a flagged copy copies.

CREATE TABLE agent_fingerprints (
    digest  TEXT PRIMARY KEY NOT NULL REFERENCES agents (digest),
    version BIGINT NOT NULL,
    hashes  BYTEA NOT NULL
);

ALTER TABLE agents ADD COLUMN copy_of TEXT;
ALTER TABLE agents ADD COLUMN copy_permille BIGINT;
