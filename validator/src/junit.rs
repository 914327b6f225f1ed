//! JUnit XML as pytest writes it, read into test id → status. A test id is
//! `classname::name` (tasks/FORMAT.md). When an id appears twice, the worse status wins, so a
//! duplicate "passed" entry cannot mask a failure.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::Event;
use whetstone_tasks::TestStatus;

#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("JUnit report is not valid XML")]
    Xml(#[source] quick_xml::Error),
    #[error("JUnit report ends inside an element (cut short)")]
    Truncated,
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

/// Parses a report. An empty map means the suite ran no test.
pub fn parse(xml: &[u8]) -> Result<HashMap<String, TestStatus>, JunitError> {
    let mut reader = Reader::from_reader(xml);
    let mut results: HashMap<String, TestStatus> = HashMap::new();
    let mut current: Option<(String, TestStatus)> = None;
    let mut buffer = Vec::new();
    let mut depth = 0_usize;
    let record = |results: &mut HashMap<String, TestStatus>, (id, status): (String, TestStatus)| {
        let entry = results.entry(id).or_insert(status);
        if rank(status) > rank(*entry) {
            *entry = status;
        }
    };
    loop {
        let event = reader.read_event_into(&mut buffer).map_err(JunitError::Xml)?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        match event {
            Event::Start(tag) if tag.name().as_ref() == b"testcase" => {
                current = Some((test_id(&tag), TestStatus::Passed));
            }
            Event::Empty(tag) if tag.name().as_ref() == b"testcase" => {
                record(&mut results, (test_id(&tag), TestStatus::Passed));
            }
            Event::Start(tag) | Event::Empty(tag) => {
                if let Some((_, status)) = current.as_mut() {
                    let outcome = match tag.name().as_ref() {
                        b"failure" => Some(TestStatus::Failed),
                        b"error" => Some(TestStatus::Error),
                        b"skipped" => Some(TestStatus::Skipped),
                        _ => None,
                    };
                    if let Some(outcome) = outcome.filter(|o| rank(*o) > rank(*status)) {
                        *status = outcome;
                    }
                }
            }
            Event::End(tag) if tag.name().as_ref() == b"testcase" => {
                if let Some(done) = current.take() {
                    record(&mut results, done);
                }
            }
            Event::Eof if depth > 0 => return Err(JunitError::Truncated),
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    Ok(results)
}

fn test_id(tag: &quick_xml::events::BytesStart<'_>) -> String {
    let mut classname = String::new();
    let mut name = String::new();
    for attribute in tag.attributes().flatten() {
        let value = attribute.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
        match attribute.key.as_ref() {
            b"classname" => classname = value,
            b"name" => name = value,
            _ => {}
        }
    }
    format!("{classname}::{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
  <testcase classname="pkg.tests.test_a" name="test_ok" time="0.001" />
  <testcase classname="pkg.tests.test_a" name="test_bad[1-&lt;2&gt;]" time="0.001"><failure message="assert 1 == 2">trace</failure></testcase>
  <testcase classname="pkg.tests.test_a.TestK" name="test_err" time="0.001"><error message="boom">trace</error></testcase>
  <testcase classname="pkg.tests.test_a" name="test_skip" time="0"><skipped type="pytest.skip" message="no">skip</skipped></testcase>
  <testcase classname="pkg.tests.test_a" name="test_out" time="0.001"><system-out>hello</system-out></testcase>
</testsuite></testsuites>"#;

    #[test]
    fn reads_pytest_statuses() {
        let results = parse(REPORT.as_bytes()).expect("valid");
        assert_eq!(results.len(), 5);
        assert_eq!(results["pkg.tests.test_a::test_ok"], TestStatus::Passed);
        assert_eq!(results["pkg.tests.test_a::test_bad[1-<2>]"], TestStatus::Failed);
        assert_eq!(results["pkg.tests.test_a.TestK::test_err"], TestStatus::Error);
        assert_eq!(results["pkg.tests.test_a::test_skip"], TestStatus::Skipped);
        assert_eq!(results["pkg.tests.test_a::test_out"], TestStatus::Passed);
    }

    #[test]
    fn a_duplicate_pass_cannot_hide_a_failure() {
        let xml = r#"<testsuite><testcase classname="a" name="t"><failure/></testcase><testcase classname="a" name="t"/></testsuite>"#;
        assert_eq!(parse(xml.as_bytes()).expect("valid")["a::t"], TestStatus::Failed);
    }

    #[test]
    fn garbage_is_an_error_and_empty_is_no_tests() {
        assert!(parse(b"<testsuite><testcase></testsuite>").is_err());
        assert!(matches!(parse(b"<testsuites><testsuite><testcase name=\"t\">"), Err(JunitError::Truncated)));
        assert!(parse(b"<testsuites></testsuites>").expect("valid").is_empty());
    }
}
