//! The validator: a worker that grades patches in fresh Docker sandboxes against hidden
//! tests, and sets weights from the scores.
//!
//! Grading ([`grade_patch`]) never reuses a container and never trusts the patch: changes to
//! protected paths are dropped, the hidden tests are overlaid after the patch, and the verdict
//! comes from the validator's own JUnit report under the task's grading rule.

mod grade;
pub mod junit;
mod weights;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use grade::{Graded, grade_patch};
use tokio_util::sync::CancellationToken;
use whetstone_proto::fetch::Fetcher;
use whetstone_proto::job::{Assignment, Capability, GradeAssignment, GradeReport, Report, RunOutcome, RunReport};
use whetstone_proto::worker::{Executor, WorkerConfig, run_worker};
use whetstone_sandbox::{LogProgress, Sandbox, SandboxError};
use whetstone_tasks::{Verdict, VerdictStatus};
pub use weights::{WeightsError, set_weights};

#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    pub coordinator_url: String,
    pub worker_id: String,
    pub hotkey: String,
    /// Gradings run at once.
    pub capacity: u32,
    /// Cache of fetched tasks.
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("invalid coordinator address {0:?}")]
    BadUrl(String, #[source] tonic::transport::Error),
}

/// Grades patches for the coordinator.
#[derive(Debug, Clone)]
pub struct Grader {
    sandbox: Sandbox,
    fetcher: Fetcher,
}

impl Grader {
    pub fn new(sandbox: Sandbox, fetcher: Fetcher) -> Self {
        Self { sandbox, fetcher }
    }

    async fn grade(&self, assignment: GradeAssignment, cancel: CancellationToken) -> GradeReport {
        let infra = |notes: String| GradeReport {
            grade_id: assignment.grade_id.clone(),
            verdict: Verdict {
                status: VerdictStatus::InfraError,
                fail_to_pass_passed: 0,
                fail_to_pass_total: 0,
                pass_to_pass_passed: 0,
                pass_to_pass_total: 0,
                tests: Vec::new(),
                notes,
            },
            log: String::new(),
            duration: Duration::ZERO,
        };
        let task = match self.fetcher.task(&assignment.task).await {
            Ok(task) => task,
            Err(error) => return infra(format!("failed to fetch the task: {error}")),
        };
        let image = match self.sandbox.ensure_task_image(task.dockerfile(), &LogProgress).await {
            Ok(image) => image,
            Err(error) => return infra(format!("failed to prepare the task image: {error}")),
        };
        let job_id = assignment.grade_id.to_string();
        tokio::select! {
            () = cancel.cancelled() => infra("validator shut down during grading".into()),
            graded = grade_patch(&self.sandbox, &image, &task, &assignment.patch, assignment.limits, &job_id) => {
                tracing::info!(grade = %assignment.grade_id, verdict = graded.verdict.status.as_str(), notes = %graded.verdict.notes, "graded");
                GradeReport { grade_id: assignment.grade_id.clone(), verdict: graded.verdict, log: graded.log, duration: graded.duration }
            }
        }
    }
}

#[async_trait::async_trait]
impl Executor for Grader {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
        match assignment {
            Assignment::Grade(grade) => Report::Grade(self.grade(grade, cancel).await),
            Assignment::Run(run) => Report::Run(RunReport {
                run_id: run.run_id,
                outcome: RunOutcome::InfraError,
                patch: Vec::new(),
                exit_code: -1,
                log: String::new(),
                duration: Duration::ZERO,
                error: "a validator does not run agents".into(),
            }),
        }
    }
}

/// Connects to Docker, clears containers a previous validator with this id left behind, and
/// serves the coordinator until `shutdown`.
pub async fn serve(config: ValidatorConfig, shutdown: CancellationToken) -> Result<(), ValidatorError> {
    let sandbox = Sandbox::connect(&config.worker_id).await?;
    let removed = sandbox.remove_orphans(whetstone_sandbox::OrphanScope::ThisOwner).await?;
    if removed > 0 {
        tracing::info!(removed, "removed containers left by a previous run of this validator");
    }
    let fetcher = Fetcher::connect_lazy(&config.coordinator_url, config.data_dir.join("cache"))
        .map_err(|e| ValidatorError::BadUrl(config.coordinator_url.clone(), e))?;
    let worker = WorkerConfig {
        coordinator_url: config.coordinator_url,
        worker_id: config.worker_id,
        hotkey: config.hotkey,
        capabilities: vec![Capability::Grade],
        capacity: config.capacity,
        reconnect_delay: Duration::from_millis(500),
    };
    run_worker(worker, Arc::new(Grader::new(sandbox, fetcher)), shutdown).await;
    Ok(())
}
