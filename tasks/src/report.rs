//! Per-test results from what a test run leaves behind, for both test frameworks a task can
//! use (`tasks/FORMAT.md`, "Test ids"): pytest's JUnit XML, and libtest's plain output as
//! `cargo test` prints it. The grader and the curation pipeline read results through here, so
//! a test id means the same thing to both.
//!
//! libtest's own JUnit and JSON formats need `-Z unstable-options` (a nightly flag, or
//! `RUSTC_BOOTSTRAP=1`) and name a test without its test target, so two targets with a test
//! of the same name collide. The plain output is stable since Rust 1.0 and cargo announces
//! each target (`Running tests/test_version.rs (target/debug/deps/…)`) before its tests, so
//! ids here are `<target source path>::<libtest name>`: `tests/test_version.rs::test_parse`,
//! `src/lib.rs::parse::tests::empty`.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::grading::TestStatus;

/// One test's outcome and, when it did not pass, the first line of why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    pub status: TestStatus,
    /// pytest: the `message` of the `<failure>`/`<error>` element; libtest: the panic message.
    pub message: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("JUnit report is not valid XML")]
    Xml(#[source] quick_xml::Error),
    #[error("JUnit report ends inside an element (cut short)")]
    Truncated,
    #[error("libtest output for {target} is inconsistent: {why}")]
    Inconsistent { target: String, why: String },
}

fn rank(status: TestStatus) -> u8 {
    match status {
        TestStatus::Passed => 0,
        TestStatus::Skipped => 1,
        TestStatus::Missing => 2,
        TestStatus::Failed => 3,
        TestStatus::Error => 4,
    }
}

/// Records `case` under `id`; when an id appears twice the worse status wins, so a duplicate
/// "passed" cannot mask a failure.
fn record(results: &mut BTreeMap<String, TestCase>, id: String, case: TestCase) {
    match results.get_mut(&id) {
        Some(existing) if rank(case.status) > rank(existing.status) => *existing = case,
        Some(_) => {}
        None => {
            results.insert(id, case);
        }
    }
}

/// Parses a JUnit report as pytest writes it; ids are `classname::name`. An empty map means
/// the run reported no test.
pub fn parse_junit(xml: &[u8]) -> Result<BTreeMap<String, TestCase>, ReportError> {
    let mut reader = Reader::from_reader(xml);
    let mut results = BTreeMap::new();
    let mut current: Option<(String, TestCase)> = None;
    let mut buffer = Vec::new();
    let mut depth = 0_usize;
    loop {
        let event = reader.read_event_into(&mut buffer).map_err(ReportError::Xml)?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        match event {
            Event::Start(tag) if tag.name().as_ref() == b"testcase" => {
                current = Some((attribute_id(&tag), TestCase { status: TestStatus::Passed, message: None }));
            }
            Event::Empty(tag) if tag.name().as_ref() == b"testcase" => {
                record(&mut results, attribute_id(&tag), TestCase { status: TestStatus::Passed, message: None });
            }
            Event::Start(tag) | Event::Empty(tag) => {
                if let Some((_, case)) = current.as_mut() {
                    let outcome = match tag.name().as_ref() {
                        b"failure" => Some(TestStatus::Failed),
                        b"error" => Some(TestStatus::Error),
                        b"skipped" => Some(TestStatus::Skipped),
                        _ => None,
                    };
                    if let Some(outcome) = outcome.filter(|o| rank(*o) > rank(case.status)) {
                        case.status = outcome;
                        case.message = attribute(&tag, b"message").map(|m| first_line(&m));
                    }
                }
            }
            Event::End(tag) if tag.name().as_ref() == b"testcase" => {
                if let Some((id, case)) = current.take() {
                    record(&mut results, id, case);
                }
            }
            Event::Eof if depth > 0 => return Err(ReportError::Truncated),
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    Ok(results)
}

fn attribute(tag: &quick_xml::events::BytesStart<'_>, key: &[u8]) -> Option<String> {
    tag.attributes().flatten().find(|a| a.key.as_ref() == key).map(|a| a.unescape_value().map(|v| v.into_owned()).unwrap_or_default())
}

fn attribute_id(tag: &quick_xml::events::BytesStart<'_>) -> String {
    let classname = attribute(tag, b"classname").unwrap_or_default();
    let name = attribute(tag, b"name").unwrap_or_default();
    format!("{classname}::{name}")
}

fn first_line(text: &str) -> String {
    const MAX: usize = 300;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// Counts libtest printed for one target (`test result: FAILED. 3 passed; 1 failed; …`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TargetSummary {
    passed: usize,
    failed: usize,
    ignored: usize,
}

/// Parses `cargo test` output (cargo's stderr and libtest's stdout in one stream). Every
/// target's test lines must agree with the `running N tests` line before them and the
/// `test result:` line after them; a target whose output does not is an error, because the
/// lines of a run cut short, or printed by a test itself, would otherwise count. A target
/// that never printed its result line (the binary crashed) gives its announced tests that
/// did not report `Error`.
pub fn parse_libtest(log: &str) -> Result<BTreeMap<String, TestCase>, ReportError> {
    let mut results = BTreeMap::new();
    let mut target: Option<String> = None;
    let mut expected = 0_usize;
    let mut seen: Vec<(String, TestStatus)> = Vec::new();
    let mut in_failures = false;
    let mut messages: BTreeMap<String, String> = BTreeMap::new();
    let mut message_for: Option<String> = None;
    let mut pending_crash: Option<String> = None;
    for raw in log.lines() {
        let line = raw.trim_end();
        if let Some(rest) = line.trim_start().strip_prefix("Running ") {
            if let Some(name) = target.take() {
                // The previous target never printed its result line: it crashed.
                pending_crash = Some(name);
            }
            if let Some(crashed) = pending_crash.take() {
                for (test, status) in seen.drain(..) {
                    record(&mut results, format!("{crashed}::{test}"), TestCase { status, message: None });
                }
            }
            target = Some(target_name(rest));
            expected = 0;
            seen.clear();
            in_failures = false;
            messages.clear();
            message_for = None;
            continue;
        }
        let Some(name) = target.clone() else { continue };
        if let Some(count) = line.strip_prefix("running ").and_then(|r| r.split_whitespace().next()) {
            expected = count.parse().unwrap_or(0);
            continue;
        }
        if line == "failures:" {
            in_failures = true;
            continue;
        }
        if in_failures {
            if let Some(test) = line.strip_prefix("---- ").and_then(|r| r.strip_suffix(" stdout ----")) {
                message_for = Some(test.to_owned());
            } else if let Some(test) = message_for.as_ref()
                && let Some(message) = panic_message(line)
            {
                messages.entry(test.clone()).or_insert(message);
            }
        } else if let Some(rest) = line.strip_prefix("test ")
            && let Some((test, outcome)) = rest.rsplit_once(" ... ")
        {
            let status = match outcome.trim() {
                "ok" => TestStatus::Passed,
                "FAILED" => TestStatus::Failed,
                "ignored" => TestStatus::Skipped,
                other if other.starts_with("ignored,") => TestStatus::Skipped,
                _ => continue,
            };
            seen.push((test.to_owned(), status));
            continue;
        }
        if let Some(summary) = line.strip_prefix("test result: ").map(summary_counts) {
            let inconsistent = |why: String| ReportError::Inconsistent { target: name.clone(), why };
            if seen.len() != expected {
                return Err(inconsistent(format!("announced {expected} tests, reported {}", seen.len())));
            }
            let count = |s: TestStatus| seen.iter().filter(|(_, st)| *st == s).count();
            let counted =
                TargetSummary { passed: count(TestStatus::Passed), failed: count(TestStatus::Failed), ignored: count(TestStatus::Skipped) };
            if counted != summary {
                return Err(inconsistent(format!("its test lines say {counted:?}, its summary {summary:?}")));
            }
            for (test, status) in seen.drain(..) {
                let message = messages.get(&test).cloned();
                record(&mut results, format!("{name}::{test}"), TestCase { status, message });
            }
            target = None;
        }
    }
    if let Some(crashed) = target {
        for (test, status) in seen.drain(..) {
            record(&mut results, format!("{crashed}::{test}"), TestCase { status, message: None });
        }
    }
    Ok(results)
}

/// `tests/test_version.rs (target/debug/deps/test_version-1a2b)` → `tests/test_version.rs`;
/// `unittests src/lib.rs (…)` → `src/lib.rs`.
fn target_name(rest: &str) -> String {
    let rest = rest.strip_prefix("unittests ").unwrap_or(rest);
    let source = rest.split(" (").next().unwrap_or(rest).trim();
    source.replace('\\', "/")
}

fn summary_counts(text: &str) -> TargetSummary {
    let mut summary = TargetSummary::default();
    for part in text.split(['.', ';']) {
        let mut words = part.split_whitespace();
        let (Some(number), Some(word)) = (words.next(), words.next()) else { continue };
        let Ok(number) = number.parse() else { continue };
        match word {
            "passed" => summary.passed = number,
            "failed" => summary.failed = number,
            "ignored" => summary.ignored = number,
            _ => {}
        }
    }
    summary
}

/// The panic message in a failing test's captured output, e.g.
/// `thread 'x' panicked at src/lib.rs:3:5:` is followed by the message on the next lines in
/// newer Rust and on the same line (`panicked at 'msg', src/lib.rs:3:5`) in older Rust.
fn panic_message(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with("thread '") && line.ends_with(':') || line.starts_with("note: ") {
        return None;
    }
    if let Some(rest) = line.split_once("panicked at '").map(|(_, r)| r) {
        return Some(first_line(rest.rsplit_once("', ").map_or(rest, |(m, _)| m)));
    }
    if line.starts_with("thread '") {
        return None;
    }
    Some(first_line(line))
}

/// A JUnit report (pytest's dialect: `classname` + `name`) for `results`, so the validator
/// reads a cargo run the way it reads a pytest run.
pub fn to_junit(results: &BTreeMap<String, TestCase>) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites><testsuite name=\"cargo\">\n");
    for (id, case) in results {
        let (classname, name) = id.rsplit_once("::").map_or(("", id.as_str()), |(c, n)| {
            // The target path is the class; libtest's module path stays in the name.
            let target_end = id.find(".rs::").map(|i| i + 3);
            match target_end {
                Some(end) => (&id[..end], &id[end + 2..]),
                None => (c, n),
            }
        });
        let open = format!("  <testcase classname=\"{}\" name=\"{}\"", escape(classname), escape(name));
        let message = escape(case.message.as_deref().unwrap_or_default());
        match case.status {
            TestStatus::Passed => xml.push_str(&format!("{open}/>\n")),
            TestStatus::Skipped => xml.push_str(&format!("{open}><skipped/></testcase>\n")),
            TestStatus::Failed => xml.push_str(&format!("{open}><failure message=\"{message}\"/></testcase>\n")),
            TestStatus::Error | TestStatus::Missing => {
                xml.push_str(&format!("{open}><error message=\"{message}\"/></testcase>\n"));
            }
        }
    }
    xml.push_str("</testsuite></testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Status only, for callers that do not need messages.
pub fn statuses(results: &BTreeMap<String, TestCase>) -> BTreeMap<String, TestStatus> {
    results.iter().map(|(id, case)| (id.clone(), case.status)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO: &str = "   Compiling semver v1.0.27 (/repo)
    Finished test [unoptimized + debuginfo] target(s) in 3.1s
     Running unittests src/lib.rs (target/debug/deps/semver-1a2b)

running 2 tests
test parse::tests::empty ... ok
test identifier::tests::cmp ... ignored

test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/test_version.rs (target/debug/deps/test_version-3c4d)

running 3 tests
test test_parse ... FAILED
test test_eq ... ok
test test_align ... ok

failures:

---- test_parse stdout ----
thread 'test_parse' panicked at tests/test_version.rs:12:5:
assertion `left == right` failed
  left: 1
 right: 2
test fake ... ok
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    test_parse

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

error: test failed, to rerun pass `--test test_version`
";

    #[test]
    fn cargo_output_gives_target_qualified_ids_and_messages() {
        let results = parse_libtest(CARGO).expect("consistent");
        let ids: Vec<_> = results.keys().map(String::as_str).collect();
        assert_eq!(
            ids,
            [
                "src/lib.rs::identifier::tests::cmp",
                "src/lib.rs::parse::tests::empty",
                "tests/test_version.rs::test_align",
                "tests/test_version.rs::test_eq",
                "tests/test_version.rs::test_parse",
            ]
        );
        let failed = &results["tests/test_version.rs::test_parse"];
        assert_eq!(failed.status, TestStatus::Failed);
        assert_eq!(failed.message.as_deref(), Some("assertion `left == right` failed"));
        assert_eq!(results["src/lib.rs::identifier::tests::cmp"].status, TestStatus::Skipped);
    }

    #[test]
    fn old_rust_panic_lines_give_the_message() {
        assert_eq!(
            panic_message("thread 'x' panicked at 'assertion failed: a == b', tests/t.rs:3:5").as_deref(),
            Some("assertion failed: a == b")
        );
    }

    #[test]
    fn test_lines_that_disagree_with_the_summary_are_refused() {
        let forged = CARGO.replace("test test_align ... ok\n", "test test_align ... ok\ntest extra ... ok\n");
        assert!(matches!(parse_libtest(&forged), Err(ReportError::Inconsistent { .. })));
        let lying = CARGO.replace("2 passed; 1 failed", "3 passed; 0 failed");
        assert!(parse_libtest(&lying).is_err());
    }

    #[test]
    fn a_crashed_target_keeps_what_it_reported() {
        let crashed = "     Running tests/t.rs (x)\n\nrunning 2 tests\ntest a ... ok\nerror: test failed\n";
        let results = parse_libtest(crashed).expect("parses");
        assert_eq!(results.len(), 1);
        assert_eq!(results["tests/t.rs::a"].status, TestStatus::Passed);
    }

    #[test]
    fn junit_round_trip_keeps_ids_statuses_and_messages() {
        let results = parse_libtest(CARGO).expect("consistent");
        let xml = to_junit(&results);
        assert_eq!(parse_junit(xml.as_bytes()).expect("valid"), results);
    }

    #[test]
    fn pytest_junit_statuses_and_messages() {
        let xml = r#"<testsuites><testsuite>
          <testcase classname="pkg.t" name="ok"/>
          <testcase classname="pkg.t" name="bad[&lt;1&gt;]"><failure message="assert 1 == 2&#10;more">tb</failure></testcase>
          <testcase classname="pkg.t" name="skip"><skipped message="no"/></testcase>
          <testcase classname="pkg.t" name="ok"><error message="teardown"/></testcase>
        </testsuite></testsuites>"#;
        let results = parse_junit(xml.as_bytes()).expect("valid");
        assert_eq!(results["pkg.t::bad[<1>]"].message.as_deref(), Some("assert 1 == 2"));
        assert_eq!(results["pkg.t::skip"].status, TestStatus::Skipped);
        assert_eq!(results["pkg.t::ok"].status, TestStatus::Error, "a duplicate's worse status wins");
        assert!(matches!(parse_junit(b"<testsuite><testcase name=\"t\">"), Err(ReportError::Truncated)));
    }
}
