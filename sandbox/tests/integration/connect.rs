use whetstone_sandbox::{Sandbox, SandboxError};

use crate::common::TestSandbox;

#[tokio::test]
async fn unreachable_engine_is_reported_clearly() {
    let err = Sandbox::connect_to("unix:///nonexistent.sock", "test").await.expect_err("connected to a socket that does not exist");
    assert!(matches!(err, SandboxError::EngineUnreachable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("unix:///nonexistent.sock"), "{message}");
    assert!(message.contains("start Docker"), "{message}");
    assert!(message.contains("DOCKER_HOST"), "{message}");
}

#[tokio::test]
async fn docker_connect_reaches_the_engine() {
    let t = TestSandbox::new().await;
    assert!(t.sandbox.owner().starts_with("test-"));
    t.sandbox.docker().ping().await.expect("ping");
}
