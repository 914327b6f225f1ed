//! The validator: a worker that grades patches in fresh Docker sandboxes against hidden
//! tests, and sets weights from the verdict ledger it verifies itself.
//!
//! Grading ([`grade_patch`]) never reuses a container and never trusts the patch: it is read
//! strictly and changes to protected paths are dropped ([`whetstone_tasks::protect`]), the
//! hidden tests are overlaid after it, and the verdict comes from the validator's own JUnit
//! report, believed only when the run's other evidence agrees with it.
//!
//! # Outcomes
//!
//! Every grading ends in one of four verdicts. The rule for who is at fault: anything that
//! happens once the agent's code may have run (the test command has started) is the
//! agent's; the grader's own failures can only happen before that point, or outside the
//! container.
//!
//! | verdict | when |
//! |---|---|
//! | `resolved` | the run completed, the report is believed, and every FAIL_TO_PASS and PASS_TO_PASS test passed |
//! | `unresolved` | anything else once the tests started: tests failed, skipped or missing; the report is not believed; the test command was killed at its timeout, by the OOM killer or by the pids limit's consequences; the container hit its deadline or its memory limit while the tests ran |
//! | `patch_rejected` | the patch is unusable, the agent's fault: unreadable or unsafe (paths outside the repository or in `.git`, links that leave it, submodules, over the size cap), does not apply, or leaves a link in the tree that resolves outside `/repo` |
//! | `infra_error` | the grader failed: Docker errors (create, upload, start, wait, download), scratch space on the host, the supervisor failing or the container dying (deadline, OOM) before the tests started. The coordinator retries these and never counts them against the miner |
//!
//! An OOM or a fork bomb in the tests is therefore `unresolved`: the tests run with
//! `oom_score_adj` 1000, so at the memory limit the kernel kills them rather than the
//! supervisor, which then reports the test command killed by signal 9 (and the container's
//! OOM-kill counter, in the notes); a fork bomb meets the pids limit, runs into the task's
//! timeout and is killed with its whole process group and then with `kill(-1)`. Were the
//! supervisor itself killed during the tests (by the tests, the OOM killer or the container's
//! deadline), the verdict is still `unresolved`, because the tests had started. The line
//! between the two is the supervisor's `phase=tests` line, printed once the test process
//! exists and before the agent's code can have run.
//!
//! # Trust inside the grading container
//!
//! The test process runs the agent's code as the same user as the supervisor (`grade.py`),
//! so it can write anything that user can and signal any process of that user. Hence:
//!
//! - `/grading` (the supervisor, the patch, the hidden files) is root-owned and read-only to
//!   the tests; only `/grading/out` is theirs to write, because pytest writes its report there.
//!   The image's root is read-only too: `/repo`, `/grading`, `/grading/out` and `/tmp` are
//!   size-capped tmpfs mounts, so a test that fills the disk fills only those.
//! - The supervisor runs with `python3 -I -S`, unaffected by the repository, the environment or
//!   site-packages, and makes itself non-dumpable before anything untrusted runs: the tests
//!   can neither ptrace it nor open its `/proc/<pid>/fd` or `mem`, so its stdout, where the
//!   grader reads the verdict's inputs, is out of their reach (their own stdout is a log file,
//!   and no other descriptor is inherited). They can kill it or stop it; then no result line
//!   follows `phase=tests` and the grading is `unresolved`, so that only loses them the run.
//! - It is a child subreaper. When the test command ends it kills every other process of its
//!   user (`kill(-1)`) and reaps them all, `setsid` daemons included, before it reads anything,
//!   so nothing can rewrite the results afterwards; then it prints its `result` line.
//! - The JUnit path has a fresh random name per grading; the grader reads only that file and
//!   treats anything else found in `/grading/out` as tampering (the report is not believed).
//! - The sandbox's own `Exit` is read only when the supervisor left no result: a result line
//!   means the supervisor saw the run through, whatever else happened in the container.
//!
//! # Trusting the report
//!
//! The report is believed only when all of these hold (`verdict.rs`): the test command exited
//! by itself with pytest's 0 or 1 (2–5 mean the suite never ran to completion: interrupted,
//! internal error, usage error, no tests collected); it was not killed at the timeout; the
//! report exists, is a regular file under 32 MiB, parses and lists at least one test; exit 0
//! comes with no failed or erroring test in the report and exit 1 with at least one; the
//! summary line pytest printed (`1 failed, 210 passed in 1.5s`) shows no failures the report
//! lacks and no fewer passes than it claims; and the tests left nothing else in the output
//! directory. A report that is not believed passes no test. A believed report that names none
//! of the task's tests is noted; its tests are missing, and missing is not passed.
//!
//! # The test command's configuration
//!
//! The validator appends `-p no:cacheprovider --junitxml=<its path>` and sets
//! `PYTEST_DISABLE_PLUGIN_AUTOLOAD=1` (no entry-point plugins), `PYTHONSAFEPATH=1` (the
//! working directory is not put first on `sys.path`, so a `pytest.py` or `_pytest/` added at
//! the repository root cannot stand in for pytest), `PYTHONNOUSERSITE=1`,
//! `PYTHONPYCACHEPREFIX` outside the tree (bytecode shipped in `__pycache__` is never loaded),
//! `PYTHONDONTWRITEBYTECODE=1` and `PYTHONUNBUFFERED=1` (the summary reaches the log before
//! any exit handler runs). Configuration an agent could add is covered by the protected paths
//! instead of `-c`: every file name pytest reads configuration from is protected at every
//! depth, and so are `conftest.py`, `sitecustomize.py`, `usercustomize.py` and `*.pth`, so
//! pytest finds exactly the pristine configuration and rootdir. (`-c <pristine file>` would
//! also move the rootdir, and with it every test id, unless `--rootdir` were guessed too.)
//!
//! # Residual risk
//!
//! Code under test runs inside pytest's own process. From there it can do anything pytest
//! can: monkeypatch pytest so every test passes, rewrite the hidden test files before they
//! are imported, write the report itself (its path is in `sys.argv`), print a matching
//! summary and exit 0. The cross-checks above catch forgeries that leave one of the signals
//! inconsistent (the hostile suite has one caught by the exit status and one, which also
//! fakes the exit status, caught by the printed summary). What closes more of it:
//!
//! - **A planted failing test** (`canary.rs`). Every grading appends to the hidden file of
//!   the first FAIL_TO_PASS test one test that cannot pass, named after that test with a
//!   random suffix drawn for this grading, with a random false assertion; the report is
//!   believed only when it shows that test failed (a command that selects tests itself, by
//!   node id, `-k` or `-m`, only gets a note when it is absent). A forgery that makes
//!   whatever runs pass, the cheap and general kind, passes it too and is caught
//!   (`docker_hostile_every_test_made_to_pass_inside_pytest_is_caught_by_the_planted_failure`:
//!   report, exit status 0 and summary all agree, and the verdict still passes nothing).
//! - **The test runner's modules cannot come from the patch** (`whetstone_tasks::protect`):
//!   `pytest.py`, `pytest/`, `_pytest/`, `pluggy/`, `py.py` at any depth are protected for
//!   every pytest task whatever its own globs (a `PYTHONPATH=src` command would otherwise
//!   import the patch's pytest before the real one), and so are cargo's manifests, lock,
//!   build scripts, configuration and toolchain files for cargo tasks (`harness = false` or
//!   a `[[test]] path` would swap libtest for a program that prints passes).
//!
//! What remains open, plainly: a patch written to pass *exactly the task's expected tests by
//! name* (it can guess them from the upstream project's public test suite) and leave every
//! other test alone still makes a consistent, believed report; the planted test only stops
//! forgeries that cannot tell it from a real one. Nothing in-process is out of such code's
//! reach (no pipe, key or plugin in the same Python process is), so closing it for good
//! needs the verdict to be computed outside the process under test, which a general pytest
//! suite does not allow. Cargo tasks get no planted test yet (cargo stops at the first failing
//! test target unless told `--no-fail-fast`, which the task's command may not accept). What
//! bounds the rest: the agent never sees the hidden tests, the grader or the planted test's
//! name; every added line that mentions what forgery needs (`_pytest`, `junit`, `atexit`,
//! `_exit`, `sys.argv`, `/grading`, …) is noted as `audit:` in the verdict for a reviewer;
//! several validators grade each run; and the network-less, limited container bounds the
//! damage. `docs/grading-integrity.md` says the same for operators.
//!
//! The supervisor needs `python3` (with `ctypes`) in the task image; the task format's base
//! image has it and every task's tests are pytest.

mod audit;
mod canary;
mod grade;
pub mod junit;
mod pytest;
mod reproduce;
mod script;
mod verdict;
mod weights;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use grade::{Graded, Phases, grade_patch};
pub use reproduce::ImportReproducer;
use tokio_util::sync::CancellationToken;
pub use weights::{
    CatchUp, CatchUpError, EpochListing, EpochOutcome, Evaluation, Ledger, OnChainWeights, RejectedClaim, ScoringOptions, WeightsError,
    run_weight_loop, set_weights, set_weights_on_chain,
};
use whetstone_chain::verdict::VerdictStatement;
use whetstone_chain::wallet::{HotkeyPair, Scheme};
use whetstone_proto::fetch::Fetcher;
use whetstone_proto::job::{Assignment, Capability, GradeAssignment, GradeReport, Report, RunOutcome, RunReport};
use whetstone_proto::worker::{Executor, WorkerConfig, run_worker};
use whetstone_sandbox::{LogProgress, Sandbox, SandboxError};

#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// Several coordinators sharing one database are used in turn, moving on when one goes
    /// away (`whetstone_proto::worker`).
    pub coordinator_urls: Vec<String>,
    pub worker_id: String,
    /// Signs the session's hello with the validator's hotkey (see `whetstone_proto::auth`).
    pub signer: whetstone_proto::auth::RequestSigner,
    /// Gradings run at once.
    pub capacity: u32,
    /// Cache of fetched tasks.
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("the validator's hotkey {hotkey} is {scheme}; verdicts are signed with sr25519 hotkeys (a Bittensor wallet's hotkey is one)")]
    NotSr25519 { hotkey: String, scheme: &'static str },
    #[error("invalid coordinator address {0:?}")]
    BadUrl(String, #[source] tonic::transport::Error),
}

/// What a validator writes into every verdict it signs.
pub const GRADER_VERSION: &str = concat!("whetstone-validator ", env!("CARGO_PKG_VERSION"));

/// Grades patches for the coordinator and signs each verdict with the validator's hotkey.
#[derive(Debug, Clone)]
pub struct Grader {
    sandbox: Sandbox,
    fetcher: Fetcher,
    signer: Arc<HotkeyPair>,
}

impl Grader {
    /// Refuses a hotkey that cannot sign verdicts (they are sr25519, like the chain's).
    pub fn new(sandbox: Sandbox, fetcher: Fetcher, signer: HotkeyPair) -> Result<Self, ValidatorError> {
        if signer.scheme() != Scheme::Sr25519 {
            return Err(ValidatorError::NotSr25519 { hotkey: signer.hotkey().to_string(), scheme: signer.scheme().name() });
        }
        Ok(Self { sandbox, fetcher, signer: Arc::new(signer) })
    }

    /// The report for a verdict reached on `assignment`, signed. An infrastructure failure is
    /// no verdict: it is reported unsigned and the coordinator retries the grade.
    fn signed_report(&self, assignment: &GradeAssignment, graded: Graded) -> GradeReport {
        let signed = if graded.verdict.status == whetstone_tasks::VerdictStatus::InfraError {
            None
        } else {
            let statement = VerdictStatement {
                run_id: assignment.run_id.clone(),
                task: assignment.task.clone(),
                agent: assignment.agent.clone(),
                patch: whetstone_tasks::Digest::of_bytes(&assignment.patch),
                validator: self.signer.hotkey().clone(),
                status: graded.verdict.status,
                tests: graded.verdict.tests.clone(),
                grader_version: GRADER_VERSION.to_owned(),
                graded_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            };
            match statement.sign(&self.signer) {
                Ok(signed) => Some(signed),
                Err(error) => {
                    return GradeReport::infra_error(assignment.grade_id.clone(), format!("failed to sign the verdict: {error}"));
                }
            }
        };
        GradeReport { grade_id: assignment.grade_id.clone(), verdict: graded.verdict, log: graded.log, duration: graded.duration, signed }
    }

    async fn grade(&self, assignment: GradeAssignment, cancel: CancellationToken) -> GradeReport {
        let infra = |notes: String| GradeReport::infra_error(assignment.grade_id.clone(), notes);
        let task = match self.fetcher.task(&assignment.task).await {
            Ok(task) => task,
            Err(error) => return infra(format!("failed to fetch the task: {error}")),
        };
        let image = match self.sandbox.ensure_environment_image(&task.environment(), &LogProgress).await {
            Ok(image) => image,
            Err(error) => return infra(format!("failed to prepare the task image: {error}")),
        };
        let job_id = assignment.grade_id.to_string();
        tokio::select! {
            () = cancel.cancelled() => infra("validator shut down during grading".into()),
            graded = grade_patch(&self.sandbox, &image, &task, &assignment.patch, assignment.limits, &job_id) => {
                tracing::info!(grade = %assignment.grade_id, verdict = graded.verdict.status.as_str(), notes = %graded.verdict.notes, "graded");
                self.signed_report(&assignment, graded)
            }
        }
    }
}

#[async_trait::async_trait]
impl Executor for Grader {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
        match assignment {
            Assignment::Grade(grade) => Report::Grade(self.grade(grade, cancel).await),
            Assignment::Run(run) => Report::Run(RunReport::failed(run.run_id, RunOutcome::InfraError, "a validator does not run agents")),
            Assignment::Solve(solve) => Report::Solve(whetstone_proto::job::SolveReport::failed(
                solve.solve_id,
                RunOutcome::InfraError,
                "a validator does not run agents",
            )),
        }
    }
}

/// Connects to Docker, clears containers a previous validator with this id left behind, and
/// serves the coordinator until `shutdown`.
pub async fn serve(config: ValidatorConfig, shutdown: CancellationToken) -> Result<(), ValidatorError> {
    let sandbox = Sandbox::connect(&config.worker_id).await?;
    let removed = sandbox.remove_orphans(whetstone_sandbox::OrphanScope::ThisOwner).await?;
    if removed > 0 {
        tracing::info!(removed, "removed containers and networks left by a previous run of this validator");
    }
    let fetcher = Fetcher::connect_lazy_any(&config.coordinator_urls, config.signer.clone(), config.data_dir.join("cache"))
        .map_err(|e| ValidatorError::BadUrl(config.coordinator_urls.join(","), e))?;
    let grader = Grader::new(sandbox.clone(), fetcher, config.signer.pair().clone())?;
    // Catches what a crash between container creation and its guard could still leave.
    let janitor = sandbox.spawn_janitor(whetstone_sandbox::JanitorConfig::default(), shutdown.clone());
    let worker = WorkerConfig {
        coordinator_urls: config.coordinator_urls,
        worker_id: config.worker_id,
        signer: config.signer,
        capabilities: vec![Capability::Grade],
        capacity: config.capacity,
        reconnect_delay: Duration::from_millis(500),
    };
    run_worker(worker, Arc::new(grader), shutdown).await;
    let _ = janitor.await;
    Ok(())
}
