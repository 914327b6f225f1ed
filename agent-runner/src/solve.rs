//! A developer's solve job (issue 12): the scored run's path with the developer's snapshot in
//! the task repo's place and the problem statement as the agent's instruction. The snapshot
//! is turned into an in-memory [`Task`] that exists only for this job: it is never written to
//! the runner's cache, never published, and the scratch directories of the run are removed
//! when it ends.

use std::time::Instant;

use tokio_util::sync::CancellationToken;
use whetstone_proto::job::{RunOutcome, SolveAssignment, SolveReport, SolveTests};
use whetstone_sandbox::LogProgress;
use whetstone_tasks::bundle::Bundle;
use whetstone_tasks::digest::{TreeFile, digest_files};
use whetstone_tasks::task::{GradingSpec, SourceSpec, TaskSpec, TestSpec};
use whetstone_tasks::{Task, task::Framework};

use crate::run::{AGENT_UID, AgentRunner, LlmAccess, agent_image, agent_limits, run_agent_with};

/// The environment a snapshot runs in: the subnet's base image (Debian with Python and
/// pytest), as the starter tasks use.
pub const SOLVE_DOCKERFILE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nENV PYTHONDONTWRITEBYTECODE=1 TZ=UTC LC_ALL=C.UTF-8\n";

/// The job's task: the snapshot's files as `repo/`, the statement as the instruction. Entries
/// under `.git/` are dropped (the run gives the agent a fresh one-commit repository).
pub fn snapshot_task(assignment: &SolveAssignment) -> Result<Task, String> {
    let snapshot = Bundle::from_tar(&assignment.snapshot).map_err(|e| format!("the snapshot is unusable: {e}"))?;
    let mut files: Vec<TreeFile> = snapshot
        .files
        .into_iter()
        .filter(|f| f.path != ".git" && !f.path.starts_with(".git/"))
        .map(|f| TreeFile { path: format!("repo/{}", f.path), ..f })
        .collect();
    if files.is_empty() {
        return Err("the snapshot has no files".into());
    }
    let text = |path: &str, bytes: &[u8]| TreeFile { path: path.to_owned(), executable: false, bytes: bytes.to_vec() };
    files.push(text("environment/Dockerfile", SOLVE_DOCKERFILE.as_bytes()));
    files.push(text("instruction.md", assignment.statement.as_bytes()));
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let spec = TaskSpec {
        format: whetstone_tasks::task::FORMAT_VERSION,
        id: "solve".into(),
        difficulty: None,
        framework: Framework::default(),
        source: SourceSpec { project: "snapshot".into(), version: "0".into(), license: "NOASSERTION".into(), url: String::new() },
        tests: TestSpec {
            command: assignment.test_command.clone(),
            timeout_secs: assignment.limits.timeout.as_secs(),
            fail_to_pass: Vec::new(),
            pass_to_pass: Vec::new(),
        },
        grading: GradingSpec::default(),
    };
    Ok(Task { spec, instruction: assignment.statement.clone(), bundle: Bundle { digest: digest_files(&files), files } })
}

impl AgentRunner {
    pub(crate) async fn solve(&self, assignment: SolveAssignment, cancel: CancellationToken) -> SolveReport {
        let started = Instant::now();
        let id = assignment.solve_id.clone();
        let failure =
            |outcome: RunOutcome, error: String| SolveReport { duration: started.elapsed(), ..SolveReport::failed(&id, outcome, error) };
        let task = match snapshot_task(&assignment) {
            Ok(task) => task,
            Err(error) => return failure(RunOutcome::AgentError, error),
        };
        let visible = task.visible();
        let agent = match self.fetcher().agent(&assignment.agent).await {
            Ok(agent) => agent,
            Err(error) => return failure(RunOutcome::InfraError, format!("failed to fetch the agent: {error}")),
        };
        let image = tokio::select! {
            () = cancel.cancelled() => return SolveReport { cancelled: true, ..failure(RunOutcome::InfraError, "cancelled".into()) },
            image = agent_image(self.sandbox(), &visible, &agent, &LogProgress) => match image {
                Ok(image) => image,
                Err(error) => return failure(RunOutcome::InfraError, format!("failed to prepare the agent's image: {error}")),
            },
        };
        let limits = agent_limits(assignment.limits, &agent);
        let llm = match (self.gateway(), assignment.llm_budget_micro_usd) {
            (Some(gateway), budget) if budget > 0 => Some(LlmAccess { gateway, budget_micro_usd: budget }),
            _ => None,
        };
        let (tap, chunks) = tokio::sync::mpsc::unbounded_channel();
        let forwarding = tokio::spawn(forward_log(id.clone(), chunks, self.progress().cloned()));
        // Dropping the run on cancellation drops its container's guard, which removes it.
        let report = tokio::select! {
            () = cancel.cancelled() => SolveReport { cancelled: true, ..failure(RunOutcome::InfraError, "cancelled while the agent ran".into()) },
            report = run_agent_with(self.sandbox(), &image, &visible, &agent, limits, &id, llm, Some(tap)) => SolveReport {
                solve_id: id.clone(),
                outcome: report.outcome,
                patch: report.patch,
                log: report.log,
                error: report.error,
                spent_micro_usd: report.llm.spent_micro_usd,
                duration: started.elapsed(),
                cancelled: false,
                tests: None,
            },
        };
        // The tap closed with the run: the last lines go out before the report.
        let _ = forwarding.await;
        if report.cancelled || report.patch.is_empty() || assignment.test_command.trim().is_empty() {
            return report;
        }
        let tests = tokio::select! {
            () = cancel.cancelled() => return SolveReport { cancelled: true, ..report },
            tests = run_tests(self.sandbox(), &image, &task, &report.patch, &assignment.test_command, limits, &id) => tests,
        };
        SolveReport { tests: Some(tests), duration: started.elapsed(), ..report }
    }
}

/// Output kept of the test command (its end).
const TEST_OUTPUT_TAIL_BYTES: usize = 4000;

/// The developer's test command on the snapshot with the agent's diff applied, in a fresh
/// container of the job's image with the agent's limits (at most 5 minutes) and no network.
async fn run_tests(
    sandbox: &whetstone_sandbox::Sandbox,
    image: &whetstone_sandbox::ImageRef,
    task: &Task,
    patch: &[u8],
    command: &str,
    limits: whetstone_proto::job::SandboxLimits,
    job_id: &str,
) -> SolveTests {
    let result = |exit_code: i64, output: String| SolveTests { command: command.to_owned(), exit_code, output_tail: tail(&output) };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => return result(-1, format!("[whetstone] no scratch space for the tests: {error}")),
    };
    let prepared = (|| -> Result<Vec<u8>, String> {
        whetstone_tasks::repo::materialize(&task.subtree("repo"), dir.path()).map_err(|e| e.to_string())?;
        let repo = git2::Repository::open(dir.path()).map_err(|e| e.to_string())?;
        let diff = git2::Diff::from_buffer(patch).map_err(|e| e.to_string())?;
        repo.apply(&diff, git2::ApplyLocation::WorkDir, None).map_err(|e| format!("the diff does not apply: {e}"))?;
        whetstone_sandbox::archive::pack_dir(dir.path(), "", AGENT_UID).map_err(|e| e.to_string())
    })();
    let tar = match prepared {
        Ok(tar) => tar,
        Err(error) => return result(-1, format!("[whetstone] could not prepare the tests: {error}")),
    };
    let limits = whetstone_proto::job::SandboxLimits { timeout: limits.timeout.min(std::time::Duration::from_secs(300)), ..limits };
    let memory = limits.memory_mib.saturating_mul(1024 * 1024);
    let mut spec = whetstone_sandbox::RunSpec::new(
        image.clone(),
        vec!["sh".into(), "-c".into(), command.to_owned()],
        whetstone_sandbox::Role::Agent,
        format!("{job_id}-tests"),
    );
    spec.working_dir = "/repo".into();
    spec.user = Some(format!("{}:{}", AGENT_UID.0, AGENT_UID.1));
    spec.env = vec![("HOME".into(), "/tmp".into()), ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())];
    spec.tmpfs = vec![
        whetstone_sandbox::Tmpfs::scratch("/tmp", (memory / 4).min(256 * 1024 * 1024)),
        whetstone_sandbox::Tmpfs::owned_by("/repo", (memory / 4).min(whetstone_sandbox::MAX_DOWNLOAD_BYTES), AGENT_UID),
    ];
    spec.uploads = vec![whetstone_sandbox::Upload { dest_dir: "/repo".into(), tar }];
    spec.read_only_root = true;
    spec.limits = crate::run::sandbox_limits(limits);
    spec.output_cap_bytes = 64 * 1024;
    match sandbox.run(spec).await {
        Ok(outcome) => match outcome.exit {
            whetstone_sandbox::Exit::Code(code) => result(code, outcome.output),
            whetstone_sandbox::Exit::TimedOut => {
                result(-1, format!("{}\n[whetstone] the tests ran past {}s and were stopped", outcome.output, limits.timeout.as_secs()))
            }
            whetstone_sandbox::Exit::OutOfMemory => result(137, format!("{}\n[whetstone] the tests ran out of memory", outcome.output)),
        },
        Err(error) => result(-1, format!("[whetstone] the test container failed: {error}")),
    }
}

fn tail(output: &str) -> String {
    if output.len() <= TEST_OUTPUT_TAIL_BYTES {
        return output.to_owned();
    }
    let mut start = output.len() - TEST_OUTPUT_TAIL_BYTES;
    while !output.is_char_boundary(start) {
        start += 1;
    }
    output[start..].to_owned()
}

/// Sends the agent's output to the coordinator line by line as it comes, as `SolveProgress`
/// messages; a trailing partial line goes out when the output ends.
async fn forward_log(
    solve_id: String,
    mut chunks: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    sink: Option<whetstone_proto::worker::ProgressSink>,
) {
    let send = |lines: Vec<String>| {
        if let Some(sink) = &sink
            && !lines.is_empty()
        {
            let progress = whetstone_proto::pb::SolveProgress { solve_id: solve_id.clone(), lines };
            let _ = sink.send(whetstone_proto::pb::WorkerMessage {
                kind: Some(whetstone_proto::pb::worker_message::Kind::SolveProgress(progress)),
            });
        }
    };
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = chunks.recv().await {
        pending.extend_from_slice(&chunk);
        let Some(end) = pending.iter().rposition(|b| *b == b'\n') else { continue };
        let complete: Vec<u8> = pending.drain(..=end).collect();
        send(String::from_utf8_lossy(&complete).lines().map(str::to_owned).collect());
    }
    send(String::from_utf8_lossy(&pending).lines().map(str::to_owned).collect());
}

#[cfg(test)]
mod tests {
    use whetstone_proto::job::SandboxLimits;
    use whetstone_tasks::Digest;

    use super::*;

    fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let files: Vec<(String, Vec<u8>, u32)> = files.iter().map(|(p, b)| ((*p).to_owned(), b.to_vec(), 0o644)).collect();
        whetstone_sandbox::archive::pack_files(&files, (0, 0)).expect("packs")
    }

    fn assignment(snapshot: Vec<u8>) -> SolveAssignment {
        SolveAssignment {
            solve_id: "solve-1".into(),
            agent: Digest::of_bytes(b"agent"),
            snapshot,
            statement: "fix the bug".into(),
            test_command: "pytest -q".into(),
            limits: SandboxLimits::default(),
            llm_budget_micro_usd: 0,
        }
    }

    #[test]
    fn the_snapshot_becomes_the_repo_and_the_statement_the_instruction() {
        let task = snapshot_task(&assignment(tar(&[("src/a.py", b"x = 1\n"), (".git/HEAD", b"ref")]))).expect("task");
        assert_eq!(task.instruction, "fix the bug");
        assert_eq!(task.spec.tests.command, "pytest -q");
        let repo: Vec<String> = task.subtree("repo").files.into_iter().map(|f| f.path).collect();
        assert_eq!(repo, vec!["src/a.py".to_owned()], ".git is dropped: the run makes its own");
        assert!(task.bundle.file("environment/Dockerfile").is_some());
    }

    #[test]
    fn an_empty_snapshot_is_refused() {
        assert!(snapshot_task(&assignment(tar(&[(".git/HEAD", b"ref")]))).expect_err("empty").contains("no files"));
    }
}
