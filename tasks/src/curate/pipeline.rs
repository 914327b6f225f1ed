//! `tasks add` and `tasks generate` end to end, writing a compact set (FORMAT.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use whetstone_sandbox::Sandbox;

use super::bugs::{self, SingleBug};
use super::locking;
use super::project::{self, PROJECT_FILE, ProjectRecord};
use super::runner::Environment;
use super::source::{self, SourceRef, write_files};
use super::statement::write_statement;
use super::validate::{self, BugCandidate, ValidTask, ValidationConfig, ValidationOutcome};
use super::{CurateError, io_error};
use crate::compact::{COMPACT_LAYOUT, CompactTask, PROJECTS_DIR, ProjectBase, TASKS_DIR};
use crate::digest::{TreeFile, read_tree};
use crate::generate::{GeneratorConfig, sample};
use crate::task::{DIGESTS_FILE, FORMAT_VERSION, Framework, TaskSet};

/// What long steps report, for a progress bar.
pub trait Progress: Sync {
    /// A phase started (`building the image`, `baseline run`, …).
    fn message(&self, text: &str);
    /// `total` candidates are about to be validated.
    fn start(&self, total: u64);
    /// One candidate was decided.
    fn advance(&self, label: &str, valid: bool);
}

/// Options of `whetstone tasks add`.
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// The compact set to add the project to (created if missing).
    pub set_dir: PathBuf,
    pub source: SourceRef,
    /// Default: derived from the tree (see [`project::default_test_command`]).
    pub test_command: Option<String>,
    /// Per suite run (default 120).
    pub timeout_secs: u64,
    /// Baseline runs, at least 3.
    pub runs: u32,
    /// Add a project without a licence, flagged.
    pub allow_unlicensed: bool,
    /// PyPI requirements the tests need beyond what the project declares (locked with them).
    pub extra_pip: Vec<String>,
}

/// Adds a project to a compact set: fetch, clean, environment image, baseline runs, record.
pub async fn add(sandbox: &Sandbox, options: &AddOptions, progress: &dyn Progress) -> Result<ProjectRecord, CurateError> {
    progress.message(&format!("fetching {}", options.source));
    let fetched = source::fetch(&options.source)?;
    let (license, flagged) = match (&fetched.license, &fetched.license_file) {
        (Some(license), _) => (license.clone(), false),
        (None, _) if options.allow_unlicensed => ("UNKNOWN".to_owned(), true),
        (None, _) => return Err(CurateError::NoLicence { project: format!("{} {}", fetched.name, fetched.version) }),
    };
    let framework = project::detect_framework(&fetched.files);
    let command = options.test_command.clone().unwrap_or_else(|| project::default_test_command(framework, &fetched.files));
    ensure_compact_set(&options.set_dir)?;
    let key = format!("{}-{}", fetched.name, fetched.version);
    let dir = options.set_dir.join(PROJECTS_DIR).join(&key);
    if dir.join("base").exists() {
        std::fs::remove_dir_all(dir.join("base")).map_err(io_error(dir.display()))?;
    }
    progress.message("locking the dependencies");
    let locked = locking::lock_environment(&fetched.name, framework, &fetched.files, &options.extra_pip, sandbox.dependency_cache())?;
    let mut fetched = fetched;
    for file in locked.base_files {
        fetched.files.retain(|f| f.path != file.path);
        fetched.files.push(file);
    }
    fetched.files.sort_by(|a, b| a.path.cmp(&b.path));
    fetched.notes.extend(locked.notes);
    write_files(&dir.join("base"), &fetched.files)?;
    if dir.join("environment").exists() {
        std::fs::remove_dir_all(dir.join("environment")).map_err(io_error(dir.display()))?;
    }
    write_files(&dir, &locked.files)?;

    progress.message(&format!("building the {} environment image", framework.as_str()));
    let image = sandbox.ensure_environment_image(&ProjectBase::load(&dir)?.environment_files(), &MessageOnly(progress)).await?;
    let env = Environment { image, framework, command: command.clone(), timeout_secs: options.timeout_secs };
    let runs = options.runs.max(3);
    progress.message(&format!("running the suite {runs} times on the clean tree: {command}"));
    let baseline = validate::baseline(sandbox, &env, &fetched.files, runs).await?;
    if baseline.stable.is_empty() {
        return Err(CurateError::NoStableTests { project: key, command });
    }
    let record = ProjectRecord {
        name: fetched.name,
        version: fetched.version,
        origin: fetched.origin,
        url: fetched.url,
        license,
        license_file: fetched.license_file,
        license_flagged: flagged,
        framework,
        test_command: command,
        timeout_secs: options.timeout_secs,
        baseline_runs: runs,
        suite_secs: (baseline.suite_secs * 100.0).round() / 100.0,
        stable_tests: baseline.stable,
        unstable_tests: baseline.unstable,
        notes: fetched.notes,
    };
    record.save(&dir)?;
    Ok(record)
}

/// Options of `whetstone tasks generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub set_dir: PathBuf,
    /// `<name>-<version>` under `projects/`.
    pub project: String,
    /// Single-bug candidates to validate at most (a deterministic sample of all).
    pub max_candidates: usize,
    /// Combined (2–3 bug) candidates to try from the valid single bugs.
    pub max_combined: usize,
    /// Sampling seed.
    pub seed: u64,
    pub validation: ValidationConfig,
}

/// What `generate` did.
#[derive(Debug, Clone, Default)]
pub struct GenerateSummary {
    /// Single-bug candidates the tree-sitter generator found in the project (before sampling).
    pub generated: usize,
    /// Source files the generator left out (not UTF-8, generated, too large, unparsable).
    pub skipped_files: usize,
    /// Generator candidates left out because a compact patch cannot carry them exactly.
    pub unrepresentable: usize,
    /// Candidates validated: the sampled single bugs and the combined ones.
    pub candidates: usize,
    pub valid: usize,
    /// Valid single bugs written as tasks, by the generator's operator.
    pub valid_by_operator: BTreeMap<&'static str, usize>,
    pub written: Vec<String>,
    pub rejected: BTreeMap<&'static str, usize>,
    /// Valid candidates dropped because their statement would leak the fix.
    pub leaky_statements: usize,
    pub redacted_messages: usize,
    pub elapsed: Duration,
}

impl GenerateSummary {
    pub fn yield_ratio(&self) -> f64 {
        if self.candidates == 0 { 0.0 } else { self.valid as f64 / self.candidates as f64 }
    }

    pub fn secs_per_valid(&self) -> Option<f64> {
        (self.valid > 0).then(|| self.elapsed.as_secs_f64() / self.valid as f64)
    }
}

/// Generates candidates for a project of the set, validates them, and writes every valid one
/// as a compact task; then single bugs in the same file are combined into hard tasks.
pub async fn generate(sandbox: &Sandbox, options: &GenerateOptions, progress: &dyn Progress) -> Result<GenerateSummary, CurateError> {
    let started = Instant::now();
    let dir = options.set_dir.join(PROJECTS_DIR).join(&options.project);
    let record = ProjectRecord::load(&dir)?;
    let base = ProjectBase::load(&dir)?;
    let files: Vec<TreeFile> = base.files.values().cloned().collect();
    progress.message("preparing the environment image");
    let image = sandbox.ensure_environment_image(&base.environment_files(), &MessageOnly(progress)).await?;
    let env = Environment { image, framework: record.framework, command: record.test_command.clone(), timeout_secs: record.timeout_secs };

    let existing = existing_tasks(&options.set_dir)?;
    progress.message("generating bug candidates");
    let config = GeneratorConfig { seed: options.seed, ..GeneratorConfig::default() };
    let (singles, report, unrepresentable) = bugs::singles(&record.name, record.framework, &dir.join("base"), &base.files, config.clone())?;
    let mut summary = GenerateSummary {
        generated: singles.len(),
        skipped_files: report.skipped_files.len(),
        unrepresentable,
        ..GenerateSummary::default()
    };
    let fresh: Vec<&SingleBug> = singles.iter().filter(|s| !existing.contains(&s.candidate.id)).collect();
    // A sample spread over files, functions and operators (the generator's own sampling).
    let generated: Vec<_> = fresh.iter().map(|s| s.generated.clone()).collect();
    let picked: BTreeSet<String> =
        sample(&generated, options.max_candidates, config.seed, config.max_per_function).iter().map(|c| c.id()).collect();
    let chosen: Vec<&SingleBug> = fresh.into_iter().filter(|s| picked.contains(&s.generated.id())).collect();
    let all: Vec<BugCandidate> = chosen.iter().map(|s| s.candidate.clone()).collect();

    progress.start(all.len() as u64);
    let on_done = |c: &BugCandidate, o: &ValidationOutcome| progress.advance(&c.label, matches!(o, ValidationOutcome::Valid(_)));
    let outcomes = validate::validate_candidates(sandbox, &env, &files, &record.stable_tests, &all, &options.validation, &on_done).await?;
    let mut valid_singles: Vec<&SingleBug> = Vec::new();
    let mut fail_to_pass: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (single, outcome) in chosen.iter().zip(outcomes) {
        tally(&mut summary, &outcome);
        if let ValidationOutcome::Valid(task) = outcome
            && write_task(&options.set_dir, &record, &files, &single.candidate, &task, &mut summary)?
        {
            *summary.valid_by_operator.entry(single.generated.operator.name()).or_default() += 1;
            fail_to_pass.insert(single.candidate.id.clone(), task.fail_to_pass);
            valid_singles.push(single);
        }
    }

    // Hard tasks: two or three valid single bugs in one file whose failing tests differ, so
    // each bug has to be found on its own.
    let combined: Vec<BugCandidate> =
        bugs::combined(&record.name, &base.files, &valid_singles, &fail_to_pass, options.max_combined, options.seed)?
            .into_iter()
            .filter(|c| !existing.contains(&c.id))
            .collect();
    if !combined.is_empty() {
        progress.message(&format!("validating {} combined candidates", combined.len()));
        progress.start(combined.len() as u64);
        let outcomes =
            validate::validate_candidates(sandbox, &env, &files, &record.stable_tests, &combined, &options.validation, &on_done).await?;
        for (candidate, outcome) in combined.iter().zip(outcomes) {
            tally(&mut summary, &outcome);
            if let ValidationOutcome::Valid(task) = outcome {
                write_task(&options.set_dir, &record, &files, candidate, &task, &mut summary)?;
            }
        }
    }
    summary.candidates = all.len() + combined.len();
    pin_digests(&options.set_dir)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn tally(summary: &mut GenerateSummary, outcome: &ValidationOutcome) {
    match outcome {
        ValidationOutcome::Valid(_) => summary.valid += 1,
        ValidationOutcome::Rejected(rejection) => *summary.rejected.entry(rejection.label()).or_default() += 1,
    }
}

/// Rewrites `DIGESTS` for the set as it is now.
pub fn pin_digests(set_dir: &Path) -> Result<(), CurateError> {
    let set = TaskSet::load_unpinned(set_dir)?;
    let path = set_dir.join(DIGESTS_FILE);
    std::fs::write(&path, set.digests_file()).map_err(io_error(path.display()))
}

fn existing_tasks(set_dir: &Path) -> Result<Vec<String>, CurateError> {
    let dir = set_dir.join(TASKS_DIR);
    match std::fs::read_dir(&dir) {
        Ok(entries) => Ok(entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error(dir.display())(e)),
    }
}

fn ensure_compact_set(set_dir: &Path) -> Result<(), CurateError> {
    let path = set_dir.join("set.toml");
    if path.exists() {
        if !crate::compact::is_compact_set(set_dir) {
            return Err(CurateError::Source(format!(
                "{} is not a compact set (its set.toml has no layout = \"compact\"); add projects to a new set directory",
                set_dir.display()
            )));
        }
        return Ok(());
    }
    std::fs::create_dir_all(set_dir).map_err(io_error(set_dir.display()))?;
    let name = set_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = format!(
        "name = \"{name}\"\nlayout = \"{COMPACT_LAYOUT}\"\ndescription = \"Generated and validated bug-fix tasks (whetstone tasks add / generate).\"\n"
    );
    std::fs::write(&path, text).map_err(io_error(path.display()))
}

/// The file each FAIL_TO_PASS test is defined in, when it is a test file the agent must not
/// see (pytest: the module of the test's class path; cargo: integration tests under `tests/`).
pub fn hidden_files(framework: Framework, fail_to_pass: &[String], files: &[TreeFile], bug_patch: &str) -> Vec<String> {
    let exists = |path: &str| files.iter().any(|f| f.path == path);
    let touched = |path: &str| bug_patch.contains(&format!("+++ b/{path}\n"));
    let mut hidden: Vec<String> = fail_to_pass
        .iter()
        .filter_map(|id| {
            let class = id.split("::").next().unwrap_or_default();
            match framework {
                Framework::Cargo => (class.starts_with("tests/") && exists(class)).then(|| class.to_owned()),
                Framework::Pytest => {
                    let parts: Vec<&str> = class.split('.').collect();
                    (1..=parts.len()).rev().map(|n| format!("{}.py", parts[..n].join("/"))).find(|p| exists(p))
                }
            }
        })
        .filter(|p| !touched(p))
        .collect();
    hidden.sort();
    hidden.dedup();
    hidden
}

#[derive(Serialize)]
struct TaskToml<'a> {
    format: u32,
    id: &'a str,
    difficulty: &'a str,
    framework: Framework,
    source: SourceToml<'a>,
    tests: TestsToml<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grading: Option<GradingToml>,
}

#[derive(Serialize)]
struct SourceToml<'a> {
    project: &'a str,
    version: &'a str,
    license: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct TestsToml<'a> {
    command: &'a str,
    timeout_secs: u64,
    fail_to_pass: &'a [String],
}

#[derive(Serialize)]
struct GradingToml {
    protected: Vec<String>,
}

/// Difficulty: combined bugs are hard; a single bug many tests point at is easy, one that
/// one or two tests catch is medium.
fn difficulty(candidate: &BugCandidate, task: &ValidTask) -> &'static str {
    if candidate.bugs > 1 {
        "hard"
    } else if task.fail_to_pass.len() >= 3 {
        "easy"
    } else {
        "medium"
    }
}

/// Writes a valid candidate as `tasks/<id>/`; false when its statement would leak the fix.
fn write_task(
    set_dir: &Path,
    record: &ProjectRecord,
    files: &[TreeFile],
    candidate: &BugCandidate,
    task: &ValidTask,
    summary: &mut GenerateSummary,
) -> Result<bool, CurateError> {
    let Some(statement) =
        write_statement(&record.name, record.framework, candidate.bugs, &task.fail_to_pass, &task.messages, &candidate.gold_patch)
    else {
        summary.leaky_statements += 1;
        return Ok(false);
    };
    summary.redacted_messages += statement.redacted;
    let hidden = hidden_files(record.framework, &task.fail_to_pass, files, &candidate.bug_patch);
    let spec = TaskToml {
        format: FORMAT_VERSION,
        id: &candidate.id,
        difficulty: difficulty(candidate, task),
        framework: record.framework,
        source: SourceToml { project: &record.name, version: &record.version, license: &record.license, url: &record.url },
        tests: TestsToml { command: &record.test_command, timeout_secs: record.timeout_secs, fail_to_pass: &task.fail_to_pass },
        grading: record.protected_globs().map(|protected| GradingToml { protected }),
    };
    // PASS_TO_PASS is the rest of the stable tests (validation checked each passes with the
    // bug), so it is derived at load time instead of stored (FORMAT.md, "Compact sets").
    debug_assert_eq!(task.pass_to_pass.len() + task.fail_to_pass.len(), record.stable_tests.len());
    let compact = CompactTask { project: record.key(), hidden, derive_pass_to_pass: true };
    let dir = set_dir.join(TASKS_DIR).join(&candidate.id);
    let text = |value: &dyn erased::ToToml| value.to_toml();
    let entries = [
        ("task.toml", text(&spec)?),
        ("compact.toml", text(&compact)?),
        ("instruction.md", statement.text),
        ("bug.patch", candidate.bug_patch.clone()),
    ];
    let files: Vec<TreeFile> =
        entries.into_iter().map(|(path, body)| TreeFile { path: path.into(), executable: false, bytes: body.into_bytes() }).collect();
    write_files(&dir, &files)?;
    summary.written.push(candidate.id.clone());
    Ok(true)
}

mod erased {
    use super::CurateError;

    /// Serialises the two TOML files a task writes.
    pub trait ToToml {
        fn to_toml(&self) -> Result<String, CurateError>;
    }

    impl<T: serde::Serialize> ToToml for T {
        fn to_toml(&self) -> Result<String, CurateError> {
            toml::to_string(self).map_err(|e| CurateError::Source(format!("cannot write TOML: {e}")))
        }
    }
}

/// Passes image build output to the progress's message line.
struct MessageOnly<'a>(&'a dyn Progress);

impl std::fmt::Debug for MessageOnly<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageOnly")
    }
}

impl whetstone_sandbox::Progress for MessageOnly<'_> {
    fn message(&self, text: &str) {
        self.0.message(text);
    }
}

/// Loads a project's record and clean tree from a compact set (for the bench and the CLI).
pub fn load_project(set_dir: &Path, key: &str) -> Result<(ProjectRecord, Vec<TreeFile>), CurateError> {
    let dir = set_dir.join(PROJECTS_DIR).join(key);
    if !dir.join(PROJECT_FILE).is_file() {
        return Err(CurateError::Source(format!(
            "{} has no project {key}; add it first with `whetstone tasks add --set {} <source>`",
            set_dir.display(),
            set_dir.display()
        )));
    }
    Ok((ProjectRecord::load(&dir)?, read_tree(&dir.join("base")).map_err(crate::compact::CompactError::from)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> TreeFile {
        TreeFile { path: path.into(), executable: false, bytes: Vec::new() }
    }

    #[test]
    fn hidden_files_are_the_failing_tests_modules() {
        let files = [file("toolz/tests/test_itertoolz.py"), file("tests/test_version.rs"), file("src/lib.rs")];
        let failing = vec!["toolz.tests.test_itertoolz::test_a".to_owned(), "toolz.tests.test_itertoolz.TestK::test_b".to_owned()];
        assert_eq!(hidden_files(Framework::Pytest, &failing, &files, ""), ["toolz/tests/test_itertoolz.py"]);
        let cargo = vec!["tests/test_version.rs::test_parse".to_owned(), "src/lib.rs::tests::unit".to_owned()];
        assert_eq!(hidden_files(Framework::Cargo, &cargo, &files, ""), ["tests/test_version.rs"]);
    }
}
