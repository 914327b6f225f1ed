//! A task in two parts (FORMAT.md, "Visible and grading parts"): what the agent may see and
//! what only grading needs.
//!
//! Agent-runners are operated by third parties who could hand an agent the answers, so they
//! receive only the **visible part**: `environment/`, `instruction.md`, `repo/`, and a
//! generated `visible.toml` naming the task, its digest and its test command. Validators also
//! receive the **grading part**: `task.toml` (with the expected test ids), `gold.patch`,
//! `hidden/` and anything else the task directory holds. Each part is a bundle with its own
//! digest; the task's digest stays the digest of the whole directory, so published sets keep
//! their pins, and a validator that joins the two parts checks the result against the task
//! digest it was assigned ([`join_parts`]). A runner cannot check its part against the task
//! digest (that needs the hidden bytes): it trusts the coordinator for the pairing, which
//! costs nothing a lying coordinator could not already do by withholding runs, since the
//! patch is graded against the task the validators verified.

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::digest::{Digest, TreeFile, digest_files};
use crate::task::{Framework, Task, TaskError};

/// The file the visible part adds: the task's identity and what agents are told about tests.
pub const VISIBLE_MANIFEST: &str = "visible.toml";

/// Top-level entries of a task directory an agent may see; everything else is grading-only.
const VISIBLE_PREFIXES: &[&str] = &["environment/", "repo/"];
const VISIBLE_FILES: &[&str] = &["instruction.md"];

/// `visible.toml`: what a runner knows about the task besides its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisibleManifest {
    /// The task's id within its set.
    pub id: String,
    /// The digest of the whole task (both parts), as the coordinator and validators know it.
    pub task: Digest,
    pub framework: Framework,
    /// The task's test command, which agents receive (`WHETSTONE_TEST_COMMAND`).
    pub test_command: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("the visible part has no {VISIBLE_MANIFEST}")]
    NoManifest,
    #[error("{VISIBLE_MANIFEST} is not valid")]
    Manifest(#[source] toml::de::Error),
    #[error("the visible part is of task {found}, not {expected}")]
    WrongTask { expected: Digest, found: Digest },
    #[error("the visible part has no {0}")]
    Missing(&'static str),
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    #[error("both parts hold {0}")]
    Overlap(String),
    #[error("the visible part holds {0}, which belongs to the grading part")]
    NotVisible(String),
    #[error("the joined parts have digest {actual}, not the task's {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("the joined parts are not a valid task")]
    Task(#[source] Box<TaskError>),
    #[error("the visible part does not match the task it joins (its {VISIBLE_MANIFEST} or files differ)")]
    VisibleMismatch,
}

/// The part of a task an agent-runner receives. Everything in it may reach the agent.
#[derive(Debug, Clone)]
pub struct VisibleTask {
    pub manifest: VisibleManifest,
    pub instruction: String,
    /// The visible part as it travels: `environment/`, `instruction.md`, `repo/`, `visible.toml`.
    pub bundle: Bundle,
}

impl VisibleTask {
    /// Reads a visible part received for the task `expected`.
    pub fn from_bundle(bundle: Bundle, expected: &Digest) -> Result<Self, SplitError> {
        let manifest = bundle.file(VISIBLE_MANIFEST).ok_or(SplitError::NoManifest)?;
        let manifest = std::str::from_utf8(&manifest.bytes).map_err(|_| SplitError::NotUtf8(VISIBLE_MANIFEST))?;
        let manifest: VisibleManifest = toml::from_str(manifest).map_err(SplitError::Manifest)?;
        if &manifest.task != expected {
            return Err(SplitError::WrongTask { expected: expected.clone(), found: manifest.task });
        }
        if let Some(file) = bundle.files.iter().find(|f| f.path != VISIBLE_MANIFEST && !is_visible(&f.path)) {
            return Err(SplitError::NotVisible(file.path.clone()));
        }
        let instruction = bundle.file("instruction.md").ok_or(SplitError::Missing("instruction.md"))?;
        let instruction = String::from_utf8(instruction.bytes.clone()).map_err(|_| SplitError::NotUtf8("instruction.md"))?;
        bundle.file("environment/Dockerfile").ok_or(SplitError::Missing("environment/Dockerfile"))?;
        if !bundle.files.iter().any(|f| f.path.starts_with("repo/")) {
            return Err(SplitError::Missing("repo/"));
        }
        Ok(Self { manifest, instruction, bundle })
    }

    /// The whole task's digest (not this part's).
    pub fn digest(&self) -> &Digest {
        &self.manifest.task
    }

    /// The repository the agent starts from.
    pub fn repo(&self) -> Bundle {
        subtree(&self.bundle, "repo")
    }

    /// Everything under `environment/`: the Dockerfile and what it builds from (a lock).
    pub fn environment(&self) -> whetstone_sandbox::EnvironmentFiles {
        environment_of(&self.bundle)
    }
}

/// Whether a task file may reach an agent.
pub fn is_visible(path: &str) -> bool {
    VISIBLE_FILES.contains(&path) || VISIBLE_PREFIXES.iter().any(|prefix| path.starts_with(prefix))
}

/// The files under a task's `environment/`, for the image build.
pub(crate) fn environment_of(bundle: &Bundle) -> whetstone_sandbox::EnvironmentFiles {
    whetstone_sandbox::EnvironmentFiles::new(
        bundle.files.iter().filter_map(|f| f.path.strip_prefix("environment/").map(|rest| (rest.to_owned(), f.bytes.clone()))),
    )
}

/// The files below `prefix/` with the prefix removed.
pub(crate) fn subtree(bundle: &Bundle, prefix: &str) -> Bundle {
    let lead = format!("{prefix}/");
    let files: Vec<_> = bundle
        .files
        .iter()
        .filter_map(|f| f.path.strip_prefix(&lead).map(|rest| TreeFile { path: rest.to_owned(), ..f.clone() }))
        .collect();
    Bundle { digest: digest_files(&files), files }
}

fn bundle_of(mut files: Vec<TreeFile>) -> Bundle {
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Bundle { digest: digest_files(&files), files }
}

impl Task {
    /// The part an agent-runner receives.
    pub fn visible(&self) -> VisibleTask {
        let manifest = VisibleManifest {
            id: self.spec.id.clone(),
            task: self.digest().clone(),
            framework: self.spec.framework,
            test_command: self.spec.tests.command.clone(),
        };
        let text = toml::to_string(&manifest).unwrap_or_default();
        let mut files: Vec<TreeFile> = self.bundle.files.iter().filter(|f| is_visible(&f.path)).cloned().collect();
        files.push(TreeFile { path: VISIBLE_MANIFEST.to_owned(), executable: false, bytes: text.into_bytes() });
        VisibleTask { manifest, instruction: self.instruction.clone(), bundle: bundle_of(files) }
    }

    /// The part only validators receive: `task.toml`, `gold.patch`, `hidden/` and any other
    /// file that is not visible.
    pub fn grading_part(&self) -> Bundle {
        bundle_of(self.bundle.files.iter().filter(|f| !is_visible(&f.path)).cloned().collect())
    }
}

/// Joins a visible and a grading part into the task whose digest is `expected`, refusing
/// parts that do not make exactly that task.
pub fn join_parts(visible: &Bundle, grading: &Bundle, expected: &Digest) -> Result<Task, SplitError> {
    let visible_task = VisibleTask::from_bundle(visible.clone(), expected)?;
    let mut files: Vec<TreeFile> = visible.files.iter().filter(|f| f.path != VISIBLE_MANIFEST).cloned().collect();
    for file in &grading.files {
        if is_visible(&file.path) || files.iter().any(|f| f.path == file.path) {
            return Err(SplitError::Overlap(file.path.clone()));
        }
        files.push(file.clone());
    }
    let joined = bundle_of(files);
    if &joined.digest != expected {
        return Err(SplitError::DigestMismatch { expected: expected.clone(), actual: joined.digest });
    }
    let task = Task::from_bundle(joined).map_err(|e| SplitError::Task(Box::new(e)))?;
    if task.visible().bundle.digest != visible_task.bundle.digest {
        return Err(SplitError::VisibleMismatch);
    }
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskSet;

    fn starter() -> Task {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sets/starter");
        TaskSet::load(&dir).expect("starter set").tasks.remove(0)
    }

    #[test]
    fn the_visible_part_holds_no_answers_and_the_parts_join_to_the_task() {
        let task = starter();
        let visible = task.visible();
        let grading = task.grading_part();
        let paths: Vec<&str> = visible.bundle.files.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.iter().all(|p| !p.starts_with("hidden/") && *p != "gold.patch" && *p != "task.toml"), "{paths:?}");
        assert!(paths.contains(&VISIBLE_MANIFEST) && paths.contains(&"instruction.md"));
        let manifest = String::from_utf8(visible.bundle.file(VISIBLE_MANIFEST).expect("manifest").bytes.clone()).expect("utf-8");
        for id in &task.spec.tests.fail_to_pass {
            assert!(!manifest.contains(id.as_str()), "the expected test ids stay hidden: {manifest}");
        }
        assert!(grading.file("gold.patch").is_some() && grading.file("task.toml").is_some());
        assert!(grading.files.iter().any(|f| f.path.starts_with("hidden/")));
        assert_ne!(visible.bundle.digest, grading.digest);

        // A bundle round trip, as the coordinator sends them.
        let visible_tar = visible.bundle.to_tar().expect("tar");
        let received = Bundle::from_tar_expecting(&visible_tar, &visible.bundle.digest).expect("visible part");
        let read = VisibleTask::from_bundle(received.clone(), task.digest()).expect("reads");
        assert_eq!(read.repo().digest, task.subtree("repo").digest);
        assert_eq!(read.manifest.test_command, task.spec.tests.command);
        let joined = join_parts(&received, &grading, task.digest()).expect("joins");
        assert_eq!(joined.digest(), task.digest());
    }

    #[test]
    fn parts_that_do_not_make_the_task_are_refused() {
        let task = starter();
        let visible = task.visible().bundle;
        let grading = task.grading_part();
        let other = crate::digest::Digest::of_bytes(b"another task");
        assert!(matches!(VisibleTask::from_bundle(visible.clone(), &other), Err(SplitError::WrongTask { .. })));

        let mut tampered = grading.clone();
        if let Some(file) = tampered.files.iter_mut().find(|f| f.path == "gold.patch") {
            file.bytes.extend_from_slice(b"\n");
        }
        assert!(matches!(join_parts(&visible, &tampered, task.digest()), Err(SplitError::DigestMismatch { .. })));

        // A visible part carrying grading files is not a visible part.
        let mut leaky = visible.files.clone();
        leaky.push(grading.file("gold.patch").expect("gold").clone());
        let leaky = bundle_of(leaky);
        assert!(matches!(VisibleTask::from_bundle(leaky, task.digest()), Err(SplitError::NotVisible(path)) if path == "gold.patch"));
    }

    #[test]
    fn visibility_is_by_top_level_entry() {
        for (path, visible) in [
            ("repo/tests/test_a.py", true),
            ("environment/Dockerfile", true),
            ("instruction.md", true),
            ("hidden/tests/test_a.py", false),
            ("gold.patch", false),
            ("task.toml", false),
            ("notes.md", false),
            ("repository/x", false),
        ] {
            assert_eq!(is_visible(path), visible, "{path}");
        }
    }
}
