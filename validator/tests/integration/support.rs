use std::path::PathBuf;

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
