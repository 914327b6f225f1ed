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
        self.sandbox.ensure_base_image(&NoProgress).await.expect("base image")
    }

    /// Every test ends here: nothing of ours may be left behind.
    pub async fn assert_nothing_left(&self) {
        assert_nothing_left(&self.sandbox).await;
    }
}

/// No container and no network of `sandbox`'s owner exists.
pub async fn assert_nothing_left(sandbox: &Sandbox) {
    let containers = sandbox.list_ours(OrphanScope::ThisOwner).await.expect("list containers");
    let networks = sandbox.list_our_networks(OrphanScope::ThisOwner).await.expect("list networks");
    assert!(containers.is_empty() && networks.is_empty(), "left behind: containers {containers:?}, networks {networks:?}");
}

pub fn spec(image: &ImageRef, command: &[&str]) -> RunSpec {
    RunSpec::new(image.clone(), command.iter().map(|s| (*s).to_owned()).collect(), Role::Probe, "integration-test")
}

pub fn sh(image: &ImageRef, script: &str) -> RunSpec {
    spec(image, &["sh", "-c", script])
}
