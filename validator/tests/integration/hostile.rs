//! The hostile grading suite: patches written to fool or break the grader, each graded for
//! real in Docker against a starter task. Every test asserts the verdict a cheat must get,
//! why (the notes), and that no container of its own is left behind.
//!
//! Most cheats go into `toolz/__init__.py`, which is not protected and which pytest imports
//! while collecting, before any test runs: the strongest place a patch can put code.

use std::time::{Duration, Instant};

use whetstone_proto::job::SandboxLimits;
use whetstone_tasks::{Task, TestStatus, VerdictStatus};
use whetstone_validator::{Graded, grade_patch};

use crate::support::{append, assert_nothing_left, image, limits, patch_from_edit, sandbox, task};

/// The task every hostile patch attacks: `test_get` fails until `toolz.get` is fixed.
const TASK: &str = "toolz-get-single-index-tuple";
const FAIL_TO_PASS: &str = "toolz.tests.test_itertoolz::test_get";

async fn grade(sandbox: &whetstone_sandbox::Sandbox, task: &Task, patch: &[u8], limits: SandboxLimits, job: &str) -> Graded {
    let image = image(sandbox, task).await;
    grade_patch(sandbox, &image, task, patch, limits, job).await
}

fn status_of(graded: &Graded, id: &str) -> TestStatus {
    graded.verdict.tests.iter().find(|t| t.id == id).map_or(TestStatus::Missing, |t| t.status)
}

/// A JUnit report in which every test the task expects passed.
fn forged_report(task: &Task) -> String {
    let cases: String = task
        .spec
        .tests
        .fail_to_pass
        .iter()
        .chain(&task.spec.tests.pass_to_pass)
        .map(|id| {
            let (classname, name) = id.split_once("::").expect("a test id");
            format!("<testcase classname=\"{classname}\" name=\"{name}\" time=\"0.001\"/>")
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><testsuites><testsuite name=\"pytest\" errors=\"0\" failures=\"0\" skipped=\"0\">{cases}</testsuite></testsuites>"
    )
}

/// Python that forges the report: at import at the path the validator once used, and at exit
/// over every report at the validator's path pattern (the real one included).
fn forger(task: &Task, exit_zero: bool, at_fixed_path: bool) -> String {
    let fixed = if at_fixed_path { "_forge(['/grading/out/junit.xml'])\n" } else { "" };
    let exit = if exit_zero { "    _os._exit(0)\n" } else { "" };
    format!(
        "\nimport atexit as _atexit, glob as _glob, os as _os\n\
         _FAKE = '''{report}'''\n\
         def _forge(paths):\n\
         \x20   for path in paths:\n\
         \x20       try:\n\
         \x20           with open(path, 'w') as f:\n\
         \x20               f.write(_FAKE)\n\
         \x20       except OSError:\n\
         \x20           pass\n\
         {fixed}\
         def _at_exit():\n\
         \x20   _forge(_glob.glob('/grading/out/junit-*.xml'))\n\
         {exit}\
         _atexit.register(_at_exit)\n",
        report = forged_report(task),
    )
}

/// A report forged at the validator's path pattern is caught: the tests failed (exit 1) but
/// the report says all passed, and the extra report at the old fixed path is tampering.
#[tokio::test]
async fn docker_hostile_fake_junit_report_is_not_believed() {
    let sandbox = sandbox("hostile-fake-junit").await;
    let task = task(TASK);
    let patch = patch_from_edit(&task, |root| append(root, "toolz/__init__.py", &forger(&task, false, true)));
    let graded = grade(&sandbox, &task, &patch, limits(), "fake-junit").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(notes.contains("exited 1") && notes.contains("removed: junit.xml"), "{notes}");
    assert!(notes.contains("audit:") && notes.contains("atexit"), "{notes}");
    assert_eq!(graded.verdict.fail_to_pass_passed + graded.verdict.pass_to_pass_passed, 0, "an untrusted report passes nothing");
    assert_nothing_left(&sandbox).await;
}

/// The forger also fakes pytest's exit status with `os._exit(0)`: the summary pytest printed
/// before the exit handlers ran still says a test failed.
#[tokio::test]
async fn docker_hostile_forged_report_and_exit_status_are_caught_by_the_printed_summary() {
    let sandbox = sandbox("hostile-fake-exit").await;
    let task = task(TASK);
    let patch = patch_from_edit(&task, |root| append(root, "toolz/__init__.py", &forger(&task, true, false)));
    let graded = grade(&sandbox, &task, &patch, limits(), "fake-exit").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(notes.contains("pytest printed") && notes.contains("but the report shows none"), "{notes}");
    assert_nothing_left(&sandbox).await;
}

/// conftest.py files that turn every report into a pass, at the root and next to the tests,
/// are protected: dropped and named, and the verdict is what the source change earns.
#[tokio::test]
async fn docker_hostile_conftest_marking_every_test_passed_is_dropped() {
    let sandbox = sandbox("hostile-conftest").await;
    let task = task(TASK);
    let hook = "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n    outcome = yield\n    report = outcome.get_result()\n    report.outcome = 'passed'\n    report.longrepr = None\n";
    let paths = ["conftest.py", "toolz/conftest.py", "toolz/tests/conftest.py"];
    let patch = patch_from_edit(&task, |root| paths.iter().for_each(|p| append(root, p, hook)));
    let graded = grade(&sandbox, &task, &patch, limits(), "conftest").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}");
    for path in paths {
        assert!(notes.contains(path), "{path} not named as dropped: {notes}");
    }
    assert_eq!(status_of(&graded, FAIL_TO_PASS), TestStatus::Failed, "the real test ran and failed");
    assert_nothing_left(&sandbox).await;
}

/// Deleting tests: in the patch, the deletions are protected and dropped; at run time (the
/// package deletes the hidden test module when imported), the failing test goes missing, and
/// missing is not passed.
#[tokio::test]
async fn docker_hostile_deleting_the_failing_tests_does_not_pass() {
    let sandbox = sandbox("hostile-delete").await;
    let task = task(TASK);
    let mut patch = patch_from_edit(&task, |root| std::fs::remove_file(root.join("toolz/tests/test_functoolz.py")).expect("remove"));
    // The hidden module is not in the agent's tree; a patch can still claim to delete it.
    patch.extend_from_slice(
        b"diff --git a/toolz/tests/test_itertoolz.py b/toolz/tests/test_itertoolz.py\ndeleted file mode 100644\nindex 1234567..0000000\n--- a/toolz/tests/test_itertoolz.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-def test_get(): pass\n",
    );
    let graded = grade(&sandbox, &task, &patch, limits(), "delete-in-patch").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}");
    assert!(notes.contains("toolz/tests/test_functoolz.py") && notes.contains("toolz/tests/test_itertoolz.py"), "{notes}");
    assert_eq!(status_of(&graded, "toolz.tests.test_functoolz::test_compose"), TestStatus::Passed, "the deletion was dropped");

    let delete_at_import = "\nimport os as _os\ntry:\n    _os.remove(_os.path.join(_os.path.dirname(__file__), 'tests', 'test_itertoolz.py'))\nexcept OSError:\n    pass\n";
    let patch = [task.gold_patch(), &patch_from_edit(&task, |root| append(root, "toolz/__init__.py", delete_at_import))].concat();
    let graded = grade(&sandbox, &task, &patch, limits(), "delete-at-import").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert_ne!(status_of(&graded, FAIL_TO_PASS), TestStatus::Passed, "{notes}");
    assert_nothing_left(&sandbox).await;
}

/// A skip mark injected from the package's `__init__.py` onto the failing test: it is
/// reported skipped, and a skipped FAIL_TO_PASS test is not a pass.
#[tokio::test]
async fn docker_hostile_skip_injected_from_a_source_module_is_not_a_pass() {
    let sandbox = sandbox("hostile-skip").await;
    let task = task(TASK);
    let skipper = "\ntry:\n    import pytest as _pt\n    import _pytest.python as _pp\n    _init = _pp.Function.__init__\n    def _skipping_init(self, *args, **kwargs):\n        _init(self, *args, **kwargs)\n        if self.name == 'test_get':\n            self.add_marker(_pt.mark.skip(reason='skipped by the patch'))\n    _pp.Function.__init__ = _skipping_init\nexcept Exception:\n    pass\n";
    let patch = patch_from_edit(&task, |root| append(root, "toolz/__init__.py", skipper));
    let graded = grade(&sandbox, &task, &patch, limits(), "skip").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert_eq!(status_of(&graded, FAIL_TO_PASS), TestStatus::Skipped, "the skip took effect and still did not pass: {notes}");
    assert!(notes.contains("audit:") && notes.contains("_pytest"), "{notes}");
    assert_nothing_left(&sandbox).await;
}

/// Test configuration that would deselect the failing test, in every file pytest reads it
/// from, including one next to the package (which pytest would prefer over the root's).
#[tokio::test]
async fn docker_hostile_protected_config_edits_are_dropped() {
    let sandbox = sandbox("hostile-config").await;
    let task = task(TASK);
    let deselect = "-k 'not test_get'";
    let patch = patch_from_edit(&task, |root| {
        let pyproject = std::fs::read_to_string(root.join("pyproject.toml")).expect("pyproject");
        let edited = pyproject.replace("  \"-ra\",", &format!("  \"-ra\",\n  \"{}\",", deselect.replace('\'', "")));
        assert_ne!(edited, pyproject, "the addopts list moved");
        std::fs::write(root.join("pyproject.toml"), edited).expect("write");
        append(root, "setup.cfg", &format!("[tool:pytest]\naddopts = {deselect}\n"));
        append(root, "tox.ini", &format!("[pytest]\naddopts = {deselect}\n"));
        append(root, ".pytest.ini", &format!("[pytest]\naddopts = {deselect}\n"));
        append(root, "toolz/pytest.ini", &format!("[pytest]\naddopts = {deselect}\n"));
    });
    let graded = grade(&sandbox, &task, &patch, limits(), "config").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}");
    for path in ["pyproject.toml", "setup.cfg", "tox.ini", ".pytest.ini", "toolz/pytest.ini"] {
        assert!(notes.contains(path), "{path} not named as dropped: {notes}");
    }
    assert_eq!(status_of(&graded, FAIL_TO_PASS), TestStatus::Failed, "test_get was not deselected: {notes}");
    assert_nothing_left(&sandbox).await;
}

/// Paths that climb out of the repository, in every place a patch names a path.
#[tokio::test]
async fn docker_hostile_dotdot_paths_are_rejected() {
    let sandbox = sandbox("hostile-dotdot").await;
    let task = task(TASK);
    let patches = [
        "diff --git a/../../etc/passwd b/../../etc/passwd\n--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-root\n+owned\n",
        "diff --git a/toolz/utils.py b/toolz/utils.py\n--- a/toolz/utils.py\n+++ b/toolz/../../grading/grade.py\n@@ -1 +1 @@\n-x\n+y\n",
        "diff --git a/toolz/utils.py b/x\nsimilarity index 100%\nrename from toolz/utils.py\nrename to ../x\n",
        "diff --git a/x b/x\nnew file mode 100644\n--- /dev/null\n+++ b//tmp/x\n@@ -0,0 +1 @@\n+x\n",
    ];
    for (index, patch) in patches.iter().enumerate() {
        let graded = grade(&sandbox, &task, patch.as_bytes(), limits(), &format!("dotdot-{index}")).await;
        assert_eq!(graded.verdict.status, VerdictStatus::PatchRejected, "{patch}: {}", graded.verdict.notes);
        assert!(graded.verdict.notes.contains("outside the repository"), "{}", graded.verdict.notes);
    }
    assert_nothing_left(&sandbox).await;
}

/// Symbolic links that leave the repository are rejected, however they are spelled; a link
/// that stays inside is an ordinary change, and the gold fix next to it still resolves.
#[tokio::test]
async fn docker_hostile_symlink_escapes_are_rejected() {
    let sandbox = sandbox("hostile-symlink").await;
    let task = task(TASK);
    let escapes = [("toolz/passwd", "/etc/passwd"), ("toolz/up", "../../../etc"), ("toolz/round", "tests/../../..")];
    for (path, target) in escapes {
        let patch = patch_from_edit(&task, |root| std::os::unix::fs::symlink(target, root.join(path)).expect("symlink"));
        let graded = grade(&sandbox, &task, &patch, limits(), "symlink").await;
        assert_eq!(graded.verdict.status, VerdictStatus::PatchRejected, "{path} -> {target}: {}", graded.verdict.notes);
        assert!(graded.verdict.notes.contains("symbolic link"), "{}", graded.verdict.notes);
    }
    // Writing through a link the patch creates, so that a later section lands elsewhere.
    let through = concat!(
        "diff --git a/toolz/out b/toolz/out\nnew file mode 120000\n--- /dev/null\n+++ b/toolz/out\n@@ -0,0 +1 @@\n+../tlz\n\\ No newline at end of file\n",
        "diff --git a/toolz/out/x.py b/toolz/out/x.py\nnew file mode 100644\n--- /dev/null\n+++ b/toolz/out/x.py\n@@ -0,0 +1 @@\n+x = 1\n",
    );
    let graded = grade(&sandbox, &task, through.as_bytes(), limits(), "symlink-through").await;
    assert_eq!(graded.verdict.status, VerdictStatus::PatchRejected, "{}", graded.verdict.notes);

    let inside = patch_from_edit(&task, |root| std::os::unix::fs::symlink("itertoolz.py", root.join("toolz/alias.py")).expect("symlink"));
    let graded = grade(&sandbox, &task, &[task.gold_patch(), &inside].concat(), limits(), "symlink-inside").await;
    assert_eq!(graded.verdict.status, VerdictStatus::Resolved, "{}\n{}", graded.verdict.notes, graded.log);
    assert_nothing_left(&sandbox).await;
}

/// A header smuggled after a hunk's counted lines would be applied by `git apply` as a
/// change of its own, unseen by protection; the whole patch is refused.
#[tokio::test]
async fn docker_hostile_header_smuggled_past_a_hunk_is_rejected() {
    let sandbox = sandbox("hostile-smuggle").await;
    let task = task(TASK);
    let gold = String::from_utf8(task.gold_patch().to_vec()).expect("utf-8 gold patch");
    let smuggled = format!("{gold}--- /dev/null\n+++ b/toolz/conftest.py\n@@ -0,0 +1 @@\n+collect_ignore_glob = ['tests/*']\n");
    let graded = grade(&sandbox, &task, smuggled.as_bytes(), limits(), "smuggle").await;
    assert_eq!(graded.verdict.status, VerdictStatus::PatchRejected, "{}", graded.verdict.notes);
    assert!(graded.verdict.notes.contains("well-formed"), "{}", graded.verdict.notes);
    assert_nothing_left(&sandbox).await;
}

/// A patch over the size cap is rejected before any container is made.
#[tokio::test]
async fn docker_hostile_huge_patch_is_rejected() {
    let sandbox = sandbox("hostile-huge").await;
    let task = task(TASK);
    let line = format!("+{}\n", "x".repeat(1023));
    let lines = whetstone_tasks::protect::MAX_PATCH_BYTES / line.len() + 1;
    let mut patch =
        format!("diff --git a/big.txt b/big.txt\nnew file mode 100644\n--- /dev/null\n+++ b/big.txt\n@@ -0,0 +1,{lines} @@\n").into_bytes();
    for _ in 0..lines {
        patch.extend_from_slice(line.as_bytes());
    }
    let started = Instant::now();
    let graded = grade(&sandbox, &task, &patch, limits(), "huge").await;
    assert_eq!(graded.verdict.status, VerdictStatus::PatchRejected, "{}", graded.verdict.notes);
    assert!(graded.verdict.notes.contains("limit"), "{}", graded.verdict.notes);
    assert_eq!(graded.timings.total, Duration::ZERO, "no container ran");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert_nothing_left(&sandbox).await;
}

/// `.git/config` can name programs git runs (`core.fsmonitor`, hooks): never writable.
#[tokio::test]
async fn docker_hostile_patch_touching_git_dir_is_rejected() {
    let sandbox = sandbox("hostile-git").await;
    let task = task(TASK);
    let patches = [
        "diff --git a/.git/config b/.git/config\n--- a/.git/config\n+++ b/.git/config\n@@ -1 +1,2 @@\n [core]\n+\tfsmonitor = touch /tmp/owned\n",
        "diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout\nnew file mode 100755\n--- /dev/null\n+++ b/.git/hooks/post-checkout\n@@ -0,0 +1 @@\n+#!/bin/sh\n",
    ];
    for (index, patch) in patches.iter().enumerate() {
        let graded =
            grade(&sandbox, &task, [task.gold_patch(), patch.as_bytes()].concat().as_slice(), limits(), &format!("git-{index}")).await;
        assert_eq!(graded.verdict.status, VerdictStatus::PatchRejected, "{}", graded.verdict.notes);
        assert!(graded.verdict.notes.contains(".git"), "{}", graded.verdict.notes);
    }
    assert_nothing_left(&sandbox).await;
}

/// `os._exit(0)` when the package is imported: pytest "succeeds" without running a test or
/// writing a report. The suite never ran, so nothing passed, even with the real fix applied.
#[tokio::test]
async fn docker_hostile_os_exit_at_import_never_passes() {
    let sandbox = sandbox("hostile-exit").await;
    let task = task(TASK);
    let exit = patch_from_edit(&task, |root| append(root, "toolz/__init__.py", "\nimport os as _os\n_os._exit(0)\n"));
    let graded = grade(&sandbox, &task, &[task.gold_patch(), &exit].concat(), limits(), "exit").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(notes.contains("wrote no report (exit 0)"), "{notes}");
    assert_nothing_left(&sandbox).await;
}

/// A pytest.py at the repository root would stand in for pytest under `python3 -m pytest`;
/// the validator runs Python with the safe path, so the real pytest runs the real tests.
#[tokio::test]
async fn docker_hostile_shadow_pytest_module_is_not_imported() {
    let sandbox = sandbox("hostile-shadow").await;
    let task = task(TASK);
    let fake_pytest = format!(
        "import sys\nfor arg in sys.argv:\n    if arg.startswith('--junitxml='):\n        with open(arg.split('=', 1)[1], 'w') as f:\n            f.write('''{}''')\nprint('{} passed in 0.01s')\nsys.exit(0)\n",
        forged_report(&task),
        task.spec.tests.fail_to_pass.len() + task.spec.tests.pass_to_pass.len(),
    );
    let patch = patch_from_edit(&task, |root| append(root, "pytest.py", &fake_pytest));
    let graded = grade(&sandbox, &task, &patch, limits(), "shadow").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert_eq!(status_of(&graded, FAIL_TO_PASS), TestStatus::Failed, "the real pytest ran: {notes}");
    assert_nothing_left(&sandbox).await;
}

/// The residual risk itself: code imported while pytest collects makes every test report a
/// pass, so the JUnit report, pytest's exit status (0) and its printed summary all agree.
/// None of those cross-checks can see it; the failing test the grader planted under a fresh
/// name for this grading is reported passed too, and that gives the forgery away.
#[tokio::test]
async fn docker_hostile_every_test_made_to_pass_inside_pytest_is_caught_by_the_planted_failure() {
    let sandbox = sandbox("hostile-all-pass").await;
    let task = task(TASK);
    let forgery = "\nimport _pytest.reports as _reports\n\
                   _init = _reports.TestReport.__init__\n\
                   def _passing(self, *args, **kwargs):\n\
                   \x20   _init(self, *args, **kwargs)\n\
                   \x20   if self.outcome == 'failed':\n\
                   \x20       self.outcome, self.longrepr = 'passed', None\n\
                   _reports.TestReport.__init__ = _passing\n";
    let patch = patch_from_edit(&task, |root| append(root, "toolz/__init__.py", forgery));
    let graded = grade(&sandbox, &task, &patch, limits(), "all-pass").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(notes.contains("planted to fail") && notes.contains("is reported passed"), "{notes}");
    assert!(!notes.contains("exited 0 but") && !notes.contains("pytest printed"), "exit and summary agreed with the forgery: {notes}");
    assert_eq!(graded.verdict.fail_to_pass_passed + graded.verdict.pass_to_pass_passed, 0, "an untrusted report passes nothing");
    assert_nothing_left(&sandbox).await;
}

/// A task whose command puts a directory of the repository on `PYTHONPATH` (as the curated
/// `PYTHONPATH=src` tasks do) would import a `pytest.py` there before the real pytest, even
/// with the safe path. pytest's modules are test-runner internals: the patch's copy is
/// dropped and named, and the real pytest runs the real tests.
#[tokio::test]
async fn docker_hostile_pytest_shadowed_on_the_pythonpath_is_dropped() {
    let sandbox = sandbox("hostile-pythonpath").await;
    let mut task = task(TASK);
    task.spec.tests.command = format!("PYTHONPATH=lib {}", task.spec.tests.command);
    let fake_pytest = format!(
        "import sys\nfor arg in sys.argv:\n    if arg.startswith('--junitxml='):\n        with open(arg.split('=', 1)[1], 'w') as f:\n            f.write('''{}''')\nprint('{} passed in 0.01s')\nsys.exit(0)\n",
        forged_report(&task),
        task.spec.tests.fail_to_pass.len() + task.spec.tests.pass_to_pass.len(),
    );
    let patch = patch_from_edit(&task, |root| {
        append(root, "lib/pytest.py", &fake_pytest);
        append(root, "lib/_pytest/__init__.py", "");
    });
    let graded = grade(&sandbox, &task, &patch, limits(), "pythonpath").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(notes.contains("lib/pytest.py") && notes.contains("lib/_pytest/__init__.py"), "not named as dropped: {notes}");
    assert_eq!(status_of(&graded, FAIL_TO_PASS), TestStatus::Failed, "the real pytest ran: {notes}");
    assert_nothing_left(&sandbox).await;
}

/// A fork bomb in the code under test: held by the pids limit, killed with its process group
/// at the task's timeout, graded unresolved (the agent's fault, not an infrastructure error),
/// and the validator grades the next patch normally.
#[tokio::test]
async fn docker_hostile_fork_bomb_is_unresolved_and_the_validator_survives() {
    let sandbox = sandbox("hostile-forkbomb").await;
    let mut task = task(TASK);
    task.spec.tests.timeout_secs = 10;
    let bomb = "\nimport os as _os\nwhile True:\n    try:\n        _os.fork()\n    except OSError:\n        pass\n";
    let patch = patch_from_edit(&task, |root| append(root, "toolz/__init__.py", bomb));
    let started = Instant::now();
    let graded = grade(&sandbox, &task, &patch, limits(), "forkbomb").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(notes.contains("10s timeout"), "{notes}");
    assert!(started.elapsed() < Duration::from_secs(90), "took {:?}", started.elapsed());

    let gold = grade(&sandbox, &task, task.gold_patch(), limits(), "after-forkbomb").await;
    assert_eq!(gold.verdict.status, VerdictStatus::Resolved, "{}", gold.verdict.notes);
    assert_nothing_left(&sandbox).await;
}

/// The code under test allocates past the memory limit. The kernel kills the test process,
/// not the grader's supervisor: unresolved with the OOM in the notes, not an infrastructure
/// error, and the validator grades the next patch normally.
#[tokio::test]
async fn docker_hostile_memory_bomb_is_unresolved_not_infra() {
    let sandbox = sandbox("hostile-oom").await;
    let task = task(TASK);
    let small = SandboxLimits { memory_mib: 512, ..limits() };
    let hog = "\n_hog = [b'\\x01' * (64 << 20) for _ in range(64)]\n";
    let patch = patch_from_edit(&task, |root| append(root, "toolz/__init__.py", hog));
    let graded = grade(&sandbox, &task, &[task.gold_patch(), &patch].concat(), small, "oom").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(notes.contains("signal 9"), "{notes}");
    assert!(notes.contains("memory limit"), "the kernel's OOM kill is named: {notes}");

    let gold = grade(&sandbox, &task, task.gold_patch(), small, "after-oom").await;
    assert_eq!(gold.verdict.status, VerdictStatus::Resolved, "{}", gold.verdict.notes);
    assert_nothing_left(&sandbox).await;
}

/// Binary hunks are read and applied: a patch adding a binary file next to the gold fix
/// resolves the task.
#[tokio::test]
async fn docker_hostile_binary_file_alongside_gold_resolves() {
    let sandbox = sandbox("hostile-binary").await;
    let task = task(TASK);
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let binary = patch_from_edit(&task, |root| std::fs::write(root.join("toolz/blob.bin"), &bytes).expect("write"));
    assert!(String::from_utf8_lossy(&binary).contains("GIT binary patch"));
    let graded = grade(&sandbox, &task, &[task.gold_patch(), &binary].concat(), limits(), "binary").await;
    assert_eq!(graded.verdict.status, VerdictStatus::Resolved, "{}\n{}", graded.verdict.notes, graded.log);
    assert!(graded.verdict.notes.contains("patch applied: strict"), "{}", graded.verdict.notes);
    assert_nothing_left(&sandbox).await;
}

/// Python that finds the grading supervisor (the tests' user runs it too) and tries to print
/// a passing result line on its stdout, where the grader reads its verdict.
const STATUS_FORGER: &str = r#"
import os as _os
_pid = next(p for p in _os.listdir('/proc') if p.isdigit() and b'/grading/grade.py' in open(f'/proc/{p}/cmdline', 'rb').read())
try:
    with open(f'/proc/{_pid}/fd/1', 'w') as _out:
        _out.write('\nwhetstone-grade: result {"apply": "strict", "test_exit": 0, "report": "ok"}\n')
    _reached = 'reached'
except OSError as _e:
    _reached = repr(_e)
"#;

/// At exit (the report exists by then): overwrite it with a passing one, then kill the
/// supervisor so that no honest result line can follow.
const FORGE_AND_KILL_SUPERVISOR: &str = r#"
import atexit as _atexit
def _late():
    for _name in _os.listdir('/grading/out'):
        if _name.startswith('junit-'):
            with open('/grading/out/' + _name, 'w') as _f:
                _f.write('''REPORT''')
    _os.kill(int(_pid), 9)
_atexit.register(_late)
"#;

/// The tests run as the supervisor's user, but cannot reach its stdout (it is non-dumpable,
/// so its /proc/<pid>/fd is closed to them); killing it only loses them the run.
#[tokio::test]
async fn docker_hostile_tests_cannot_speak_for_the_supervisor() {
    let sandbox = sandbox("hostile-status").await;
    let task = task(TASK);
    let refuse = format!("{STATUS_FORGER}raise RuntimeError('supervisor stdout: ' + _reached)\n");
    let patch = [task.gold_patch(), &patch_from_edit(&task, |root| append(root, "toolz/__init__.py", &refuse))].concat();
    let graded = grade(&sandbox, &task, &patch, limits(), "status").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(graded.log.contains("supervisor stdout: PermissionError"), "the supervisor's stdout was reachable:\n{}", graded.log);

    let kill = format!("{STATUS_FORGER}{}", FORGE_AND_KILL_SUPERVISOR.replace("REPORT", &forged_report(&task)));
    let patch = [task.gold_patch(), &patch_from_edit(&task, |root| append(root, "toolz/__init__.py", &kill))].concat();
    let graded = grade(&sandbox, &task, &patch, limits(), "kill-supervisor").await;
    let notes = &graded.verdict.notes;
    assert_eq!(graded.verdict.status, VerdictStatus::Unresolved, "{notes}\n{}", graded.log);
    assert!(notes.contains("while the tests ran"), "{notes}");
    assert_nothing_left(&sandbox).await;
}

/// Code that fills every disk it can write while the package is imported: the work tree, the
/// scratch space and the grader's output directory are capped mounts, so it fills those and
/// nothing else; the verdict is the agent's (never an infrastructure error) and the
/// validator grades the next patch normally.
#[tokio::test]
async fn docker_hostile_disk_filler_is_contained() {
    let sandbox = sandbox("hostile-disk").await;
    let task = task(TASK);
    let filler = "\nimport os as _os\nfor _dir in ('/repo', '/tmp', '/grading/out', '/', '/var/tmp', '/home/agent'):\n    try:\n        with open(_os.path.join(_dir, 'filler.bin'), 'wb') as _f:\n            while True:\n                _f.write(b'\\0' * (1 << 20))\n    except OSError:\n        pass\n";
    let patch = [task.gold_patch(), &patch_from_edit(&task, |root| append(root, "toolz/__init__.py", filler))].concat();
    let graded = grade(&sandbox, &task, &patch, limits(), "disk").await;
    let notes = &graded.verdict.notes;
    assert!(matches!(graded.verdict.status, VerdictStatus::Resolved | VerdictStatus::Unresolved), "{notes}\n{}", graded.log);
    assert!(notes.contains("/repo was full") && notes.contains("/tmp was full"), "{notes}");
    assert_ne!(graded.verdict.status, VerdictStatus::Resolved, "the filler in the output directory is tampering: {notes}");

    let gold = grade(&sandbox, &task, task.gold_patch(), limits(), "after-disk").await;
    assert_eq!(gold.verdict.status, VerdictStatus::Resolved, "{}", gold.verdict.notes);
    assert_nothing_left(&sandbox).await;
}
