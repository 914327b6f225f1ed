//! Importing public benchmark formats as Whetstone tasks: SWE-bench instances
//! ([`swebench`]) and Harbor task directories ([`harbor`]).
//!
//! An import runs in three steps, and only tasks that pass all three reach the output set:
//!
//! 1. **Convert** (no Docker): each instance or directory becomes a [`Candidate`], the files
//!    of a task directory in the format of `tasks/FORMAT.md`, or a [`Dropped`] with the reason
//!    (unsupported test ids, a patch that does not apply, a dependency only GitHub serves, …).
//! 2. **Reproduce** ([`reproduce`]), in Docker through a [`Reproducer`]: a Harbor task's
//!    reference solution is run to make its gold patch; then the gold patch must resolve the
//!    task (every FAIL_TO_PASS test passes, every PASS_TO_PASS test still passes) and the
//!    unpatched repository must fail every FAIL_TO_PASS test. Anything else drops the task with
//!    the verdict's account of why.
//! 3. **Write** ([`write_tasks`]): each task directory into the set, its digest pinned in the
//!    set's `DIGESTS`.
//!
//! The Docker side lives above this crate (the validator's grading, which depends on this
//! crate), behind [`Reproducer`]; `whetstone_validator::ImportReproducer` is the real one.
//! [`import_all`] runs steps 2 and 3 for a batch of candidates.

pub mod environment;
pub mod harbor;
mod reproduce;
pub mod source;
pub mod swebench;
pub mod testids;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use reproduce::{Reproducer, Solution, reproduce};

use crate::bundle::{Bundle, BundleError};
use crate::digest::{TreeFile, digest_files};
use crate::task::{DIGESTS_FILE, Task};

/// Failures that stop an import as a whole (one task's trouble only drops that task).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("instance on line {line} is malformed: {message}")]
    Instance { line: usize, message: String },
    #[error("the instances file holds no instances")]
    NoInstances,
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error("failed to write the task set {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write task {id}")]
    WriteTask {
        id: String,
        #[source]
        source: BundleError,
    },
}

/// A converted task that has not been reproduced yet.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub task: Task,
    /// What the conversion changed or left out, for the curator.
    pub notes: Vec<String>,
    /// Likely causes to name should the task fail to reproduce (a test script that downloads
    /// at test time, say).
    pub hints: Vec<String>,
    /// A reference solution to run for the gold patch (Harbor); `None` when the task's
    /// `gold.patch` is the gold patch (SWE-bench).
    pub solution: Option<Solution>,
}

impl Candidate {
    /// Builds the task from the files of its directory and checks it loads as the format says.
    pub(crate) fn new(id: String, files: Vec<TreeFile>, notes: Vec<String>) -> Result<Self, Dropped> {
        let task = task_from_files(files).map_err(|reason| Dropped { id, reason })?;
        Ok(Self { task, notes, hints: Vec::new(), solution: None })
    }

    pub fn id(&self) -> &str {
        &self.task.spec.id
    }
}

fn task_from_files(mut files: Vec<TreeFile>) -> Result<Task, String> {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let bundle = Bundle { digest: digest_files(&files), files };
    Task::from_bundle(bundle).map_err(|e| {
        let mut text = format!("the converted task is not valid: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(inner) = cause {
            text.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        text
    })
}

/// A task that reproduced.
#[derive(Debug, Clone)]
pub struct Imported {
    pub task: Task,
    pub notes: Vec<String>,
}

/// A task left out of the set, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub id: String,
    pub reason: String,
}

/// What one import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    pub imported: Vec<Imported>,
    pub dropped: Vec<Dropped>,
    /// Ids whose directories in the set were replaced by the new import.
    pub replaced: Vec<String>,
}

/// What [`import_all`] reports as it goes.
#[derive(Debug, Clone, Copy)]
pub enum ImportEvent<'a> {
    /// Reproduction of the `index`-th candidate (from 0) of `total` starts.
    Checking {
        id: &'a str,
        index: usize,
        total: usize,
    },
    Imported {
        id: &'a str,
    },
    Dropped {
        dropped: &'a Dropped,
    },
}

/// Reproduces every candidate, one at a time, and writes those that reproduce into the set at
/// `out`. `converted` holds the conversions' results, drops included (they are passed through
/// to the summary). Candidates with an id another candidate already has are dropped.
pub async fn import_all<R: Reproducer>(
    reproducer: &R,
    converted: Vec<Result<Candidate, Dropped>>,
    out: &Path,
    mut on_event: impl FnMut(ImportEvent<'_>),
) -> Result<ImportSummary, ImportError> {
    let mut summary = ImportSummary::default();
    let mut candidates = Vec::new();
    for result in converted {
        match result {
            Ok(candidate) => candidates.push(candidate),
            Err(dropped) => {
                on_event(ImportEvent::Dropped { dropped: &dropped });
                summary.dropped.push(dropped);
            }
        }
    }
    let total = candidates.len();
    let mut seen = std::collections::HashSet::new();
    for (index, candidate) in candidates.into_iter().enumerate() {
        let id = candidate.id().to_owned();
        on_event(ImportEvent::Checking { id: &id, index, total });
        let result = if seen.insert(id.clone()) {
            reproduce(reproducer, candidate).await
        } else {
            Err(Dropped { id: id.clone(), reason: "another instance converts to the same task id".into() })
        };
        match result {
            Ok(imported) => {
                on_event(ImportEvent::Imported { id: &id });
                summary.imported.push(imported);
            }
            Err(dropped) => {
                on_event(ImportEvent::Dropped { dropped: &dropped });
                summary.dropped.push(dropped);
            }
        }
    }
    let tasks: Vec<&Task> = summary.imported.iter().map(|i| &i.task).collect();
    summary.replaced = write_tasks(out, &tasks)?;
    Ok(summary)
}

/// Writes each task's directory into the set at `out` (created if missing, with a `set.toml`
/// naming it), replacing a directory of the same id, and pins their digests in `DIGESTS`
/// (other tasks' pins are kept). Returns the ids whose directories were replaced.
pub fn write_tasks(out: &Path, tasks: &[&Task]) -> Result<Vec<String>, ImportError> {
    let write_err = |source| ImportError::Write { path: out.to_owned(), source };
    std::fs::create_dir_all(out).map_err(write_err)?;
    let set_toml = out.join("set.toml");
    if !set_toml.exists() {
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".into());
        let text = format!(
            "name = {}\ndescription = \"Tasks imported with `whetstone tasks import`; each one reproduced in Docker (the gold patch resolves it, the unpatched repository fails every FAIL_TO_PASS test).\"\n",
            toml_string(&name)
        );
        std::fs::write(&set_toml, text).map_err(write_err)?;
    }
    let mut replaced = Vec::new();
    let digests_path = out.join(DIGESTS_FILE);
    let mut pins: BTreeMap<String, String> = match std::fs::read_to_string(&digests_path) {
        Ok(text) => {
            text.lines().filter_map(|line| line.split_once("  ").map(|(digest, id)| (id.trim().to_owned(), digest.to_owned()))).collect()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(write_err(e)),
    };
    for task in tasks {
        let dir = out.join(&task.spec.id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(write_err)?;
            replaced.push(task.spec.id.clone());
        }
        task.bundle.write_to(&dir).map_err(|source| ImportError::WriteTask { id: task.spec.id.clone(), source })?;
        pins.insert(task.spec.id.clone(), task.digest().to_string());
    }
    let text: String = pins.iter().map(|(id, digest)| format!("{digest}  {id}\n")).collect();
    std::fs::write(&digests_path, text).map_err(write_err)?;
    Ok(replaced)
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A task id (`[a-z0-9][a-z0-9-]*`) from an upstream name: lowercase, every run of other
/// characters one `-` (`astropy__astropy-12907` → `astropy-astropy-12907`).
pub fn task_id_from(name: &str) -> String {
    let mut id = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-').to_owned();
    if id.is_empty() { "task".into() } else { id }
}

/// `task.toml` as an import writes it.
#[derive(Debug, Serialize)]
pub(crate) struct TaskToml {
    pub format: u32,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<String>,
    pub source: SourceToml,
    pub tests: TestsToml,
}

#[derive(Debug, Serialize)]
pub(crate) struct SourceToml {
    pub project: String,
    pub version: String,
    pub license: String,
    pub url: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct TestsToml {
    pub command: String,
    pub timeout_secs: u64,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
}

impl TaskToml {
    pub(crate) fn to_toml(&self) -> String {
        // Plain data: serialising it cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// The format imported tasks are written in: format 1 (pytest tasks) loads in every build
/// since.
pub(crate) const IMPORT_FORMAT: u32 = 1;

/// How long a reference solution may run when its task does not say.
pub const DEFAULT_SOLUTION_TIMEOUT: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_become_task_ids() {
        for (name, id) in [
            ("astropy__astropy-12907", "astropy-astropy-12907"),
            ("pytoolz__toolz-601", "pytoolz-toolz-601"),
            ("My Task!", "my-task"),
            ("--x--", "x"),
            ("???", "task"),
        ] {
            assert_eq!(task_id_from(name), id, "{name}");
        }
    }

    #[test]
    fn written_task_toml_loads_as_the_format() {
        let spec = TaskToml {
            format: 1,
            id: "demo-1".into(),
            difficulty: None,
            source: SourceToml { project: "o/p".into(), version: "1.0".into(), license: "MIT".into(), url: "u".into() },
            tests: TestsToml {
                command: "python3 -m pytest 't/test_a b.py'".into(),
                timeout_secs: 120,
                fail_to_pass: vec!["t.test_a::test_b[x\"y]".into()],
                pass_to_pass: vec![],
            },
        };
        let parsed: crate::TaskSpec = toml::from_str(&spec.to_toml()).expect("the format reads it");
        assert_eq!(parsed.tests.fail_to_pass, ["t.test_a::test_b[x\"y]"]);
        assert_eq!(parsed.tests.command, "python3 -m pytest 't/test_a b.py'");
        assert!(parsed.difficulty.is_none());
    }
}
