//! The grading rule (FORMAT.md): a patch resolves a task when every FAIL_TO_PASS test passes
//! and no PASS_TO_PASS test breaks. A test that is missing, skipped, failed or errored does
//! not pass.

use std::collections::HashMap;

use crate::task::TestSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Passed,
    Failed,
    Error,
    Skipped,
    /// Expected by the task but absent from the report.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestResult {
    pub id: String,
    pub status: TestStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    Resolved,
    Unresolved,
    /// The patch is unusable: does not apply, unsafe paths, empty. The agent's fault.
    PatchRejected,
    /// The grader failed; retried, never held against the miner.
    InfraError,
}

impl VerdictStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::Unresolved => "unresolved",
            Self::PatchRejected => "patch_rejected",
            Self::InfraError => "infra_error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub status: VerdictStatus,
    pub fail_to_pass_passed: u32,
    pub fail_to_pass_total: u32,
    pub pass_to_pass_passed: u32,
    pub pass_to_pass_total: u32,
    /// FAIL_TO_PASS results then PASS_TO_PASS results.
    pub tests: Vec<TestResult>,
    pub notes: String,
}

impl Verdict {
    /// The grader itself failed (Docker, fetch, shutdown): no tests ran, the job is retried.
    pub fn infra_error(notes: impl Into<String>) -> Self {
        Self {
            status: VerdictStatus::InfraError,
            fail_to_pass_passed: 0,
            fail_to_pass_total: 0,
            pass_to_pass_passed: 0,
            pass_to_pass_total: 0,
            tests: Vec::new(),
            notes: notes.into(),
        }
    }

    /// A verdict reached without running the tests (rejected patch, infrastructure failure).
    pub fn without_tests(status: VerdictStatus, spec: &TestSpec, notes: impl Into<String>) -> Self {
        Self {
            status,
            fail_to_pass_passed: 0,
            fail_to_pass_total: count(spec.fail_to_pass.len()),
            pass_to_pass_passed: 0,
            pass_to_pass_total: count(spec.pass_to_pass.len()),
            tests: Vec::new(),
            notes: notes.into(),
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Applies the grading rule to a test report (test id → status).
pub fn grade(spec: &TestSpec, report: &HashMap<String, TestStatus>, notes: impl Into<String>) -> Verdict {
    let lookup = |id: &String| TestResult { id: id.clone(), status: report.get(id).copied().unwrap_or(TestStatus::Missing) };
    let f2p: Vec<_> = spec.fail_to_pass.iter().map(lookup).collect();
    let p2p: Vec<_> = spec.pass_to_pass.iter().map(lookup).collect();
    let passed = |results: &[TestResult]| count(results.iter().filter(|r| r.status == TestStatus::Passed).count());
    let (f2p_passed, p2p_passed) = (passed(&f2p), passed(&p2p));
    let resolved = f2p_passed as usize == f2p.len() && p2p_passed as usize == p2p.len() && !f2p.is_empty();
    Verdict {
        status: if resolved { VerdictStatus::Resolved } else { VerdictStatus::Unresolved },
        fail_to_pass_passed: f2p_passed,
        fail_to_pass_total: count(f2p.len()),
        pass_to_pass_passed: p2p_passed,
        pass_to_pass_total: count(p2p.len()),
        tests: f2p.into_iter().chain(p2p).collect(),
        notes: notes.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TestStatus::*;

    fn spec() -> TestSpec {
        TestSpec {
            command: "pytest".into(),
            timeout_secs: 10,
            fail_to_pass: vec!["f1".into(), "f2".into()],
            pass_to_pass: vec!["p1".into()],
        }
    }

    #[test]
    fn the_rule_table() {
        let cases: &[(&[(&str, TestStatus)], VerdictStatus)] = &[
            (&[("f1", Passed), ("f2", Passed), ("p1", Passed)], VerdictStatus::Resolved),
            (&[("f1", Passed), ("f2", Failed), ("p1", Passed)], VerdictStatus::Unresolved),
            (&[("f1", Passed), ("f2", Passed), ("p1", Failed)], VerdictStatus::Unresolved),
            (&[("f1", Passed), ("f2", Skipped), ("p1", Passed)], VerdictStatus::Unresolved),
            (&[("f1", Passed), ("p1", Passed)], VerdictStatus::Unresolved),
            (&[("f1", Passed), ("f2", Passed)], VerdictStatus::Unresolved),
            (&[("f1", Error), ("f2", Passed), ("p1", Passed)], VerdictStatus::Unresolved),
            (&[], VerdictStatus::Unresolved),
        ];
        for (report, expected) in cases {
            let report: HashMap<_, _> = report.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
            assert_eq!(grade(&spec(), &report, "").status, *expected, "{report:?}");
        }
    }

    #[test]
    fn missing_tests_are_reported_as_missing() {
        let verdict = grade(&spec(), &HashMap::from([("f1".to_owned(), Passed)]), "");
        assert_eq!(verdict.tests[1], TestResult { id: "f2".into(), status: Missing });
        assert_eq!((verdict.fail_to_pass_passed, verdict.fail_to_pass_total), (1, 2));
    }
}
