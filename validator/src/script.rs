//! What the grading supervisor (`grade.py`) said on its stdout.
//!
//! The tests run as the supervisor's user but cannot write to that stdout (the supervisor is
//! non-dumpable, and they inherit no descriptor of it). The reading stays defensive anyway:
//! `phase=tests` is printed once the test process exists and nothing untrusted runs before
//! it, so any occurrence means the tests started; the supervisor prints its `result` line
//! after killing every other process of its user, so the last one is its own.

use serde::Deserialize;

const MARK: &str = "whetstone-grade: ";

/// The supervisor's account of one grading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScriptStatus {
    /// The test command was started: the agent's code may have run.
    pub tests_started: bool,
    /// The final line, when the supervisor got to print it.
    pub result: Option<ScriptResult>,
    /// Why the supervisor gave up before the tests (an `error` line).
    pub error: Option<String>,
}

/// The `result` line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct ScriptResult {
    /// `strict`, `fuzzy`, `empty`, `failed` or `link-escape`.
    pub apply: String,
    /// The link that resolves outside the repository, with `apply = "link-escape"`.
    pub link: Option<String>,
    /// The test command's exit status (128 + n for a signal n); `None` if it was not run.
    pub test_exit: Option<i64>,
    /// The test command outlived the task's timeout and was killed.
    pub timed_out: bool,
    /// OOM kills in the container while the tests ran; `None` if the counter is unreadable.
    pub oom_kills: Option<u64>,
    /// `ok`, `missing`, `too-large`, `not-a-file` or `uncollected`.
    pub report: String,
    /// Entries the supervisor found (and removed) in its output directory besides its own.
    pub unexpected: Vec<String>,
    pub apply_ms: u64,
    pub overlay_ms: u64,
    pub tests_ms: u64,
    /// The supervisor's whole run, from its start to its result line.
    pub supervisor_ms: u64,
}

#[derive(Deserialize)]
struct ErrorLine {
    stage: String,
    message: String,
}

/// Reads the status lines out of the container's output.
pub(crate) fn parse(output: &str) -> ScriptStatus {
    let mut status = ScriptStatus::default();
    for line in output.lines() {
        let Some(rest) = line.strip_prefix(MARK) else { continue };
        if rest == "phase=tests" {
            status.tests_started = true;
        } else if let Some(json) = rest.strip_prefix("result ") {
            // A line that does not parse cannot be the supervisor's; only a later one can.
            status.result = serde_json::from_str(json).ok();
        } else if let Some(json) = rest.strip_prefix("error ") {
            status.error =
                serde_json::from_str::<ErrorLine>(json).map(|e| format!("{} failed: {}", e.stage, e.message)).ok().or(status.error);
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_result_line_wins_and_any_phase_line_counts() {
        let output = concat!(
            "\nwhetstone-grade: phase=apply\n",
            "\nwhetstone-grade: phase=tests\n",
            "whetstone-grade: result {\"apply\": \"strict\", \"test_exit\": 0, \"report\": \"ok\"}\n",
            "noise\n",
            "\nwhetstone-grade: result {\"apply\": \"strict\", \"test_exit\": 1, \"report\": \"ok\", \"unexpected\": [\"junit.xml\"], \"tests_ms\": 812}\n",
        );
        let status = parse(output);
        assert!(status.tests_started);
        let result = status.result.expect("a result");
        assert_eq!(result.test_exit, Some(1));
        assert_eq!(result.unexpected, ["junit.xml"]);
        assert_eq!(result.tests_ms, 812);
    }

    #[test]
    fn a_trailing_garbled_result_line_leaves_no_result() {
        let status = parse("whetstone-grade: result {\"apply\": \"strict\"}\nwhetstone-grade: result {not json\n");
        assert_eq!(status.result, None);
        assert!(!status.tests_started);
    }

    #[test]
    fn an_error_before_the_tests_is_read() {
        let status = parse(
            "\nwhetstone-grade: phase=apply\n\nwhetstone-grade: error {\"stage\": \"overlay\", \"message\": \"OSError: no space\"}\n",
        );
        assert_eq!(status.error.as_deref(), Some("overlay failed: OSError: no space"));
        assert!(!status.tests_started);
        assert_eq!(status.result, None);
    }
}
