//! Durable coordinator state behind the [`Store`] trait, in an SQLite file or PostgreSQL
//! ([`SqlStore`], chosen by [`DatabaseUrl`]). Every state change the scheduler makes is one
//! call here, and each call is one transaction or one conditional statement, so a crash
//! between calls never leaves a half-done transition.

mod database;
mod epochs_sql;
mod leases;
mod sql;

pub use database::{Backend, DatabaseUrl, InvalidDatabaseUrl};
pub use sql::SqlStore;
pub(crate) use sql::now_ms;
use whetstone_chain::verdict::SignedVerdict;
use whetstone_proto::job::{GradeReport, LlmUsage, RunReport};
use whetstone_tasks::{Digest, GradeId, Hotkey, RunId, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("failed to connect to the database at {url}: is the server running, and are the URL's host, user and password right?")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored verdict for {grade_id} is unreadable")]
    CorruptVerdict {
        grade_id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to create the database directory {path}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgent {
    pub digest: Digest,
    pub name: String,
    pub version: String,
    pub hotkey: Hotkey,
    /// The miner's signed claim on the agent (whetstone_chain::verdict::AgentClaim).
    pub claimed_at_ms: u64,
    pub claim_signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub digest: Digest,
    pub task_id: String,
    pub timeout_secs: u64,
}

/// An epoch as the coordinator recorded it when the chain reached its boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochRow {
    pub epoch: u64,
    pub boundary_block: u64,
    pub block_hash: [u8; 32],
}

/// Where a task stands in the epochs (`whetstone_chain::epochs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the pool, drawable from this epoch on.
    Pool { eligible_from: u64 },
    /// Generated for one epoch with this generator seed.
    Fresh { epoch: u64, generator_seed: u64 },
}

/// The tasks runs are scheduled on: the current epoch's set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochTasks {
    pub epoch: u64,
    pub tasks: Vec<Digest>,
}

/// A run ready to be leased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRun {
    pub run_id: RunId,
    pub agent: Digest,
    pub task: Digest,
}

/// Who takes a lease and until when: the worker holding the job, the coordinator whose
/// session that worker is on, and the Unix time in milliseconds the lease runs out unless it
/// is renewed. The scheduler passes the time in, so the store never reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTerms<'a> {
    pub worker: &'a str,
    pub coordinator: &'a str,
    pub expires_at_ms: i64,
}

/// A run leased to a worker, with its attempt number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRun {
    pub run: QueuedRun,
    pub attempt: u32,
}

/// The job a lease is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LeasedJob {
    Run(RunId),
    Grade(GradeId),
}

impl LeasedJob {
    pub fn id(&self) -> &str {
        match self {
            Self::Run(id) => id.as_str(),
            Self::Grade(id) => id.as_str(),
        }
    }
}

/// A live lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLease {
    pub job: LeasedJob,
    pub worker: String,
    pub expires_at_ms: i64,
}

/// A lease that ran out, and what became of its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    pub job: LeasedJob,
    pub worker: String,
    /// False when the job had had `max_attempts` and ended as an infrastructure failure.
    pub requeued: bool,
}

/// Why a run has a grade slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradePurpose {
    /// One of the run's `grading.replicas` independent grades.
    Replica,
    /// One more grade because the verdicts disagreed.
    Dispute,
    /// A random re-grade of a run whose verdicts agreed.
    Audit,
}

impl GradePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replica => "replica",
            Self::Dispute => "dispute",
            Self::Audit => "audit",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "dispute" => Self::Dispute,
            "audit" => Self::Audit,
            _ => Self::Replica,
        }
    }
}

/// A grade slot ready to be leased, with who may take it. The patch is read at lease time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedGrade {
    pub grade_id: GradeId,
    pub run_id: RunId,
    pub task: Digest,
    pub agent: Digest,
    pub task_timeout_secs: u64,
    pub purpose: GradePurpose,
    /// The hotkey of the agent-runner that made the patch.
    pub runner: Option<Hotkey>,
    /// Validators holding another slot of this run or with a verdict on it: none may take this one.
    pub taken_by: Vec<Hotkey>,
}

/// What a grade slot is about: what a verdict reported for it must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeSubject {
    pub run_id: RunId,
    pub task: Digest,
    pub agent: Digest,
    pub patch: Digest,
    /// The validator holding the slot, if any.
    pub holder: Option<Hotkey>,
}

/// A verified verdict to store: the signed bytes verbatim, and the decoded report beside them.
#[derive(Debug, Clone)]
pub struct NewVerdict<'a> {
    pub report: &'a GradeReport,
    pub run_id: &'a RunId,
    pub validator: &'a Hotkey,
    pub signed: &'a SignedVerdict,
    pub worker: &'a str,
}

/// A run's report to record, from `worker`, whose session signed in as `runner`.
#[derive(Debug, Clone, Copy)]
pub struct CompletedRun<'a> {
    pub report: &'a RunReport,
    pub worker: &'a str,
    pub runner: &'a Hotkey,
}

/// A grade slot to lease to `validator`'s worker on `terms`.
#[derive(Debug, Clone, Copy)]
pub struct GradeLease<'a> {
    pub grade_id: &'a GradeId,
    pub terms: LeaseTerms<'a>,
    pub validator: &'a Hotkey,
}

/// One ledger row, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub seq: u64,
    pub run_id: RunId,
    pub statement: Vec<u8>,
    pub signature: Vec<u8>,
}

/// A run's grade slots and its verdicts: what decides whether it needs another grade.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunGrading {
    /// Each slot's purpose and whether it is still open (queued or leased).
    pub slots: Vec<(GradePurpose, bool)>,
    /// Each verdict's signed statement bytes, in ledger order.
    pub statements: Vec<Vec<u8>>,
}

/// An agent's ownership claim as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRow {
    pub agent: Digest,
    pub miner: Hotkey,
    pub claimed_at_ms: u64,
    pub signature: Vec<u8>,
}

/// What happened to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First report for the job: stored.
    Accepted,
    /// The job already had its result: nothing changed.
    Duplicate,
    /// No such job.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub digest: Digest,
    pub name: String,
    pub version: String,
    pub hotkey: Hotkey,
    /// The earlier agent this one copies, when it was accepted as a flagged copy.
    pub copy_of: Option<CopyMark>,
}

/// An agent flagged as a copy: of which earlier agent, and how closely (per mille of the
/// similarity score, `whetstone_tasks::similarity::Similarity::score`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyMark {
    pub original: Digest,
    pub permille: u32,
}

/// An earlier agent's stored fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFingerprint {
    pub digest: Digest,
    pub hotkey: Hotkey,
    pub hashes: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub runs_total: u32,
    pub runs_done: u32,
    pub grades_total: u32,
    pub grades_done: u32,
}

/// A run with everything a miner may see about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub run_id: RunId,
    pub agent: Digest,
    pub agent_name: String,
    pub task: Digest,
    pub task_id: String,
    pub state: String,
    pub outcome: Option<String>,
    pub attempts: u32,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
    /// The first verdict stored for the run (its per-test detail); the result that counts is
    /// the consensus over every verdict.
    pub verdict: Option<Verdict>,
    /// Signed verdicts in the ledger for this run.
    pub verdicts: u32,
    /// What the run cost, as its agent-runner reported it (zero until it reports).
    pub cost: RunCost,
}

/// What one run, or an agent's runs together, cost: LLM spend through the inference proxy and
/// the agent container's time. Reported by agent-runners and not signed by validators, so it
/// orders the displayed leaderboard but never moves weights (docs/scoring.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCost {
    pub llm_micro_usd: u64,
    pub sandbox_ms: u64,
}

impl RunCost {
    /// This cost spread over `resolved` tasks; `None` when nothing was resolved.
    pub fn per_resolved(self, resolved: u32) -> Option<RunCost> {
        (resolved > 0)
            .then(|| RunCost { llm_micro_usd: self.llm_micro_usd / u64::from(resolved), sandbox_ms: self.sandbox_ms / u64::from(resolved) })
    }
}

/// One run's trajectory: its record, the agent's output and patch, its LLM calls, and who
/// submitted the agent (the only miner allowed to read it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDetail {
    pub record: RunRecord,
    pub hotkey: Hotkey,
    pub log: Option<String>,
    pub patch: Option<Vec<u8>>,
    pub llm: LlmUsage,
}

/// A stored grade slot with its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeRow {
    pub grade_id: GradeId,
    pub run_id: RunId,
    pub purpose: GradePurpose,
    pub state: String,
    pub validator: Option<Hotkey>,
    pub verdict: Option<Verdict>,
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Returns false when an agent with this digest already exists.
    async fn insert_agent(&self, agent: &NewAgent) -> Result<bool, StoreError>;
    /// Returns false when the task was already published.
    async fn insert_task(&self, task: &NewTask) -> Result<bool, StoreError>;
    /// Queues a run for every (agent, task) pair that has none: with `epoch`, only on that
    /// epoch's tasks, with run ids that name the epoch; without, on every task. Returns how
    /// many.
    async fn schedule_missing_runs(&self, epoch: Option<&EpochTasks>) -> Result<u32, StoreError>;
    /// Records an epoch's boundary; false when it was recorded already (the first stands).
    async fn record_epoch(&self, epoch: &EpochRow) -> Result<bool, StoreError>;
    /// Every recorded epoch, oldest first.
    async fn epochs(&self) -> Result<Vec<EpochRow>, StoreError>;
    /// Gives a published task its place in the epochs, once; false when it had one already
    /// (or there is no such task).
    async fn place_task(&self, task: &Digest, placement: Placement) -> Result<bool, StoreError>;
    /// Every placed task with its place, by digest.
    async fn placements(&self) -> Result<Vec<(Digest, Placement)>, StoreError>;

    /// The oldest queued runs, at most `limit` (a look at the queue; [`Self::claim_run`] takes).
    async fn queued_runs(&self, limit: u32) -> Result<Vec<QueuedRun>, StoreError>;
    /// Leases the oldest queued run on each of `terms` in turn, in one transaction: coordinators
    /// claiming at once each get different runs (PostgreSQL skips a row another claim holds
    /// locked; SQLite has one writer). The runs claimed, in the order of `terms` (the first
    /// claimed went to `terms[0]`), fewer when the queue ran out.
    async fn claim_runs(&self, terms: &[LeaseTerms<'_>]) -> Result<Vec<ClaimedRun>, StoreError>;
    /// [`Self::claim_runs`] for one: `None` when nothing is queued.
    async fn claim_run(&self, terms: &LeaseTerms<'_>) -> Result<Option<ClaimedRun>, StoreError> {
        Ok(self.claim_runs(std::slice::from_ref(terms)).await?.pop())
    }
    /// Puts a run `worker` holds back in the queue, or ends it as an infrastructure failure
    /// when it has had `max_attempts`. `Some(true)` when requeued, `None` when `worker` does
    /// not hold its lease (it ran out, or another worker has the run now).
    async fn requeue_run(&self, run_id: &RunId, worker: &str, max_attempts: u32, reason: &str) -> Result<Option<bool>, StoreError>;
    /// Records each run's first report (made by its `runner`'s agent-runner) and, when there
    /// is work to grade, queues `replicas` grade slots for it; all in one transaction. What
    /// became of each report, in order.
    async fn complete_runs(&self, runs: &[CompletedRun<'_>], replicas: u32) -> Result<Vec<Recorded>, StoreError>;
    /// [`Self::complete_runs`] for one.
    async fn complete_run(&self, report: &RunReport, worker: &str, runner: &Hotkey, replicas: u32) -> Result<Recorded, StoreError> {
        let recorded = self.complete_runs(&[CompletedRun { report, worker, runner }], replicas).await?;
        Ok(recorded.into_iter().next().unwrap_or(Recorded::Unknown))
    }

    async fn queued_grades(&self, limit: u32) -> Result<Vec<QueuedGrade>, StoreError>;
    /// Leases each queued slot on its terms to its validator's worker, unless that validator
    /// already holds another slot of the run or has a verdict on it; in one transaction. For
    /// each, in order: the attempt number and the patch, or `None` when it was not leased.
    async fn lease_grades(&self, leases: &[GradeLease<'_>]) -> Result<Vec<Option<(u32, Vec<u8>)>>, StoreError>;
    /// [`Self::lease_grades`] for one.
    async fn lease_grade(
        &self,
        grade_id: &GradeId,
        terms: &LeaseTerms<'_>,
        validator: &Hotkey,
    ) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
        let lease = GradeLease { grade_id, terms: *terms, validator };
        Ok(self.lease_grades(&[lease]).await?.pop().flatten())
    }
    /// Puts a slot `worker` holds back in the queue for any validator, or ends it as an
    /// infrastructure failure after `max_attempts`. As [`Self::requeue_run`].
    async fn requeue_grade(&self, grade_id: &GradeId, worker: &str, max_attempts: u32, reason: &str) -> Result<Option<bool>, StoreError>;
    /// Extends the leases `terms.worker` holds on these jobs (run or grade ids) to
    /// `terms.expires_at_ms`, now through `terms.coordinator`. Jobs it does not hold are left
    /// alone. Returns the leases renewed.
    async fn renew_leases(&self, terms: &LeaseTerms<'_>, job_ids: &[String]) -> Result<Vec<HeldLease>, StoreError>;
    /// Requeues every run and grade slot whose lease ran out by `now_ms`, whichever
    /// coordinator handed it out (ending as infrastructure failures those that had
    /// `max_attempts`). Each expired lease is reported by exactly one caller.
    async fn expire_leases(&self, now_ms: i64, max_attempts: u32) -> Result<Vec<ExpiredLease>, StoreError>;
    /// The live leases held through `coordinator`'s sessions.
    async fn held_leases(&self, coordinator: &str) -> Result<Vec<HeldLease>, StoreError>;
    /// Whether `validator` holds a leased grade slot on a run of task `task`: the one reason
    /// to send it the task's grading part (hidden tests, gold patch, expected test ids).
    async fn holds_grade_lease(&self, validator: &Hotkey, task: &Digest) -> Result<bool, StoreError>;
    /// What a verdict for each slot must be about, in order; `None` where there is no such slot.
    async fn grade_subjects(&self, grade_ids: &[GradeId]) -> Result<Vec<Option<GradeSubject>>, StoreError>;
    /// [`Self::grade_subjects`] for one.
    async fn grade_subject(&self, grade_id: &GradeId) -> Result<Option<GradeSubject>, StoreError> {
        Ok(self.grade_subjects(std::slice::from_ref(grade_id)).await?.pop().flatten())
    }
    /// Appends checked verdicts to the ledger, in order and in one transaction, each filling
    /// its slot when the slot's holder reported it. `Duplicate` where the validator already has
    /// a verdict on the run (the first stands).
    async fn record_verdicts(&self, verdicts: &[NewVerdict<'_>]) -> Result<Vec<Recorded>, StoreError>;
    /// [`Self::record_verdicts`] for one.
    async fn record_verdict(&self, verdict: &NewVerdict<'_>) -> Result<Recorded, StoreError> {
        Ok(self.record_verdicts(std::slice::from_ref(verdict)).await?.pop().unwrap_or(Recorded::Unknown))
    }
    /// Each run's slots and verdicts, in order.
    async fn run_gradings(&self, run_ids: &[RunId]) -> Result<Vec<RunGrading>, StoreError>;
    /// [`Self::run_gradings`] for one.
    async fn run_grading(&self, run_id: &RunId) -> Result<RunGrading, StoreError> {
        Ok(self.run_gradings(std::slice::from_ref(run_id)).await?.pop().unwrap_or_default())
    }
    /// Queues one more slot for each run, in one transaction; the new slots' ids, in order.
    async fn add_grades(&self, grades: &[(RunId, GradePurpose)]) -> Result<Vec<GradeId>, StoreError>;
    /// [`Self::add_grades`] for one.
    async fn add_grade(&self, run_id: &RunId, purpose: GradePurpose) -> Result<GradeId, StoreError> {
        let ids = self.add_grades(&[(run_id.clone(), purpose)]).await?;
        ids.into_iter().next().ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }
    /// Ledger rows after `after_seq`, in order, at most `limit`.
    async fn verdicts_after(&self, after_seq: u64, limit: u32) -> Result<Vec<LedgerRow>, StoreError>;
    /// Every agent's claim, by submission.
    async fn claims(&self) -> Result<Vec<ClaimRow>, StoreError>;
    /// A run's grade slots, oldest first.
    async fn grades_for_run(&self, run_id: &RunId) -> Result<Vec<GradeRow>, StoreError>;

    async fn agents(&self) -> Result<Vec<AgentRow>, StoreError>;
    /// Stores an agent's fingerprint (made with fingerprint format `version`) and, when it was
    /// accepted as a copy, what it copies.
    async fn store_fingerprint(&self, digest: &Digest, version: u32, hashes: &[u64], copy: Option<&CopyMark>) -> Result<(), StoreError>;
    /// Every stored fingerprint of format `version`, oldest agent first.
    async fn fingerprints(&self, version: u32) -> Result<Vec<StoredFingerprint>, StoreError>;
    async fn task_count(&self) -> Result<u32, StoreError>;
    async fn counts(&self) -> Result<Counts, StoreError>;
    /// Runs and grade slots waiting for a worker (state `queued`).
    async fn queue_depth(&self) -> Result<(u32, u32), StoreError>;
    /// Every run (or one agent's), by agent submission then task id.
    async fn run_records(&self, agent: Option<&Digest>) -> Result<Vec<RunRecord>, StoreError>;
    /// One run with its trajectory; `None` when there is no such run.
    async fn run_detail(&self, run_id: &RunId) -> Result<Option<RunDetail>, StoreError>;
    /// When `hotkey` submitted agents at or after `since_ms` (Unix milliseconds), oldest first.
    async fn agent_exists(&self, digest: &Digest) -> Result<bool, StoreError>;
    async fn submissions_since(&self, hotkey: &Hotkey, since_ms: i64) -> Result<Vec<i64>, StoreError>;
    /// What each agent's finished runs cost together, by agent digest (agents without a
    /// finished run are absent).
    async fn agent_costs(&self) -> Result<Vec<(Digest, RunCost)>, StoreError>;
    /// Every blob digest a record names (agent packages, task bundles; run logs once they
    /// move to blobs): what the blob garbage collector must keep.
    async fn blob_references(&self) -> Result<Vec<Digest>, StoreError>;
}
