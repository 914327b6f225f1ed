//! Coordinator configuration. Every field has a default, so an empty file (or none) works.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use whetstone_proto::job::SandboxLimits;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// Where the SQLite database (`coordinator.db`, unless `database` says otherwise) and,
    /// unless `[blobs] url` says otherwise, the blobs (`blobs/`) live.
    /// Default `./.whetstone/coordinator`.
    pub data_dir: PathBuf,
    /// The database: `postgres://user:password@host:port/db` for PostgreSQL (several
    /// coordinators may share one), or the path of an SQLite file. Default: none, meaning
    /// `<data_dir>/coordinator.db`.
    pub database: Option<crate::store::DatabaseUrl>,
    /// gRPC listen address. Default `127.0.0.1:50051`; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How long a job stays with a worker without a heartbeat. Default 60 s.
    pub lease_secs: u64,
    /// How often workers send heartbeats (told to them on connect). Default 2000 ms.
    pub heartbeat_ms: u64,
    /// How often leases are checked and work dispatched. Default 200 ms.
    pub tick_ms: u64,
    /// Runs and grades are tried this many times before failing for infrastructure reasons.
    /// Default 3.
    pub max_attempts: u32,
    /// Limits of an agent's sandbox. Default 600 s, 2048 MiB, 1 core, 256 pids.
    pub agent_limits: LimitsConfig,
    /// Limits of a grading sandbox; its timeout is the task's test timeout plus
    /// `grade_overhead_secs`. Default 2048 MiB, 1 core, 512 pids.
    pub grade_limits: LimitsConfig,
    /// Default 60 s.
    pub grade_overhead_secs: u64,
    /// What each run may spend on LLM calls through the runner's inference proxy, in
    /// micro-dollars (1 000 000 = $1). 0 gives agents no LLM access. Default 250 000 ($0.25).
    pub llm_budget_micro_usd: u64,
    /// How many agents one hotkey may submit per window. Default 3 per 86 400 s (a day).
    pub submissions: SubmissionLimit,
    /// Who may submit agents and connect as a worker, and this coordinator's hotkey (see
    /// `crate::auth::AuthConfig`). Default: signatures required and membership from the
    /// chain's metagraph, which needs `auth.hotkey` set.
    pub auth: crate::auth::AuthConfig,
    /// Where agent packages, task bundles and logs are stored, and when unreferenced ones are
    /// removed. Default: `<data_dir>/blobs` on local disk, swept every 6 hours with a day's grace.
    pub blobs: BlobsConfig,
    /// How many validators grade each run, and when a run gets one more grade (a dispute when
    /// verdicts disagree, a random audit). Default 2 replicas, 2 disputes, 5 % audited.
    pub grading: crate::grading::GradingConfig,
    /// The developers' solve API: where it listens, its limits and retention (see
    /// `crate::solve::SolveConfig`). Default: off in the library, 127.0.0.1:50052 from
    /// `whetstone coordinator`.
    pub solve: crate::solve::SolveConfig,
    /// When a submission is a copy of another miner's agent, and what then: refused (the
    /// default) or accepted and marked on the leaderboard. Default threshold 0.5.
    pub copies: crate::copies::CopiesConfig,
    /// The dashboard served on the solve API's HTTP port (see `crate::web::WebConfig`).
    /// Default: public pages only; runs' logs, LLM calls and patches hidden.
    pub web: crate::web::WebConfig,
    /// Evaluation epochs (`[epochs]`, see `whetstone_chain::epochs::EpochRules` and
    /// docs/scoring.md): each epoch's set is drawn from the task pool and fresh tasks with
    /// the chain's block hash at the epoch's boundary, and scores are per epoch with decay.
    /// Needs a chain (`whetstone coordinator --chain.endpoint`). Default: off, every published
    /// task is in one set and scored by `consensus/1`.
    pub epochs: Option<whetstone_chain::epochs::EpochRules>,
}

impl CoordinatorConfig {
    /// The database: the configured URL, or `<data_dir>/coordinator.db`.
    pub fn database_or_default(&self) -> crate::store::DatabaseUrl {
        self.database.clone().unwrap_or_else(|| crate::store::DatabaseUrl::in_data_dir(&self.data_dir))
    }
}

/// The `[blobs]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobsConfig {
    /// `file:///path` (or a plain path), `s3://bucket/prefix` (any S3-compatible store;
    /// credentials, region and endpoint from the usual `AWS_*` variables, see docs/deploy.md),
    /// or `memory:` (tests only: nothing survives a restart). Default: none, meaning
    /// `<data_dir>/blobs`.
    pub url: Option<crate::blobs::BlobUrl>,
    /// Seconds between garbage collection sweeps; 0 turns collection off. Default 21 600 (6 h).
    pub gc_interval_secs: u64,
    /// An unreferenced blob is removed only once it is this many seconds old. Default 86 400
    /// (a day); see `blobs/gc.rs` for why it must exceed the time between a blob's write and
    /// its record's.
    pub gc_grace_secs: u64,
}

impl Default for BlobsConfig {
    fn default() -> Self {
        Self { url: None, gc_interval_secs: 6 * 60 * 60, gc_grace_secs: 24 * 60 * 60 }
    }
}

impl BlobsConfig {
    /// The store's location: the configured URL, or `<data_dir>/blobs`.
    pub fn url_or_default(&self, data_dir: &std::path::Path) -> crate::blobs::BlobUrl {
        self.url.clone().unwrap_or_else(|| crate::blobs::BlobUrl::Local(data_dir.join("blobs")))
    }

    /// `None` when collection is off.
    pub(crate) fn gc_schedule(&self) -> Option<crate::blobs::GcSchedule> {
        (self.gc_interval_secs > 0).then(|| crate::blobs::GcSchedule {
            interval: Duration::from_secs(self.gc_interval_secs),
            grace: Duration::from_secs(self.gc_grace_secs),
        })
    }
}

/// A hotkey may submit at most `max` agents in any `window_secs`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionLimit {
    pub max: u32,
    pub window_secs: u64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub timeout_secs: u64,
    pub memory_mib: u64,
    /// Thousandths of a core.
    pub cpu_millis: u64,
    pub pids: u64,
}

impl From<LimitsConfig> for SandboxLimits {
    fn from(value: LimitsConfig) -> Self {
        Self {
            timeout: Duration::from_secs(value.timeout_secs),
            memory_mib: value.memory_mib,
            cpu_millis: value.cpu_millis,
            pids: value.pids,
        }
    }
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".whetstone/coordinator"),
            database: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            lease_secs: 60,
            heartbeat_ms: 2000,
            tick_ms: 200,
            max_attempts: 3,
            agent_limits: LimitsConfig { timeout_secs: 600, memory_mib: 2048, cpu_millis: 1000, pids: 256 },
            grade_limits: LimitsConfig { timeout_secs: 300, memory_mib: 2048, cpu_millis: 1000, pids: 512 },
            grade_overhead_secs: 60,
            llm_budget_micro_usd: 250_000,
            submissions: SubmissionLimit { max: 3, window_secs: 86_400 },
            auth: crate::auth::AuthConfig::default(),
            blobs: BlobsConfig::default(),
            grading: crate::grading::GradingConfig::default(),
            solve: crate::solve::SolveConfig::default(),
            copies: crate::copies::CopiesConfig::default(),
            web: crate::web::WebConfig::default(),
            epochs: None,
        }
    }
}

/// What the scheduler needs, in its own units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchedulerConfig {
    pub lease_duration: Duration,
    pub tick: Duration,
    pub max_attempts: u32,
    pub agent_limits: SandboxLimits,
    pub grade_limits: SandboxLimits,
    pub grade_overhead: Duration,
    pub llm_budget_micro_usd: u64,
    pub grading: crate::grading::GradingConfig,
}

impl From<&CoordinatorConfig> for SchedulerConfig {
    fn from(value: &CoordinatorConfig) -> Self {
        Self {
            lease_duration: Duration::from_secs(value.lease_secs.max(1)),
            tick: Duration::from_millis(value.tick_ms.max(10)),
            max_attempts: value.max_attempts.max(1),
            agent_limits: value.agent_limits.into(),
            grade_limits: value.grade_limits.into(),
            grade_overhead: Duration::from_secs(value.grade_overhead_secs),
            llm_budget_micro_usd: value.llm_budget_micro_usd,
            grading: value.grading,
        }
    }
}
