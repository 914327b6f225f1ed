-- Whetstone coordinator schema, version 3: validators decide.
-- Each run is graded by several validators (grade slots), each verdict is signed by its
-- validator and kept verbatim in an append-only ledger, and agents carry their miner's
-- signed ownership claim.

-- Who ran the agent (a validator must not grade its own runner's work when another can) and
-- the digest of the patch it reported (what every verdict on the run must name).
ALTER TABLE runs ADD COLUMN runner_hotkey TEXT;
ALTER TABLE runs ADD COLUMN patch_digest TEXT;

-- The miner's signature over (agent digest, hotkey, claimed_at_ms): whetstone_chain::verdict.
ALTER TABLE agents ADD COLUMN claimed_at_ms INTEGER;
ALTER TABLE agents ADD COLUMN claim_signature BLOB;

-- The verdict ledger. `seq` only grows (AUTOINCREMENT never reuses a number); rows are never
-- updated or deleted. One verdict per validator per run: the first is kept.
CREATE TABLE verdicts (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         TEXT NOT NULL REFERENCES runs (run_id),
    validator      TEXT NOT NULL,
    statement      BLOB NOT NULL,
    signature      BLOB NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    UNIQUE (run_id, validator)
);

-- Grades become slots: a run has one per replica (grading.replicas), plus one per dispute
-- (verdicts disagreed) and one when it is picked for an audit. `validator` is the hotkey
-- holding or having filled the slot; a validator holds at most one slot per run.
CREATE TABLE grades_v3 (
    grade_id       TEXT PRIMARY KEY NOT NULL,
    run_id         TEXT NOT NULL REFERENCES runs (run_id),
    purpose        TEXT NOT NULL DEFAULT 'replica' CHECK (purpose IN ('replica', 'dispute', 'audit')),
    validator      TEXT,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    status         TEXT,
    verdict        TEXT,
    verdict_seq    INTEGER REFERENCES verdicts (seq),
    log            TEXT,
    duration_ms    INTEGER,
    reported_by    TEXT,
    created_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER
);
INSERT INTO grades_v3 (grade_id, run_id, state, attempts, status, verdict, log, duration_ms, reported_by, created_at_ms, finished_at_ms)
    SELECT grade_id, run_id, state, attempts, status, verdict, log, duration_ms, reported_by, created_at_ms, finished_at_ms FROM grades;
DROP TABLE grades;
ALTER TABLE grades_v3 RENAME TO grades;
CREATE INDEX grades_by_state ON grades (state, created_at_ms);
CREATE INDEX grades_by_run ON grades (run_id);
