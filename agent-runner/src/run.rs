//! One agent run, end to end.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use whetstone_proto::fetch::Fetcher;
use whetstone_proto::job::{Assignment, LlmUsage, Report, RunAssignment, RunOutcome, RunReport, SandboxLimits};
use whetstone_proto::worker::Executor;
use whetstone_sandbox::archive::{pack_dir, pack_files, unpack_safe};
use whetstone_sandbox::{
    Exit, ImageRef, Limits, LogProgress, MAX_DOWNLOAD_BYTES, NetworkMode, Progress, Role, RunSpec, Sandbox, Tmpfs, Upload,
};
use whetstone_tasks::protect::MAX_PATCH_BYTES;
use whetstone_tasks::{AgentPackage, VisibleTask};

use crate::gateway::{InferenceGateway, task_seed};
use crate::proxy::RunBudget;

/// The agent's user inside the sandbox (see AGENT_CONTRACT.md).
pub(crate) const AGENT_UID: (u32, u32) = (1000, 1000);
const OUTPUT_CAP_BYTES: usize = 64 * 1024;
/// The work tree's cap: `/repo` is a tmpfs of this size, and the whole tree must come back
/// as one download, which the sandbox caps at the same size.
const WORK_TREE_BYTES: u64 = MAX_DOWNLOAD_BYTES;
/// Scratch space (`/tmp`, also `HOME`).
const SCRATCH_BYTES: u64 = 256 * 1024 * 1024;
/// A tmpfs counts against the memory limit; no mount may take more than this share of it, so
/// that a full disk is a full disk and not an out-of-memory kill.
const MAX_TMPFS_SHARE_OF_MEMORY: u64 = 4;
const OPEN_FILES: u64 = 1024;
/// Room on `/agent` and `/task` beyond their files: tmpfs rounds every file up to a page.
const PAGE_BYTES: u64 = 4096;

/// Runs agents for the coordinator; see the crate docs.
#[derive(Debug, Clone)]
pub struct AgentRunner {
    sandbox: Sandbox,
    fetcher: Fetcher,
    gateway: Option<Arc<InferenceGateway>>,
    /// Where solve jobs send their live log (see [`Executor::attach_progress`]).
    progress: Arc<std::sync::OnceLock<whetstone_proto::worker::ProgressSink>>,
}

impl AgentRunner {
    pub fn new(sandbox: Sandbox, fetcher: Fetcher) -> Self {
        Self { sandbox, fetcher, gateway: None, progress: Arc::default() }
    }

    pub(crate) fn progress(&self) -> Option<&whetstone_proto::worker::ProgressSink> {
        self.progress.get()
    }

    /// Gives runs with an LLM budget a run network whose only other member is a relay to
    /// `gateway`'s proxy (see [`InferenceGateway`]). Without it, and for runs with no budget,
    /// agents have no network at all.
    pub fn with_gateway(mut self, gateway: Arc<InferenceGateway>) -> Self {
        self.gateway = Some(gateway);
        self
    }

    pub(crate) fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    pub(crate) fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    pub(crate) fn gateway(&self) -> Option<&InferenceGateway> {
        self.gateway.as_deref()
    }

    async fn run(&self, assignment: RunAssignment, cancel: CancellationToken) -> RunReport {
        let started = Instant::now();
        let run_id = assignment.run_id.clone();
        let failure = |outcome: RunOutcome, error: String| RunReport {
            duration: started.elapsed(),
            ..RunReport::failed(run_id.clone(), outcome, error)
        };
        let task = match self.fetcher.visible_task(&assignment.task).await {
            Ok(task) => task,
            Err(error) => return failure(RunOutcome::InfraError, format!("failed to fetch the task: {error}")),
        };
        let agent = match self.fetcher.agent(&assignment.agent).await {
            Ok(agent) => agent,
            // A package the coordinator accepted but that does not parse is the agent's problem.
            Err(error @ whetstone_proto::fetch::FetchError::Invalid { .. }) => {
                return failure(RunOutcome::AgentError, error.to_string());
            }
            Err(error) => return failure(RunOutcome::InfraError, format!("failed to fetch the agent: {error}")),
        };
        let image = match agent_image(&self.sandbox, &task, &agent, &LogProgress).await {
            Ok(image) => image,
            Err(error) => return failure(RunOutcome::InfraError, format!("failed to prepare the agent's image: {error}")),
        };
        let limits = agent_limits(assignment.limits, &agent);
        let job_id = assignment.run_id.to_string();
        let llm = match (&self.gateway, assignment.llm_budget_micro_usd) {
            (Some(gateway), budget) if budget > 0 => Some(LlmAccess { gateway, budget_micro_usd: budget }),
            _ => None,
        };
        tokio::select! {
            () = cancel.cancelled() => failure(RunOutcome::InfraError, "runner shut down during the run".into()),
            report = run_agent_with(&self.sandbox, &image, &task, &agent, limits, &job_id, llm, None) => {
                let mut report = report;
                report.run_id = run_id.clone();
                report.duration = started.elapsed();
                report
            }
        }
    }
}

#[async_trait::async_trait]
impl Executor for AgentRunner {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
        match assignment {
            Assignment::Run(run) => Report::Run(self.run(run, cancel).await),
            Assignment::Solve(solve) => Report::Solve(self.solve(solve, cancel).await),
            Assignment::Grade(grade) => {
                Report::Grade(whetstone_proto::job::GradeReport::infra_error(grade.grade_id, "an agent-runner cannot grade"))
            }
        }
    }

    fn attach_progress(&self, sink: whetstone_proto::worker::ProgressSink) {
        let _ = self.progress.set(sink);
    }
}

/// The image `agent` runs in on `task`: the task's environment, plus the Debian packages its
/// `[runtime]` names (built once per task image and package set, then cached).
pub async fn agent_image(
    sandbox: &Sandbox,
    task: &VisibleTask,
    agent: &AgentPackage,
    progress: &dyn Progress,
) -> Result<ImageRef, whetstone_sandbox::SandboxError> {
    let task_image = sandbox.ensure_environment_image(&task.environment(), progress).await?;
    match agent.manifest.runtime.dockerfile() {
        Some(dockerfile) => sandbox.ensure_image(dockerfile.as_bytes(), &task_image, progress).await,
        None => Ok(task_image),
    }
}

/// The subnet's limits, lowered to what the agent's `[resources]` declares.
pub fn agent_limits(limits: SandboxLimits, agent: &AgentPackage) -> SandboxLimits {
    let declared = agent.manifest.resources;
    SandboxLimits {
        timeout: declared.timeout_secs.map_or(limits.timeout, |secs| limits.timeout.min(Duration::from_secs(secs))),
        memory_mib: declared.memory_mib.map_or(limits.memory_mib, |m| limits.memory_mib.min(m)),
        cpu_millis: declared.cpu_millis.map_or(limits.cpu_millis, |c| limits.cpu_millis.min(c)),
        pids: limits.pids,
    }
}

/// The coordinator's limits in the sandbox's units.
pub fn sandbox_limits(limits: SandboxLimits) -> Limits {
    Limits {
        timeout: limits.timeout,
        memory_bytes: limits.memory_mib.saturating_mul(1024 * 1024),
        nano_cpus: i64::try_from(limits.cpu_millis.saturating_mul(1_000_000)).unwrap_or(i64::MAX),
        pids: i64::try_from(limits.pids).unwrap_or(i64::MAX),
    }
}

/// Runs `agent` on `task` in a fresh container and returns its report (without run id and
/// duration, which the caller fills). This is the whole run as production does it; the
/// miner's local test harness calls it too.
///
/// The container's root is read-only. The agent writes to `/repo` (a tmpfs capped at
/// [`MAX_DOWNLOAD_BYTES`]) and `/tmp` (256 MiB), each at most a quarter of its memory;
/// `/agent` and `/task` are root's (read-only to the agent). It has no network, 1024 open
/// files, and the coordinator's memory, CPU, pid and time limits. Whatever the agent does,
/// the report is the agent's result or an agent error, never a runner failure: filling a
/// disk, exhausting memory, or leaving a tree that cannot be collected are agent errors.
pub async fn run_agent(
    sandbox: &Sandbox,
    image: &ImageRef,
    task: &VisibleTask,
    agent: &AgentPackage,
    limits: SandboxLimits,
    job_id: &str,
) -> RunReport {
    run_agent_with(sandbox, image, task, agent, limits, job_id, None, None).await
}

/// An LLM budget on a gateway, for one run.
#[derive(Debug, Clone, Copy)]
pub struct LlmAccess<'a> {
    pub gateway: &'a InferenceGateway,
    pub budget_micro_usd: u64,
}

/// [`run_agent`], with the agent on a run network whose only other member is a relay to
/// the gateway's inference proxy, holding a run key for `budget_micro_usd`: what production
/// does for a run with an LLM budget, and what `whetstone agent test` does. The relay and
/// the network are removed afterwards, and the report carries every LLM call.
#[expect(clippy::too_many_arguments, reason = "run_agent's arguments plus the LLM access")]
pub async fn run_agent_with_llm(
    sandbox: &Sandbox,
    image: &ImageRef,
    task: &VisibleTask,
    agent: &AgentPackage,
    limits: SandboxLimits,
    job_id: &str,
    gateway: &InferenceGateway,
    budget_micro_usd: u64,
) -> RunReport {
    run_agent_with(sandbox, image, task, agent, limits, job_id, Some(LlmAccess { gateway, budget_micro_usd }), None).await
}

#[expect(clippy::too_many_arguments, reason = "run_agent's arguments plus the LLM access and the output tap")]
pub(crate) async fn run_agent_with(
    sandbox: &Sandbox,
    image: &ImageRef,
    task: &VisibleTask,
    agent: &AgentPackage,
    limits: SandboxLimits,
    job_id: &str,
    llm: Option<LlmAccess<'_>>,
    tap: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
) -> RunReport {
    let Some(llm) = llm else {
        return run_in_sandbox(sandbox, image, task, agent, limits, job_id, NetworkMode::None, Vec::new(), tap).await;
    };
    let infra = |error: String| RunReport::failed(whetstone_tasks::RunId::new(job_id), RunOutcome::InfraError, error);
    let network = match sandbox.create_run_network(job_id).await {
        Ok(network) => network,
        Err(error) => return infra(format!("failed to create the run network: {error}")),
    };
    let budget = RunBudget { budget_micro_usd: llm.budget_micro_usd, seed: task_seed(task.digest()) };
    let access = match llm.gateway.open(sandbox, &network, job_id, budget).await {
        Ok(access) => access,
        Err(error) => return infra(format!("failed to start the inference relay: {error}")),
    };
    let mut report = run_in_sandbox(sandbox, image, task, agent, limits, job_id, network.mode(), access.env(), tap).await;
    report.llm = access.finish(llm.gateway).await;
    // Its guard would remove it too, in the background; removing it here means the report
    // goes out with nothing left behind.
    if let Err(error) = network.remove().await {
        tracing::warn!(%error, "failed to remove the run network");
    }
    report
}

#[expect(clippy::too_many_arguments, reason = "one run's every input, passed through")]
async fn run_in_sandbox(
    sandbox: &Sandbox,
    image: &ImageRef,
    task: &VisibleTask,
    agent: &AgentPackage,
    limits: SandboxLimits,
    job_id: &str,
    network: NetworkMode,
    extra_env: Vec<(String, String)>,
    tap: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
) -> RunReport {
    let report = |outcome, patch, exit_code, log, error: String| RunReport {
        run_id: whetstone_tasks::RunId::new(job_id),
        outcome,
        patch,
        exit_code,
        log,
        duration: Duration::ZERO,
        error,
        llm: LlmUsage::default(),
        sandbox: Duration::ZERO,
    };
    let workspace = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return report(RunOutcome::InfraError, Vec::new(), -1, String::new(), format!("no scratch space: {e}")),
    };
    let pristine = workspace.path().join("pristine");
    if let Err(error) = whetstone_tasks::repo::materialize(&task.repo(), &pristine) {
        return report(RunOutcome::InfraError, Vec::new(), -1, String::new(), format!("failed to materialise the repo: {error}"));
    }
    let (uploads, tmpfs) = match build_uploads(&pristine, task, agent, limits.memory_mib.saturating_mul(1024 * 1024)) {
        Ok(files) => files,
        Err(e) => return report(RunOutcome::InfraError, Vec::new(), -1, String::new(), format!("failed to pack the sandbox files: {e}")),
    };
    let deadline = SystemTime::now() + limits.timeout;
    let deadline_secs = deadline.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut spec = RunSpec::new(image.clone(), agent.manifest.entrypoint.clone(), Role::Agent, job_id);
    spec.working_dir = "/agent".into();
    spec.user = Some(format!("{}:{}", AGENT_UID.0, AGENT_UID.1));
    spec.env = vec![
        ("HOME".into(), "/tmp".into()),
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("WHETSTONE_REPO".into(), "/repo".into()),
        ("WHETSTONE_INSTRUCTION_FILE".into(), "/task/instruction.md".into()),
        ("WHETSTONE_INSTRUCTION".into(), task.instruction.clone()),
        ("WHETSTONE_TEST_COMMAND".into(), task.manifest.test_command.clone()),
        ("WHETSTONE_TIMEOUT_SECS".into(), limits.timeout.as_secs().to_string()),
        ("WHETSTONE_DEADLINE".into(), deadline_secs.to_string()),
    ];
    spec.env.extend(extra_env);
    spec.uploads = uploads;
    spec.downloads = vec!["/repo".into()];
    spec.limits = sandbox_limits(limits);
    spec.open_files = OPEN_FILES;
    // Nothing the agent writes reaches the host's disk: only the tmpfs mounts are writable.
    spec.read_only_root = true;
    spec.tmpfs = tmpfs;
    spec.network = network;
    spec.output_cap_bytes = OUTPUT_CAP_BYTES;
    spec.output_tap = tap;

    let outcome = match sandbox.run(spec).await {
        Ok(outcome) => outcome,
        Err(error) => return report(RunOutcome::InfraError, Vec::new(), -1, String::new(), format!("sandbox failed: {error}")),
    };
    let sandbox_time = outcome.timings.total;
    RunReport { sandbox: sandbox_time, ..collect_work(outcome, limits, &pristine, &workspace.path().join("work"), report) }
}

/// The run's result from what the agent's container left: its exit, its disk, its work tree
/// diffed against the pristine repo.
fn collect_work(
    outcome: whetstone_sandbox::RunOutcome,
    limits: SandboxLimits,
    pristine: &std::path::Path,
    work: &std::path::Path,
    report: impl Fn(RunOutcome, Vec<u8>, i64, String, String) -> RunReport,
) -> RunReport {
    let (run_outcome, exit_code, note) = match outcome.exit {
        Exit::Code(code) => (RunOutcome::Completed, code, String::new()),
        Exit::TimedOut => (RunOutcome::TimedOut, -1, format!("agent killed at its {}s deadline", limits.timeout.as_secs())),
        Exit::OutOfMemory => {
            let error = format!("agent ran out of memory ({} MiB)", limits.memory_mib);
            return report(RunOutcome::AgentError, Vec::new(), 137, outcome.output, error);
        }
    };
    let log = outcome.output;
    let full: Vec<String> = outcome
        .filesystems
        .iter()
        .filter(|fs| fs.is_full())
        .map(|fs| format!("{} ({} MiB)", fs.path, fs.size_bytes / (1024 * 1024)))
        .collect();
    if !full.is_empty() {
        let error = format!("the agent filled its disk space: {} full", full.join(", "));
        return report(RunOutcome::AgentError, Vec::new(), exit_code, log, error);
    }
    if !outcome.download_problems.is_empty() {
        let error = format!("the agent's work tree could not be collected: {}", outcome.download_problems.join("; "));
        return report(RunOutcome::AgentError, Vec::new(), exit_code, log, error);
    }
    let Some((_, Some(tree))) = outcome.downloads.into_iter().next() else {
        return report(RunOutcome::AgentError, Vec::new(), exit_code, log, "the agent removed /repo".into());
    };
    if let Err(error) = unpack_safe(&tree, work, true) {
        return report(RunOutcome::AgentError, Vec::new(), exit_code, log, format!("the agent's work tree is unusable: {error}"));
    }
    // The sandbox's .git is the agent's to tamper with; the diff uses the pristine one.
    let _ = std::fs::remove_dir_all(work.join(".git"));
    let patch = match whetstone_tasks::repo::diff_against_head(pristine, work) {
        Ok(patch) => patch,
        Err(error) => return report(RunOutcome::AgentError, Vec::new(), exit_code, log, format!("failed to diff the work tree: {error}")),
    };
    if patch.len() > MAX_PATCH_BYTES {
        let error = format!("patch is {} bytes, over the {MAX_PATCH_BYTES}-byte limit", patch.len());
        return report(RunOutcome::AgentError, Vec::new(), exit_code, log, error);
    }
    report(run_outcome, patch, exit_code, log, note)
}

/// What goes where: `/repo` (with its one-commit `.git`) in a tmpfs the agent owns, `/agent`
/// and `/task/instruction.md` in tmpfs mounts only root may write, and a scratch `/tmp`.
fn build_uploads(
    pristine: &std::path::Path,
    task: &VisibleTask,
    agent: &AgentPackage,
    memory_bytes: u64,
) -> std::io::Result<(Vec<Upload>, Vec<Tmpfs>)> {
    let most = (memory_bytes / MAX_TMPFS_SHARE_OF_MEMORY).max(PAGE_BYTES);
    let repo = pack_dir(pristine, "", AGENT_UID)?;
    let agent_files: Vec<(String, Vec<u8>, u32)> =
        agent.bundle.files.iter().map(|f| (f.path.clone(), f.bytes.clone(), if f.executable { 0o755 } else { 0o644 })).collect();
    let agent_tar = pack_files(&agent_files, (0, 0))?;
    let task_tar = pack_files(&[("instruction.md".into(), task.instruction.as_bytes().to_vec(), 0o644)], (0, 0))?;
    // Room for the files rounded up to pages, and for their directories.
    let fitted = |tar: &[u8], files: usize| tar.len() as u64 + (files as u64 + 16) * PAGE_BYTES;
    let tmpfs = vec![
        Tmpfs::scratch("/tmp", SCRATCH_BYTES.min(most)),
        Tmpfs::owned_by("/repo", WORK_TREE_BYTES.min(most), AGENT_UID),
        Tmpfs::read_only_to_users("/agent", fitted(&agent_tar, agent_files.len())),
        Tmpfs::read_only_to_users("/task", fitted(&task_tar, 1)),
    ];
    let uploads = vec![
        Upload { dest_dir: "/repo".into(), tar: repo },
        Upload { dest_dir: "/agent".into(), tar: agent_tar },
        Upload { dest_dir: "/task".into(), tar: task_tar },
    ];
    Ok((uploads, tmpfs))
}
