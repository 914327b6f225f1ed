//! Harbor import without Docker: the task directories in `tasks/testdata/import/harbor`
//! (one self-contained, one using the usual template that downloads its tools at test time).

use std::path::PathBuf;

use whetstone_tasks::import::harbor::{self, HarborOptions, VERIFIER_TEST_ID};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/import/harbor").join(name)
}

#[test]
fn a_harbor_task_maps_onto_the_format() {
    let candidate = harbor::convert(&fixture("csv-amount-total"), &HarborOptions::default()).expect("converts");
    let task = &candidate.task;
    assert_eq!(task.spec.id, "csv-amount-total");
    assert_eq!(task.spec.source.license, "MIT", "from [metadata] license");
    assert_eq!(task.spec.difficulty.as_deref(), Some("easy"));
    assert_eq!(task.spec.tests.fail_to_pass, [VERIFIER_TEST_ID]);
    assert!(task.spec.tests.pass_to_pass.is_empty());
    assert_eq!(
        task.spec.tests.command,
        "python3 -m pytest -c whetstone_harbor/pytest.ini --rootdir=whetstone_harbor whetstone_harbor/test_harbor_verifier.py"
    );
    assert_eq!(task.spec.tests.timeout_secs, 90, "the verifier's 60 s and slack");

    let paths: Vec<&str> = task.bundle.files.iter().map(|f| f.path.as_str()).collect();
    for expected in [
        "repo/report.py",
        "repo/data/sales.csv",
        "hidden/whetstone_harbor/tests/test.sh",
        "hidden/whetstone_harbor/tests/test_outputs.py",
        "hidden/whetstone_harbor/test_harbor_verifier.py",
        "hidden/whetstone_harbor/pytest.ini",
        "gold.patch",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
    assert!(task.bundle.file("hidden/whetstone_harbor/tests/test.sh").expect("test.sh").executable);
    assert!(!paths.iter().any(|p| p.starts_with("repo/") && p.contains("test")), "no tests in the agent's view: {paths:?}");
    let dockerfile = String::from_utf8_lossy(task.dockerfile()).into_owned();
    assert!(dockerfile.starts_with("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"), "{dockerfile}");
    assert!(!dockerfile.contains("COPY") && !dockerfile.contains("FROM python"), "{dockerfile}");
    assert!(candidate.notes.iter().any(|n| n.contains("FROM python:3.12-slim-bookworm replaced")), "{:?}", candidate.notes);

    let solution = candidate.solution.as_ref().expect("a reference solution to run");
    assert_eq!(solution.command, ["bash", "/solution/solve.sh"]);
    assert_eq!(solution.timeout.as_secs(), 120, "[agent] timeout_sec");
    assert!(solution.files.iter().any(|f| f.path == "solve.sh"));
    assert!(candidate.hints.is_empty(), "{:?}", candidate.hints);
}

#[test]
fn the_verifier_bridge_is_valid_python() {
    let candidate = harbor::convert(&fixture("csv-amount-total"), &HarborOptions::default()).expect("converts");
    let bridge = candidate.task.bundle.file("hidden/whetstone_harbor/test_harbor_verifier.py").expect("bridge");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bridge.py");
    std::fs::write(&path, &bridge.bytes).expect("write");
    let compiled = std::process::Command::new("python3").args(["-m", "py_compile"]).arg(&path).output().expect("python3 runs");
    assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
    let text = String::from_utf8_lossy(&bridge.bytes);
    assert!(text.contains("WORKSPACE = \"/app\""), "{text}");
}

#[test]
fn an_empty_workspace_and_a_downloading_verifier_are_carried_with_hints() {
    let options = HarborOptions { license: Some("Apache-2.0".into()), source_url: Some("https://example.org/tasks".into()) };
    let candidate = harbor::convert(&fixture("hello-world-online-verifier"), &options).expect("converts");
    assert_eq!(candidate.task.spec.source.url, "https://example.org/tasks");
    let repo: Vec<&str> = candidate.task.bundle.files.iter().filter(|f| f.path.starts_with("repo/")).map(|f| f.path.as_str()).collect();
    assert_eq!(repo, ["repo/.gitkeep"]);
    assert_eq!(candidate.hints.len(), 4, "{:#?}", candidate.hints);
    assert!(candidate.hints[0].contains("tests/test.sh line 3"), "{}", candidate.hints[0]);
    assert!(candidate.hints.iter().any(|h| h.contains("line 5 downloads")), "{:?}", candidate.hints);
}

#[test]
fn directories_that_are_not_harbor_tasks_are_dropped_with_the_reason() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let empty = scratch.path().join("Not A Task");
    std::fs::create_dir(&empty).expect("mkdir");
    let dropped = harbor::convert(&empty, &HarborOptions::default()).expect_err("no task.toml");
    assert_eq!(dropped.id, "not-a-task");
    assert!(dropped.reason.contains("no task.toml"), "{}", dropped.reason);

    let copy = scratch.path().join("copy");
    let original = whetstone_tasks::bundle::Bundle::from_dir(&fixture("csv-amount-total")).expect("fixture");
    original.write_to(&copy).expect("copy");
    std::fs::write(copy.join("environment/Dockerfile"), "FROM python:3.12\nWORKDIR /app\nCOPY report.py /opt/report.py\n").expect("edit");
    let dropped = harbor::convert(&copy, &HarborOptions::default()).expect_err("copies outside the workspace");
    assert!(dropped.reason.contains("outside the workspace /app"), "{}", dropped.reason);

    std::fs::write(copy.join("environment/Dockerfile"), "FROM python:3.12\nWORKDIR /app\n").expect("edit");
    std::fs::remove_dir_all(copy.join("solution")).expect("rm");
    let dropped = harbor::convert(&copy, &HarborOptions::default()).expect_err("no solution");
    assert!(dropped.reason.contains("no reference solution"), "{}", dropped.reason);
}
