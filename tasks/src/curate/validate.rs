//! The validation engine: is a bug candidate a real, stable, fixable bug? Also the baseline
//! (which tests pass every time on the clean tree). The SWE-bench importer reuses
//! [`validate_candidate`] on imported patches.
//!
//! A candidate is valid when, over `bug_runs` runs with the bug applied (at least 2), the same
//! non-empty set of stable tests fails every time (FAIL_TO_PASS), that set is at most
//! `max_fail_fraction` of the stable tests, every other stable test passes every time
//! (PASS_TO_PASS), and with the gold patch applied on top every stable test passes again.
//! A candidate that does not build (cargo) or whose suite does not report is rejected: this
//! pipeline makes runtime-bug tasks only, not compile-error tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use whetstone_sandbox::Sandbox;

use super::CurateError;
use super::runner::{DriverCandidate, DriverJob, Environment, Step, run_driver};
use crate::digest::TreeFile;
use crate::grading::TestStatus;

/// A bug to validate: the patch that introduces it into the clean tree and the one that fixes
/// it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BugCandidate {
    /// Unique within one validation call.
    pub id: String,
    pub bug_patch: String,
    pub gold_patch: String,
    /// How many bugs the patch combines (1 for a single bug).
    pub bugs: usize,
    /// What the generator did, for logs (never shown to agents).
    pub label: String,
}

/// Settings of the validation engine.
#[derive(Debug, Clone)]
pub struct ValidationConfig {
    /// Runs with the bug applied; at least 2 (default 2).
    pub bug_runs: u32,
    /// FAIL_TO_PASS may be at most this share of the stable tests (default 0.2).
    pub max_fail_fraction: f64,
    /// Candidates per container (default 8): the driver resets the tree between them.
    pub batch_size: usize,
    /// Containers at once (default: the machine's cores).
    pub parallel: usize,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            bug_runs: 2,
            max_fail_fraction: 0.2,
            batch_size: 8,
            parallel: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

/// A validated candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTask {
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    /// The failure message of each FAIL_TO_PASS test from the first bug run.
    pub messages: BTreeMap<String, String>,
    /// Suite time with the bug, seconds (first run).
    pub suite_secs: f64,
}

/// Why a candidate was kept or not.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidationOutcome {
    Valid(ValidTask),
    Rejected(Rejection),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    BugDoesNotApply,
    /// The suite did not build or report with the bug (the build log's tail).
    Broken(String),
    NoFailingTest,
    TooManyFailing {
        failing: usize,
        cap: usize,
    },
    /// The failing set changed between runs.
    Flaky,
    GoldDoesNotApply,
    /// With the gold patch these stable tests still fail.
    GoldDoesNotRestore(Vec<String>),
    TimedOut,
    /// The driver stopped before this candidate was done.
    Incomplete,
}

impl Rejection {
    /// A short, stable label for summaries.
    pub fn label(&self) -> &'static str {
        match self {
            Rejection::BugDoesNotApply => "bug does not apply",
            Rejection::Broken(_) => "does not build or report",
            Rejection::NoFailingTest => "no test fails",
            Rejection::TooManyFailing { .. } => "too many tests fail",
            Rejection::Flaky => "flaky",
            Rejection::GoldDoesNotApply => "gold does not apply",
            Rejection::GoldDoesNotRestore(_) => "gold does not restore",
            Rejection::TimedOut => "timed out",
            Rejection::Incomplete => "incomplete",
        }
    }
}

/// The tests that pass in every run of a baseline, and the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    pub stable: Vec<String>,
    pub unstable: Vec<String>,
    /// The slowest run, seconds.
    pub suite_secs: f64,
}

/// Runs the suite `runs` times on the clean tree.
pub async fn baseline(sandbox: &Sandbox, env: &Environment, base: &[TreeFile], runs: u32) -> Result<Baseline, CurateError> {
    let job = DriverJob {
        mode: "baseline",
        framework: env.framework,
        command: &env.command,
        timeout_secs: env.timeout_secs,
        runs: runs.max(3),
        max_failing: usize::MAX,
        candidates: Vec::new(),
    };
    let steps = run_driver(sandbox, env, base, &job, "baseline").await?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut passed: BTreeMap<String, usize> = BTreeMap::new();
    let mut suite_secs: f64 = 0.0;
    let mut complete = 0;
    for step in &steps {
        suite_secs = suite_secs.max(step.secs);
        let Ok(report) = &step.report else {
            return Err(CurateError::Driver(format!(
                "a baseline run of `{}` gave no usable report ({}); its output ends with:\n{}",
                env.command,
                step.report.as_ref().err().map(String::as_str).unwrap_or_default(),
                step.log_tail
            )));
        };
        if step.timed_out {
            return Err(CurateError::Driver(format!("a baseline run outlived the {}s timeout; raise --timeout", env.timeout_secs)));
        }
        complete += 1;
        for (id, case) in report {
            *seen.entry(id.clone()).or_default() += 1;
            if case.status == TestStatus::Passed {
                *passed.entry(id.clone()).or_default() += 1;
            }
        }
    }
    let (stable, unstable): (Vec<String>, Vec<String>) =
        seen.keys().cloned().partition(|id| passed.get(id).copied().unwrap_or(0) == complete && complete > 0);
    Ok(Baseline { stable, unstable, suite_secs })
}

/// Validates one candidate in its own container.
pub async fn validate_candidate(
    sandbox: &Sandbox,
    env: &Environment,
    base: &[TreeFile],
    stable: &[String],
    candidate: &BugCandidate,
    config: &ValidationConfig,
) -> Result<ValidationOutcome, CurateError> {
    let outcomes = validate_batch(sandbox, env, base, stable, std::slice::from_ref(candidate), config, "validate").await?;
    Ok(outcomes.into_iter().next().unwrap_or(ValidationOutcome::Rejected(Rejection::Incomplete)))
}

/// Validates many candidates: batches of `config.batch_size` per container, up to
/// `config.parallel` containers at once. `on_done` is called as each candidate is decided.
/// The result is in the order of `candidates`.
pub async fn validate_candidates(
    sandbox: &Sandbox,
    env: &Environment,
    base: &[TreeFile],
    stable: &[String],
    candidates: &[BugCandidate],
    config: &ValidationConfig,
    on_done: &(dyn Fn(&BugCandidate, &ValidationOutcome) + Sync),
) -> Result<Vec<ValidationOutcome>, CurateError> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(config.parallel.max(1)));
    let batches: Vec<(usize, &[BugCandidate])> =
        candidates.chunks(config.batch_size.max(1)).enumerate().map(|(i, c)| (i * config.batch_size.max(1), c)).collect();
    let futures = batches.into_iter().map(|(offset, batch)| {
        let semaphore = semaphore.clone();
        async move {
            let _permit = semaphore.acquire().await.map_err(|_| CurateError::Driver("validation was cancelled".into()))?;
            let job_id = format!("curate-{offset}");
            let outcomes = validate_batch(sandbox, env, base, stable, batch, config, &job_id).await?;
            for (candidate, outcome) in batch.iter().zip(&outcomes) {
                on_done(candidate, outcome);
            }
            Ok::<_, CurateError>(outcomes)
        }
    });
    let results = futures::future::join_all(futures).await;
    let mut all = Vec::with_capacity(candidates.len());
    for result in results {
        all.extend(result?);
    }
    Ok(all)
}

async fn validate_batch(
    sandbox: &Sandbox,
    env: &Environment,
    base: &[TreeFile],
    stable: &[String],
    batch: &[BugCandidate],
    config: &ValidationConfig,
    job_id: &str,
) -> Result<Vec<ValidationOutcome>, CurateError> {
    let cap = max_failing(stable.len(), config.max_fail_fraction);
    let job = DriverJob {
        mode: "candidates",
        framework: env.framework,
        command: &env.command,
        timeout_secs: env.timeout_secs,
        runs: config.bug_runs.max(2),
        max_failing: cap,
        candidates: batch.iter().map(|c| DriverCandidate { id: &c.id, bug: &c.bug_patch, gold: &c.gold_patch }).collect(),
    };
    let steps = run_driver(sandbox, env, base, &job, job_id).await?;
    let stable: BTreeSet<&str> = stable.iter().map(String::as_str).collect();
    Ok(batch
        .iter()
        .map(|candidate| {
            let own: Vec<&Step> = steps.iter().filter(|s| s.candidate.as_deref() == Some(candidate.id.as_str())).collect();
            judge(&own, &stable, cap, config.bug_runs.max(2))
        })
        .collect())
}

/// The largest FAIL_TO_PASS set allowed for a suite of `stable` tests (at least 1).
pub fn max_failing(stable: usize, fraction: f64) -> usize {
    ((stable as f64 * fraction).floor() as usize).max(1)
}

/// The decision for one candidate from its steps, in the order the driver ran them.
pub(crate) fn judge(steps: &[&Step], stable: &BTreeSet<&str>, cap: usize, runs: u32) -> ValidationOutcome {
    use ValidationOutcome::{Rejected, Valid};
    if steps.iter().any(|s| s.phase == "apply-bug") {
        return Rejected(Rejection::BugDoesNotApply);
    }
    let bug_runs: Vec<&&Step> = steps.iter().filter(|s| s.phase == "bug").collect();
    let Some(first) = bug_runs.first() else { return Rejected(Rejection::Incomplete) };
    let failing_of = |step: &Step| -> Result<BTreeSet<String>, Rejection> {
        if step.timed_out {
            return Err(Rejection::TimedOut);
        }
        let report = step.report.as_ref().map_err(|why| Rejection::Broken(format!("{why}\n{}", step.log_tail)))?;
        if report.is_empty() {
            return Err(Rejection::Broken(step.log_tail.clone()));
        }
        // A stable test that is missing from the report (its module no longer imports) fails.
        Ok(stable.iter().filter(|id| report.get(**id).is_none_or(|c| c.status != TestStatus::Passed)).map(|id| (*id).to_owned()).collect())
    };
    let failing = match failing_of(first) {
        Ok(failing) => failing,
        Err(rejection) => return Rejected(rejection),
    };
    if failing.is_empty() {
        return Rejected(Rejection::NoFailingTest);
    }
    if failing.len() > cap {
        return Rejected(Rejection::TooManyFailing { failing: failing.len(), cap });
    }
    if bug_runs.len() < runs as usize {
        return Rejected(Rejection::Incomplete);
    }
    for again in &bug_runs[1..] {
        match failing_of(again) {
            Ok(other) if other == failing => {}
            Ok(_) => return Rejected(Rejection::Flaky),
            Err(rejection) => return Rejected(rejection),
        }
    }
    if steps.iter().any(|s| s.phase == "apply-gold") {
        return Rejected(Rejection::GoldDoesNotApply);
    }
    let Some(gold) = steps.iter().find(|s| s.phase == "gold") else { return Rejected(Rejection::Incomplete) };
    match failing_of(gold) {
        Ok(still) if still.is_empty() => {}
        Ok(still) => return Rejected(Rejection::GoldDoesNotRestore(still.into_iter().collect())),
        Err(rejection) => return Rejected(rejection),
    }
    let report = first.report.as_ref().ok();
    let messages = failing
        .iter()
        .filter_map(|id| {
            let message = report.and_then(|r| r.get(id)).and_then(|c| c.message.clone()).unwrap_or_default();
            (!message.is_empty()).then(|| (id.clone(), message))
        })
        .collect();
    let pass_to_pass = stable.iter().filter(|id| !failing.contains(**id)).map(|id| (*id).to_owned()).collect();
    Valid(ValidTask { fail_to_pass: failing.into_iter().collect(), pass_to_pass, messages, suite_secs: first.secs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TestCase;

    fn step(phase: &str, results: &[(&str, TestStatus)]) -> Step {
        Step {
            phase: phase.into(),
            candidate: Some("c".into()),
            exit: Some(0),
            secs: 1.0,
            timed_out: false,
            applied: true,
            report: Ok(results
                .iter()
                .map(|(id, status)| ((*id).to_owned(), TestCase { status: *status, message: Some(format!("{id} broke")) }))
                .collect()),
            log_tail: String::new(),
        }
    }

    use TestStatus::{Failed, Passed};
    const STABLE: [&str; 6] = ["t::a", "t::b", "t::c", "t::d", "t::e", "t::f"];

    fn decide(steps: &[Step]) -> ValidationOutcome {
        let stable: BTreeSet<&str> = STABLE.into_iter().collect();
        judge(&steps.iter().collect::<Vec<_>>(), &stable, max_failing(6, 0.34), 2)
    }

    fn all_but(failing: &[&str]) -> Vec<(&'static str, TestStatus)> {
        STABLE.iter().map(|id| (*id, if failing.contains(id) { Failed } else { Passed })).collect()
    }

    #[test]
    fn a_stable_fixable_bug_is_valid() {
        let bug = all_but(&["t::a"]);
        let outcome = decide(&[step("bug", &bug), step("bug", &bug), step("gold", &all_but(&[]))]);
        let ValidationOutcome::Valid(task) = outcome else { panic!("{outcome:?}") };
        assert_eq!(task.fail_to_pass, ["t::a"]);
        assert_eq!(task.pass_to_pass.len(), 5);
        assert_eq!(task.messages["t::a"], "t::a broke");
    }

    #[test]
    fn rejections_name_their_reason() {
        let none = all_but(&[]);
        assert_eq!(decide(&[step("bug", &none)]), ValidationOutcome::Rejected(Rejection::NoFailingTest));
        let many = all_but(&["t::a", "t::b", "t::c"]);
        assert!(matches!(decide(&[step("bug", &many)]), ValidationOutcome::Rejected(Rejection::TooManyFailing { failing: 3, cap: 2 })));
        let flaky = [step("bug", &all_but(&["t::a"])), step("bug", &all_but(&["t::a", "t::b"])), step("gold", &none)];
        assert_eq!(decide(&flaky), ValidationOutcome::Rejected(Rejection::Flaky));
        let bug = all_but(&["t::a"]);
        let unrestored = [step("bug", &bug), step("bug", &bug), step("gold", &bug)];
        assert_eq!(decide(&unrestored), ValidationOutcome::Rejected(Rejection::GoldDoesNotRestore(vec!["t::a".into()])));
        let mut missing = step("bug", &bug);
        missing.report = Ok(BTreeMap::new());
        assert!(matches!(decide(&[missing]), ValidationOutcome::Rejected(Rejection::Broken(_))));
        let mut apply = step("apply-bug", &[]);
        apply.report = Err("patch did not apply".into());
        assert_eq!(decide(&[apply]), ValidationOutcome::Rejected(Rejection::BugDoesNotApply));
    }

    #[test]
    fn a_stable_test_missing_under_the_bug_counts_as_failing() {
        let without_a: Vec<_> = all_but(&[]).into_iter().filter(|(id, _)| *id != "t::a").collect();
        let outcome = decide(&[step("bug", &without_a), step("bug", &without_a), step("gold", &all_but(&[]))]);
        let ValidationOutcome::Valid(task) = outcome else { panic!("{outcome:?}") };
        assert_eq!(task.fail_to_pass, ["t::a"]);
    }

    #[test]
    fn the_cap_is_a_share_of_the_suite_but_at_least_one() {
        assert_eq!(max_failing(100, 0.2), 20);
        assert_eq!(max_failing(3, 0.2), 1);
    }
}
