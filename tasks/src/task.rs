//! Task format v1 (`tasks/FORMAT.md`): parsing `task.toml`, loading a task directory or a
//! bundle, and task sets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bundle::{Bundle, BundleError};
use crate::digest::Digest;

/// The newest task format this build writes; every format from 1 up to it loads.
pub const FORMAT_VERSION: u32 = 2;
/// Format 1 tasks (pytest only, no `framework` key) still load unchanged.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
pub const DEFAULT_TEST_TIMEOUT_SECS: u64 = 300;

/// The protected globs used when a task names none (see FORMAT.md, "Protected paths").
///
/// Tests and test helpers; every file pytest reads its configuration from, at any depth
/// (pytest looks for it from the common directory of its arguments upwards, so a
/// `pkg/pytest.ini` would win over the root's); files the interpreter executes before the
/// tests (`sitecustomize.py`, `usercustomize.py`, `*.pth`) and bytecode it could load
/// instead of the source; build scripts and cargo configuration, which run before tests
/// compile. `setup.py` and `Makefile` stay editable: pytest never reads them and real fixes
/// touch them; a task whose command goes through one lists it in `[grading] protected`.
pub const DEFAULT_PROTECTED: &[&str] = &[
    "**/test_*.py",
    "**/*_test.py",
    "**/tests/**",
    "**/test/**",
    "**/conftest.py",
    "**/pytest.ini",
    "**/.pytest.ini",
    "**/tox.ini",
    "**/setup.cfg",
    "**/pyproject.toml",
    "**/sitecustomize.py",
    "**/usercustomize.py",
    "**/*.pth",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/build.rs",
    "**/.cargo/**",
    ".github/**",
];

/// `task.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Must equal [`FORMAT_VERSION`].
    pub format: u32,
    /// Unique within its set: `[a-z0-9][a-z0-9-]*`.
    pub id: String,
    /// `easy`, `medium` or `hard`; informational.
    #[serde(default)]
    pub difficulty: Option<String>,
    /// How the test command reports per-test results; default `pytest`. Format 2 and later.
    #[serde(default)]
    pub framework: Framework,
    pub source: SourceSpec,
    pub tests: TestSpec,
    #[serde(default)]
    pub grading: GradingSpec,
}

/// The test framework behind a task's test command (FORMAT.md, "Test ids").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    /// `python3 -m pytest …`; the grader appends its JUnit options and reads the report.
    #[default]
    Pytest,
    /// `cargo test …`; the grader reads libtest's output and cargo's target lines.
    Cargo,
}

impl Framework {
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Pytest => "pytest",
            Framework::Cargo => "cargo",
        }
    }
}

/// Where the task's code comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub project: String,
    pub version: String,
    /// SPDX licence identifier.
    pub license: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    /// Run by `sh -c` at the repo root; the validator appends `--junitxml=<path>`.
    pub command: String,
    /// Default [`DEFAULT_TEST_TIMEOUT_SECS`].
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    pub fail_to_pass: Vec<String>,
    #[serde(default)]
    pub pass_to_pass: Vec<String>,
}

fn default_timeout() -> u64 {
    DEFAULT_TEST_TIMEOUT_SECS
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradingSpec {
    /// Globs of paths whose changes are dropped before grading; default [`DEFAULT_PROTECTED`].
    #[serde(default)]
    pub protected: Option<Vec<String>>,
}

impl GradingSpec {
    pub fn protected_globs(&self) -> Vec<String> {
        match &self.protected {
            Some(globs) => globs.clone(),
            None => DEFAULT_PROTECTED.iter().map(|g| (*g).to_owned()).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("task has no {0}")]
    Missing(&'static str),
    #[error("task.toml is not valid")]
    Toml(#[source] toml::de::Error),
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    #[error("task.toml has format {found}, this build reads formats {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}")]
    UnsupportedFormat { found: u32 },
    #[error("task id {0:?} must match [a-z0-9][a-z0-9-]*")]
    BadId(String),
    #[error("task {0} lists no fail_to_pass tests")]
    NoFailToPass(String),
    #[error("failed to read task set {path}")]
    ReadSet {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("task {path}")]
    InSet {
        path: String,
        #[source]
        source: Box<TaskError>,
    },
    #[error("task {id} has digest {actual} but the set's DIGESTS pins {pinned}")]
    DigestPinMismatch { id: String, pinned: Digest, actual: Digest },
    #[error("task {0} names framework {1:?}, which needs format 2")]
    FrameworkNeedsFormat2(String, &'static str),
    #[error("compact task set {path} is invalid")]
    Compact {
        path: String,
        #[source]
        source: Box<crate::compact::CompactError>,
    },
}

/// A loaded task: its spec and every file of its directory, with the digest over them.
#[derive(Debug, Clone)]
pub struct Task {
    pub spec: TaskSpec,
    pub instruction: String,
    pub bundle: Bundle,
}

impl Task {
    pub fn from_bundle(bundle: Bundle) -> Result<Self, TaskError> {
        let text = |path: &'static str| -> Result<String, TaskError> {
            let file = bundle.file(path).ok_or(TaskError::Missing(path))?;
            String::from_utf8(file.bytes.clone()).map_err(|_| TaskError::NotUtf8(path))
        };
        let spec: TaskSpec = toml::from_str(&text("task.toml")?).map_err(TaskError::Toml)?;
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&spec.format) {
            return Err(TaskError::UnsupportedFormat { found: spec.format });
        }
        if spec.format < 2 && spec.framework != Framework::Pytest {
            return Err(TaskError::FrameworkNeedsFormat2(spec.id, spec.framework.as_str()));
        }
        if !is_valid_id(&spec.id) {
            return Err(TaskError::BadId(spec.id));
        }
        if spec.tests.fail_to_pass.is_empty() {
            return Err(TaskError::NoFailToPass(spec.id));
        }
        let instruction = text("instruction.md")?;
        bundle.file("environment/Dockerfile").ok_or(TaskError::Missing("environment/Dockerfile"))?;
        bundle.file("gold.patch").ok_or(TaskError::Missing("gold.patch"))?;
        if !bundle.files.iter().any(|f| f.path.starts_with("repo/")) {
            return Err(TaskError::Missing("repo/"));
        }
        Ok(Self { spec, instruction, bundle })
    }

    pub fn from_dir(dir: &Path) -> Result<Self, TaskError> {
        Self::from_bundle(Bundle::from_dir(dir)?)
    }

    pub fn digest(&self) -> &Digest {
        &self.bundle.digest
    }

    pub fn dockerfile(&self) -> &[u8] {
        self.bundle.file("environment/Dockerfile").map(|f| f.bytes.as_slice()).unwrap_or_default()
    }

    /// Everything under `environment/`: the Dockerfile and what it builds from (a lock).
    pub fn environment(&self) -> whetstone_sandbox::EnvironmentFiles {
        crate::split::environment_of(&self.bundle)
    }

    pub fn gold_patch(&self) -> &[u8] {
        self.bundle.file("gold.patch").map(|f| f.bytes.as_slice()).unwrap_or_default()
    }

    /// The files below `prefix/` with the prefix removed (e.g. `repo`, `hidden`).
    pub fn subtree(&self, prefix: &str) -> Bundle {
        crate::split::subtree(&self.bundle, prefix)
    }
}

fn is_valid_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9')) && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// A folder of task directories (`tasks/sets/<name>/`).
#[derive(Debug, Clone)]
pub struct TaskSet {
    pub name: String,
    pub path: PathBuf,
    pub tasks: Vec<Task>,
}

/// Name of the file pinning each task's digest in a set.
pub const DIGESTS_FILE: &str = "DIGESTS";

impl TaskSet {
    /// Loads every task directory of the set (any subdirectory with a `task.toml`), sorted by
    /// id, and checks the digests pinned in `DIGESTS` when that file exists.
    pub fn load(path: &Path) -> Result<Self, TaskError> {
        let set = Self::load_unpinned(path)?;
        set.check_pins()?;
        Ok(set)
    }

    /// Loads the set without comparing digests to `DIGESTS` (to re-pin after a curated edit).
    /// A compact set (`set.toml` says `layout = "compact"`, FORMAT.md) is materialised task
    /// by task; the others are folders of task directories.
    pub fn load_unpinned(path: &Path) -> Result<Self, TaskError> {
        if crate::compact::is_compact_set(path) {
            let bundles = crate::compact::load_tasks(path)
                .map_err(|source| TaskError::Compact { path: path.display().to_string(), source: Box::new(source) })?;
            let tasks = bundles
                .into_iter()
                .map(|(dir, bundle)| {
                    Task::from_bundle(bundle).map_err(|e| TaskError::InSet { path: dir.display().to_string(), source: Box::new(e) })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            return Ok(Self { name, path: path.to_owned(), tasks });
        }
        let read_err = |source| TaskError::ReadSet { path: path.display().to_string(), source };
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("task.toml").is_file())
            .collect();
        dirs.sort();
        let mut tasks = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let task = Task::from_dir(&dir).map_err(|e| TaskError::InSet { path: dir.display().to_string(), source: Box::new(e) })?;
            tasks.push(task);
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Self { name, path: path.to_owned(), tasks })
    }

    fn check_pins(&self) -> Result<(), TaskError> {
        let pinned = read_pins(&self.path.join(DIGESTS_FILE))
            .map_err(|source| TaskError::ReadSet { path: self.path.display().to_string(), source })?;
        for task in &self.tasks {
            if let Some(pin) = pinned.get(&task.spec.id)
                && pin != task.digest()
            {
                return Err(TaskError::DigestPinMismatch { id: task.spec.id.clone(), pinned: pin.clone(), actual: task.digest().clone() });
            }
        }
        Ok(())
    }

    /// The `DIGESTS` file contents for the set as it is now.
    pub fn digests_file(&self) -> String {
        self.tasks.iter().map(|t| format!("{}  {}\n", t.digest(), t.spec.id)).collect()
    }
}

fn read_pins(path: &Path) -> std::io::Result<BTreeMap<String, Digest>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let (digest, id) = line.split_once("  ")?;
            Some((id.trim().to_owned(), digest.parse().ok()?))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kebab_case() {
        for ok in ["a", "toolz-take-1", "9x"] {
            assert!(is_valid_id(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a/b", "a b"] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn spec_rejects_unknown_fields_and_defaults_timeout() {
        let good = r#"
            format = 1
            id = "t"
            [source]
            project = "p"
            version = "1"
            license = "MIT"
            url = "u"
            [tests]
            command = "pytest"
            fail_to_pass = ["a::b"]
        "#;
        let spec: TaskSpec = toml::from_str(good).expect("parses");
        assert_eq!(spec.tests.timeout_secs, DEFAULT_TEST_TIMEOUT_SECS);
        assert_eq!(spec.grading.protected_globs().len(), DEFAULT_PROTECTED.len());
        let bad = good.replace("format = 1", "format = 1\nsurprise = true");
        assert!(toml::from_str::<TaskSpec>(&bad).is_err());
        assert_eq!(spec.framework, Framework::Pytest);
    }

    #[test]
    fn cargo_framework_needs_format_2() {
        let spec = |format: u32| {
            format!(
                "format = {format}\nid = \"t\"\nframework = \"cargo\"\n[source]\nproject = \"p\"\nversion = \"1\"\n\
                 license = \"MIT\"\nurl = \"u\"\n[tests]\ncommand = \"cargo test\"\nfail_to_pass = [\"a::b\"]\n"
            )
        };
        let bundle = |text: String| {
            let files = vec![
                crate::digest::TreeFile { path: "environment/Dockerfile".into(), executable: false, bytes: b"FROM x".to_vec() },
                crate::digest::TreeFile { path: "gold.patch".into(), executable: false, bytes: b"".to_vec() },
                crate::digest::TreeFile { path: "instruction.md".into(), executable: false, bytes: b"fix".to_vec() },
                crate::digest::TreeFile { path: "repo/a.rs".into(), executable: false, bytes: b"".to_vec() },
                crate::digest::TreeFile { path: "task.toml".into(), executable: false, bytes: text.into_bytes() },
            ];
            Bundle { digest: crate::digest::digest_files(&files), files }
        };
        let task = Task::from_bundle(bundle(spec(2))).expect("format 2 reads cargo tasks");
        assert_eq!(task.spec.framework, Framework::Cargo);
        let error = Task::from_bundle(bundle(spec(1))).expect_err("format 1 is pytest only");
        assert!(matches!(error, TaskError::FrameworkNeedsFormat2(..)), "{error}");
        assert!(matches!(Task::from_bundle(bundle(spec(3))), Err(TaskError::UnsupportedFormat { found: 3 })));
    }

    #[test]
    fn pinned_digests_catch_edited_tasks() {
        let set_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sets/starter");
        let set = TaskSet::load(&set_dir).expect("the shipped set matches its pins");
        let copy = tempfile::tempdir().expect("tempdir");
        let task = &set.tasks[0];
        let task_dir = copy.path().join(&task.spec.id);
        task.bundle.write_to(&task_dir).expect("copy task");
        std::fs::write(copy.path().join(DIGESTS_FILE), set.digests_file()).expect("pins");
        assert!(TaskSet::load(copy.path()).is_ok());

        std::fs::write(task_dir.join("instruction.md"), "edited").expect("edit");
        let error = TaskSet::load(copy.path()).expect_err("an edited task no longer matches its pin");
        assert!(matches!(error, TaskError::DigestPinMismatch { .. }), "{error}");
        assert!(TaskSet::load_unpinned(copy.path()).is_ok());
    }
}
