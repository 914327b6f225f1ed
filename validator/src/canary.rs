//! A planted failing test, new at every grading: the check that the test run was not made to
//! report everything as passed.
//!
//! Code under test runs inside pytest's process, so it can make pytest, its exit status and its
//! summary all agree that every test passed (crate docs, "Residual risk"). Such a forgery does
//! not know which tests exist: it passes whatever runs. So before the tests run, the grader
//! appends to the hidden test file of the first FAIL_TO_PASS test one more test that cannot
//! pass, under a name drawn at random for this grading (the FAIL_TO_PASS test's own name with a
//! random suffix, so a forgery that spares "tests like the ones it knows" spares it too), with
//! a random false assertion. The report is believed only when it shows that test failed. A
//! forgery must now tell the planted test from the real ones at run time, from a name and a
//! body it has never seen, which a patch written in advance can only do by passing exactly the
//! task's expected tests by name: that is what remains (see the crate docs).

use whetstone_tasks::task::Framework;
use whetstone_tasks::{Task, TestStatus};

/// The planted test of one grading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Canary {
    /// Its test id, as the report names it.
    pub id: String,
    /// The hidden file it is appended to, as the task names it (`hidden/…`).
    pub path: String,
    /// The text appended to that file.
    pub text: String,
}

/// What the report says about the planted test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CanaryCheck {
    /// It failed, as it must; the report can be believed.
    Failed,
    /// The report says something else: the run was tampered with.
    Doubt(String),
    /// Absent, but the test command selects tests itself (node ids or `-k`), so absence
    /// proves nothing.
    Unselected(String),
}

impl Canary {
    /// A fresh canary for `task`, or why there is none (the first FAIL_TO_PASS test's file is
    /// not a hidden Python file, or the task is not a pytest task).
    pub(crate) fn plant(task: &Task) -> Result<Self, String> {
        if task.spec.framework != Framework::Pytest {
            return Err(format!("no planted test: not done for {} tasks yet", task.spec.framework.as_str()));
        }
        let first = task.spec.tests.fail_to_pass.first().ok_or("no planted test: the task has no FAIL_TO_PASS test")?;
        let (classname, name) = first.rsplit_once("::").ok_or_else(|| format!("no planted test: {first:?} is not a pytest id"))?;
        let function = name.split('[').next().unwrap_or(name);
        // The classname is the module's dotted path, then any classes: the longest prefix
        // that is a hidden file is the module.
        let parts: Vec<&str> = classname.split('.').collect();
        let module = (1..=parts.len()).rev().find_map(|n| {
            let path = format!("hidden/{}.py", parts[..n].join("/"));
            task.bundle.file(&path).map(|_| (parts[..n].join("."), path))
        });
        let (module, path) = module.ok_or_else(|| format!("no planted test: the file of {first} is not among the hidden files"))?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let canary_name = format!("{function}_{}", &token[..8]);
        let left = u32::from_str_radix(&token[8..14], 16).unwrap_or(1);
        let right = left + 1 + u32::from_str_radix(&token[14..18], 16).unwrap_or(0);
        let text = format!("\n\ndef {canary_name}():\n    assert {left} == {right}\n");
        Ok(Self { id: format!("{module}::{canary_name}"), path, text })
    }

    /// Reads the planted test's result out of a report.
    pub(crate) fn check(&self, status: Option<TestStatus>, command: &str) -> CanaryCheck {
        match status {
            Some(TestStatus::Failed) => CanaryCheck::Failed,
            Some(other) => CanaryCheck::Doubt(format!(
                "a test the grader planted to fail ({}) is reported {}: the test run was tampered with",
                self.id,
                match other {
                    TestStatus::Passed => "passed",
                    TestStatus::Error => "erroring",
                    TestStatus::Skipped => "skipped",
                    TestStatus::Failed | TestStatus::Missing => "missing",
                }
            )),
            None if selects_tests(command) => {
                CanaryCheck::Unselected(format!("the planted failing test {} was not selected by the test command", self.id))
            }
            None => CanaryCheck::Doubt(format!(
                "a test the grader planted to fail ({}) is missing from the report: the test run was tampered with",
                self.id
            )),
        }
    }
}

/// Whether a pytest command picks tests itself, so a test in a collected file may not run:
/// after the word `pytest`, a node id (`file.py::test`, not a `-W` filter's
/// `ignore::Warning`), `-k` or `-m`.
fn selects_tests(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    let start = words.iter().position(|w| *w == "pytest" || *w == "py.test" || w.ends_with("/pytest")).map_or(0, |at| at + 1);
    (start..words.len()).any(|at| {
        let word = words[at];
        let filter_value = at > 0 && words[at - 1] == "-W";
        matches!(word, "-k" | "-m") || word.starts_with("-k=") || (word.contains("::") && !word.starts_with('-') && !filter_value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starter(index: usize) -> Task {
        let set = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tasks/sets/starter");
        whetstone_tasks::TaskSet::load(&set).expect("starter set").tasks.remove(index)
    }

    #[test]
    fn every_grading_plants_a_new_failing_test_in_the_first_fail_to_pass_file() {
        let task = starter(0);
        let one = Canary::plant(&task).expect("a canary");
        let two = Canary::plant(&task).expect("a canary");
        assert_ne!(one.id, two.id, "names are drawn per grading");
        assert_ne!(one.text, two.text);
        assert!(task.bundle.file(&one.path).is_some() && one.path.starts_with("hidden/") && one.path.ends_with(".py"));
        let first = &task.spec.tests.fail_to_pass[0];
        let (module, function) = first.rsplit_once("::").expect("id");
        let function = function.split('[').next().expect("name");
        let canary_module = one.id.split("::").next().expect("module");
        assert!(module.starts_with(canary_module) && one.id.contains(&format!("::{function}_")), "{one:?} for {first}");
        assert!(one.text.contains("assert ") && one.text.starts_with("\n\ndef "), "{}", one.text);
    }

    #[test]
    fn only_a_failed_canary_lets_the_report_stand() {
        let canary = Canary { id: "pkg.t::test_x_1".into(), path: "hidden/pkg/t.py".into(), text: String::new() };
        let command = "python3 -m pytest -p no:cacheprovider -W ignore::pytest.PytestUnknownMarkWarning tests";
        assert_eq!(canary.check(Some(TestStatus::Failed), command), CanaryCheck::Failed);
        for status in [Some(TestStatus::Passed), Some(TestStatus::Skipped), Some(TestStatus::Error), None] {
            assert!(matches!(canary.check(status, command), CanaryCheck::Doubt(_)), "{status:?}");
        }
        for selecting in ["pytest tests/test_a.py::test_b", "python3 -m pytest -k sliding tests", "python3 -m pytest -m slow"] {
            assert!(matches!(canary.check(None, selecting), CanaryCheck::Unselected(_)), "{selecting}");
        }
    }
}
