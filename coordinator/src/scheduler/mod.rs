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

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use whetstone_proto::job::{Capability, Report};
use whetstone_proto::{error_chain, pb};
use whetstone_tasks::Hotkey;

use whetstone_chain::verdict::VerdictStatement;

use crate::config::SchedulerConfig;
use crate::grading::Refused;
use crate::store::{LeasedJob, Store};
use crate::telemetry;

mod dispatch;
mod leases;
mod reports;

pub(crate) use reports::PendingReport;

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
        /// Jobs the worker says (in its hello) it is still running from an earlier session.
        active: Vec<String>,
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
        /// A grade report's signature, verified by the session task it arrived on.
        signature: Option<Box<Result<VerdictStatement, Refused>>>,
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
    /// Reports received in this batch of events, recorded together before the next dispatch.
    pending: Vec<PendingReport>,
}

/// Events handled before one dispatch pass, when they arrive faster than they are handled:
/// a burst of reports then costs one transaction of each kind and one look at the queues,
/// not one each.
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
            pending: Vec::new(),
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
                        self.record_reports().await;
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
            Event::Connected { worker_id, hotkey, capabilities, capacity, active, sender, reply } => {
                self.next_session += 1;
                let id = self.next_session;
                tracing::info!(worker = %worker_id, %hotkey, capacity, ?capabilities, "worker connected");
                // A returning worker still holds the leases it had (their jobs may be running).
                let held = u32::try_from(self.leases.values().filter(|l| l.worker_id == worker_id).count()).unwrap_or(u32::MAX);
                self.sessions.insert(worker_id.clone(), Session { id, hotkey, capabilities, capacity, held, sender });
                telemetry::workers_connected(self.sessions.len());
                // Jobs it still runs that this process does not know of (it restarted, or the
                // worker came from another coordinator) take their room before anything new
                // is offered: renewed here and counted, as a heartbeat would.
                if !active.is_empty() {
                    self.renew(&worker_id, active).await;
                }
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
            Event::Report { worker_id, report, signature } => {
                // Recorded with the others of this batch before the next dispatch; the hotkey
                // is the session's now, whatever happens to the session meanwhile.
                let hotkey = self.sessions.get(&worker_id).map(|s| s.hotkey.clone());
                self.pending.push(PendingReport { worker_id, hotkey, report, signature });
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
}
