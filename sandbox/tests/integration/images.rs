use std::time::{Duration, Instant};

use whetstone_sandbox::{Exit, NoProgress, Progress, SandboxError, base_image_tag, env_image_tag};

use crate::common::{TestSandbox, sh};

#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl Progress for Recorder {
    fn message(&self, msg: &str) {
        self.0.lock().expect("lock").push(msg.to_owned());
    }
}

#[tokio::test]
async fn docker_base_image_is_built_once_then_cached() {
    let t = TestSandbox::new().await;
    let started = Instant::now();
    let first = t.base().await;
    eprintln!("first ensure_base_image: {:?}", started.elapsed());
    assert_eq!(first, base_image_tag());

    let started = Instant::now();
    let second = t.sandbox.ensure_base_image(&NoProgress).await.expect("cached base");
    let cached = started.elapsed();
    eprintln!("cached ensure_base_image: {cached:?}");
    assert_eq!(first, second);
    assert!(cached < Duration::from_secs(2), "cache hit took {cached:?}");

    // What the tasks rely on: the agent user and the tools.
    let script = "id agent && ls -ld /home/agent && python3 -c 'import pytest; print(pytest.__version__)' \
                  && git --version && patch --version | head -1";
    let outcome = t.sandbox.run(sh(&first, script)).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0), "{}", outcome.output);
    assert!(outcome.output.contains("uid=1000(agent) gid=1000(agent)"), "{}", outcome.output);
    assert!(outcome.output.contains("agent agent"), "{}", outcome.output);
    assert!(outcome.output.contains("git version"), "{}", outcome.output);
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_env_image_builds_from_the_base_and_is_cached() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let dockerfile = b"ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo built-on-base > /etc/whetstone-env-test\n";
    let progress = Recorder::default();
    let image = t.sandbox.ensure_image(dockerfile, &base, &progress).await.expect("build");
    assert_eq!(image, env_image_tag(dockerfile, &base));

    let started = Instant::now();
    let again = t.sandbox.ensure_image(dockerfile, &base, &NoProgress).await.expect("cached");
    assert_eq!(image, again);
    assert!(started.elapsed() < Duration::from_secs(2));

    let outcome = t.sandbox.run(sh(&image, "cat /etc/whetstone-env-test")).await.expect("run");
    assert_eq!(outcome.exit, Exit::Code(0));
    assert_eq!(outcome.output, "built-on-base\n");
    t.assert_nothing_left().await;
}

#[tokio::test]
async fn docker_failed_build_carries_the_log_tail() {
    let t = TestSandbox::new().await;
    let base = t.base().await;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let dockerfile = format!("ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nRUN echo marker-{nonce} && exit 7\n");
    let err = t.sandbox.ensure_image(dockerfile.as_bytes(), &base, &NoProgress).await.expect_err("a failing RUN built");
    let SandboxError::ImageBuild { log_tail, message, .. } = &err else {
        panic!("unexpected error {err:?}");
    };
    assert!(log_tail.contains(&format!("marker-{nonce}")), "{log_tail}");
    assert!(message.contains('7'), "{message}");
    assert!(err.to_string().contains(&format!("marker-{nonce}")));
}
