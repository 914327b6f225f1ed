//! Shared setup: a sandbox with an owner of its own, so tests never see each other's
//! containers, and the base image.

use whetstone_sandbox::{ImageRef, NoProgress, OrphanScope, Role, RunSpec, Sandbox};

pub struct TestSandbox {
    pub sandbox: Sandbox,
}

impl TestSandbox {
    pub async fn new() -> Self {
        let owner = format!("test-{}", uuid::Uuid::new_v4().simple());
        let sandbox = Sandbox::connect(&owner).await.expect("connect to docker");
        Self { sandbox }
    }

    pub async fn base(&self) -> ImageRef {
        self.sandbox
            .ensure_base_image(&NoProgress)
            .await
            .expect("base image")
    }

    /// Every test ends here: nothing of ours may be left behind.
    pub async fn assert_nothing_left(&self) {
        let left = self
            .sandbox
            .list_ours(OrphanScope::ThisOwner)
            .await
            .expect("list containers");
        assert!(left.is_empty(), "containers left behind: {left:?}");
    }
}

pub fn spec(image: &ImageRef, command: &[&str]) -> RunSpec {
    RunSpec::new(
        image.clone(),
        command.iter().map(|s| (*s).to_owned()).collect(),
        Role::Probe,
        "integration-test",
    )
}

pub fn sh(image: &ImageRef, script: &str) -> RunSpec {
    spec(image, &["sh", "-c", script])
}
