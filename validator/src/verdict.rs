//! From what a grading container left behind to a verdict: the outcome classification and
//! the cross-checks that decide whether a JUnit report is believed (see the crate docs,
//! "Outcomes" and "Trusting the report").

use std::collections::HashMap;

use whetstone_sandbox::Exit;
use whetstone_tasks::grading::grade;
use whetstone_tasks::task::TestSpec;
use whetstone_tasks::{TestStatus, Verdict, VerdictStatus};

use crate::canary::{Canary, CanaryCheck};
use crate::junit;
use crate::pytest::{self, EXIT_OK, EXIT_TESTS_FAILED};
use crate::script::{ScriptResult, ScriptStatus};

/// Everything the grader read back from one grading container.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Evidence<'a> {
    /// How the container ended.
    pub exit: Exit,
    pub script: &'a ScriptStatus,
    /// The report at the validator's JUnit path, if the download had it.
    pub junit: Option<&'a str>,
    /// The test command's output (head and tail when long).
    pub test_log: &'a str,
    /// The failing test planted for this grading, if one was.
    pub canary: Option<&'a Canary>,
}

/// The verdict for one grading. `notes` holds what was decided before the container ran
/// (dropped protected paths, audit remarks).
pub(crate) fn judge(spec: &TestSpec, evidence: Evidence<'_>, mut notes: Vec<String>) -> Verdict {
    let Some(result) = &evidence.script.result else {
        return without_result(spec, evidence, notes);
    };
    match result.apply.as_str() {
        "strict" | "empty" => notes.push(format!("patch applied: {}", result.apply)),
        "fuzzy" => notes.push("patch applied: fuzzy (git apply refused it; patch --fuzz=3 accepted it)".into()),
        "failed" => {
            notes.push("patch does not apply".into());
            return Verdict::without_tests(VerdictStatus::PatchRejected, spec, notes.join("; "));
        }
        "link-escape" => {
            let link = result.link.as_deref().unwrap_or("?");
            notes.push(format!("the patched tree has a symbolic link that resolves outside the repository: {link}"));
            return Verdict::without_tests(VerdictStatus::PatchRejected, spec, notes.join("; "));
        }
        other => {
            notes.push(format!("the grading script reported an unknown patch result {other:?}"));
            return Verdict::without_tests(VerdictStatus::InfraError, spec, notes.join("; "));
        }
    }
    if let Some(kills) = result.oom_kills.filter(|k| *k > 0) {
        notes.push(format!("the tests reached the memory limit ({kills} processes killed by the kernel)"));
    }
    let doubts = doubts(spec, result, evidence, &mut notes);
    match doubts {
        Ok(report) => grade(spec, &report, notes.join("; ")),
        Err(doubts) => {
            notes.extend(doubts);
            notes.push("no test counts as passed".into());
            grade(spec, &HashMap::new(), notes.join("; "))
        }
    }
}

/// The report, if the run completed and nothing contradicts it; otherwise every reason not
/// to believe it.
fn doubts(
    spec: &TestSpec,
    result: &ScriptResult,
    evidence: Evidence<'_>,
    notes: &mut Vec<String>,
) -> Result<HashMap<String, TestStatus>, Vec<String>> {
    let mut doubts = Vec::new();
    let exit = result.test_exit;
    let exit_text = exit.map_or_else(|| "unknown".to_owned(), |code| code.to_string());
    if result.timed_out {
        doubts.push(format!("test command killed at its {}s timeout", spec.timeout_secs));
    }
    if !result.unexpected.is_empty() {
        doubts.push(format!("the tests wrote into the grader's output directory (removed: {})", result.unexpected.join(", ")));
    }
    match exit {
        Some(EXIT_OK | EXIT_TESTS_FAILED) => {}
        // Killed at the timeout: already a doubt.
        Some(_) if result.timed_out => {}
        Some(code) => doubts.push(match pytest::incomplete_run(code) {
            Some(why) => format!("the suite did not run to completion: {why} (exit {code})"),
            None if code > 128 => format!("the test command was killed by signal {} (exit {code})", code - 128),
            None => format!("the test command ended with exit status {code}, not pytest's 0 or 1"),
        }),
        None => doubts.push("the test command's exit status is unknown".into()),
    }
    let report = match result.report.as_str() {
        "ok" => match evidence.junit.map(|xml| junit::parse(xml.as_bytes())) {
            Some(Ok(report)) => Some(report),
            Some(Err(error)) => {
                doubts.push(format!("unreadable test report: {error}"));
                None
            }
            None => {
                doubts.push("the test report was not in the grader's download".into());
                None
            }
        },
        "missing" => {
            doubts.push(format!("the test command wrote no report (exit {exit_text})"));
            None
        }
        "too-large" => {
            doubts.push("the test report is over the grader's size limit".into());
            None
        }
        "not-a-file" => {
            doubts.push("the test report was replaced by something that is not a file".into());
            None
        }
        other => {
            doubts.push(format!("the test report could not be collected ({other})"));
            None
        }
    };
    if let Some(report) = &report {
        cross_check(spec, report, exit, evidence.test_log, &mut doubts, notes);
        if let Some(canary) = evidence.canary {
            match canary.check(report.get(&canary.id).copied(), &spec.command) {
                CanaryCheck::Failed => {}
                CanaryCheck::Doubt(doubt) => doubts.push(doubt),
                CanaryCheck::Unselected(note) => notes.push(note),
            }
        }
    }
    match report {
        Some(report) if doubts.is_empty() => Ok(report),
        _ => Err(doubts),
    }
}

/// The report must agree with pytest's exit status and with the summary pytest printed, and
/// should name the task's tests.
fn cross_check(
    spec: &TestSpec,
    report: &HashMap<String, TestStatus>,
    exit: Option<i64>,
    test_log: &str,
    doubts: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let failing = report.values().filter(|s| matches!(s, TestStatus::Failed | TestStatus::Error)).count() as u64;
    let passed = report.values().filter(|s| **s == TestStatus::Passed).count() as u64;
    if report.is_empty() {
        doubts.push("the report lists no tests".into());
        return;
    }
    match exit {
        Some(EXIT_OK) if failing > 0 => {
            doubts.push(format!("pytest exited 0 but the report has {failing} failed or erroring tests"));
        }
        Some(EXIT_TESTS_FAILED) if failing == 0 => {
            doubts.push("pytest exited 1 (tests failed) but the report shows no failed or erroring test".into());
        }
        _ => {}
    }
    if let Some(summary) = pytest::summary(test_log) {
        if summary.failed + summary.errors > 0 && failing == 0 {
            doubts.push(format!("pytest printed {} failed and {} errors but the report shows none", summary.failed, summary.errors));
        }
        let printed = summary.passed + summary.xpassed;
        if passed > printed {
            doubts.push(format!("the report claims {passed} passing tests but pytest printed {printed}"));
        }
    }
    let expected = spec.fail_to_pass.iter().chain(&spec.pass_to_pass);
    if !expected.into_iter().any(|id| report.contains_key(id)) {
        notes.push(format!("the report ({} tests) names none of the task's tests", report.len()));
    }
}

/// The supervisor never printed its result: who is at fault depends on whether the tests
/// (and so the agent's code) had started.
fn without_result(spec: &TestSpec, evidence: Evidence<'_>, mut notes: Vec<String>) -> Verdict {
    let what = match evidence.exit {
        Exit::TimedOut => "the grading container reached its deadline".to_owned(),
        Exit::OutOfMemory => "the grading container ran out of memory".to_owned(),
        Exit::Code(code) => format!("the grading script ended with exit status {code} and no result"),
    };
    if evidence.script.tests_started {
        notes.push(format!("{what} while the tests ran"));
        notes.push("no test counts as passed".into());
        grade(spec, &HashMap::new(), notes.join("; "))
    } else {
        let error = evidence.script.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        notes.push(format!("{what} before the tests started{error}"));
        Verdict::without_tests(VerdictStatus::InfraError, spec, notes.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TestSpec {
        TestSpec {
            command: "python3 -m pytest pkg".into(),
            timeout_secs: 60,
            fail_to_pass: vec!["pkg.t::test_fix".into()],
            pass_to_pass: vec!["pkg.t::test_old".into()],
        }
    }

    fn report(cases: &[(&str, &str)]) -> String {
        let body: String = cases
            .iter()
            .map(|(name, outcome)| match *outcome {
                "passed" => format!("<testcase classname=\"pkg.t\" name=\"{name}\"/>"),
                other => format!("<testcase classname=\"pkg.t\" name=\"{name}\"><{other}/></testcase>"),
            })
            .collect();
        format!("<testsuites><testsuite>{body}</testsuite></testsuites>")
    }

    const ALL_PASS: &[(&str, &str)] = &[("test_fix", "passed"), ("test_old", "passed")];
    const FIX_FAILS: &[(&str, &str)] = &[("test_fix", "failure"), ("test_old", "passed")];

    fn ran(exit: i64) -> ScriptResult {
        ScriptResult { apply: "strict".into(), test_exit: Some(exit), report: "ok".into(), ..ScriptResult::default() }
    }

    fn finished(result: ScriptResult) -> ScriptStatus {
        ScriptStatus { tests_started: true, result: Some(result), error: None }
    }

    fn judge_with(script: &ScriptStatus, exit: Exit, junit: Option<&str>, log: &str) -> Verdict {
        judge(&spec(), Evidence { exit, script, junit, test_log: log, canary: None }, Vec::new())
    }

    #[test]
    fn the_outcome_table() {
        let pass = report(ALL_PASS);
        let fail = report(FIX_FAILS);
        let only_others = report(&[("test_unrelated", "passed")]);
        let with = |f: fn(&mut ScriptResult)| {
            let mut result = ran(0);
            f(&mut result);
            finished(result)
        };
        // (case, supervisor status, container exit, report, test log, verdict, a note it must carry)
        type Case<'a> = (&'a str, ScriptStatus, Exit, Option<&'a str>, &'a str, VerdictStatus, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                "an honest pass",
                finished(ran(0)),
                Exit::Code(0),
                Some(&pass),
                "== 2 passed in 0.1s ==",
                VerdictStatus::Resolved,
                "patch applied: strict",
            ),
            (
                "an honest failure",
                finished(ran(1)),
                Exit::Code(0),
                Some(&fail),
                "== 1 failed, 1 passed in 0.1s ==",
                VerdictStatus::Unresolved,
                "patch applied",
            ),
            (
                "all passed but pytest says tests failed",
                finished(ran(1)),
                Exit::Code(0),
                Some(&pass),
                "",
                VerdictStatus::Unresolved,
                "shows no failed",
            ),
            (
                "exit 0 but the report has a failure",
                finished(ran(0)),
                Exit::Code(0),
                Some(&fail),
                "",
                VerdictStatus::Unresolved,
                "exited 0 but",
            ),
            (
                "the printed summary has a failure",
                finished(ran(0)),
                Exit::Code(0),
                Some(&pass),
                "== 1 failed, 1 passed in 0.1s ==",
                VerdictStatus::Unresolved,
                "printed 1 failed",
            ),
            (
                "more passes than were printed",
                finished(ran(0)),
                Exit::Code(0),
                Some(&pass),
                "== 1 passed in 0.1s ==",
                VerdictStatus::Unresolved,
                "claims 2 passing",
            ),
            ("collection error", finished(ran(2)), Exit::Code(0), Some(&pass), "", VerdictStatus::Unresolved, "interrupted"),
            ("no tests collected", finished(ran(5)), Exit::Code(0), Some(&pass), "", VerdictStatus::Unresolved, "collected no tests"),
            ("killed by the OOM killer", finished(ran(137)), Exit::Code(0), None, "", VerdictStatus::Unresolved, "signal 9"),
            ("no report", with(|r| r.report = "missing".into()), Exit::Code(0), None, "", VerdictStatus::Unresolved, "wrote no report"),
            ("an empty report", finished(ran(0)), Exit::Code(0), Some("<testsuites/>"), "", VerdictStatus::Unresolved, "lists no tests"),
            ("a report of other tests", finished(ran(0)), Exit::Code(0), Some(&only_others), "", VerdictStatus::Unresolved, "names none"),
            ("garbage report", finished(ran(0)), Exit::Code(0), Some("<testsuite><testcase>"), "", VerdictStatus::Unresolved, "unreadable"),
            (
                "stray files in the output",
                with(|r| r.unexpected = vec!["junit.xml".into()]),
                Exit::Code(0),
                Some(&pass),
                "",
                VerdictStatus::Unresolved,
                "removed: junit.xml",
            ),
            (
                "timed out",
                with(|r| {
                    r.timed_out = true;
                    r.test_exit = Some(143);
                }),
                Exit::Code(0),
                Some(&pass),
                "",
                VerdictStatus::Unresolved,
                "60s timeout",
            ),
            (
                "patch does not apply",
                finished(ScriptResult { apply: "failed".into(), ..ScriptResult::default() }),
                Exit::Code(0),
                None,
                "",
                VerdictStatus::PatchRejected,
                "does not apply",
            ),
            (
                "link escape",
                finished(ScriptResult { apply: "link-escape".into(), link: Some("pkg/l".into()), ..ScriptResult::default() }),
                Exit::Code(0),
                None,
                "",
                VerdictStatus::PatchRejected,
                "pkg/l",
            ),
            (
                "container OOM during the tests",
                ScriptStatus { tests_started: true, ..ScriptStatus::default() },
                Exit::OutOfMemory,
                None,
                "",
                VerdictStatus::Unresolved,
                "while the tests ran",
            ),
            (
                "deadline during the tests",
                ScriptStatus { tests_started: true, ..ScriptStatus::default() },
                Exit::TimedOut,
                None,
                "",
                VerdictStatus::Unresolved,
                "deadline while",
            ),
            (
                "container OOM before the tests",
                ScriptStatus::default(),
                Exit::OutOfMemory,
                None,
                "",
                VerdictStatus::InfraError,
                "before the tests",
            ),
            (
                "script failure before the tests",
                ScriptStatus { error: Some("overlay failed: boom".into()), ..ScriptStatus::default() },
                Exit::Code(3),
                None,
                "",
                VerdictStatus::InfraError,
                "overlay failed: boom",
            ),
            ("script died silently", ScriptStatus::default(), Exit::Code(0), None, "", VerdictStatus::InfraError, "no result"),
        ];
        for (name, script, exit, junit, log, status, note) in cases {
            let verdict = judge_with(&script, exit, junit, log);
            assert_eq!(verdict.status, status, "{name}: {}", verdict.notes);
            assert!(verdict.notes.contains(note), "{name}: {:?} lacks {note:?}", verdict.notes);
            if status != VerdictStatus::Resolved {
                assert!(verdict.tests.iter().all(|t| t.status != TestStatus::Passed) || name == "an honest failure", "{name}");
            }
        }
    }

    #[test]
    fn an_untrusted_report_passes_nothing() {
        let verdict = judge_with(&finished(ran(1)), Exit::Code(0), Some(&report(ALL_PASS)), "");
        assert_eq!((verdict.fail_to_pass_passed, verdict.pass_to_pass_passed), (0, 0));
        assert!(verdict.tests.iter().all(|t| t.status == TestStatus::Missing));
    }

    #[test]
    fn a_skipped_fail_to_pass_test_is_not_a_pass() {
        let skipped = report(&[("test_fix", "skipped"), ("test_old", "passed")]);
        let verdict = judge_with(&finished(ran(0)), Exit::Code(0), Some(&skipped), "== 1 passed, 1 skipped in 0.1s ==");
        assert_eq!(verdict.status, VerdictStatus::Unresolved);
        assert_eq!(verdict.tests[0].status, TestStatus::Skipped);
    }
}
