//! Step 2 of an import: does the task reproduce? The gold patch must resolve it and the
//! unpatched repository must fail every FAIL_TO_PASS test, both graded exactly as a validator
//! grades an agent's patch.

use std::future::Future;
use std::time::Duration;

use super::{Candidate, Dropped, Imported, task_from_files};
use crate::digest::TreeFile;
use crate::grading::{TestStatus, Verdict, VerdictStatus};
use crate::task::Task;

/// Tests named in a drop reason before the rest are counted.
const NAMED_TESTS: usize = 5;

/// Runs tasks in Docker for an import. The real one grades with the validator's
/// `grade_patch` in the task's environment image; this crate cannot name it (the validator
/// depends on this crate), hence the trait.
pub trait Reproducer {
    /// Grades `patch` against `task` in a fresh sandbox, as a validator does. Trouble building
    /// the environment or running the sandbox is an `infra_error` verdict whose notes say what
    /// happened.
    fn grade(&self, task: &Task, patch: &[u8]) -> impl Future<Output = Verdict>;

    /// Runs `solution` on a fresh copy of `task`'s repository in the task's environment and
    /// returns the `git diff --binary` it leaves (empty when it changed nothing), or why it
    /// could not be run or collected.
    fn solve(&self, task: &Task, solution: &Solution) -> impl Future<Output = Result<Vec<u8>, String>>;
}

/// A reference solution to run: `files` are placed in `/solution`, and `command` runs as
/// root with `/repo` (the task's repository) as its working directory, without network.
#[derive(Debug, Clone)]
pub struct Solution {
    pub files: Vec<TreeFile>,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

/// Reproduces `candidate`: runs its reference solution when it has one (its diff becomes
/// `gold.patch`), grades the gold patch (must resolve) and the empty patch (every
/// FAIL_TO_PASS test must fail). The reason of a drop names the tests that broke the rule and
/// the grader's notes, then the candidate's hints.
pub async fn reproduce<R: Reproducer>(reproducer: &R, candidate: Candidate) -> Result<Imported, Dropped> {
    let Candidate { mut task, notes, hints, solution } = candidate;
    let id = task.spec.id.clone();
    let drop = |reason: String| {
        let mut reason = reason;
        for hint in &hints {
            reason.push_str(&format!("; hint: {hint}"));
        }
        Dropped { id: id.clone(), reason }
    };
    if let Some(solution) = &solution {
        let patch = reproducer.solve(&task, solution).await.map_err(|e| drop(format!("the reference solution could not be run: {e}")))?;
        if patch.iter().all(u8::is_ascii_whitespace) {
            return Err(drop("the reference solution changed nothing in the workspace, so there is no gold patch".into()));
        }
        task = with_gold_patch(&task, patch).map_err(drop)?;
    }

    let gold = reproducer.grade(&task, task.gold_patch()).await;
    match gold.status {
        VerdictStatus::Resolved => {}
        VerdictStatus::InfraError => return Err(drop(format!("could not grade the gold patch: {}", gold.notes))),
        VerdictStatus::PatchRejected => return Err(drop(format!("the gold patch was rejected: {}", gold.notes))),
        VerdictStatus::Unresolved => {
            let mut problems = Vec::new();
            let f2p = not_passing(&gold, &task.spec.tests.fail_to_pass);
            if !f2p.is_empty() {
                problems.push(format!("FAIL_TO_PASS tests do not pass with the gold patch: {}", list(&f2p)));
            }
            let p2p = not_passing(&gold, &task.spec.tests.pass_to_pass);
            if !p2p.is_empty() {
                problems.push(format!("PASS_TO_PASS tests do not pass with the gold patch: {}", list(&p2p)));
            }
            if !gold.notes.is_empty() {
                problems.push(format!("grader: {}", gold.notes));
            }
            return Err(drop(problems.join("; ")));
        }
    }

    let before = reproducer.grade(&task, b"").await;
    if before.status == VerdictStatus::InfraError {
        return Err(drop(format!("could not grade the unpatched repository: {}", before.notes)));
    }
    let passing_without_fix: Vec<(String, TestStatus)> = before
        .tests
        .iter()
        .filter(|t| t.status == TestStatus::Passed && task.spec.tests.fail_to_pass.contains(&t.id))
        .map(|t| (t.id.clone(), t.status))
        .collect();
    if !passing_without_fix.is_empty() {
        return Err(drop(format!(
            "FAIL_TO_PASS tests pass without the fix, so they cannot tell a fix from no fix: {}",
            passing_without_fix.iter().map(|(id, _)| id.as_str()).take(NAMED_TESTS).collect::<Vec<_>>().join(", ")
                + &more(passing_without_fix.len())
        )));
    }
    Ok(Imported { task, notes })
}

/// `task` with `patch` as its `gold.patch`.
fn with_gold_patch(task: &Task, patch: Vec<u8>) -> Result<Task, String> {
    let mut files = task.bundle.files.clone();
    files.retain(|f| f.path != "gold.patch");
    files.push(TreeFile { path: "gold.patch".into(), executable: false, bytes: patch });
    task_from_files(files)
}

/// The tests among `ids` that did not pass, with their status.
fn not_passing(verdict: &Verdict, ids: &[String]) -> Vec<(String, TestStatus)> {
    ids.iter()
        .map(|id| {
            let status = verdict.tests.iter().find(|t| &t.id == id).map_or(TestStatus::Missing, |t| t.status);
            (id.clone(), status)
        })
        .filter(|(_, status)| *status != TestStatus::Passed)
        .collect()
}

fn list(tests: &[(String, TestStatus)]) -> String {
    let named: Vec<String> = tests.iter().take(NAMED_TESTS).map(|(id, status)| format!("{id} ({})", status_word(*status))).collect();
    named.join(", ") + &more(tests.len())
}

fn more(count: usize) -> String {
    if count > NAMED_TESTS { format!(" and {} more", count - NAMED_TESTS) } else { String::new() }
}

fn status_word(status: TestStatus) -> &'static str {
    match status {
        TestStatus::Passed => "passed",
        TestStatus::Failed => "failed",
        TestStatus::Error => "error",
        TestStatus::Skipped => "skipped",
        TestStatus::Missing => "missing from the report",
    }
}
