//! The scheduler: one task that owns worker sessions and leases, fed by messages from the
//! gRPC services. It hands queued runs to agent-runners and queued grade slots to validators
//! up to each worker's capacity, renews leases on heartbeats, and requeues the job of any
//! lease that expires (a worker that vanished). Durable state goes through the [`Store`],
//! leases of runs and grade slots too: each names its worker, this coordinator and an expiry
//! (Unix ms), so coordinators sharing a database never hand a job out twice and any of them
//! requeues a lease that ran out, whoever handed it out. `leases` here mirrors the leases of
//! the workers connected to this process (for their free room and for who may report
//! failures), renewed in the store on heartbeats and reconciled with it every lease period.
//! Solve jobs are this process's alone (their snapshot is in its memory): their leases live
//! only here.
//!
//! Grading is redundant (`[grading]`): each run has `replicas` slots, each taken by a
//! different validator (by hotkey), never by the hotkey whose runner made the patch while
//! another validator could take it, and handed to the grader with the most room first. A
//! verdict enters the ledger only after [`crate::grading::check_verdict`]; when a run's slots
//! are all filled, [`crate::grading::next_grade`] may ask for a dispute or an audit grade.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use whetstone_proto::convert::assignment_to_wire;
use whetstone_proto::job::GradeReport;
use whetstone_proto::job::{Assignment, Capability, GradeAssignment, Report, RunAssignment, RunOutcome, SandboxLimits};
use whetstone_proto::{error_chain, pb};
use whetstone_tasks::{Hotkey, RunId, VerdictStatus};

use crate::config::SchedulerConfig;
use crate::grading::{check_verdict, next_grade};
use crate::store::{HeldLease, LeaseTerms, LeasedJob, NewVerdict, QueuedGrade, Recorded, Store, StoreError, now_ms};
use crate::telemetry;

/// Messages to a worker's stream.
pub(crate) type WorkerSender = mpsc::Sender<Result<pb::CoordinatorMessage, tonic::Status>>;

#[derive(Debug)]
pub(crate) enum Event {
    Connected {
        worker_id: String,
        /// The hotkey that signed the session's hello.
        hotkey: Hotkey,
        capabilities: HashSet<Capability>,
        capacity: u32,
        sender: WorkerSender,
        reply: oneshot::Sender<u64>,
    },
    Disconnected {
        worker_id: String,
        session: u64,
    },
    Heartbeat {
        worker_id: String,
        active: Vec<String>,
    },
    Report {
        worker_id: String,
        report: Report,
    },
    /// New runs may be queued (agent submitted, task published, solve job queued).
    WorkAdded,
    /// A developer cancelled a solve job a runner holds: tell the runner to stop it.
    CancelSolve {
        solve_id: String,
    },
    /// Agent output lines of a running solve job.
    SolveProgress {
        worker_id: String,
        solve_id: String,
        lines: Vec<String>,
    },
    ConnectedWorkers {
        reply: oneshot::Sender<u32>,
    },
}

/// A cheap handle the services use to talk to the scheduler.
#[derive(Debug, Clone)]
pub(crate) struct SchedulerHandle {
    events: mpsc::Sender<Event>,
}

impl SchedulerHandle {
    pub(crate) async fn send(&self, event: Event) {
        // The scheduler only stops at shutdown; a lost event then changes nothing.
        let _ = self.events.send(event).await;
    }

    /// Resolves once the scheduler has stopped (coordinator shutdown).
    pub(crate) async fn stopped(&self) {
        self.events.closed().await;
    }

    pub(crate) async fn connected_workers(&self) -> u32 {
        let (reply, answer) = oneshot::channel();
        self.send(Event::ConnectedWorkers { reply }).await;
        answer.await.unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    Run,
    Grade,
    Solve,
}

impl JobKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Grade => "grade",
            Self::Solve => "solve",
        }
    }
}

#[derive(Debug)]
struct Lease {
    worker_id: String,
    kind: JobKind,
    /// Unix ms: when the store's lease runs out as last written (solves: the lease itself).
    expires_at_ms: i64,
}

impl From<&LeasedJob> for JobKind {
    fn from(job: &LeasedJob) -> Self {
        match job {
            LeasedJob::Run(_) => Self::Run,
            LeasedJob::Grade(_) => Self::Grade,
        }
    }
}

#[derive(Debug)]
struct Session {
    id: u64,
    hotkey: Hotkey,
    capabilities: HashSet<Capability>,
    capacity: u32,
    /// Leases the worker holds: kept beside `leases` so free room is O(1) with many workers.
    held: u32,
    sender: WorkerSender,
}

pub(crate) struct Scheduler {
    store: Arc<dyn Store>,
    config: SchedulerConfig,
    /// Sorted so dispatch order is deterministic.
    sessions: BTreeMap<String, Session>,
    leases: HashMap<String, Lease>,
    next_session: u64,
    events: mpsc::Receiver<Event>,
    /// Keys the audit draw, so validators cannot tell which runs will be audited.
    audit_seed: [u8; 32],
    /// The developers' solve jobs (queued ones are dispatched before scored runs).
    solves: Arc<crate::solve::Hub>,
    /// Whether anything since the last dispatch may have made work assignable: a worker
    /// connected, a lease ended, work was added. Heartbeats alone do not, and with a thousand
    /// workers they are most events.
    needs_dispatch: bool,
    /// Names this process in the leases it hands out (`lease_coordinator`).
    coordinator_id: String,
    /// When `leases` was last made equal to the store's view of this coordinator's leases.
    reconciled_at: Instant,
}

/// Events handled before one dispatch pass, when they arrive faster than they are handled:
/// a burst of reports then costs one look at the queues, not one each.
const EVENTS_PER_DISPATCH: usize = 256;

impl Scheduler {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        config: SchedulerConfig,
        solves: Arc<crate::solve::Hub>,
        coordinator_id: String,
    ) -> (Self, SchedulerHandle) {
        let (sender, events) = mpsc::channel(1024);
        let mut audit_seed = [0; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut audit_seed);
        let scheduler = Self {
            store,
            config,
            sessions: BTreeMap::new(),
            leases: HashMap::new(),
            next_session: 0,
            events,
            audit_seed,
            solves,
            needs_dispatch: true,
            coordinator_id,
            reconciled_at: Instant::now(),
        };
        (scheduler, SchedulerHandle { events: sender })
    }

    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                event = self.events.recv() => match event {
                    Some(event) => {
                        self.handle(event).await;
                        for _ in 1..EVENTS_PER_DISPATCH {
                            let Ok(event) = self.events.try_recv() else { break };
                            self.handle(event).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    self.expire_leases().await;
                    // Also retries a dispatch that failed.
                    self.needs_dispatch = true;
                }
            }
            if !std::mem::take(&mut self.needs_dispatch) {
                continue;
            }
            if let Err(error) = self.dispatch().await {
                tracing::error!(error = %error_chain(&error), "dispatch failed; retrying on the next tick");
            }
        }
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::Connected { worker_id, hotkey, capabilities, capacity, sender, reply } => {
                self.next_session += 1;
                let id = self.next_session;
                tracing::info!(worker = %worker_id, %hotkey, capacity, ?capabilities, "worker connected");
                // A returning worker still holds the leases it had (their jobs may be running).
                let held = u32::try_from(self.leases.values().filter(|l| l.worker_id == worker_id).count()).unwrap_or(u32::MAX);
                self.sessions.insert(worker_id, Session { id, hotkey, capabilities, capacity, held, sender });
                telemetry::workers_connected(self.sessions.len());
                self.needs_dispatch = true;
                let _ = reply.send(id);
            }
            Event::Disconnected { worker_id, session } => {
                if self.sessions.get(&worker_id).is_some_and(|s| s.id == session) {
                    tracing::info!(worker = %worker_id, "worker disconnected; its leases run out unless it returns");
                    self.sessions.remove(&worker_id);
                    telemetry::workers_connected(self.sessions.len());
                }
            }
            Event::Heartbeat { worker_id, active } => self.renew(&worker_id, active).await,
            Event::Report { worker_id, report } => {
                let job_id = report.job_id().to_owned();
                let span = report_span(&report);
                let accepted = match self.record(&worker_id, report).instrument(span).await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Not acknowledged: the worker keeps the report and sends it again.
                        tracing::error!(job = %job_id, error = %error_chain(&error), "failed to record report");
                        return;
                    }
                };
                if self.holds_lease(&worker_id, &job_id) {
                    self.release(&job_id);
                }
                self.needs_dispatch = true;
                if let Some(session) = self.sessions.get(&worker_id) {
                    let ack = pb::ReportAck { job_id, accepted };
                    let message = pb::CoordinatorMessage { kind: Some(pb::coordinator_message::Kind::Ack(ack)) };
                    let _ = session.sender.try_send(Ok(message));
                }
            }
            Event::WorkAdded => self.needs_dispatch = true,
            Event::CancelSolve { solve_id } => self.cancel_solve(&solve_id),
            Event::SolveProgress { worker_id, solve_id, lines } => {
                // Only the runner holding the job speaks for it.
                if self.holds_lease(&worker_id, &solve_id) {
                    self.solves.live_log(&solve_id, lines);
                }
            }
            Event::ConnectedWorkers { reply } => {
                let _ = reply.send(u32::try_from(self.sessions.len()).unwrap_or(u32::MAX));
            }
        }
    }

    /// Stores a report. Returns whether it was the job's first result.
    async fn record(&mut self, worker_id: &str, report: Report) -> Result<bool, StoreError> {
        let max = self.config.max_attempts;
        match report {
            // A failure report only counts from the lease holder: a worker that lost the job
            // (its lease expired, the coordinator restarted) must not requeue another's run.
            // The store checks who holds the lease.
            Report::Run(run) if run.outcome == RunOutcome::InfraError => {
                match self.store.requeue_run(&run.run_id, worker_id, max, &run.error).await? {
                    None => {
                        tracing::info!(run = %run.run_id, worker = worker_id, "ignoring a failure report from a worker without the lease");
                        Ok(false)
                    }
                    Some(requeued) => {
                        tracing::warn!(run = %run.run_id, worker = worker_id, error = %run.error, requeued, "runner failed the run");
                        Ok(true)
                    }
                }
            }
            Report::Run(run) => {
                let Some(runner) = self.sessions.get(worker_id).map(|s| s.hotkey.clone()) else {
                    // Reports arrive on the session's stream, so its session exists; a report
                    // racing a reconnect is sent again on the new session.
                    return Ok(false);
                };
                let recorded = self.store.complete_run(&run, worker_id, &runner, self.config.grading.replicas).await?;
                tracing::info!(run = %run.run_id, worker = worker_id, outcome = run.outcome.as_str(), ?recorded, "run report");
                if recorded == Recorded::Accepted {
                    telemetry::run_reported(&run);
                }
                Ok(recorded == Recorded::Accepted)
            }
            Report::Grade(grade) if grade.verdict.status == VerdictStatus::InfraError => {
                match self.store.requeue_grade(&grade.grade_id, worker_id, max, &grade.verdict.notes).await? {
                    None => {
                        tracing::info!(grade = %grade.grade_id, worker = worker_id, "ignoring a failure report from a worker without the lease");
                        Ok(false)
                    }
                    Some(requeued) => {
                        tracing::warn!(grade = %grade.grade_id, worker = worker_id, notes = %grade.verdict.notes, requeued, "grader failed");
                        Ok(true)
                    }
                }
            }
            Report::Grade(grade) => self.record_verdict(worker_id, &grade).await,
            Report::Solve(solve) => {
                let first = self.solves.is_running(&solve.solve_id);
                tracing::info!(solve = %solve.solve_id, worker = worker_id, outcome = solve.outcome.as_str(), cancelled = solve.cancelled, "solve report");
                self.solves.finish(solve).await;
                Ok(first)
            }
        }
    }

    /// Sends the runner holding the solve job a `CancelJob`; it reports once the container is
    /// gone. A job no runner holds is already finished (the hub cancelled it in the queue).
    fn cancel_solve(&mut self, solve_id: &str) {
        let Some(lease) = self.leases.get(solve_id) else { return };
        let Some(session) = self.sessions.get(&lease.worker_id) else { return };
        let cancel = pb::CancelJob { job_id: solve_id.to_owned() };
        let message = pb::CoordinatorMessage { kind: Some(pb::coordinator_message::Kind::Cancel(cancel)) };
        if session.sender.try_send(Ok(message)).is_err() {
            tracing::warn!(solve = solve_id, worker = %lease.worker_id, "could not send a cancel; the job ends when its lease does");
        }
    }

    /// Queued solve jobs go to runners with free room before scored runs: a developer waits.
    fn dispatch_solves(&mut self, worker_id: &str, mut free: u32) -> u32 {
        let mut sent = 0;
        while free > 0 && self.can_send(worker_id) {
            let Some(assignment) = self.solves.take_next() else { break };
            let solve_id = assignment.solve_id.clone();
            let assignment = Assignment::Solve(assignment);
            if !self.send(worker_id, JobKind::Solve, &assignment) {
                if let Assignment::Solve(assignment) = assignment {
                    self.solves.requeue(assignment);
                }
                break;
            }
            self.solves.started(&solve_id, worker_id);
            free -= 1;
            sent += 1;
        }
        sent
    }

    /// Checks a verdict against its grade and the session's hotkey, appends it to the ledger,
    /// and asks for a dispute or audit grade when the run's slots are all filled. A verdict
    /// that fails the check is refused and its slot requeued for another attempt.
    async fn record_verdict(&mut self, worker_id: &str, grade: &GradeReport) -> Result<bool, StoreError> {
        let Some(validator) = self.sessions.get(worker_id).map(|s| s.hotkey.clone()) else { return Ok(false) };
        let Some(subject) = self.store.grade_subject(&grade.grade_id).await? else {
            tracing::info!(grade = %grade.grade_id, worker = worker_id, "ignoring a verdict for an unknown grade");
            return Ok(false);
        };
        let (signed, _) = match check_verdict(grade, &subject, &validator) {
            Ok(checked) => checked,
            Err(refused) => {
                tracing::warn!(grade = %grade.grade_id, worker = worker_id, %validator, reason = %refused, "verdict refused");
                // Requeued only when this worker holds the slot (the store checks).
                let reason = format!("verdict refused: {refused}");
                self.store.requeue_grade(&grade.grade_id, worker_id, self.config.max_attempts, &reason).await?;
                return Ok(false);
            }
        };
        let new = NewVerdict { report: grade, run_id: &subject.run_id, validator: &validator, signed: &signed, worker: worker_id };
        let recorded = self.store.record_verdict(&new).await?;
        tracing::info!(
            grade = %grade.grade_id, run = %subject.run_id, %validator, verdict = grade.verdict.status.as_str(), ?recorded, "verdict"
        );
        if recorded == Recorded::Accepted {
            telemetry::verdict_recorded(grade);
            self.consider_more_grades(&subject.run_id).await?;
        }
        Ok(recorded == Recorded::Accepted)
    }

    /// Queues a dispute or audit grade when the run needs one. It waits for a validator that
    /// has not graded the run yet (one that connects later takes it).
    async fn consider_more_grades(&mut self, run_id: &RunId) -> Result<(), StoreError> {
        let grading = self.store.run_grading(run_id).await?;
        let Some(purpose) = next_grade(run_id, &grading, &self.config.grading, &self.audit_seed) else { return Ok(()) };
        let grade_id = self.store.add_grade(run_id, purpose).await?;
        tracing::info!(run = %run_id, grade = %grade_id, purpose = purpose.as_str(), "extra grade queued");
        Ok(())
    }

    /// Ends a lease, giving its worker the room back.
    fn release(&mut self, job_id: &str) -> Option<Lease> {
        let lease = self.leases.remove(job_id)?;
        telemetry::lease_changed(lease.kind, -1.0);
        if let Some(session) = self.sessions.get_mut(&lease.worker_id) {
            session.held = session.held.saturating_sub(1);
        }
        Some(lease)
    }

    fn holds_lease(&self, worker_id: &str, job_id: &str) -> bool {
        self.leases.get(job_id).is_some_and(|l| l.worker_id == worker_id)
    }

    /// The lease terms a worker gets now: this coordinator, `lease_duration` from now.
    fn terms<'a>(&'a self, worker_id: &'a str) -> LeaseTerms<'a> {
        LeaseTerms { worker: worker_id, coordinator: &self.coordinator_id, expires_at_ms: now_ms() + self.lease_ms() }
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.lease_duration.as_millis()).unwrap_or(i64::MAX)
    }

    /// Records a lease in the mirror, moving the room it takes to its worker.
    fn hold(&mut self, job_id: String, lease: Lease) {
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
    async fn renew(&mut self, worker_id: &str, active: Vec<String>) {
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
    async fn expire_leases(&mut self) {
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

    async fn dispatch(&mut self) -> Result<(), StoreError> {
        self.dispatch_grades().await?;
        let runners: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.capabilities.contains(&Capability::RunAgent) && s.capacity > s.held)
            .map(|(worker_id, _)| worker_id.clone())
            .collect();
        let mut room = Vec::with_capacity(runners.len());
        for worker_id in runners {
            self.dispatch_solves(&worker_id, self.free(&worker_id));
            let free = self.free(&worker_id);
            if free > 0 {
                room.push((worker_id, free));
            }
        }
        self.dispatch_runs(room).await
    }

    /// Slots a worker has free: its capacity less the leases it holds.
    fn free(&self, worker_id: &str) -> u32 {
        self.sessions.get(worker_id).map_or(0, |s| s.capacity.saturating_sub(s.held))
    }

    /// Hands the oldest queued runs to the runners with free room, in worker order, each
    /// claimed atomically in the store. One look at the queue first: claiming writes, and most
    /// dispatches find nothing queued.
    async fn dispatch_runs(&mut self, room: Vec<(String, u32)>) -> Result<(), StoreError> {
        if room.is_empty() || self.store.queued_runs(1).await?.is_empty() {
            return Ok(());
        }
        for (worker_id, free) in room {
            if !self.dispatch_runs_to(&worker_id, free).await? {
                break;
            }
        }
        Ok(())
    }

    /// Claims and sends up to `free` runs to one runner. False once the queue is empty.
    async fn dispatch_runs_to(&mut self, worker_id: &str, free: u32) -> Result<bool, StoreError> {
        let mut sent = 0;
        while sent < free {
            if !self.can_send(worker_id) {
                return Ok(true);
            }
            let Some(claimed) = self.store.claim_run(&self.terms(worker_id)).await? else { return Ok(false) };
            let run = claimed.run;
            let assignment = Assignment::Run(RunAssignment {
                run_id: run.run_id.clone(),
                agent: run.agent,
                task: run.task,
                limits: self.config.agent_limits,
                attempt: claimed.attempt,
                llm_budget_micro_usd: self.config.llm_budget_micro_usd,
            });
            if self.send(worker_id, JobKind::Run, &assignment) {
                sent += 1;
            } else {
                self.store.requeue_run(&run.run_id, worker_id, self.config.max_attempts, "worker stream closed").await?;
            }
        }
        Ok(true)
    }

    /// Hands queued grade slots, oldest first, to validators: each slot to the grader with the
    /// most room that may take it (see [`Self::pick_grader`]).
    async fn dispatch_grades(&mut self) -> Result<(), StoreError> {
        let mut free: BTreeMap<String, u32> = BTreeMap::new();
        for (worker_id, session) in &self.sessions {
            if session.capabilities.contains(&Capability::Grade) {
                free.insert(worker_id.clone(), 0);
            }
        }
        let graders: Vec<String> = free.keys().cloned().collect();
        for worker_id in graders {
            let room = self.free(&worker_id);
            free.insert(worker_id, room);
        }
        let total: u32 = free.values().sum();
        if total == 0 {
            return Ok(());
        }
        // Slots some grader may not take are skipped, so look further than the free room.
        for grade in self.store.queued_grades(total.saturating_mul(4).saturating_add(32)).await? {
            if free.values().all(|room| *room == 0) {
                break;
            }
            let Some(worker_id) = self.pick_grader(&grade, &free) else { continue };
            if !self.can_send(&worker_id) {
                free.insert(worker_id, 0);
                continue;
            }
            if self.send_grade(&worker_id, grade).await?
                && let Some(room) = free.get_mut(&worker_id)
            {
                *room -= 1;
            }
        }
        Ok(())
    }

    /// The grader for a slot: one with free room whose hotkey has no other slot or verdict on
    /// the run, preferring the most free room (ties to the first worker id). The hotkey whose
    /// runner made the patch is passed over while another validator that could grade the run
    /// is connected, even if busy: the slot waits for it.
    fn pick_grader(&self, grade: &QueuedGrade, free: &BTreeMap<String, u32>) -> Option<String> {
        let eligible = |hotkey: &Hotkey| !grade.taken_by.contains(hotkey);
        let is_runner = |hotkey: &Hotkey| grade.runner.as_ref() == Some(hotkey);
        let others_connected =
            self.sessions.values().any(|s| s.capabilities.contains(&Capability::Grade) && eligible(&s.hotkey) && !is_runner(&s.hotkey));
        free.iter()
            .filter(|(_, room)| **room > 0)
            .filter_map(|(worker_id, room)| self.sessions.get(worker_id).map(|s| (worker_id, *room, s)))
            .filter(|(_, _, s)| eligible(&s.hotkey) && !(others_connected && is_runner(&s.hotkey)))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(worker_id, _, _)| worker_id.clone())
    }

    /// Leases a slot to the worker's hotkey and sends it. False when another process took the
    /// slot first or the stream closed (then the slot is requeued).
    async fn send_grade(&mut self, worker_id: &str, grade: QueuedGrade) -> Result<bool, StoreError> {
        let Some(validator) = self.sessions.get(worker_id).map(|s| s.hotkey.clone()) else { return Ok(false) };
        let terms = self.terms(worker_id);
        let Some((attempt, patch)) = self.store.lease_grade(&grade.grade_id, &terms, &validator).await? else { return Ok(false) };
        let limits = SandboxLimits {
            // The task's own test timeout plus room for container start and patching.
            timeout: Duration::from_secs(grade.task_timeout_secs) + self.config.grade_overhead,
            ..self.config.grade_limits
        };
        let assignment = Assignment::Grade(GradeAssignment {
            grade_id: grade.grade_id.clone(),
            run_id: grade.run_id,
            task: grade.task,
            agent: grade.agent,
            patch,
            limits,
            attempt,
        });
        if self.send(worker_id, JobKind::Grade, &assignment) {
            return Ok(true);
        }
        self.store.requeue_grade(&grade.grade_id, worker_id, self.config.max_attempts, "worker stream closed").await?;
        Ok(false)
    }

    /// Whether the worker's stream can take an assignment now. Checked before leasing, so a
    /// closed or backed-up stream never costs a job an attempt. A closed stream's session is
    /// dropped here rather than waiting for its Disconnected event.
    fn can_send(&mut self, worker_id: &str) -> bool {
        let Some(session) = self.sessions.get(worker_id) else { return false };
        if session.sender.is_closed() {
            tracing::info!(worker = worker_id, "worker stream closed; dropping its session");
            self.sessions.remove(worker_id);
            return false;
        }
        session.sender.capacity() > 0
    }

    /// Sends an assignment and takes the lease. False when the worker's stream is gone.
    fn send(&mut self, worker_id: &str, kind: JobKind, assignment: &Assignment) -> bool {
        let Some(session) = self.sessions.get(worker_id) else { return false };
        let wall_deadline = SystemTime::now() + self.config.lease_duration;
        let deadline_ms = wall_deadline.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        if session.sender.try_send(Ok(assignment_to_wire(assignment, deadline_ms))).is_err() {
            return false;
        }
        whetstone_proto::worker::job_span(assignment).in_scope(|| tracing::info!(worker = worker_id, "dispatched"));
        let expires_at_ms = now_ms() + self.lease_ms();
        self.hold(assignment.job_id().to_owned(), Lease { worker_id: worker_id.to_owned(), kind, expires_at_ms });
        true
    }
}

/// The span a report is recorded in, keyed by the job it reports on, like the worker's.
fn report_span(report: &Report) -> tracing::Span {
    match report {
        Report::Run(run) => tracing::info_span!("run", run_id = %run.run_id),
        Report::Grade(grade) => tracing::info_span!("grade", grade_id = %grade.grade_id),
        Report::Solve(solve) => tracing::info_span!("solve", solve_id = %solve.solve_id),
    }
}
