//! `whetstone tasks add / generate / validate`: the curator's side of task sets. The work is
//! in `whetstone_tasks::curate`; this module parses options, shows progress and prints the
//! summaries.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use whetstone_proto::job::SandboxLimits;
use whetstone_sandbox::Sandbox;
use whetstone_tasks::curate::{self, AddOptions, GenerateOptions, SourceRef, ValidationConfig};
use whetstone_tasks::{TaskSet, VerdictStatus};

/// Add a real project to a compact task set: download it, build its test environment in
/// Docker, run its test suite several times and record the tests that pass every time.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The compact task set directory (created when missing), e.g. tasks/sets/curated.
    #[arg(long)]
    pub set: PathBuf,
    /// What to add: `pypi:NAME==VERSION` (a PyPI source distribution),
    /// `crate:NAME@VERSION` (a crates.io crate) or the path of a local git repository,
    /// optionally `PATH@REV`. Its dependencies are locked here, once: a Python project's
    /// declared requirements (and test extras) into environment/requirements.lock by this
    /// host's pip (PIP_INDEX_URL, PIP_CERT, HTTPS_PROXY apply), a crate's into Cargo.lock by
    /// this host's cargo; images then install them with no network from the host's cache
    /// (WHETSTONE_DEPS_CACHE, default ~/.cache/whetstone/deps).
    pub source: String,
    /// The test command, run by `sh -c` at the project's root (default: `python3 -m pytest
    /// -p no:cacheprovider [tests]` or `cargo test --offline --tests`).
    #[arg(long)]
    pub test_command: Option<String>,
    /// Seconds one run of the suite may take.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Runs on the clean tree; only tests that pass in every run are used (at least 3).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Add a project whose licence cannot be determined; it is flagged in its record.
    #[arg(long)]
    pub allow_unlicensed: bool,
    /// A PyPI requirement the tests need that the project does not declare (repeatable), e.g.
    /// --pip hypothesis --pip 'pytest>=7'; locked with the declared ones.
    #[arg(long = "pip", value_name = "REQUIREMENT")]
    pub pip: Vec<String>,
}

/// Generate bug candidates for a project of a compact set with the tree-sitter generator,
/// validate each in Docker and write the valid ones as tasks (with 2–3-bug combinations as
/// hard tasks).
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The compact task set directory.
    #[arg(long)]
    pub set: PathBuf,
    /// The project, as `NAME-VERSION` (its directory under projects/).
    #[arg(long)]
    pub project: String,
    /// Single-bug candidates to validate at most (a seeded sample of all candidates).
    #[arg(long, default_value_t = 60)]
    pub max_candidates: usize,
    /// Combined 2–3-bug candidates to try from the valid single bugs.
    #[arg(long, default_value_t = 4)]
    pub max_combined: usize,
    /// Sampling seed: the same seed samples the same candidates.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Runs with the bug applied; a candidate must fail the same tests in each (at least 2).
    #[arg(long, default_value_t = 2)]
    pub runs: u32,
    /// Largest share of the stable tests a bug may break.
    #[arg(long, default_value_t = 0.2)]
    pub max_fail_fraction: f64,
    /// Containers at once (default: the machine's cores).
    #[arg(long)]
    pub parallel: Option<usize>,
}

/// Re-validate tasks of a set with the validator's own grading: the gold patch must resolve
/// each task, and the unchanged repository must fail every FAIL_TO_PASS test while passing
/// every PASS_TO_PASS test.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The task set directory (compact or not).
    #[arg(long)]
    pub set: PathBuf,
    /// Check only this many tasks, a seeded sample (default: all).
    #[arg(long)]
    pub sample: Option<usize>,
    /// Sampling seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// indicatif for a terminal, plain lines elsewhere.
struct Bar {
    bar: ProgressBar,
    valid: Mutex<u64>,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar, valid: Mutex::new(0) }
    }
}

impl curate::CurateProgress for Bar {
    fn message(&self, text: &str) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        }
        self.bar.set_message(text.to_owned());
    }

    fn start(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} candidates [{elapsed_precise}, eta {eta}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        if let Ok(mut valid) = self.valid.lock() {
            *valid = 0;
        }
    }

    fn advance(&self, _label: &str, valid: bool) {
        let count = self.valid.lock().map(|mut v| {
            *v += u64::from(valid);
            *v
        });
        self.bar.inc(1);
        self.bar.set_message(format!("{} valid", count.unwrap_or_default()));
        if self.bar.is_hidden() {
            eprintln!("{}/{} candidates decided", self.bar.position(), self.bar.length().unwrap_or_default());
        }
    }
}

pub async fn add(args: AddArgs) -> Result<()> {
    let source: SourceRef = args.source.parse()?;
    let sandbox = Sandbox::connect("curator").await.context("Docker is needed to run the project's tests")?;
    let bar = Bar::new();
    let options = AddOptions {
        set_dir: args.set.clone(),
        source,
        test_command: args.test_command,
        timeout_secs: args.timeout,
        runs: args.runs,
        allow_unlicensed: args.allow_unlicensed,
        extra_pip: args.pip,
    };
    let record = curate::pipeline::add(&sandbox, &options, &bar).await?;
    bar.bar.finish_and_clear();
    println!(
        "added {} {} to {}: licence {}{}, {} stable tests ({} unstable) over {} runs, slowest run {:.1}s\ntest command: {}\nnext: whetstone tasks generate --set {} --project {}",
        record.name,
        record.version,
        args.set.display(),
        record.license,
        if record.license_flagged { " (FLAGGED: no licence found)" } else { "" },
        record.stable_tests.len(),
        record.unstable_tests.len(),
        record.baseline_runs,
        record.suite_secs,
        record.test_command,
        args.set.display(),
        record.key(),
    );
    Ok(())
}

pub async fn generate(args: GenerateArgs) -> Result<()> {
    let sandbox = Sandbox::connect("curator").await.context("Docker is needed to validate candidates")?;
    let mut validation =
        ValidationConfig { bug_runs: args.runs.max(2), max_fail_fraction: args.max_fail_fraction, ..ValidationConfig::default() };
    if let Some(parallel) = args.parallel {
        validation.parallel = parallel.max(1);
    }
    let options = GenerateOptions {
        set_dir: args.set.clone(),
        project: args.project.clone(),
        max_candidates: args.max_candidates,
        max_combined: args.max_combined,
        seed: args.seed,
        validation,
    };
    let bar = Bar::new();
    let summary = curate::pipeline::generate(&sandbox, &options, &bar).await?;
    bar.bar.finish_and_clear();
    println!(
        "{}: {} candidates validated (of {} the generator found), {} valid (yield {:.0}%), {} tasks written, {:.0}s{}",
        args.project,
        summary.candidates,
        summary.generated,
        summary.valid,
        summary.yield_ratio() * 100.0,
        summary.written.len(),
        summary.elapsed.as_secs_f64(),
        summary.secs_per_valid().map(|s| format!(", {s:.1}s per valid task")).unwrap_or_default(),
    );
    for (reason, count) in &summary.rejected {
        println!("  rejected: {reason}: {count}");
    }
    if !summary.valid_by_operator.is_empty() {
        let by_operator: Vec<String> = summary.valid_by_operator.iter().map(|(op, n)| format!("{op} {n}")).collect();
        println!("  valid single bugs by operator: {}", by_operator.join(", "));
    }
    if summary.leaky_statements > 0 || summary.redacted_messages > 0 {
        println!(
            "  statements: {} dropped because they would quote the fix, {} messages withheld",
            summary.leaky_statements, summary.redacted_messages
        );
    }
    Ok(())
}

pub async fn validate(args: ValidateArgs) -> Result<()> {
    let set = TaskSet::load(&args.set).with_context(|| format!("task set {} is invalid", args.set.display()))?;
    let mut tasks: Vec<_> = set.tasks.iter().collect();
    if let Some(sample) = args.sample {
        // Deterministic sample: order by a hash of seed and digest.
        tasks.sort_by_key(|t| whetstone_tasks::Digest::of_bytes(format!("{}{}", args.seed, t.digest()).as_bytes()));
        tasks.truncate(sample);
    }
    let sandbox = Sandbox::connect("curator").await.context("Docker is needed to grade tasks")?;
    let bar = ProgressBar::new(tasks.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} tasks [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut failures = Vec::new();
    for task in &tasks {
        bar.set_message(task.spec.id.clone());
        match revalidate(&sandbox, task).await {
            Ok(()) => {}
            Err(why) => {
                bar.println(format!("FAIL {}: {why}", task.spec.id));
                failures.push(task.spec.id.clone());
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{}: {} of {} tasks re-validated ({} failed) in {:.0}s",
        args.set.display(),
        tasks.len() - failures.len(),
        tasks.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        bail!("{} tasks failed re-validation: {}", failures.len(), failures.join(", "));
    }
    Ok(())
}

/// Grades the gold patch (must resolve) and no patch (every FAIL_TO_PASS test fails, every
/// PASS_TO_PASS test passes) with the validator's grading.
async fn revalidate(sandbox: &Sandbox, task: &whetstone_tasks::Task) -> std::result::Result<(), String> {
    let image =
        sandbox.ensure_environment_image(&task.environment(), &whetstone_sandbox::NoProgress).await.map_err(|e| format!("image: {e}"))?;
    let limits =
        SandboxLimits { timeout: Duration::from_secs(task.spec.tests.timeout_secs + 120), memory_mib: 2048, cpu_millis: 1000, pids: 512 };
    let gold = whetstone_validator::grade_patch(sandbox, &image, task, task.gold_patch(), limits, "revalidate-gold").await;
    if gold.verdict.status != VerdictStatus::Resolved {
        return Err(format!("the gold patch is graded {} ({})", gold.verdict.status.as_str(), gold.verdict.notes));
    }
    let empty = whetstone_validator::grade_patch(sandbox, &image, task, b"", limits, "revalidate-empty").await;
    if empty.verdict.status != VerdictStatus::Unresolved {
        return Err(format!("the unchanged repository is graded {} ({})", empty.verdict.status.as_str(), empty.verdict.notes));
    }
    let passing: Vec<&str> =
        empty.verdict.tests.iter().filter(|t| t.status == whetstone_tasks::TestStatus::Passed).map(|t| t.id.as_str()).collect();
    let wrongly_passing: Vec<&String> = task.spec.tests.fail_to_pass.iter().filter(|id| passing.contains(&id.as_str())).collect();
    if !wrongly_passing.is_empty() {
        return Err(format!("without a fix these FAIL_TO_PASS tests pass: {wrongly_passing:?}"));
    }
    let broken: Vec<&String> = task.spec.tests.pass_to_pass.iter().filter(|id| !passing.contains(&id.as_str())).collect();
    if !broken.is_empty() {
        return Err(format!("without a fix these PASS_TO_PASS tests do not pass: {:?}", &broken[..broken.len().min(5)]));
    }
    Ok(())
}
