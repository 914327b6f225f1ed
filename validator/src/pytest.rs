//! What pytest says besides its JUnit report: its exit status and the summary line it prints
//! last (`==== 1 failed, 210 passed in 1.52s ====`). The verdict cross-checks the report
//! against both.

/// pytest's exit statuses (`pytest.ExitCode`).
pub(crate) const EXIT_OK: i64 = 0;
pub(crate) const EXIT_TESTS_FAILED: i64 = 1;

/// Why a status other than 0 or 1 means the suite did not run to completion.
pub(crate) fn incomplete_run(exit: i64) -> Option<&'static str> {
    match exit {
        2 => Some("pytest was interrupted (a collection error or an interrupt)"),
        3 => Some("pytest hit an internal error"),
        4 => Some("pytest refused its command line"),
        5 => Some("pytest collected no tests"),
        _ => None,
    }
}

/// Counts from pytest's final summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub xpassed: u64,
}

/// The last summary line in `log`, if there is one.
pub(crate) fn summary(log: &str) -> Option<Summary> {
    log.lines().rev().find_map(summary_line)
}

fn summary_line(line: &str) -> Option<Summary> {
    let text = line.trim().trim_matches('=').trim();
    let (counts, duration) = text.rsplit_once(" in ")?;
    let seconds = duration.split_whitespace().next()?.strip_suffix('s')?;
    seconds.parse::<f64>().ok()?;
    let mut summary = Summary::default();
    for part in counts.split(", ") {
        let (number, word) = part.split_once(' ')?;
        let number: u64 = number.parse().ok()?;
        match word {
            "passed" => summary.passed = number,
            "failed" => summary.failed = number,
            "error" | "errors" => summary.errors = number,
            "xpassed" => summary.xpassed = number,
            "skipped" | "deselected" | "xfailed" | "warning" | "warnings" | "rerun" => {}
            _ => return None,
        }
    }
    Some(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines_are_read() {
        let cases = [
            ("============ 1 failed, 210 passed in 1.52s ============", Some((210, 1, 0, 0))),
            ("210 passed, 3 warnings in 0.98s", Some((210, 0, 0, 0))),
            ("== 2 passed, 1 skipped, 1 xfailed, 1 xpassed, 2 errors in 3.00s (0:00:03) ==", Some((2, 0, 2, 1))),
            ("============ no tests ran in 0.01s ============", None),
            ("assert passed in time", None),
            ("PASSED toolz/tests/test_x.py::test_y", None),
        ];
        for (line, want) in cases {
            let got = summary_line(line).map(|s| (s.passed, s.failed, s.errors, s.xpassed));
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn the_last_summary_counts() {
        let log = "== 3 passed in 0.1s ==\nmore output\n== 1 failed, 2 passed in 0.2s ==\ntrailing\n";
        assert_eq!(summary(log), Some(Summary { passed: 2, failed: 1, errors: 0, xpassed: 0 }));
        assert_eq!(summary("nothing here\n"), None);
    }
}
