//! The bug generator on real projects: the toolz sources of the starter set (Python) and the
//! library sources of the semver crate, vendored in `generate_fixtures/semver` (Rust). Patches
//! go through the real `git apply` in a temporary repository.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use whetstone_tasks::generate::{Candidate, GenerateError, Generator, GeneratorConfig, Language, Operator, combine, sample};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The starter set's clean toolz tree (its tasks are this tree with one bug planted).
fn toolz() -> PathBuf {
    manifest_dir().join("sets/starter/projects/toolz-1.2.0/base")
}

fn semver() -> PathBuf {
    manifest_dir().join("tests/integration/generate_fixtures/semver")
}

fn generator(language: Language, seed: u64) -> Generator {
    Generator::new(language, GeneratorConfig { seed, ..GeneratorConfig::default() })
}

fn grammar(language: Language) -> tree_sitter::Language {
    match language {
        Language::Python => tree_sitter_python::LANGUAGE.into(),
        Language::Rust => tree_sitter_rust::LANGUAGE.into(),
    }
}

/// A scratch git repository holding a copy of a source tree as its only commit.
struct GitRepo {
    dir: tempfile::TempDir,
    patches: tempfile::TempDir,
}

impl GitRepo {
    fn copy_of(root: &Path) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for entry in walkdir::WalkDir::new(root) {
            let entry = entry.expect("walk");
            let target = dir.path().join(entry.path().strip_prefix(root).expect("inside root"));
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&target).expect("mkdir");
            } else if entry.file_type().is_file() {
                std::fs::copy(entry.path(), &target).expect("copy");
            }
        }
        let repo = GitRepo { dir, patches: tempfile::tempdir().expect("tempdir") };
        repo.git(&["init", "-q"]);
        repo.git(&["add", "-A"]);
        repo.git(&["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "clean"]);
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        let output =
            Command::new("git").args(["-c", "core.autocrlf=false"]).args(args).current_dir(self.dir.path()).output().expect("run git");
        assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `git apply` at the repository root, exactly as the validator first tries it.
    fn apply(&self, patch: &str) {
        let path = self.patches.path().join("change.patch");
        std::fs::write(&path, patch).expect("write patch");
        self.git(&["apply", path.to_str().expect("utf-8 path")]);
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).expect("read")
    }

    fn changed_files(&self) -> Vec<String> {
        self.git(&["status", "--porcelain"]).lines().map(|l| l[3..].to_owned()).collect()
    }
}

/// Bug patch, then gold patch, through `git apply`: the bug patch makes exactly the buggy
/// file, the gold patch restores every original byte.
fn round_trip(repo: &GitRepo, file: &str, bug: &str, gold: &str, buggy: &str, what: &str) {
    let original = repo.read(file);
    repo.apply(bug);
    assert_eq!(repo.read(file), buggy, "bug patch of {what}");
    assert_eq!(repo.changed_files(), [file], "bug patch of {what} touches only its file");
    repo.apply(gold);
    assert_eq!(repo.read(file), original, "gold patch of {what}");
    assert!(repo.changed_files().is_empty(), "gold patch of {what} leaves changes behind");
}

fn check_real_tree(language: Language, root: &Path, min_candidates: usize, min_operators: usize) -> Vec<Candidate> {
    let generation = generator(language, 0).generate(root).expect("generate");
    let candidates = generation.candidates;
    let report = generation.report;
    assert!(candidates.len() >= min_candidates, "only {} candidates: {report:?}", candidates.len());
    let operators: BTreeSet<Operator> = candidates.iter().map(|c| c.operator).collect();
    assert!(operators.len() >= min_operators, "operators used: {operators:?}");
    assert_eq!(report.candidates_per_operator.values().sum::<usize>(), candidates.len());

    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&grammar(language)).expect("grammar");
    for candidate in &candidates {
        let file = &candidate.file;
        assert!(!file.split('/').any(|part| part == "tests" || part.starts_with("test_")), "test file {file}");
        assert!(candidate.description.ends_with(&format!(" in `{}`", candidate.function)), "{candidate:?}");
        assert_eq!(&candidate.original_source()[candidate.span.clone()], candidate.original);
        let buggy = candidate.buggy_source();
        assert_ne!(buggy, candidate.original_source());
        // A fresh, full parse agrees with the incremental check.
        let tree = parser.parse(&buggy, None).expect("parse");
        assert!(!tree.root_node().has_error(), "{} does not parse:\n{}", candidate.description, candidate.bug_patch());
    }
    candidates
}

#[test]
fn toolz_gives_valid_candidates_for_most_operators() {
    let candidates = check_real_tree(Language::Python, &toolz(), 150, 13);
    assert!(candidates.iter().all(|c| c.function.starts_with("toolz.") || c.function.starts_with("tlz.")));
    assert!(candidates.iter().any(|c| c.function == "toolz.itertoolz.sliding_window" || c.function.starts_with("toolz.itertoolz.")));
}

#[test]
fn semver_gives_valid_candidates_for_most_operators() {
    let candidates = check_real_tree(Language::Rust, &semver(), 60, 12);
    assert!(candidates.iter().all(|c| c.function.starts_with("semver::")), "crate name from Cargo.toml");
    // The fixture's `unsafe` code is never mutated.
    assert!(candidates.iter().all(|c| !c.original.contains("unsafe")));
}

#[test]
fn bug_and_gold_patches_round_trip_through_git_apply() {
    for (language, root) in [(Language::Python, toolz()), (Language::Rust, semver())] {
        let generator = generator(language, 11);
        let candidates = generator.candidates(&root).expect("candidates");
        let repo = GitRepo::copy_of(&root);
        for candidate in generator.sample(&candidates, 30) {
            let gold = candidate.gold_patch();
            assert!(gold.starts_with(&format!("diff --git a/{0} b/{0}\n", candidate.file)), "{gold}");
            let what = format!("{language} {}", candidate.description);
            round_trip(&repo, &candidate.file, &candidate.bug_patch(), &gold, &candidate.buggy_source(), &what);
        }
        let combined = combine(&candidates, 3, 11).expect("combine");
        assert!(combined.len() >= 5, "{language}: {} combined candidates", combined.len());
        for group in combined.iter().take(10) {
            assert!((2..=3).contains(&group.parts.len()));
            assert!(group.bug_patch().matches("\n@@ ").count() <= group.parts.len());
            let what = format!("{language} combined {}", group.description);
            round_trip(&repo, &group.file, &group.bug_patch(), &group.gold_patch(), &group.buggy_source(), &what);
        }
    }
}

#[test]
fn crlf_files_and_missing_final_newlines_round_trip() {
    let project = tempfile::tempdir().expect("tempdir");
    let body = "def pick(xs, n, key):\n    out = []\n    for i in range(len(xs)):\n        if xs[i] is None:\n            continue\n        if key(xs[i]) > n and i % 2 == 0:\n            out.append(xs[i] * 2)\n        else:\n            n -= 1\n    return out";
    std::fs::create_dir(project.path().join("pkg")).expect("mkdir");
    std::fs::write(project.path().join("pkg/crlf.py"), body.replace('\n', "\r\n") + "\r\n").expect("write");
    std::fs::write(project.path().join("pkg/nonl.py"), body).expect("write");
    let config = GeneratorConfig { max_per_function: usize::MAX, ..GeneratorConfig::default() };
    let candidates = Generator::new(Language::Python, config).candidates(project.path()).expect("candidates");
    let files: BTreeSet<&str> = candidates.iter().map(|c| c.file.as_str()).collect();
    assert_eq!(files, BTreeSet::from(["pkg/crlf.py", "pkg/nonl.py"]));
    let repo = GitRepo::copy_of(project.path());
    for candidate in &candidates {
        let what = format!("{} ({})", candidate.description, candidate.file);
        round_trip(&repo, &candidate.file, &candidate.bug_patch(), &candidate.gold_patch(), &candidate.buggy_source(), &what);
    }
}

#[test]
fn same_seed_same_candidates_on_a_real_tree() {
    for (language, root) in [(Language::Python, toolz()), (Language::Rust, semver())] {
        let first = generator(language, 5).generate(&root).expect("generate");
        let again = generator(language, 5).generate(&root).expect("generate");
        assert_eq!(first, again, "{language}");
        let picks = |seed| sample(&first.candidates, 20, seed, 2).iter().map(Candidate::id).collect::<Vec<_>>();
        assert_eq!(picks(1), picks(1));
        assert_ne!(picks(1), picks(2), "{language}: another seed, another sample");
        let files: BTreeSet<_> = sample(&first.candidates, 20, 1, 2).into_iter().map(|c| c.file).collect();
        assert!(files.len() >= 2, "{language}: the sample spreads over files: {files:?}");
    }
}

#[test]
fn a_missing_tree_is_a_clear_error() {
    let err = generator(Language::Python, 0).candidates(Path::new("/nonexistent/project")).expect_err("no tree");
    assert!(matches!(err, GenerateError::NotADirectory { .. }));
    assert!(err.to_string().contains("/nonexistent/project is not a directory"), "{err}");
}
