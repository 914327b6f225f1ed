-- Whetstone coordinator schema, version 9: a solve job's row is leased to the coordinator
-- process holding the job. Solve jobs live in the memory of the coordinator that accepted
-- them; that process renews the leases of its unfinished jobs' rows while it runs, closes
-- them when it stops, and any coordinator sharing the database closes (as failed) an
-- unfinished row whose lease ran out. Before, each start-up closed every unfinished row,
-- other running coordinators' too. Rows from before this version have no lease and are
-- closed like expired ones.

ALTER TABLE solve_jobs ADD COLUMN lease_coordinator TEXT;
ALTER TABLE solve_jobs ADD COLUMN lease_expires_at_ms INTEGER;

CREATE INDEX solve_jobs_unfinished ON solve_jobs (lease_coordinator) WHERE finished_at_ms IS NULL;
