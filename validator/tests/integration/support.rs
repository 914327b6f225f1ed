use std::path::{Path, PathBuf};

use whetstone_proto::job::SandboxLimits;
use whetstone_sandbox::{ImageRef, NoProgress, OrphanScope, Sandbox};
use whetstone_tasks::{Task, TaskSet};

pub fn starter_set() -> TaskSet {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tasks/sets/starter");
    TaskSet::load(&path).expect("the starter task set loads")
}

pub fn task(id: &str) -> Task {
    starter_set().tasks.into_iter().find(|t| t.spec.id == id).unwrap_or_else(|| panic!("no task {id}"))
}

/// A sandbox with an owner of its own, so a test sees only its own containers.
pub async fn sandbox(test: &str) -> Sandbox {
    let owner = format!("test-validator-{test}-{}", uuid::Uuid::new_v4().simple());
    Sandbox::connect(&owner).await.expect("Docker engine reachable")
}

pub async fn image(sandbox: &Sandbox, task: &Task) -> ImageRef {
    sandbox.ensure_task_image(task.dockerfile(), &NoProgress).await.expect("task image builds")
}

pub fn limits() -> SandboxLimits {
    SandboxLimits { timeout: std::time::Duration::from_secs(180), ..SandboxLimits::default() }
}

pub async fn assert_nothing_left(sandbox: &Sandbox) {
    let left = sandbox.list_ours(OrphanScope::ThisOwner).await.expect("list containers");
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

/// The patch the agent-runner would send after `edit` changed a copy of the task's repo.
pub fn patch_from_edit(task: &Task, edit: impl FnOnce(&Path)) -> Vec<u8> {
    let pristine = tempfile::tempdir().expect("tempdir");
    whetstone_tasks::repo::materialize(&task.subtree("repo"), pristine.path()).expect("materialize");
    let work = tempfile::tempdir().expect("tempdir");
    task.subtree("repo").write_to(work.path()).expect("copy the repo");
    edit(work.path());
    whetstone_tasks::repo::diff_against_head(pristine.path(), work.path()).expect("diff")
}

/// Appends Python source to a file of the work tree (creating it if needed).
pub fn append(root: &Path, path: &str, code: &str) {
    let path = root.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(code);
    std::fs::write(path, text).expect("write");
}
