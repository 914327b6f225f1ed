//! Reproducing imported tasks (`whetstone tasks import`): grading a gold or an empty patch
//! exactly as validators grade agents' patches, and running a task's reference solution in its
//! environment to make its gold patch.

use std::time::Duration;

use whetstone_proto::job::SandboxLimits;
use whetstone_sandbox::archive::{pack_dir, pack_files, unpack_safe};
use whetstone_sandbox::{Exit, Limits, NetworkMode, Progress, Role, RunSpec, Sandbox, SandboxError, Tmpfs, Upload};
use whetstone_tasks::import::{Reproducer, Solution};
use whetstone_tasks::{Task, Verdict};

use crate::grade::grade_patch;

/// The solution's work tree and its files: tmpfs mounts, as in grading.
const REPO_TMPFS_BYTES: u64 = 1024 * 1024 * 1024;
const SOLUTION_TMPFS_BYTES: u64 = 64 * 1024 * 1024;
/// Lines of a failed build's or a failed solution's output a drop reason quotes.
const TAIL_LINES: usize = 12;

/// The Docker side of an import: the task's environment image (built on first use and cached
/// by tag), the validator's own [`grade_patch`] for gradings, and a throwaway container for
/// reference solutions.
pub struct ImportReproducer<'a> {
    sandbox: Sandbox,
    limits: SandboxLimits,
    progress: &'a dyn Progress,
}

impl std::fmt::Debug for ImportReproducer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportReproducer").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl<'a> ImportReproducer<'a> {
    /// Grades with the subnet's default limits; image builds report to `progress`.
    pub fn new(sandbox: Sandbox, progress: &'a dyn Progress) -> Self {
        Self { sandbox, limits: SandboxLimits::default(), progress }
    }

    async fn image(&self, task: &Task) -> Result<whetstone_sandbox::ImageRef, String> {
        self.sandbox.ensure_environment_image(&task.environment(), self.progress).await.map_err(|error| match error {
            SandboxError::ImageBuild { message, log_tail, .. } => {
                format!("the environment image did not build: {message}; build output ends:\n{}", tail(&log_tail))
            }
            other => format!("the environment image is not available: {}", whetstone_proto::error_chain(&other)),
        })
    }

    fn job_id(task: &Task, what: &str) -> String {
        format!("import-{what}-{}-{}", task.spec.id, uuid::Uuid::new_v4().simple())
    }
}

impl Reproducer for ImportReproducer<'_> {
    async fn grade(&self, task: &Task, patch: &[u8]) -> Verdict {
        let image = match self.image(task).await {
            Ok(image) => image,
            Err(error) => return Verdict::infra_error(error),
        };
        grade_patch(&self.sandbox, &image, task, patch, self.limits, &Self::job_id(task, "grade")).await.verdict
    }

    async fn solve(&self, task: &Task, solution: &Solution) -> Result<Vec<u8>, String> {
        let image = self.image(task).await?;
        let workspace = tempfile::tempdir().map_err(|e| format!("no scratch space: {e}"))?;
        let pristine = workspace.path().join("pristine");
        whetstone_tasks::repo::materialize(&task.subtree("repo"), &pristine)
            .map_err(|e| format!("failed to materialise the repository: {e}"))?;
        let repo_tar = pack_dir(&pristine, "", (0, 0)).map_err(|e| format!("failed to pack the repository: {e}"))?;
        let files: Vec<(String, Vec<u8>, u32)> =
            solution.files.iter().map(|f| (f.path.clone(), f.bytes.clone(), if f.executable { 0o755 } else { 0o644 })).collect();
        let solution_tar = pack_files(&files, (0, 0)).map_err(|e| format!("failed to pack the solution: {e}"))?;

        let mut spec = RunSpec::new(image, solution.command.clone(), Role::Agent, Self::job_id(task, "solve"));
        spec.working_dir = "/repo".into();
        // Reference solutions run as Harbor's oracle does: as root, in a writable container.
        spec.user = Some("0:0".into());
        spec.env =
            vec![("HOME".into(), "/root".into()), ("PATH".into(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())];
        spec.env.extend(solution.env.iter().cloned());
        spec.tmpfs
            .extend([Tmpfs::owned_by("/repo", REPO_TMPFS_BYTES, (0, 0)), Tmpfs::read_only_to_users("/solution", SOLUTION_TMPFS_BYTES)]);
        spec.uploads = vec![Upload { dest_dir: "/repo".into(), tar: repo_tar }, Upload { dest_dir: "/solution".into(), tar: solution_tar }];
        spec.downloads = vec!["/repo".into()];
        spec.network = NetworkMode::None;
        spec.limits = Limits {
            timeout: solution.timeout.max(Duration::from_secs(1)),
            memory_bytes: self.limits.memory_mib.saturating_mul(1024 * 1024),
            nano_cpus: i64::try_from(self.limits.cpu_millis.saturating_mul(1_000_000)).unwrap_or(i64::MAX),
            pids: i64::try_from(self.limits.pids).unwrap_or(i64::MAX),
        };
        let outcome = self.sandbox.run(spec).await.map_err(|e| format!("sandbox failed: {}", whetstone_proto::error_chain(&e)))?;
        match outcome.exit {
            Exit::Code(0) => {}
            Exit::Code(code) => {
                return Err(format!(
                    "`{}` exited with status {code}; its output ends:\n{}",
                    solution.command.join(" "),
                    tail(&outcome.output)
                ));
            }
            Exit::TimedOut => return Err(format!("it ran past its {}s limit", solution.timeout.as_secs())),
            Exit::OutOfMemory => return Err("it ran out of memory".into()),
        }
        if !outcome.download_problems.is_empty() {
            return Err(format!("the workspace could not be collected: {}", outcome.download_problems.join("; ")));
        }
        let Some((_, Some(tree))) = outcome.downloads.into_iter().next() else {
            return Err("the solution removed the workspace".into());
        };
        let work = workspace.path().join("work");
        unpack_safe(&tree, &work, true).map_err(|e| format!("the solved workspace is unusable: {e}"))?;
        let _ = std::fs::remove_dir_all(work.join(".git"));
        whetstone_tasks::repo::diff_against_head(&pristine, &work).map_err(|e| format!("failed to diff the solved workspace: {e}"))
    }
}

/// The last lines of `text`, indented.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}
