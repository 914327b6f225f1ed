-- Whetstone coordinator schema, version 8: leases live in the database (issue 13).
-- A leased run or grade slot names the worker holding it, the coordinator whose session
-- that worker is on, and when the lease runs out unless a heartbeat renews it. Any
-- coordinator sharing the database requeues a lease that ran out, so work survives the
-- coordinator that handed it out.

ALTER TABLE runs ADD COLUMN lease_holder TEXT;
ALTER TABLE runs ADD COLUMN lease_coordinator TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_at_ms INTEGER;
ALTER TABLE grades ADD COLUMN lease_holder TEXT;
ALTER TABLE grades ADD COLUMN lease_coordinator TEXT;
ALTER TABLE grades ADD COLUMN lease_expires_at_ms INTEGER;

-- Leases taken before this version lived in a process that is gone: they run out at once.
UPDATE runs SET lease_expires_at_ms = 0 WHERE state = 'leased';
UPDATE grades SET lease_expires_at_ms = 0 WHERE state = 'leased';

CREATE INDEX runs_by_lease ON runs (state, lease_expires_at_ms);
CREATE INDEX grades_by_lease ON grades (state, lease_expires_at_ms);
