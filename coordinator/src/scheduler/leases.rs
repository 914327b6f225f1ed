//! The mirror of this process's leases (who holds which job, how much room each worker has
//! left), renewed in the store on heartbeats, expired there by any coordinator, and made equal
//! to the store's view every lease period.

use tokio::time::Instant;
use whetstone_proto::error_chain;

use super::{JobKind, Lease, Scheduler};
use crate::store::{HeldLease, LeaseTerms, now_ms};
use crate::telemetry;

impl Scheduler {
    /// Ends a lease, giving its worker the room back.
    pub(super) fn release(&mut self, job_id: &str) -> Option<Lease> {
        let lease = self.leases.remove(job_id)?;
        telemetry::lease_changed(lease.kind, -1.0);
        if let Some(session) = self.sessions.get_mut(&lease.worker_id) {
            session.held = session.held.saturating_sub(1);
        }
        Some(lease)
    }

    pub(super) fn holds_lease(&self, worker_id: &str, job_id: &str) -> bool {
        self.leases.get(job_id).is_some_and(|l| l.worker_id == worker_id)
    }

    /// The lease terms a worker gets now: this coordinator, `lease_duration` from now.
    pub(super) fn terms<'a>(&'a self, worker_id: &'a str) -> LeaseTerms<'a> {
        LeaseTerms { worker: worker_id, coordinator: &self.coordinator_id, expires_at_ms: now_ms() + self.lease_ms() }
    }

    pub(super) fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.lease_duration.as_millis()).unwrap_or(i64::MAX)
    }

    /// Records a lease in the mirror, moving the room it takes to its worker.
    pub(super) fn hold(&mut self, job_id: String, lease: Lease) {
        let worker_id = lease.worker_id.clone();
        telemetry::lease_changed(lease.kind, 1.0);
        if let Some(previous) = self.leases.insert(job_id, lease) {
            telemetry::lease_changed(previous.kind, -1.0);
            if let Some(holder) = self.sessions.get_mut(&previous.worker_id) {
                holder.held = holder.held.saturating_sub(1);
            }
        }
        if let Some(session) = self.sessions.get_mut(&worker_id) {
            session.held += 1;
        }
    }

    /// A heartbeat: renews the worker's leases on the jobs it still runs. A solve lease is
    /// renewed here; a run or grade lease in the store, once less than half of it is left (so a
    /// thousand workers heartbeating every two seconds do not write every two seconds), or at
    /// once when this process does not know it yet (a worker that moved here from another
    /// coordinator, or came back after a restart, keeps its jobs).
    pub(super) async fn renew(&mut self, worker_id: &str, active: Vec<String>) {
        let now = now_ms();
        let lease_ms = self.lease_ms();
        let half = lease_ms / 2;
        let mut to_store = Vec::new();
        for job in active {
            match self.leases.get_mut(&job) {
                Some(lease) if lease.worker_id == worker_id && lease.kind == JobKind::Solve => lease.expires_at_ms = now + lease_ms,
                Some(lease) if lease.worker_id == worker_id && lease.expires_at_ms - now > half => {}
                _ => to_store.push(job),
            }
        }
        if to_store.is_empty() {
            return;
        }
        let terms = self.terms(worker_id);
        match self.store.renew_leases(&terms, &to_store).await {
            Ok(renewed) => {
                for HeldLease { job, worker, expires_at_ms } in renewed {
                    let kind = JobKind::from(&job);
                    self.hold(job.id().to_owned(), Lease { worker_id: worker, kind, expires_at_ms });
                }
            }
            Err(error) => {
                tracing::warn!(worker = worker_id, error = %error_chain(&error), "failed to renew leases; the next heartbeat tries again")
            }
        }
    }

    /// Ends solve leases that ran out here, and requeues runs and grades whose leases ran out
    /// in the store, whichever coordinator handed them out. Every lease period the mirror is
    /// made equal to the store's view of this coordinator's leases (another coordinator may
    /// have expired one of them).
    pub(super) async fn expire_leases(&mut self) {
        let now = now_ms();
        let solves: Vec<String> =
            self.leases.iter().filter(|(_, l)| l.kind == JobKind::Solve && l.expires_at_ms <= now).map(|(job, _)| job.clone()).collect();
        for job in solves {
            let Some(lease) = self.release(&job) else { continue };
            telemetry::lease_expired(lease.kind);
            // Not retried: the snapshot went to the vanished runner and is not kept here.
            self.solves.fail(&job, &format!("lease expired on worker {}; send the job again", lease.worker_id)).await;
            tracing::warn!(job = %job, worker = %lease.worker_id, "solve lease expired");
        }
        match self.store.expire_leases(now, self.config.max_attempts).await {
            Ok(expired) => {
                for lease in expired {
                    self.release(lease.job.id());
                    telemetry::lease_expired(JobKind::from(&lease.job));
                    tracing::warn!(job = lease.job.id(), worker = %lease.worker, requeued = lease.requeued, "lease expired");
                }
            }
            Err(error) => tracing::error!(error = %error_chain(&error), "failed to expire leases; trying again on the next tick"),
        }
        if self.reconciled_at.elapsed() >= self.config.lease_duration {
            self.reconcile().await;
        }
    }

    /// Makes the mirror of run and grade leases equal to the store's view of this coordinator's.
    async fn reconcile(&mut self) {
        let held = match self.store.held_leases(&self.coordinator_id).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "failed to read this coordinator's leases; trying again on the next tick");
                return;
            }
        };
        self.reconciled_at = Instant::now();
        self.leases.retain(|_, lease| {
            let keep = lease.kind == JobKind::Solve;
            if !keep {
                telemetry::lease_changed(lease.kind, -1.0);
            }
            keep
        });
        for session in self.sessions.values_mut() {
            session.held = 0;
        }
        for lease in self.leases.values() {
            if let Some(session) = self.sessions.get_mut(&lease.worker_id) {
                session.held += 1;
            }
        }
        for HeldLease { job, worker, expires_at_ms } in held {
            let kind = JobKind::from(&job);
            self.hold(job.id().to_owned(), Lease { worker_id: worker, kind, expires_at_ms });
        }
    }
}
