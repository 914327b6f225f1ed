-- Whetstone coordinator schema, version 7 (PostgreSQL; mirrors migrations/0007_epochs.sql).
-- Evaluation epochs (docs/scoring.md, "Epochs"): each epoch's boundary block and its hash,
-- which seed the epoch's task draw and its fresh tasks' generator; and where each task
-- stands: a pool task drawable from an epoch on, or a task generated for one epoch with the
-- generator seed it was made with. A task without either is not in any epoch (published
-- while epochs were off). Runs made for an epoch say so in their id (run-e<epoch>-<uuid>).

CREATE TABLE epochs (
    epoch          BIGINT PRIMARY KEY NOT NULL,
    boundary_block BIGINT NOT NULL,
    -- 64 lowercase hex characters.
    block_hash     TEXT NOT NULL,
    recorded_at_ms BIGINT NOT NULL
);

ALTER TABLE tasks ADD COLUMN pool_from_epoch BIGINT;
ALTER TABLE tasks ADD COLUMN fresh_epoch BIGINT;
-- A u64, as decimal text (BIGINT is signed).
ALTER TABLE tasks ADD COLUMN generator_seed TEXT;
