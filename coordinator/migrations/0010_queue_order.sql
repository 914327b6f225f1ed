-- Whetstone coordinator schema, version 10: the queues' own order as an index.
-- Runs and grade slots are handed out oldest first, ties by id. The indexes of version 1
-- cover (state, created_at_ms) only, so every claim sorted all the rows sharing the oldest
-- timestamp, and a new agent or epoch queues hundreds of runs with one timestamp: each claim
-- then read them all. With the id in the index a claim reads one entry.

DROP INDEX runs_by_state;
DROP INDEX grades_by_state;
CREATE INDEX runs_by_state ON runs (state, created_at_ms, run_id);
CREATE INDEX grades_by_state ON grades (state, created_at_ms, grade_id);
