//! One agent run, end to end.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use whetstone_proto::fetch::Fetcher;
use whetstone_proto::job::{Assignment, Report, RunAssignment, RunOutcome, RunReport, SandboxLimits};
use whetstone_proto::worker::Executor;
use whetstone_sandbox::archive::{pack_dir, pack_files, unpack_safe};
use whetstone_sandbox::{Exit, ImageRef, Limits, LogProgress, Role, RunSpec, Sandbox, Upload};
use whetstone_tasks::protect::MAX_PATCH_BYTES;
use whetstone_tasks::{AgentPackage, Task};

/// The agent's user inside the sandbox (see AGENT_CONTRACT.md).
const AGENT_UID: (u32, u32) = (1000, 1000);
const OUTPUT_CAP_BYTES: usize = 64 * 1024;

/// Runs agents for the coordinator; see the crate docs.
#[derive(Debug, Clone)]
pub struct AgentRunner {
    sandbox: Sandbox,
    fetcher: Fetcher,
}

impl AgentRunner {
    pub fn new(sandbox: Sandbox, fetcher: Fetcher) -> Self {
        Self { sandbox, fetcher }
    }

    async fn run(&self, assignment: RunAssignment, cancel: CancellationToken) -> RunReport {
        let started = Instant::now();
        let run_id = assignment.run_id.clone();
        let failure = |outcome: RunOutcome, error: String| RunReport {
            run_id: run_id.clone(),
            outcome,
            patch: Vec::new(),
            exit_code: -1,
            log: String::new(),
            duration: started.elapsed(),
            error,
        };
        let task = match self.fetcher.task(&assignment.task).await {
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
        let image = match self.sandbox.ensure_task_image(task.dockerfile(), &LogProgress).await {
            Ok(image) => image,
            Err(error) => return failure(RunOutcome::InfraError, format!("failed to prepare the task image: {error}")),
        };
        let job_id = assignment.run_id.to_string();
        tokio::select! {
            () = cancel.cancelled() => failure(RunOutcome::InfraError, "runner shut down during the run".into()),
            report = run_agent(&self.sandbox, &image, &task, &agent, assignment.limits, &job_id) => {
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
            Assignment::Grade(grade) => Report::Grade(whetstone_proto::job::GradeReport {
                grade_id: grade.grade_id,
                verdict: whetstone_tasks::Verdict {
                    status: whetstone_tasks::VerdictStatus::InfraError,
                    fail_to_pass_passed: 0,
                    fail_to_pass_total: 0,
                    pass_to_pass_passed: 0,
                    pass_to_pass_total: 0,
                    tests: Vec::new(),
                    notes: "an agent-runner cannot grade".into(),
                },
                log: String::new(),
                duration: Duration::ZERO,
            }),
        }
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
pub async fn run_agent(
    sandbox: &Sandbox,
    image: &ImageRef,
    task: &Task,
    agent: &AgentPackage,
    limits: SandboxLimits,
    job_id: &str,
) -> RunReport {
    let report = |outcome, patch, exit_code, log, error: String| RunReport {
        run_id: whetstone_tasks::RunId::new(job_id),
        outcome,
        patch,
        exit_code,
        log,
        duration: Duration::ZERO,
        error,
    };
    let workspace = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return report(RunOutcome::InfraError, Vec::new(), -1, String::new(), format!("no scratch space: {e}")),
    };
    let pristine = workspace.path().join("pristine");
    if let Err(error) = whetstone_tasks::repo::materialize(&task.subtree("repo"), &pristine) {
        return report(RunOutcome::InfraError, Vec::new(), -1, String::new(), format!("failed to materialise the repo: {error}"));
    }
    let uploads = match build_uploads(&pristine, task, agent) {
        Ok(uploads) => uploads,
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
        ("WHETSTONE_TEST_COMMAND".into(), task.spec.tests.command.clone()),
        ("WHETSTONE_TIMEOUT_SECS".into(), limits.timeout.as_secs().to_string()),
        ("WHETSTONE_DEADLINE".into(), deadline_secs.to_string()),
    ];
    spec.uploads = uploads;
    spec.downloads = vec!["/repo".into()];
    spec.limits = sandbox_limits(limits);
    spec.output_cap_bytes = OUTPUT_CAP_BYTES;

    let outcome = match sandbox.run(spec).await {
        Ok(outcome) => outcome,
        Err(error) => return report(RunOutcome::InfraError, Vec::new(), -1, String::new(), format!("sandbox failed: {error}")),
    };
    let (run_outcome, exit_code, note) = match outcome.exit {
        Exit::Code(code) => (RunOutcome::Completed, code, String::new()),
        Exit::TimedOut => (RunOutcome::TimedOut, -1, format!("agent killed at its {}s deadline", limits.timeout.as_secs())),
        Exit::OutOfMemory => (RunOutcome::AgentError, 137, format!("agent ran out of memory ({} MiB)", limits.memory_mib)),
    };
    let log = outcome.output;
    let Some((_, Some(tree))) = outcome.downloads.into_iter().next() else {
        return report(RunOutcome::AgentError, Vec::new(), exit_code, log, "the agent removed /repo".into());
    };
    let work = workspace.path().join("work");
    if let Err(error) = unpack_safe(&tree, &work, true) {
        return report(RunOutcome::AgentError, Vec::new(), exit_code, log, format!("the agent's work tree is unusable: {error}"));
    }
    // The sandbox's .git is the agent's to tamper with; the diff uses the pristine one.
    let _ = std::fs::remove_dir_all(work.join(".git"));
    let patch = match whetstone_tasks::repo::diff_against_head(&pristine, &work) {
        Ok(patch) => patch,
        Err(error) => return report(RunOutcome::AgentError, Vec::new(), exit_code, log, format!("failed to diff the work tree: {error}")),
    };
    if patch.len() > MAX_PATCH_BYTES {
        let error = format!("patch is {} bytes, over the {MAX_PATCH_BYTES}-byte limit", patch.len());
        return report(RunOutcome::AgentError, Vec::new(), exit_code, log, error);
    }
    report(run_outcome, patch, exit_code, log, note)
}

/// `/repo` (with its one-commit `.git`), `/agent` and `/task/instruction.md`, owned by the
/// agent's user.
fn build_uploads(pristine: &std::path::Path, task: &Task, agent: &AgentPackage) -> std::io::Result<Vec<Upload>> {
    let repo = pack_dir(pristine, "repo", AGENT_UID)?;
    let mut files: Vec<(String, Vec<u8>, u32)> = agent
        .bundle
        .files
        .iter()
        .map(|f| (format!("agent/{}", f.path), f.bytes.clone(), if f.executable { 0o755 } else { 0o644 }))
        .collect();
    files.push(("task/instruction.md".into(), task.instruction.as_bytes().to_vec(), 0o644));
    let rest = pack_files(&files, AGENT_UID)?;
    Ok(vec![Upload { dest_dir: "/".into(), tar: repo }, Upload { dest_dir: "/".into(), tar: rest }])
}
