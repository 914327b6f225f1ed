//! Jobs as the workers and the scheduler see them, free of wire types.

use std::time::Duration;

use whetstone_tasks::{Digest, GradeId, RunId, Verdict};

/// Resource limits for one sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    pub timeout: Duration,
    pub memory_mib: u64,
    /// Thousandths of a core.
    pub cpu_millis: u64,
    pub pids: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(600), memory_mib: 2048, cpu_millis: 1000, pids: 512 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAssignment {
    pub run_id: RunId,
    pub agent: Digest,
    pub task: Digest,
    pub limits: SandboxLimits,
    pub attempt: u32,
    /// What the agent may spend through the inference proxy; 0 means no LLM access.
    pub llm_budget_micro_usd: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunOutcome {
    /// The agent exited by itself; the patch is its work.
    Completed,
    /// The agent ran past its deadline and was killed; the patch is what it left.
    TimedOut,
    /// The agent could not be started or its work could not be collected.
    AgentError,
    /// The runner failed; the run is retried and never held against the miner.
    InfraError,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::TimedOut => "timed_out",
            Self::AgentError => "agent_error",
            Self::InfraError => "infra_error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Completed, Self::TimedOut, Self::AgentError, Self::InfraError].into_iter().find(|o| o.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub run_id: RunId,
    pub outcome: RunOutcome,
    pub patch: Vec<u8>,
    pub exit_code: i64,
    pub log: String,
    pub duration: Duration,
    pub error: String,
    /// What the agent did through the inference proxy.
    pub llm: LlmUsage,
    /// How long the agent's container ran: the run's sandbox time, for its cost.
    pub sandbox: Duration,
}

impl RunReport {
    /// A run that produced nothing to grade: no patch, no output, no LLM calls.
    pub fn failed(run_id: RunId, outcome: RunOutcome, error: impl Into<String>) -> Self {
        Self {
            run_id,
            outcome,
            patch: Vec::new(),
            exit_code: -1,
            log: String::new(),
            duration: Duration::ZERO,
            error: error.into(),
            llm: LlmUsage::default(),
            sandbox: Duration::ZERO,
        }
    }
}

/// One LLM call an agent made through the inference proxy, for its run's trajectory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LlmCall {
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_micro_usd: u64,
    pub latency_ms: u64,
    /// The HTTP status the agent got: the upstream's, 502/504 when the upstream failed, or
    /// 499 when the agent went away before the call finished.
    pub status: u16,
}

/// Everything a run did through the inference proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LlmUsage {
    pub calls: Vec<LlmCall>,
    pub spent_micro_usd: u64,
    /// Requests refused with 429 because they could have exceeded the budget.
    pub refused: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeAssignment {
    pub grade_id: GradeId,
    pub run_id: RunId,
    pub task: Digest,
    /// The agent that made the patch; signed into the verdict.
    pub agent: Digest,
    pub patch: Vec<u8>,
    pub limits: SandboxLimits,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeReport {
    pub grade_id: GradeId,
    pub verdict: Verdict,
    pub log: String,
    pub duration: Duration,
    /// The validator's signed statement of `verdict`; `None` for an infrastructure failure.
    pub signed: Option<whetstone_chain::verdict::SignedVerdict>,
}

impl GradeReport {
    /// The grader could not grade (Docker, fetch, shutdown, a worker that cannot grade): no
    /// verdict, nothing signed; the coordinator retries the grade.
    pub fn infra_error(grade_id: GradeId, notes: impl Into<String>) -> Self {
        Self { grade_id, verdict: Verdict::infra_error(notes), log: String::new(), duration: Duration::ZERO, signed: None }
    }
}

/// A developer's solve job: the agent on the developer's snapshot, with the statement as its
/// instruction, in the same sandbox, proxy and budget as a scored run.
#[derive(Clone, PartialEq, Eq)]
pub struct SolveAssignment {
    pub solve_id: String,
    pub agent: Digest,
    /// A tar of the repository's files (plain relative paths, regular files).
    pub snapshot: Vec<u8>,
    pub statement: String,
    /// Given to the agent as `WHETSTONE_TEST_COMMAND`; empty when none was named.
    pub test_command: String,
    pub limits: SandboxLimits,
    pub llm_budget_micro_usd: u64,
}

impl std::fmt::Debug for SolveAssignment {
    // The snapshot is the developer's code: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolveAssignment")
            .field("solve_id", &self.solve_id)
            .field("agent", &self.agent)
            .field("snapshot_bytes", &self.snapshot.len())
            .field("limits", &self.limits)
            .field("llm_budget_micro_usd", &self.llm_budget_micro_usd)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolveReport {
    pub solve_id: String,
    pub outcome: RunOutcome,
    /// `git diff --binary` of the agent's work against the snapshot; empty when unchanged.
    pub patch: Vec<u8>,
    pub log: String,
    pub error: String,
    pub spent_micro_usd: u64,
    pub duration: Duration,
    /// Stopped before the agent finished (cancelled by the developer or the runner's shutdown).
    pub cancelled: bool,
    /// The developer's test command run on the agent's work, when one was named and a diff came.
    pub tests: Option<SolveTests>,
}

/// The developer's test command's result on the agent's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolveTests {
    pub command: String,
    pub exit_code: i64,
    pub output_tail: String,
}

impl SolveReport {
    pub fn failed(solve_id: impl Into<String>, outcome: RunOutcome, error: impl Into<String>) -> Self {
        Self {
            solve_id: solve_id.into(),
            outcome,
            patch: Vec::new(),
            log: String::new(),
            error: error.into(),
            spent_micro_usd: 0,
            duration: Duration::ZERO,
            cancelled: false,
            tests: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    Run(RunAssignment),
    Grade(GradeAssignment),
    Solve(SolveAssignment),
}

impl Assignment {
    pub fn job_id(&self) -> &str {
        match self {
            Self::Run(run) => run.run_id.as_str(),
            Self::Grade(grade) => grade.grade_id.as_str(),
            Self::Solve(solve) => solve.solve_id.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Run(RunReport),
    Grade(GradeReport),
    Solve(SolveReport),
}

impl Report {
    pub fn job_id(&self) -> &str {
        match self {
            Self::Run(run) => run.run_id.as_str(),
            Self::Grade(grade) => grade.grade_id.as_str(),
            Self::Solve(solve) => solve.solve_id.as_str(),
        }
    }
}

/// What a worker can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    RunAgent,
    Grade,
}
