//! Durable coordinator state behind the [`Store`] trait: SQLite today ([`SqliteStore`]),
//! Postgres when one machine is not enough. Every state change the scheduler makes is one
//! call here, and each call is one transaction or one conditional statement, so a crash
//! between calls never leaves a half-done transition.

mod sqlite;

pub use sqlite::SqliteStore;
pub(crate) use sqlite::now_ms;
use whetstone_proto::job::{GradeReport, LlmUsage, RunReport};
use whetstone_tasks::{Digest, GradeId, Hotkey, RunId, Verdict, VerdictStatus};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub digest: Digest,
    pub task_id: String,
    pub timeout_secs: u64,
}

/// A run ready to be leased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRun {
    pub run_id: RunId,
    pub agent: Digest,
    pub task: Digest,
}

/// A grade ready to be leased, with what the validator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedGrade {
    pub grade_id: GradeId,
    pub run_id: RunId,
    pub task: Digest,
    pub agent: Digest,
    pub patch: Vec<u8>,
    pub task_timeout_secs: u64,
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

/// Where a run stands, for scoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub agent: Digest,
    pub task: Digest,
    pub run_done: bool,
    pub run_outcome: Option<String>,
    pub grade_done: bool,
    pub verdict: Option<VerdictStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub digest: Digest,
    pub name: String,
    pub version: String,
    pub hotkey: Hotkey,
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
    pub verdict: Option<Verdict>,
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

/// A stored grade with its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeRow {
    pub grade_id: GradeId,
    pub run_id: RunId,
    pub verdict: Option<Verdict>,
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Returns false when an agent with this digest already exists.
    async fn insert_agent(&self, agent: &NewAgent) -> Result<bool, StoreError>;
    /// Returns false when the task was already published.
    async fn insert_task(&self, task: &NewTask) -> Result<bool, StoreError>;
    /// Queues a run for every (agent, task) pair that has none. Returns how many.
    async fn schedule_missing_runs(&self) -> Result<u32, StoreError>;
    /// Puts every leased run and grade back in the queue (start-up after a crash).
    async fn requeue_all_leased(&self) -> Result<u64, StoreError>;

    async fn queued_runs(&self, limit: u32) -> Result<Vec<QueuedRun>, StoreError>;
    /// Marks a queued run leased; returns its attempt number, or None if it was not queued.
    async fn lease_run(&self, run_id: &RunId, worker: &str) -> Result<Option<u32>, StoreError>;
    /// Puts a leased run back in the queue, or ends it as an infrastructure failure when it
    /// has had `max_attempts`. Returns true when it was requeued.
    async fn requeue_run(&self, run_id: &RunId, max_attempts: u32, reason: &str) -> Result<bool, StoreError>;
    /// Records a run's first report and queues its grading when there is work to grade.
    async fn complete_run(&self, report: &RunReport, worker: &str) -> Result<Recorded, StoreError>;

    async fn queued_grades(&self, limit: u32) -> Result<Vec<QueuedGrade>, StoreError>;
    async fn lease_grade(&self, grade_id: &GradeId, worker: &str) -> Result<Option<u32>, StoreError>;
    async fn requeue_grade(&self, grade_id: &GradeId, max_attempts: u32, reason: &str) -> Result<bool, StoreError>;
    async fn complete_grade(&self, report: &GradeReport, worker: &str) -> Result<Recorded, StoreError>;

    async fn agents(&self) -> Result<Vec<AgentRow>, StoreError>;
    async fn task_count(&self) -> Result<u32, StoreError>;
    async fn run_summaries(&self) -> Result<Vec<RunSummary>, StoreError>;
    async fn counts(&self) -> Result<Counts, StoreError>;
    async fn grade_for_run(&self, run_id: &RunId) -> Result<Option<GradeRow>, StoreError>;
    /// Every run (or one agent's), by agent submission then task id.
    async fn run_records(&self, agent: Option<&Digest>) -> Result<Vec<RunRecord>, StoreError>;
    /// One run with its trajectory; `None` when there is no such run.
    async fn run_detail(&self, run_id: &RunId) -> Result<Option<RunDetail>, StoreError>;
    /// When `hotkey` submitted agents at or after `since_ms` (Unix milliseconds), oldest first.
    async fn agent_exists(&self, digest: &Digest) -> Result<bool, StoreError>;
    async fn submissions_since(&self, hotkey: &Hotkey, since_ms: i64) -> Result<Vec<i64>, StoreError>;
    /// Every blob digest a record names (agent packages, task bundles; run logs once they
    /// move to blobs): what the blob garbage collector must keep.
    async fn blob_references(&self) -> Result<Vec<Digest>, StoreError>;
}
