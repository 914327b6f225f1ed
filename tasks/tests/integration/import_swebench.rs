//! SWE-bench import without Docker: reading instances, the repository from a bundle or a
//! clone, and the task directories the conversion makes (`tasks/testdata/import/swebench`:
//! toolz 1.0.0 with two real bug-fix commits, and two instances in SWE-bench's schema).

use std::path::{Path, PathBuf};
use std::process::Command;

use whetstone_tasks::import::source::Source;
use whetstone_tasks::import::swebench::{self, Instance, SwebenchOptions, parse_instances};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/import/swebench")
}

pub fn instances() -> Vec<Instance> {
    let text = std::fs::read_to_string(fixtures().join("instances.jsonl")).expect("fixture");
    parse_instances(&text).expect("the fixture parses")
}

fn file<'a>(candidate: &'a whetstone_tasks::import::Candidate, path: &str) -> Option<&'a str> {
    candidate.task.bundle.file(path).map(|f| std::str::from_utf8(&f.bytes).expect("utf-8"))
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git").args(args).current_dir(dir).status().expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn instances_become_tasks_with_the_bug_present_and_the_tests_hidden() {
    let source = Source::open(&fixtures().join("toolz.bundle")).expect("the bundle opens");
    let instances = instances();
    let tail = swebench::convert(&instances[0], &source, &SwebenchOptions::default()).expect("converts");
    let spec = &tail.task.spec;
    assert_eq!(spec.id, "pytoolz-toolz-601");
    assert_eq!(spec.source.project, "pytoolz/toolz");
    assert_eq!(spec.source.license, "BSD-3-Clause", "read from LICENSE.txt");
    assert_eq!(spec.tests.command, "python3 -m pytest --rootdir=. toolz/tests/test_itertoolz.py");
    // The Hugging Face encoding (a JSON string) and pytest parameters both come through.
    assert_eq!(
        spec.tests.fail_to_pass,
        [
            "toolz.tests.test_itertoolz::test_tail_of_zero_is_empty[list]",
            "toolz.tests.test_itertoolz::test_tail_of_zero_is_empty[str]",
            "toolz.tests.test_itertoolz::test_tail_of_zero_is_empty[tuple]",
        ]
    );
    assert!(spec.tests.pass_to_pass.contains(&"toolz.tests.test_itertoolz::test_tail_of_zero_is_empty[iterator]".to_owned()));
    assert!(spec.tests.pass_to_pass.contains(&"toolz.tests.test_itertoolz::test_tail".to_owned()));

    // repo/ is base_commit: the bug is there, the new tests are not, and there is no history.
    let source_file = file(&tail, "repo/toolz/itertoolz.py").expect("source file");
    assert!(source_file.contains("return seq[-n:]\n"), "the bug is present");
    let visible_tests = file(&tail, "repo/toolz/tests/test_itertoolz.py").expect("old tests");
    assert!(!visible_tests.contains("test_tail_of_zero_is_empty"));
    assert!(tail.task.bundle.files.iter().all(|f| !f.path.contains("/.git/") && !f.path.starts_with("repo/.git")));
    // hidden/ is the test file as test_patch leaves it.
    let hidden = file(&tail, "hidden/toolz/tests/test_itertoolz.py").expect("hidden tests");
    assert!(hidden.contains("def test_tail_of_zero_is_empty(seq):"));
    // ... and a root conftest.py that puts the checkout on sys.path, as installing it would.
    let hidden_files: Vec<&str> =
        tail.task.bundle.files.iter().filter(|f| f.path.starts_with("hidden/")).map(|f| f.path.as_str()).collect();
    assert_eq!(hidden_files, ["hidden/conftest.py", "hidden/toolz/tests/test_itertoolz.py"]);
    assert_eq!(tail.task.gold_patch(), instances[0].patch.as_bytes());
    assert_eq!(tail.task.instruction, format!("{}\n", instances[0].problem_statement.trim_end()));
    let dockerfile = String::from_utf8_lossy(tail.task.dockerfile()).into_owned();
    assert!(dockerfile.starts_with("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n") && !dockerfile.contains("pip"), "{dockerfile}");

    // The second instance starts from the first fix: its repository has it.
    let interpose = swebench::convert(&instances[1], &source, &SwebenchOptions::default()).expect("converts");
    assert!(file(&interpose, "repo/toolz/itertoolz.py").expect("source").contains("seq[-n:] if n else seq[:0]"));
    assert_eq!(interpose.task.spec.tests.fail_to_pass.len(), 2, "real lists are read too");
}

#[test]
fn a_clone_reads_like_the_bundle_and_incremental_bundles_are_refused() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let clone = scratch.path().join("toolz");
    git(scratch.path(), &["clone", "--quiet", fixtures().join("toolz.bundle").to_str().expect("path"), "toolz"]);
    let from_clone = Source::open(&clone).expect("a work tree opens");
    let from_bundle = Source::open(&fixtures().join("toolz.bundle")).expect("the bundle opens");
    let base = &instances()[0].base_commit;
    let (a, b) = (from_clone.snapshot(base).expect("snapshot"), from_bundle.snapshot(base).expect("snapshot"));
    assert_eq!(a.files, b.files);
    assert!(a.files.len() > 30, "{}", a.files.len());

    let incremental = scratch.path().join("recent.bundle");
    git(&clone, &["bundle", "create", "--quiet", incremental.to_str().expect("path"), "HEAD~1..HEAD"]);
    let error = Source::open(&incremental).expect_err("needs commits it lacks");
    assert!(error.to_string().contains("incremental bundle"), "{error}");
    assert!(error.to_string().contains("git bundle create FILE --all"), "{error}");

    let not_a_repo = Source::open(&fixtures().join("instances.jsonl")).expect_err("not a bundle");
    assert!(not_a_repo.to_string().contains("not a git bundle"), "{not_a_repo}");
}

#[test]
fn instances_that_cannot_work_are_dropped_with_the_reason() {
    let source = Source::open(&fixtures().join("toolz.bundle")).expect("the bundle opens");
    let base = instances().remove(0);
    let options = SwebenchOptions::default();
    let mut django = base.clone();
    django.fail_to_pass = vec!["test_tail (toolz.tests.TailTests)".into()];
    let mut unknown_commit = base.clone();
    unknown_commit.base_commit = "0123456789abcdef0123456789abcdef01234567".into();
    let mut stale_patch = base.clone();
    stale_patch.patch = stale_patch.patch.replace("return seq[-n:]", "return seq[-n:-0]");
    for (instance, words) in
        [(&django, "not a pytest node id"), (&unknown_commit, "is not in the repository"), (&stale_patch, "the gold patch does not apply")]
    {
        let dropped = swebench::convert(instance, &source, &options).expect_err(words);
        assert_eq!(dropped.id, "pytoolz-toolz-601");
        assert!(dropped.reason.contains(words), "{}", dropped.reason);
    }
    // A licence given on the command line wins over the detected one.
    let explicit = SwebenchOptions { license: Some("MIT".into()), ..SwebenchOptions::default() };
    let converted = swebench::convert(&base, &source, &explicit).expect("converts");
    assert_eq!(converted.task.spec.source.license, "MIT");
}

#[test]
fn a_malformed_instances_file_names_the_line() {
    let mut text = std::fs::read_to_string(fixtures().join("instances.jsonl")).expect("fixture");
    text.push_str("{\"instance_id\": \"x\", \"repo\": \"o/p\"}\n");
    let error = parse_instances(&text).expect_err("third line lacks fields");
    assert!(error.to_string().contains("line 3"), "{error}");
    assert!(error.to_string().contains("missing field"), "{error}");
}
