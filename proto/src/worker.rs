//! The worker side of a coordinator session, shared by the agent-runner and the validator.
//!
//! One bidirectional stream per worker: hello first, then assignments in, heartbeats and
//! reports out. Jobs run concurrently up to the worker's capacity and survive a dropped
//! connection: the worker reconnects with backoff, heartbeats renew the leases of jobs still
//! running, and reports not yet acknowledged are sent again (the coordinator counts each job's
//! first report only, so resending is safe).
//!
//! # Several coordinators
//!
//! Coordinators sharing one database are interchangeable to a worker. Given a list, the worker
//! uses one at a time and, when its session ends or the coordinator cannot be reached, moves
//! straight to the next; only after every one has failed in a row does it wait (the reconnect
//! delay, doubling up to [`MAX_RECONNECT_DELAY`]). Jobs keep running through the move, their
//! reports go to the new coordinator, and a job whose lease has meanwhile moved to another
//! worker is settled by the store: the first report counts, the other is acknowledged as a
//! duplicate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Endpoint;
use tracing::Instrument as _;

use crate::convert::WireError;
use crate::error_chain;
use crate::job::{Assignment, Capability, GradeReport, Report, RunOutcome, RunReport, SolveReport};
use crate::pb;

/// Runs one job. Implementations must clean up after themselves when `cancel` fires.
#[async_trait::async_trait]
pub trait Executor: Send + Sync + 'static {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report;

    /// Where the executor may send messages while a job runs (a solve job's live log). Called
    /// once, before any job; messages sent while disconnected go out after the reconnect.
    fn attach_progress(&self, _sink: ProgressSink) {}
}

/// Messages from running jobs to the coordinator, beside their reports.
pub type ProgressSink = mpsc::UnboundedSender<pb::WorkerMessage>;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// e.g. `http://127.0.0.1:50051`; several coordinators sharing one database are used in
    /// turn (see the module docs). Must not be empty.
    pub coordinator_urls: Vec<String>,
    /// Stable across restarts, so leases survive a reconnect.
    pub worker_id: String,
    /// Signs the hello with the operator's hotkey, for the coordinator's hotkey.
    pub signer: crate::auth::RequestSigner,
    pub capabilities: Vec<Capability>,
    pub capacity: u32,
    /// First reconnect delay, after every coordinator has failed in a row; doubles up to
    /// [`MAX_RECONNECT_DELAY`], and starts again once a session is established.
    pub reconnect_delay: Duration,
}

pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("invalid coordinator address {url:?}")]
    BadUrl {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("cannot reach the coordinator at {url}")]
    Connect {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("coordinator refused the session: {0}")]
    Refused(#[source] tonic::Status),
    #[error("coordinator broke the protocol: {0}")]
    Protocol(String),
    #[error("no coordinator address configured")]
    NoCoordinator,
}

enum SessionEnd {
    Shutdown,
    Disconnected,
}

/// Jobs in flight and reports not yet acknowledged: what must survive a reconnect.
struct Work {
    executor: Arc<dyn Executor>,
    jobs: JoinSet<Report>,
    /// Task id → the assignment, to report a panicked job.
    running: HashMap<tokio::task::Id, Assignment>,
    /// Job id → its own cancellation, for the coordinator's `CancelJob`.
    cancels: HashMap<String, CancellationToken>,
    unacked: BTreeMap<String, Report>,
    cancel: CancellationToken,
}

impl Work {
    fn spawn(&mut self, assignment: Assignment) {
        let executor = Arc::clone(&self.executor);
        let cancel = self.cancel.child_token();
        self.cancels.insert(assignment.job_id().to_owned(), cancel.clone());
        let job = assignment.clone();
        let span = job_span(&assignment);
        let handle = self.jobs.spawn(
            async move {
                let report = executor.execute(job, cancel).await;
                tracing::info!(outcome = report_outcome(&report), "job finished");
                report
            }
            .instrument(span),
        );
        self.running.insert(handle.id(), assignment);
    }

    fn active_job_ids(&self) -> Vec<String> {
        self.running.values().map(|a| a.job_id().to_owned()).collect()
    }

    /// Waits for the next job to end and files its report as unacknowledged.
    async fn next_report(&mut self) -> Option<Report> {
        let (id, report) = match self.jobs.join_next_with_id().await? {
            Ok((id, report)) => (id, report),
            Err(error) => {
                let id = error.id();
                let assignment = self.running.get(&id)?;
                tracing::error!(job = assignment.job_id(), %error, "job panicked");
                (id, infra_failure(assignment, &format!("worker failed while running the job: {error}")))
            }
        };
        self.running.remove(&id);
        self.cancels.remove(report.job_id());
        crate::telemetry::record_job(&report);
        self.unacked.insert(report.job_id().to_owned(), report.clone());
        Some(report)
    }
}

/// The span a job runs in, keyed by what it is about, so every line it logs (here and in the
/// sandbox) names its run, task and agent. The coordinator dispatches in the same span.
pub fn job_span(assignment: &Assignment) -> tracing::Span {
    match assignment {
        Assignment::Run(run) => {
            tracing::info_span!("run", run_id = %run.run_id, task = %run.task, agent = %run.agent, attempt = run.attempt)
        }
        Assignment::Grade(grade) => tracing::info_span!(
            "grade", grade_id = %grade.grade_id, run_id = %grade.run_id, task = %grade.task, agent = %grade.agent, attempt = grade.attempt
        ),
        Assignment::Solve(solve) => tracing::info_span!("solve", solve_id = %solve.solve_id, agent = %solve.agent),
    }
}

fn report_outcome(report: &Report) -> &'static str {
    match report {
        Report::Run(run) => run.outcome.as_str(),
        Report::Grade(grade) => grade.verdict.status.as_str(),
        Report::Solve(solve) => solve.outcome.as_str(),
    }
}

/// The report for a job the worker itself failed to run.
fn infra_failure(assignment: &Assignment, error: &str) -> Report {
    match assignment {
        Assignment::Run(run) => Report::Run(RunReport::failed(run.run_id.clone(), RunOutcome::InfraError, error)),
        Assignment::Grade(grade) => Report::Grade(GradeReport::infra_error(grade.grade_id.clone(), error)),
        Assignment::Solve(solve) => Report::Solve(SolveReport::failed(solve.solve_id.clone(), RunOutcome::InfraError, error)),
    }
}

/// Serves the coordinator until `shutdown` fires, reconnecting whenever the session drops.
/// On shutdown, running jobs are cancelled and awaited so they can remove their sandboxes.
pub async fn run_worker(config: WorkerConfig, executor: Arc<dyn Executor>, shutdown: CancellationToken) {
    let (progress_sink, mut progress) = mpsc::unbounded_channel();
    executor.attach_progress(progress_sink);
    let mut work = Work {
        executor,
        jobs: JoinSet::new(),
        running: HashMap::new(),
        cancels: HashMap::new(),
        unacked: BTreeMap::new(),
        cancel: shutdown.child_token(),
    };
    let mut delay = config.reconnect_delay;
    let mut endpoints = Endpoints::new(config.coordinator_urls.len());
    loop {
        let url = config.coordinator_urls.get(endpoints.current).map(String::as_str);
        let mut welcomed = false;
        let ended = match url {
            Some(url) => session(&config, url, &mut work, &mut progress, &shutdown, &mut welcomed).await,
            None => Err(SessionError::NoCoordinator),
        };
        let url = url.unwrap_or("(none)");
        match ended {
            Ok(SessionEnd::Shutdown) => break,
            Ok(SessionEnd::Disconnected) => {
                tracing::warn!(worker = %config.worker_id, coordinator = url, "coordinator closed the session; reconnecting");
            }
            Err(error) => {
                tracing::warn!(worker = %config.worker_id, coordinator = url, error = %error_chain(&error), "session failed; reconnecting");
            }
        }
        if welcomed {
            delay = config.reconnect_delay;
        }
        // Straight to the next coordinator, unless every one has just failed.
        let pause_for = if endpoints.failed(welcomed) { delay } else { Duration::ZERO };
        if !pause_for.is_zero() {
            tracing::info!(worker = %config.worker_id, "no coordinator answered; trying again in {pause_for:?}");
        }
        // Keep collecting finished jobs while disconnected; their reports go out on reconnect.
        let pause = tokio::time::sleep(pause_for);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = &mut pause => break,
                Some(_) = work.next_report(), if !work.jobs.is_empty() => {}
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        if !pause_for.is_zero() {
            delay = (delay * 2).min(MAX_RECONNECT_DELAY);
        }
    }
    work.cancel.cancel();
    while work.next_report().await.is_some() {}
}

/// Which coordinator of the list to use, and whether all have failed in a row.
#[derive(Debug)]
struct Endpoints {
    count: usize,
    current: usize,
    /// Failures since the last established session.
    failures: usize,
}

impl Endpoints {
    fn new(count: usize) -> Self {
        Self { count, current: 0, failures: 0 }
    }

    /// Moves to the next coordinator after a session ended (`welcomed`: it had been
    /// established). True when every coordinator has now failed since the last session that
    /// was established: time to wait before going round again.
    fn failed(&mut self, welcomed: bool) -> bool {
        let count = self.count.max(1);
        self.failures = if welcomed { 1 } else { self.failures + 1 };
        self.current = (self.current + 1) % count;
        self.failures.is_multiple_of(count)
    }
}

async fn session(
    config: &WorkerConfig,
    url: &str,
    work: &mut Work,
    progress: &mut mpsc::UnboundedReceiver<pb::WorkerMessage>,
    shutdown: &CancellationToken,
    welcomed: &mut bool,
) -> Result<SessionEnd, SessionError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|source| SessionError::BadUrl { url: url.to_owned(), source })?
        .connect_timeout(Duration::from_secs(5));
    let channel = tokio::select! {
        () = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
        channel = endpoint.connect() => channel.map_err(|source| SessionError::Connect { url: url.to_owned(), source })?,
    };
    let mut client = pb::worker_client::WorkerClient::new(channel)
        .max_decoding_message_size(crate::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(crate::MAX_MESSAGE_BYTES);

    let (outbound, receiver) = mpsc::channel::<pb::WorkerMessage>(64);
    let hello = pb::Hello {
        worker_id: config.worker_id.clone(),
        capabilities: config.capabilities.iter().map(|c| pb::Capability::from(*c).into()).collect(),
        capacity: config.capacity,
        hotkey: config.signer.hotkey().to_string(),
        software_version: env!("CARGO_PKG_VERSION").to_owned(),
        active_job_ids: work.active_job_ids(),
    };
    // Only the hello goes in before the call: the coordinator answers once it has read it, and
    // anything more could fill the channel before the transport starts draining it.
    let hello = pb::WorkerMessage { kind: Some(pb::worker_message::Kind::Hello(hello)) };
    // Signed afresh for every session: the nonce is the time of this attempt.
    let call = config.signer.signed_stream(crate::auth::WORKER_CONNECT, &hello, ReceiverStream::new(receiver));
    if outbound.send(hello).await.is_err() {
        return Ok(SessionEnd::Disconnected);
    }
    let mut inbound = client.connect(call).await.map_err(SessionError::Refused)?.into_inner();

    let welcome = match inbound.message().await.map_err(SessionError::Refused)? {
        Some(pb::CoordinatorMessage { kind: Some(pb::coordinator_message::Kind::Welcome(welcome)) }) => welcome,
        other => return Err(SessionError::Protocol(format!("expected a welcome, got {other:?}"))),
    };
    *welcomed = true;
    tracing::info!(worker = %config.worker_id, "connected to coordinator at {url}");
    for report in work.unacked.values().cloned() {
        if outbound.send(report.into()).await.is_err() {
            return Ok(SessionEnd::Disconnected);
        }
    }
    let mut heartbeat = tokio::time::interval(Duration::from_millis(welcome.heartbeat_interval_ms.max(100)));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
            _ = heartbeat.tick() => {
                let beat = pb::Heartbeat { active_job_ids: work.active_job_ids() };
                let message = pb::WorkerMessage { kind: Some(pb::worker_message::Kind::Heartbeat(beat)) };
                if outbound.send(message).await.is_err() {
                    return Ok(SessionEnd::Disconnected);
                }
            }
            Some(message) = progress.recv() => {
                if outbound.send(message).await.is_err() {
                    return Ok(SessionEnd::Disconnected);
                }
            }
            Some(report) = work.next_report(), if !work.jobs.is_empty() => {
                tracing::debug!(job = report.job_id(), "reporting");
                if outbound.send(report.into()).await.is_err() {
                    return Ok(SessionEnd::Disconnected);
                }
            }
            message = inbound.message() => match message {
                Ok(Some(message)) => handle_message(message, work, &config.worker_id),
                Ok(None) => return Ok(SessionEnd::Disconnected),
                Err(status) => return Err(SessionError::Refused(status)),
            },
        }
    }
}

fn handle_message(message: pb::CoordinatorMessage, work: &mut Work, worker_id: &str) {
    use pb::coordinator_message::Kind;
    let assignment: Result<Assignment, WireError> = match message.kind {
        Some(Kind::Run(run)) => run.try_into().map(Assignment::Run),
        Some(Kind::Grade(grade)) => grade.try_into().map(Assignment::Grade),
        Some(Kind::Solve(solve)) => solve.try_into().map(Assignment::Solve),
        Some(Kind::Cancel(cancel)) => {
            // The job reports as usual once it has stopped (and removed its container).
            if let Some(token) = work.cancels.get(&cancel.job_id) {
                tracing::info!(worker = worker_id, job = %cancel.job_id, "cancelling at the coordinator's request");
                token.cancel();
            }
            return;
        }
        Some(Kind::Ack(ack)) => {
            work.unacked.remove(&ack.job_id);
            if !ack.accepted {
                tracing::info!(job = %ack.job_id, "coordinator already had a result for this job");
            }
            return;
        }
        Some(Kind::Welcome(_)) | None => return,
    };
    match assignment {
        // A job whose lease ran out while this worker was cut off goes back in the queue, and
        // may come back here while it still runs: a second copy would do the work twice (a
        // second container for the same run). The running one's report answers the new lease.
        Ok(assignment) if work.cancels.contains_key(assignment.job_id()) => {
            tracing::info!(worker = worker_id, job = assignment.job_id(), "assigned a job that is still running here; keeping that one");
        }
        Ok(assignment) => {
            tracing::info!(worker = worker_id, job = assignment.job_id(), "assigned");
            work.spawn(assignment);
        }
        Err(error) => tracing::error!(worker = worker_id, %error, "ignoring a malformed assignment"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::task::JoinSet;
    use tokio_util::sync::CancellationToken;
    use whetstone_tasks::{Digest, RunId};

    use super::{Endpoints, Executor, Work, handle_message};
    use crate::convert::assignment_to_wire;
    use crate::job::{Assignment, Report, RunAssignment, RunOutcome, RunReport, SandboxLimits};

    /// Counts its jobs and holds each until cancelled.
    #[derive(Default)]
    struct Holding {
        started: AtomicU32,
    }

    #[async_trait::async_trait]
    impl Executor for Holding {
        async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
            self.started.fetch_add(1, Ordering::SeqCst);
            cancel.cancelled().await;
            Report::Run(RunReport::failed(RunId::new(assignment.job_id()), RunOutcome::InfraError, "cancelled"))
        }
    }

    #[tokio::test]
    async fn a_job_assigned_again_while_it_runs_here_runs_once() {
        let executor = Arc::new(Holding::default());
        let cancel = CancellationToken::new();
        let mut work = Work {
            executor: executor.clone(),
            jobs: JoinSet::new(),
            running: HashMap::new(),
            cancels: HashMap::new(),
            unacked: BTreeMap::new(),
            cancel: cancel.clone(),
        };
        let run = |attempt| {
            Assignment::Run(RunAssignment {
                run_id: RunId::new("run-1"),
                agent: Digest::of_bytes(b"agent"),
                task: Digest::of_bytes(b"task"),
                limits: SandboxLimits::default(),
                attempt,
                llm_budget_micro_usd: 0,
            })
        };
        handle_message(assignment_to_wire(&run(1), 0), &mut work, "w");
        // Its lease ran out while the worker was cut off; the coordinator hands it back.
        handle_message(assignment_to_wire(&run(2), 0), &mut work, "w");
        assert_eq!(work.active_job_ids(), vec!["run-1".to_owned()]);
        cancel.cancel();
        let report = work.next_report().await.expect("the job reports");
        assert_eq!(report.job_id(), "run-1");
        assert_eq!(executor.started.load(Ordering::SeqCst), 1, "one copy ran");

        // Once it has ended, the same job assigned again runs again (a retry).
        work.cancel = CancellationToken::new();
        handle_message(assignment_to_wire(&run(3), 0), &mut work, "w");
        assert_eq!(work.active_job_ids(), vec!["run-1".to_owned()]);
        work.cancel.cancel();
        work.next_report().await.expect("the retry reports");
        assert_eq!(executor.started.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_worker_goes_round_its_coordinators_and_waits_once_per_lap() {
        // (coordinators, sessions ending: whether each had been established) → (coordinator
        // used next, whether the worker waits first) after each.
        type Case = (usize, &'static [bool], &'static [(usize, bool)]);
        let cases: &[Case] = &[
            (1, &[false, false, true, false], &[(0, true), (0, true), (0, true), (0, true)]),
            (2, &[false, false, false, false], &[(1, false), (0, true), (1, false), (0, true)]),
            (2, &[true, false, true], &[(1, false), (0, true), (1, false)]),
            (3, &[false, true, false, false, false], &[(1, false), (2, false), (0, false), (1, true), (2, false)]),
        ];
        for (count, ends, expected) in cases {
            let mut endpoints = Endpoints::new(*count);
            let got: Vec<(usize, bool)> = ends
                .iter()
                .map(|welcomed| {
                    let wait = endpoints.failed(*welcomed);
                    (endpoints.current, wait)
                })
                .collect();
            assert_eq!(&got, expected, "{count} coordinators, sessions {ends:?}");
        }
    }
}
