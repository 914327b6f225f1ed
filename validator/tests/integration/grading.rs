use std::time::Duration;

use whetstone_tasks::{TestStatus, VerdictStatus};
use whetstone_validator::grade_patch;

use crate::support::{assert_nothing_left, image, limits, sandbox, starter_set, task};

/// Every shipped task: its gold patch resolves it and the empty patch does not.
#[tokio::test]
async fn docker_every_shipped_task_is_resolved_by_gold_and_not_by_empty_patch() {
    let sandbox = sandbox("shipped").await;
    let set = starter_set();
    assert!(set.tasks.len() >= 5, "the starter set ships at least 5 tasks");
    for task in &set.tasks {
        let image = image(&sandbox, task).await;
        let gold = grade_patch(&sandbox, &image, task, task.gold_patch(), limits(), "gold").await;
        assert_eq!(gold.verdict.status, VerdictStatus::Resolved, "{}: gold patch: {:?}\n{}", task.spec.id, gold.verdict.notes, gold.log);
        assert!(gold.verdict.notes.contains("strict"), "{}: {}", task.spec.id, gold.verdict.notes);
        assert_eq!(gold.verdict.fail_to_pass_passed, gold.verdict.fail_to_pass_total);

        let empty = grade_patch(&sandbox, &image, task, b"", limits(), "empty").await;
        assert_eq!(empty.verdict.status, VerdictStatus::Unresolved, "{}: empty patch", task.spec.id);
        assert_eq!(empty.verdict.fail_to_pass_passed, 0, "{}: every FAIL_TO_PASS test fails without a fix", task.spec.id);
        assert_eq!(empty.verdict.pass_to_pass_passed, empty.verdict.pass_to_pass_total, "{}", task.spec.id);
    }
    assert_nothing_left(&sandbox).await;
}

/// Changes to tests and test configuration are dropped before grading, so they change nothing.
#[tokio::test]
async fn docker_patch_that_edits_tests_does_not_change_the_verdict() {
    let sandbox = sandbox("protected").await;
    let task = task("toolz-get-single-index-tuple");
    let image = image(&sandbox, &task).await;
    // Make every test trivially pass and replace the hidden test module: all of it protected.
    let cheat = concat!(
        "diff --git a/conftest.py b/conftest.py\n",
        "new file mode 100644\n",
        "--- /dev/null\n",
        "+++ b/conftest.py\n",
        "@@ -0,0 +1,6 @@\n",
        "+import pytest\n",
        "+@pytest.hookimpl(hookwrapper=True)\n",
        "+def pytest_runtest_makereport(item, call):\n",
        "+    outcome = yield\n",
        "+    report = outcome.get_result()\n",
        "+    report.outcome = 'passed'\n",
        "diff --git a/toolz/tests/test_itertoolz.py b/toolz/tests/test_itertoolz.py\n",
        "new file mode 100644\n",
        "--- /dev/null\n",
        "+++ b/toolz/tests/test_itertoolz.py\n",
        "@@ -0,0 +1,2 @@\n",
        "+def test_get():\n",
        "+    pass\n",
    );
    let cheated = grade_patch(&sandbox, &image, &task, cheat.as_bytes(), limits(), "cheat").await;
    assert_eq!(cheated.verdict.status, VerdictStatus::Unresolved, "{}", cheated.verdict.notes);
    assert!(
        cheated.verdict.notes.contains("conftest.py") && cheated.verdict.notes.contains("test_itertoolz.py"),
        "{}",
        cheated.verdict.notes
    );

    let gold_and_cheat = [task.gold_patch(), cheat.as_bytes()].concat();
    let graded = grade_patch(&sandbox, &image, &task, &gold_and_cheat, limits(), "gold-cheat").await;
    assert_eq!(graded.verdict.status, VerdictStatus::Resolved, "{}", graded.verdict.notes);
    assert_nothing_left(&sandbox).await;
}

/// A patch that makes the tests hang is killed at the task's timeout and graded unresolved.
#[tokio::test]
async fn docker_test_run_past_its_timeout_is_killed_and_unresolved() {
    let sandbox = sandbox("timeout").await;
    let mut task = task("toolz-get-single-index-tuple");
    task.spec.tests.timeout_secs = 5;
    let image = image(&sandbox, &task).await;
    let hang = concat!(
        "diff --git a/toolz/itertoolz.py b/toolz/itertoolz.py\n",
        "--- a/toolz/itertoolz.py\n",
        "+++ b/toolz/itertoolz.py\n",
        "@@ -1,3 +1,5 @@\n",
        "+while True:\n",
        "+    pass\n",
        " import itertools\n",
        " import heapq\n",
        " import collections\n",
    );
    let started = std::time::Instant::now();
    let graded = grade_patch(&sandbox, &image, &task, hang.as_bytes(), limits(), "hang").await;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{}\n{}", graded.verdict.notes, graded.log);
    assert!(graded.verdict.notes.contains("killed"), "{}", graded.verdict.notes);
    assert!(graded.verdict.tests.iter().all(|t| t.status == TestStatus::Missing));
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    assert_nothing_left(&sandbox).await;
}

/// Patches that cannot be applied, or reach outside the repository, are the agent's fault.
#[tokio::test]
async fn docker_unusable_patches_are_rejected() {
    let sandbox = sandbox("rejected").await;
    let task = task("toolz-get-single-index-tuple");
    let image = image(&sandbox, &task).await;
    let stale = concat!(
        "diff --git a/toolz/itertoolz.py b/toolz/itertoolz.py\n",
        "--- a/toolz/itertoolz.py\n",
        "+++ b/toolz/itertoolz.py\n",
        "@@ -1,3 +1,3 @@\n",
        "-this line is not in the file\n",
        "+neither is this one\n",
        " nor this\n",
        " nor that\n",
    );
    let graded = grade_patch(&sandbox, &image, &task, stale.as_bytes(), limits(), "stale").await;
    assert_eq!(graded.verdict.status, VerdictStatus::PatchRejected, "{}", graded.verdict.notes);

    let escape = "diff --git a/../../etc/passwd b/../../etc/passwd\n--- a/../../etc/passwd\n+++ b/../../etc/passwd\n";
    let graded = grade_patch(&sandbox, &image, &task, escape.as_bytes(), limits(), "escape").await;
    assert_eq!(graded.verdict.status, VerdictStatus::PatchRejected);
    assert!(graded.verdict.notes.contains("outside the repository"), "{}", graded.verdict.notes);
    assert_nothing_left(&sandbox).await;
}
