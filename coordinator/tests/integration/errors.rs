//! Bad input gets a clear, typed error, and changes nothing.

use tonic::Code;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_proto::pb;
use whetstone_tasks::bundle::Bundle;

use crate::support::{HOTKEY, Harness, example_agent, heartbeat, hello, open_session};

fn assert_status<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, mentions: &str) {
    let status = result.expect_err("the request is refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(mentions), "{:?} should mention {mentions:?}", status.message());
}

fn noop_package() -> Vec<u8> {
    example_agent("noop").bundle.to_tar().expect("agent package packs")
}

#[tokio::test]
async fn agent_submissions_are_checked() {
    let harness = Harness::start().await;

    let bad_hotkey = pb::SubmitAgentRequest { hotkey: "alice".into(), package: noop_package(), ..Default::default() };
    assert_status(harness.submit(bad_hotkey).await, Code::InvalidArgument, "SS58");

    let dir = tempfile::tempdir().expect("temporary dir");
    std::fs::write(dir.path().join("agent.py"), "print('hello')\n").expect("write agent.py");
    let no_manifest = Bundle::from_dir(dir.path()).expect("bundle").to_tar().expect("tar");
    let request = pb::SubmitAgentRequest { hotkey: HOTKEY.into(), package: no_manifest, ..Default::default() };
    assert_status(harness.submit(request).await, Code::InvalidArgument, "agent.toml");

    let not_a_tar = pb::SubmitAgentRequest { hotkey: HOTKEY.into(), package: b"not a tar".to_vec(), ..Default::default() };
    assert_status(harness.submit(not_a_tar).await, Code::InvalidArgument, "agent package refused");

    // Without the miner's claim, or with a claim on another agent, validators could not give
    // the agent's score to anyone: refused, saying what to sign.
    let unclaimed = pb::SubmitAgentRequest { hotkey: HOTKEY.into(), package: noop_package(), ..Default::default() };
    assert_status(harness.submit_as_is(unclaimed).await, Code::InvalidArgument, "agent claim does not verify");
    let other = crate::support::with_claim(pb::SubmitAgentRequest {
        hotkey: HOTKEY.into(),
        package: crate::support::example_agent("repair").bundle.to_tar().expect("tar"),
        ..Default::default()
    });
    let wrong_claim = pb::SubmitAgentRequest { package: noop_package(), ..other };
    assert_status(harness.submit_as_is(wrong_claim).await, Code::InvalidArgument, "sign the claim message");

    let submit = || pb::SubmitAgentRequest { hotkey: HOTKEY.into(), package: noop_package(), ..Default::default() };
    harness.submit(submit()).await.expect("the first submission is accepted");
    assert_status(harness.submit(submit()).await, Code::AlreadyExists, "already submitted");

    assert_eq!(harness.leaderboard().await.len(), 1, "refused submissions left no agent behind");
}

#[tokio::test]
async fn fetches_by_digest_are_checked() {
    let harness = Harness::start().await;
    let unknown = "0".repeat(64);

    let visible = pb::TaskPart::Visible;
    assert_status(harness.fetch_task(&unknown, visible, HOTKEY).await, Code::NotFound, &unknown);
    assert_status(harness.fetch_task("not-a-digest", visible, HOTKEY).await, Code::InvalidArgument, "task_digest");
    assert_status(harness.fetch_task(&"A".repeat(64), visible, HOTKEY).await, Code::InvalidArgument, "task_digest");

    assert_status(harness.get_agent(&unknown, HOTKEY).await, Code::NotFound, &unknown);
    assert_status(harness.get_agent("", HOTKEY).await, Code::InvalidArgument, "agent_digest");

    // A published task's visible part comes back as the task's own split makes it.
    let published = harness.publish_tasks(1).await;
    let fetched = harness.fetch_task(published[0].as_str(), visible, HOTKEY).await.expect("fetch").into_inner();
    let part = Bundle::from_tar(&fetched.bundle).expect("a valid bundle");
    assert_eq!(part.digest.to_string(), fetched.part_digest);
    assert_eq!(part.digest, crate::support::starter_tasks(1)[0].visible().bundle.digest);
}

#[tokio::test]
async fn task_publications_are_checked() {
    let harness = Harness::start().await;
    let request = pb::PublishTaskRequest { bundle: noop_package(), ..Default::default() };
    assert_status(harness.publish(request, DevKey::Alice.address()).await, Code::InvalidArgument, "task refused");
    assert_eq!(harness.progress().await.runs_total, 0);
}

#[tokio::test]
async fn worker_sessions_must_open_with_a_valid_hello() {
    let harness = Harness::start().await;
    let url = harness.url();
    let run = pb::Capability::RunAgent;

    assert_status(open_session(url, vec![heartbeat(&[])]).await, Code::InvalidArgument, "first message");
    assert_status(open_session(url, vec![hello("w", &[run], 0)]).await, Code::InvalidArgument, "capacity");
    assert_status(open_session(url, vec![hello("w", &[run], 100_000)]).await, Code::InvalidArgument, "capacity");
    assert_status(open_session(url, vec![hello("w", &[], 1)]).await, Code::InvalidArgument, "capability");
    let unspecified = pb::Capability::Unspecified;
    assert_status(open_session(url, vec![hello("w", &[unspecified], 1)]).await, Code::InvalidArgument, "capability");
    assert_status(open_session(url, vec![hello("", &[run], 1)]).await, Code::InvalidArgument, "worker_id");

    assert_eq!(harness.progress().await.workers_connected, 0, "no refused session counts as a worker");
}
