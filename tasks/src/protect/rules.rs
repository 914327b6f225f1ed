//! The protection rules: which paths a patch may not change when it is graded (the task's
//! protected globs and the hidden files' overlay), and dropping the sections that do.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::PatchError;
use super::reader::split_patch;
use crate::task::{Framework, Task};

/// A patch with protected-path sections taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredPatch {
    pub patch: Vec<u8>,
    /// Paths whose changes were dropped, sorted and deduplicated.
    pub dropped: Vec<String>,
}

/// Drops every section that names a path matching one of `protected`.
pub fn drop_protected(patch: &[u8], protected: &[String]) -> Result<FilteredPatch, PatchError> {
    let globs = build_globs(protected)?;
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for section in split_patch(patch)? {
        let hits: Vec<_> = section.paths.iter().filter(|p| globs.is_match(p.as_str())).cloned().collect();
        if hits.is_empty() {
            kept.extend_from_slice(&section.text);
        } else {
            dropped.extend(hits);
        }
    }
    dropped.sort();
    dropped.dedup();
    Ok(FilteredPatch { patch: kept, dropped })
}

/// The test runner's own code, which a patch must never supply, whatever globs a task chose:
/// for pytest, modules of that name anywhere (a directory on a task's `PYTHONPATH`, such as
/// `src/`, comes before site-packages, so `src/pytest.py` or `src/_pytest/` would stand in
/// for pytest itself and print whatever it liked); for cargo, the manifests and toolchain
/// files that choose what `cargo test` builds and runs (`harness = false` or a `[[test]]
/// path` swaps libtest for a program that prints passes).
const PYTEST_INTERNALS: &[&str] = &["**/pytest.py", "**/pytest/**", "**/_pytest/**", "**/pluggy/**", "**/py.py"];
const CARGO_INTERNALS: &[&str] =
    &["**/Cargo.toml", "**/Cargo.lock", "**/build.rs", "**/.cargo/**", "**/rust-toolchain", "**/rust-toolchain.toml"];
/// Projects whose own code is those modules: their tasks may change them.
const PYTEST_PROJECTS: &[&str] = &["pytest", "pluggy", "py"];

/// The globs the grader protects for `task`: the task's own (or [`DEFAULT_PROTECTED`]), the
/// test runner's internals ([`PYTEST_INTERNALS`], [`CARGO_INTERNALS`]), plus every hidden
/// file's path, everything below it, and each directory above it as a path of its own. A
/// patch can then neither edit a hidden file nor put a file or a link where the overlay of
/// the hidden files has to write, whatever globs the task chose.
///
/// [`DEFAULT_PROTECTED`]: crate::task::DEFAULT_PROTECTED
pub fn grading_globs(task: &Task) -> Vec<String> {
    let mut globs = task.spec.grading.protected_globs();
    let internals = match task.spec.framework {
        Framework::Pytest if PYTEST_PROJECTS.contains(&task.spec.source.project.to_ascii_lowercase().as_str()) => &[][..],
        Framework::Pytest => PYTEST_INTERNALS,
        Framework::Cargo => CARGO_INTERNALS,
    };
    globs.extend(internals.iter().map(|glob| (*glob).to_owned()));
    for file in &task.bundle.files {
        let Some(path) = file.path.strip_prefix("hidden/") else { continue };
        let escaped = globset::escape(path);
        globs.push(format!("{escaped}/**"));
        globs.push(escaped);
        let mut rest = path;
        while let Some((dir, _)) = rest.rsplit_once('/') {
            globs.push(globset::escape(dir));
            rest = dir;
        }
    }
    globs.sort();
    globs.dedup();
    globs
}

fn build_globs(patterns: &[String]) -> Result<GlobSet, PatchError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| PatchError::BadGlob { glob: pattern.clone(), message: e.to_string() })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| PatchError::BadGlob { glob: patterns.join(","), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::DEFAULT_PROTECTED;

    fn defaults() -> Vec<String> {
        DEFAULT_PROTECTED.iter().map(|s| (*s).to_owned()).collect()
    }

    const SRC: &str =
        "diff --git a/pkg/core.py b/pkg/core.py\nindex 1..2 100644\n--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n";
    const TEST: &str = "diff --git a/pkg/tests/test_core.py b/pkg/tests/test_core.py\ndeleted file mode 100644\nindex 1..0\n--- a/pkg/tests/test_core.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-assert False\n";
    const CONFTEST: &str = "diff --git a/conftest.py b/conftest.py\nnew file mode 100644\nindex 0..1\n--- /dev/null\n+++ b/conftest.py\n@@ -0,0 +1 @@\n+import pytest\n";

    #[test]
    fn protected_sections_are_dropped_and_named() {
        let patch = format!("{SRC}{TEST}{CONFTEST}");
        let filtered = drop_protected(patch.as_bytes(), &defaults()).expect("filters");
        assert_eq!(filtered.patch, SRC.as_bytes());
        assert_eq!(filtered.dropped, ["conftest.py", "pkg/tests/test_core.py"]);
    }

    #[test]
    fn rename_into_protected_path_is_dropped() {
        let patch = "diff --git a/pkg/a.py b/pkg/test_a.py\nsimilarity index 100%\nrename from pkg/a.py\nrename to pkg/test_a.py\n";
        let filtered = drop_protected(patch.as_bytes(), &defaults()).expect("filters");
        assert!(filtered.patch.is_empty());
        assert_eq!(filtered.dropped, ["pkg/test_a.py"]);
    }

    #[test]
    fn test_configuration_is_protected_at_every_depth() {
        let globs = build_globs(&defaults()).expect("globs");
        let protected = [
            "conftest.py",
            "pkg/conftest.py",
            "pytest.ini",
            "pkg/pytest.ini",
            "pkg/.pytest.ini",
            "pkg/sub/setup.cfg",
            "tox.ini",
            "pkg/pyproject.toml",
            "pyproject.toml",
            "sitecustomize.py",
            "lib/usercustomize.py",
            "evil.pth",
            "pkg/__pycache__/core.cpython-311.pyc",
            "pkg/core.pyc",
            "build.rs",
            "crates/x/build.rs",
            ".cargo/config.toml",
            "crates/x/.cargo/config",
            "pkg/tests/helpers.py",
            "pkg/test/helpers.py",
            "test_core.py",
            "pkg/core_test.py",
            ".github/workflows/ci.yml",
        ];
        for path in protected {
            assert!(globs.is_match(path), "{path} should be protected");
        }
        for path in ["pkg/core.py", "setup.py", "Makefile", "pkg/testing.py", "pkg/contest.py", "src/lib.rs", "Cargo.toml", "README.md"] {
            assert!(!globs.is_match(path), "{path} should stay editable");
        }
    }

    /// Whatever globs a task chose, a patch cannot supply the test runner: pytest's modules
    /// anywhere (a `PYTHONPATH=src` command would import `src/pytest.py` before the real
    /// one), cargo's manifests and toolchain files. No shipped gold patch touches them.
    #[test]
    fn the_test_runners_internals_are_always_protected() {
        let set_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sets/starter");
        let mut task = crate::TaskSet::load(&set_dir).expect("starter set").tasks.remove(0);
        task.spec.grading.protected = Some(Vec::new());
        let globs = build_globs(&grading_globs(&task)).expect("globs");
        for path in ["pytest.py", "src/pytest.py", "src/_pytest/runner.py", "lib/pluggy/__init__.py", "src/pytest/__init__.py", "py.py"] {
            assert!(globs.is_match(path), "{path} should be protected");
        }
        assert!(!globs.is_match("src/pkg/core.py") && !globs.is_match("Cargo.toml"), "pytest tasks keep the rest editable");
        task.spec.source.project = "pluggy".into();
        assert!(!build_globs(&grading_globs(&task)).expect("globs").is_match("src/pluggy/hooks.py"), "pluggy's own tasks edit pluggy");
        task.spec.source.project = "toolz".into();
        task.spec.framework = Framework::Cargo;
        let globs = build_globs(&grading_globs(&task)).expect("globs");
        for path in ["Cargo.toml", "crates/x/Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "build.rs", ".cargo/config.toml"] {
            assert!(globs.is_match(path), "{path} should be protected");
        }

        let curated = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sets/curated");
        for task in crate::TaskSet::load(&curated).expect("curated set").tasks {
            let filtered = drop_protected(task.gold_patch(), &grading_globs(&task)).expect("gold patch reads");
            assert!(filtered.dropped.is_empty(), "{}: {:?}", task.spec.id, filtered.dropped);
        }
    }

    /// patch would have to replace with a file or a link to redirect their overlay.
    #[test]
    fn hidden_files_are_always_protected_and_gold_patches_pass_through() {
        let set_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sets/starter");
        let set = crate::TaskSet::load(&set_dir).expect("starter set");
        for task in &set.tasks {
            let filtered = drop_protected(task.gold_patch(), &grading_globs(task)).expect("gold patch reads");
            assert_eq!(filtered.patch, task.gold_patch(), "{}", task.spec.id);
            assert!(filtered.dropped.is_empty(), "{}", task.spec.id);
        }
        let mut task = set.tasks[0].clone();
        task.spec.grading.protected = Some(Vec::new());
        let globs = build_globs(&grading_globs(&task)).expect("globs");
        let hidden = task.bundle.files.iter().find_map(|f| f.path.strip_prefix("hidden/")).expect("a hidden file");
        assert!(globs.is_match(hidden) && globs.is_match(format!("{hidden}/x")), "{hidden}");
        let parent = hidden.rsplit_once('/').expect("nested").0;
        assert!(globs.is_match(parent), "{parent}");
        assert!(!globs.is_match(format!("{parent}/other.py")), "siblings follow the task's own globs");
    }
}
