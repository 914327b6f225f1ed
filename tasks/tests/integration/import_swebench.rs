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

/// The same instance from a tarball of its base commit (no history, an sdist-style top-level
/// directory, a stray `.git` left out) converts to the same task as from the bundle, with the
/// base commit recorded and a note that it was not checked.
#[test]
fn a_tarball_without_history_converts_like_the_repository() {
    let bundle = Source::open(&fixtures().join("toolz.bundle")).expect("the bundle opens");
    let instance = &instances()[0];
    let options = SwebenchOptions { lock_with: None, ..SwebenchOptions::default() };
    let from_bundle = swebench::convert(instance, &bundle, &options).expect("converts from the bundle");

    let snapshot = bundle.snapshot(&instance.base_commit).expect("base commit");
    let dir = tempfile::tempdir().expect("tempdir");
    let tarball = dir.path().join("toolz-src.tar.gz");
    let mut builder =
        tar::Builder::new(flate2::write::GzEncoder::new(std::fs::File::create(&tarball).expect("create"), flate2::Compression::default()));
    for file in
        snapshot.files.iter().map(|f| (f.path.as_str(), f.bytes.as_slice(), f.executable)).chain([(".git/HEAD", &b"ref: x\n"[..], false)])
    {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.1.len() as u64);
        header.set_mode(if file.2 { 0o755 } else { 0o644 });
        header.set_cksum();
        builder.append_data(&mut header, format!("toolz-0.12.0/{}", file.0), file.1).expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip");

    let tree = Source::open_tree(&tarball).expect("the tarball opens");
    let from_tree = swebench::convert(instance, &tree, &options).expect("converts from the tarball");
    let files = |candidate: &whetstone_tasks::import::Candidate| {
        candidate.task.bundle.files.iter().map(|f| (f.path.clone(), f.executable, f.bytes.clone())).collect::<Vec<_>>()
    };
    assert_eq!(files(&from_tree), files(&from_bundle), "same task, file for file");
    assert_eq!(from_tree.task.digest(), from_bundle.task.digest());
    assert!(from_tree.notes.iter().any(|n| n.contains(&format!("base_commit {} is recorded, not checked", instance.base_commit))));
    assert!(from_tree.task.spec.source.url.contains(&instance.base_commit), "{}", from_tree.task.spec.source.url);

    // A directory works the same way, and an empty one says so.
    let empty = tempfile::tempdir().expect("tempdir");
    let error = Source::open_tree(empty.path()).expect_err("nothing there").to_string();
    assert!(error.contains("holds no files"), "{error}");
}
