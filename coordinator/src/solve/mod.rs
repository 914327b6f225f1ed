//! The developers' solve API (issue 12; the contract is served at `/v1/openapi.json`): a developer sends a
//! snapshot of their repository and a problem statement; the subnet's best agent (or one they
//! name) runs on it on a connected agent-runner, in the same sandbox, inference proxy and hard
//! budget as a scored run, and the diff comes back as Server-Sent Events.
//!
//! ```text
//! HTTP (axum, [solve] listen) ──submit/cancel──▶ Hub (owns solve jobs, their events) ◀── scheduler
//!      │  keys, limits ──▶ KeyStore (solve_keys, solve_jobs)        start_next / finish / fail
//!      └─ SSE ◀── job events (watch)                                 CancelJob ──▶ runner
//! ```
//!
//! The snapshot lives in memory only: in the queue until a runner takes it, then in the
//! assignment sent to that runner. It is never written to the blob store, never enters a task
//! set, and finished jobs (their diff and events) are forgotten after `[solve] retention_secs`.

mod http;
pub mod keys;
mod upload;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use whetstone_proto::job::{RunOutcome, SolveAssignment, SolveReport};

pub(crate) use self::http::{SolveApi, router};
use self::keys::{JobLease, KeyStore};
use crate::store::{StoreError, now_ms};

/// The `[solve]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SolveConfig {
    /// Where the HTTP solve API listens, beside gRPC; the dashboard's pages (`crate::web`)
    /// are served on the same port. Default none (off) in the library;
    /// `whetstone coordinator` serves it on 127.0.0.1:50052 unless told otherwise; port 0
    /// picks a free port.
    pub listen: Option<SocketAddr>,
    /// Largest snapshot (the tar, before base64) a job may carry. Default 32 MiB.
    pub max_snapshot_bytes: usize,
    /// `best` is the top of the leaderboard among agents with at least this many decided
    /// (graded to consensus) tasks. Default 3.
    pub min_decided: u32,
    /// A job's LLM budget when the request names none, in micro-dollars. Default 250 000 ($0.25).
    pub default_budget_micro_usd: u64,
    /// The most a request may ask for. Default 1 000 000 ($1).
    pub max_budget_micro_usd: u64,
    /// Jobs a key may start per minute. Default 10.
    pub rate_per_minute: u32,
    /// Jobs a key may have queued or running at once. Default 2.
    pub max_concurrent: u32,
    /// What a key's jobs may spend (running jobs count their whole budget) per
    /// `spend_window_secs`, in micro-dollars. Default 5 000 000 ($5).
    pub spend_cap_micro_usd: u64,
    /// Default 86 400 (a day).
    pub spend_window_secs: u64,
    /// How long a finished job's diff and events stay readable. Default 3 600 (an hour).
    pub retention_secs: u64,
    /// Agent log lines kept per job (SSE `log` events); the rest are dropped with a note.
    /// Default 2 000.
    pub max_log_lines: usize,
    /// The sandbox limits of a solve job. Default: the scored runs' `agent_limits`.
    pub limits: Option<crate::config::LimitsConfig>,
}

impl Default for SolveConfig {
    fn default() -> Self {
        Self {
            listen: None,
            max_snapshot_bytes: 32 * 1024 * 1024,
            min_decided: 3,
            default_budget_micro_usd: 250_000,
            max_budget_micro_usd: 1_000_000,
            rate_per_minute: 10,
            max_concurrent: 2,
            spend_cap_micro_usd: 5_000_000,
            spend_window_secs: 86_400,
            retention_secs: 3_600,
            max_log_lines: 2_000,
            limits: None,
        }
    }
}

/// The agent a job runs, as the API names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub digest: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishStatus {
    Diff,
    NoDiff,
    Failed,
    Cancelled,
}

impl FinishStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Diff => "diff",
            Self::NoDiff => "no_diff",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One SSE event: its number (1, 2, …), name and JSON data.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub id: u64,
    pub name: &'static str,
    pub data: serde_json::Value,
}

/// `GET /v1/solve/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub id: String,
    pub state: JobState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<FinishStatus>,
    pub agent: AgentInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub spent_micro_usd: u64,
}

#[derive(Debug)]
struct Job {
    key_id: String,
    agent: AgentInfo,
    state: JobState,
    status: Option<FinishStatus>,
    diff: String,
    error: String,
    spent_micro_usd: u64,
    events: Vec<JobEvent>,
    /// The number of events so far, for the SSE streams waiting on more.
    changed: watch::Sender<u64>,
    cancel_requested: bool,
    finished_at: Option<Instant>,
    /// Log lines the runner streamed while the agent ran; the report's log repeats them.
    live_lines: usize,
}

impl Job {
    fn push(&mut self, name: &'static str, data: serde_json::Value) {
        let id = self.events.len() as u64 + 1;
        self.events.push(JobEvent { id, name, data });
        self.changed.send_replace(id);
    }

    fn view(&self, id: &str) -> JobView {
        let finished = self.state == JobState::Finished;
        JobView {
            id: id.to_owned(),
            state: self.state,
            status: self.status,
            agent: self.agent.clone(),
            diff: finished.then(|| self.diff.clone()),
            error: (finished && !self.error.is_empty()).then(|| self.error.clone()),
            spent_micro_usd: self.spent_micro_usd,
        }
    }
}

#[derive(Debug, Default)]
struct HubState {
    jobs: HashMap<String, Job>,
    /// Jobs waiting for a runner, oldest first, with their snapshots.
    queue: VecDeque<SolveAssignment>,
}

/// What `DELETE` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was queued: it is finished (cancelled) now.
    Cancelled,
    /// A runner has it: the scheduler must tell the runner to stop.
    Cancelling,
    /// It had already finished.
    AlreadyFinished,
}

/// Owns every solve job: the queue the scheduler takes from, each job's events, and the
/// finish that the API's streams wait for.
#[derive(Debug)]
pub struct Hub {
    state: Mutex<HubState>,
    keys: KeyStore,
    config: SolveConfig,
    /// This process, as its jobs' rows name it (see [`keys::JobLease`]).
    coordinator_id: String,
    /// How long a job's row stays this process's without a renewal.
    lease: Duration,
}

impl Hub {
    pub(crate) fn new(keys: KeyStore, config: SolveConfig, coordinator_id: String, lease: Duration) -> Self {
        Self { state: Mutex::default(), keys, config, coordinator_id, lease }
    }

    /// This process's lease on its jobs' rows, from now.
    fn job_lease(&self) -> JobLease<'_> {
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        JobLease { coordinator: &self.coordinator_id, expires_at_ms: now_ms().saturating_add(lease_ms) }
    }

    /// Records a job this process accepted, holding `budget` against the key's spend.
    pub(crate) async fn record_created(&self, solve_id: &str, key_id: &str, agent: &str, budget: u64) -> Result<(), StoreError> {
        self.keys.job_created(solve_id, key_id, agent, budget, self.job_lease()).await
    }

    /// Until `shutdown`: every third of a lease, renews the leases of this process's
    /// unfinished jobs' rows and closes the rows whose coordinator stopped renewing them
    /// (crashed, here or on another host sharing the database).
    pub(crate) async fn keep_job_leases(&self, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval((self.lease / 3).max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            if let Err(error) = self.keys.renew_job_leases(self.job_lease()).await {
                tracing::warn!(error = %whetstone_proto::error_chain(&error), "failed to renew the leases of this coordinator's solve jobs");
            }
            match self.keys.close_expired_jobs(now_ms()).await {
                Ok(0) => {}
                Ok(closed) => tracing::info!(closed, "solve jobs whose coordinator stopped are marked failed"),
                Err(error) => {
                    tracing::warn!(error = %whetstone_proto::error_chain(&error), "failed to close the solve jobs of stopped coordinators")
                }
            }
        }
    }

    /// Closes this process's unfinished jobs' rows as failed: at shutdown, when the jobs
    /// (in its memory) end with it. Called once the solve API stopped taking jobs; a row
    /// made after it stays open until its lease runs out.
    pub(crate) async fn close_own_jobs(&self) {
        match self.keys.close_jobs_of(&self.coordinator_id, now_ms()).await {
            Ok(0) => {}
            Ok(closed) => tracing::info!(closed, "solve jobs unfinished at shutdown are marked failed"),
            Err(error) => tracing::warn!(
                error = %whetstone_proto::error_chain(&error),
                "failed to mark this coordinator's unfinished solve jobs failed; another coordinator does once their leases run out"
            ),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job. Returns its position in the queue (1 = next).
    pub(crate) fn submit(&self, key_id: &str, agent: AgentInfo, assignment: SolveAssignment) -> usize {
        let mut state = self.lock();
        let (changed, _) = watch::channel(0);
        let mut job = Job {
            key_id: key_id.to_owned(),
            agent,
            state: JobState::Queued,
            status: None,
            diff: String::new(),
            error: String::new(),
            spent_micro_usd: 0,
            events: Vec::new(),
            changed,
            cancel_requested: false,
            finished_at: None,
            live_lines: 0,
        };
        let position = state.queue.len() + 1;
        job.push("queued", serde_json::json!({ "position": position }));
        state.jobs.insert(assignment.solve_id.clone(), job);
        state.queue.push_back(assignment);
        position
    }

    /// The next queued job for a runner, with its snapshot; forgets finished jobs past their
    /// retention on the way.
    pub(crate) fn take_next(&self) -> Option<SolveAssignment> {
        let mut state = self.lock();
        let retention = Duration::from_secs(self.config.retention_secs);
        let now = Instant::now();
        state.jobs.retain(|_, job| job.finished_at.is_none_or(|at| now.duration_since(at) < retention));
        state.queue.pop_front()
    }

    /// A runner could not take it after all: back to the front of the queue.
    pub(crate) fn requeue(&self, assignment: SolveAssignment) {
        self.lock().queue.push_front(assignment);
    }

    /// The job went to `worker_id`.
    pub(crate) fn started(&self, solve_id: &str, worker_id: &str) {
        if let Some(job) = self.lock().jobs.get_mut(solve_id) {
            job.state = JobState::Running;
            job.push("started", serde_json::json!({ "runner": worker_id }));
        }
    }

    /// Lines of the agent's output while it runs, up to `max_log_lines`.
    pub(crate) fn live_log(&self, solve_id: &str, lines: Vec<String>) {
        let mut state = self.lock();
        let Some(job) = state.jobs.get_mut(solve_id).filter(|j| j.state == JobState::Running) else { return };
        for line in lines {
            job.live_lines += 1;
            if job.live_lines <= self.config.max_log_lines {
                job.push("log", serde_json::json!({ "line": line }));
            }
        }
    }

    /// Whether the job is one the API still knows (a runner may report after its retention).
    pub(crate) fn is_running(&self, solve_id: &str) -> bool {
        self.lock().jobs.get(solve_id).is_some_and(|j| j.state == JobState::Running)
    }

    /// A runner's report: the agent's log, its spend, and the diff or what went wrong.
    pub(crate) async fn finish(&self, report: SolveReport) {
        let status = {
            let mut state = self.lock();
            let Some(job) = state.jobs.get_mut(&report.solve_id) else { return };
            if job.state == JobState::Finished {
                return;
            }
            // Lines already streamed live are not sent again; the report has the rest (all of
            // them when the runner streamed nothing).
            let mut lines = report.log.lines().skip(job.live_lines);
            let room = self.config.max_log_lines.saturating_sub(job.live_lines);
            for line in lines.by_ref().take(room) {
                job.push("log", serde_json::json!({ "line": line }));
            }
            let dropped = lines.count();
            if dropped > 0 {
                job.push("log", serde_json::json!({ "line": format!("[whetstone] {dropped} more log lines not shown") }));
            }
            if let Some(tests) = &report.tests {
                job.push(
                    "tests",
                    serde_json::json!({ "command": tests.command, "exit_code": tests.exit_code, "output_tail": tests.output_tail }),
                );
            }
            job.spent_micro_usd = report.spent_micro_usd;
            job.push("spend", serde_json::json!({ "micro_usd": report.spent_micro_usd }));
            let status = if report.cancelled || job.cancel_requested {
                FinishStatus::Cancelled
            } else if !report.patch.is_empty() {
                FinishStatus::Diff
            } else if matches!(report.outcome, RunOutcome::InfraError | RunOutcome::AgentError) {
                FinishStatus::Failed
            } else {
                FinishStatus::NoDiff
            };
            let diff = if status == FinishStatus::Diff { String::from_utf8_lossy(&report.patch).into_owned() } else { String::new() };
            let error = match status {
                FinishStatus::Cancelled => "cancelled".to_owned(),
                FinishStatus::NoDiff if report.error.is_empty() => "the agent finished without changing any file".to_owned(),
                _ => report.error.clone(),
            };
            Self::close(job, status, diff, error);
            status
        };
        self.record_finish(&report.solve_id, status, report.spent_micro_usd).await;
    }

    /// The job ended without a report (its runner vanished).
    pub(crate) async fn fail(&self, solve_id: &str, error: &str) {
        let (status, spent) = {
            let mut state = self.lock();
            let Some(job) = state.jobs.get_mut(solve_id) else { return };
            if job.state == JobState::Finished {
                return;
            }
            let status = if job.cancel_requested { FinishStatus::Cancelled } else { FinishStatus::Failed };
            Self::close(job, status, String::new(), error.to_owned());
            (status, job.spent_micro_usd)
        };
        self.record_finish(solve_id, status, spent).await;
    }

    fn close(job: &mut Job, status: FinishStatus, diff: String, error: String) {
        job.state = JobState::Finished;
        job.status = Some(status);
        job.finished_at = Some(Instant::now());
        job.push("finished", serde_json::json!({ "status": status.as_str(), "diff": diff, "agent": job.agent, "error": error }));
        job.diff = diff;
        job.error = error;
    }

    async fn record_finish(&self, solve_id: &str, status: FinishStatus, spent: u64) {
        if let Err(error) = self.keys.job_finished(solve_id, status.as_str(), spent).await {
            tracing::error!(solve = solve_id, error = %whetstone_proto::error_chain(&error), "failed to record a finished solve job");
        }
    }

    /// Cancels `key_id`'s job. `None` when the key has no such job.
    pub(crate) async fn cancel(&self, key_id: &str, solve_id: &str) -> Option<CancelOutcome> {
        let outcome = {
            let mut state = self.lock();
            let job = state.jobs.get_mut(solve_id).filter(|j| j.key_id == key_id)?;
            match job.state {
                JobState::Finished => return Some(CancelOutcome::AlreadyFinished),
                JobState::Running => {
                    job.cancel_requested = true;
                    return Some(CancelOutcome::Cancelling);
                }
                JobState::Queued => {
                    Self::close(job, FinishStatus::Cancelled, String::new(), "cancelled before a runner took it".into());
                    state.queue.retain(|a| a.solve_id != solve_id);
                    CancelOutcome::Cancelled
                }
            }
        };
        self.record_finish(solve_id, FinishStatus::Cancelled, 0).await;
        Some(outcome)
    }

    /// `key_id`'s job as `GET /v1/solve/{id}` shows it.
    pub(crate) fn view(&self, key_id: &str, solve_id: &str) -> Option<JobView> {
        self.lock().jobs.get(solve_id).filter(|j| j.key_id == key_id).map(|j| j.view(solve_id))
    }

    /// Events of `key_id`'s job after `last_event_id`, whether the job has finished, and a
    /// receiver that changes when there are more.
    pub(crate) fn events_after(
        &self,
        key_id: &str,
        solve_id: &str,
        last_event_id: u64,
    ) -> Option<(Vec<JobEvent>, bool, watch::Receiver<u64>)> {
        let state = self.lock();
        let job = state.jobs.get(solve_id).filter(|j| j.key_id == key_id)?;
        let start = usize::try_from(last_event_id).unwrap_or(usize::MAX).min(job.events.len());
        Some((job.events[start..].to_vec(), job.state == JobState::Finished, job.changed.subscribe()))
    }

    /// Jobs of `key_id` queued or running.
    pub(crate) fn active_for(&self, key_id: &str) -> u32 {
        let count = self.lock().jobs.values().filter(|j| j.key_id == key_id && j.state != JobState::Finished).count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    pub(crate) fn keys(&self) -> &KeyStore {
        &self.keys
    }

    pub(crate) fn config(&self) -> &SolveConfig {
        &self.config
    }
}
