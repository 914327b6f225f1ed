//! What a miner meets: submissions limited per hotkey, declared resources checked against the
//! subnet's limits, and each run's trajectory (output, LLM calls, patch) readable afterwards
//! by its miner (and validators), by nobody else.

use tonic::Code;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_proto::job::Capability;
use whetstone_proto::pb;
use whetstone_tasks::bundle::Bundle;
use whetstone_tasks::digest::{TreeFile, digest_files};

use crate::support::{CannedRunner, HOTKEY, Harness, canned_llm_usage};

const OTHER_HOTKEY: &str = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";

/// A minimal agent package named `name`, with `extra` appended to its agent.toml.
fn package(name: &str, extra: &str) -> Vec<u8> {
    let manifest = format!("name = \"{name}\"\nversion = \"1\"\nentrypoint = [\"true\"]\n{extra}");
    let files = vec![TreeFile { path: "agent.toml".into(), executable: false, bytes: manifest.into_bytes() }];
    Bundle { digest: digest_files(&files), files }.to_tar().expect("tar")
}

fn submit(hotkey: &str, package: Vec<u8>) -> pb::SubmitAgentRequest {
    pb::SubmitAgentRequest { hotkey: hotkey.into(), package, ..Default::default() }
}

#[tokio::test]
async fn submissions_are_limited_per_hotkey_and_duplicates_refused() {
    let harness = Harness::start_with(|config| {
        config.submissions = whetstone_coordinator::SubmissionLimit { max: 2, window_secs: 3600 };
    })
    .await;
    harness.submit(submit(HOTKEY, package("a", ""))).await.expect("first");
    harness.submit(submit(HOTKEY, package("b", ""))).await.expect("second");

    let status = harness.submit(submit(HOTKEY, package("c", ""))).await.expect_err("third is over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("the limit is 2"), "{}", status.message());
    assert!(status.message().contains("next submission is accepted in"), "{}", status.message());

    // A duplicate is named as such, whoever sends it and whatever their count.
    let status = harness.submit(submit(OTHER_HOTKEY, package("a", ""))).await.expect_err("duplicate");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    // Another miner is not held back by the first one's count.
    harness.submit(submit(OTHER_HOTKEY, package("c", ""))).await.expect("another hotkey");
    assert_eq!(harness.leaderboard().await.len(), 3);
}

#[tokio::test]
async fn declared_resources_over_the_subnets_limits_are_refused() {
    let harness = Harness::start().await;
    let greedy = package("greedy", "[resources]\nmemory_mib = 999999\ntimeout_secs = 5\n");
    let status = harness.submit(submit(HOTKEY, greedy)).await.expect_err("too much memory");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("memory_mib = 999999 (at most 2048)"), "{}", status.message());
    assert!(!status.message().contains("timeout_secs"), "{}", status.message());

    let modest = package("modest", "[resources]\nmemory_mib = 512\n[runtime]\npackages = [\"nodejs\"]\n");
    harness.submit(submit(HOTKEY, modest)).await.expect("within the limits");
}

#[tokio::test]
async fn a_runs_trajectory_is_stored_with_its_llm_calls() {
    let harness = Harness::start().await;
    harness.publish_tasks(1).await;
    harness.submit_agent("noop").await;
    let runner = std::sync::Arc::new(CannedRunner::completing("runner"));
    let session = harness.spawn_worker("runner", Capability::RunAgent, 1, runner.clone());
    harness.wait_for_progress("the run to finish", |p| p.runs_done == 1).await;
    session.stop().await;

    let runs = harness.scores().runs(pb::RunsRequest::default()).await.expect("runs").into_inner().runs;
    let run_id = runs[0].run_id.clone();
    let detail = harness.run_detail(&run_id, HOTKEY).await.expect("the miner reads its run").into_inner();
    let expected = canned_llm_usage();
    assert_eq!(detail.run.expect("record").run_id, run_id);
    assert_eq!(detail.log, "canned run by runner");
    assert_eq!(detail.patch, runner.patch(&whetstone_tasks::RunId::new(run_id.clone())));
    assert_eq!(detail.llm_spent_micro_usd, expected.spent_micro_usd);
    assert_eq!(detail.llm_refused, expected.refused);
    let calls: Vec<(String, u64, u32)> = detail.llm_calls.iter().map(|c| (c.model.clone(), c.cost_micro_usd, c.status)).collect();
    assert_eq!(calls, [("m".to_owned(), 412, 200), ("m".to_owned(), 0, 429)]);

    let status = harness.run_detail("nope", HOTKEY).await.expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn a_runs_detail_is_shown_to_its_miner_and_to_validators_only() {
    // Devnet's membership: Alice validates, Bob (HOTKEY) and Charlie mine. The canned runner
    // signs as Bob, so runners need no permit here.
    let harness = Harness::start_with(|config| {
        config.auth =
            whetstone_coordinator::auth::AuthConfig { runners_need_permit: false, ..whetstone_coordinator::auth::AuthConfig::devnet() };
    })
    .await;
    harness.publish_tasks(1).await;
    harness.submit_agent("noop").await;
    let session = harness.spawn_worker("runner", Capability::RunAgent, 1, std::sync::Arc::new(CannedRunner::completing("runner")));
    harness.wait_for_progress("the run to finish", |p| p.runs_done == 1).await;
    session.stop().await;
    let run_id = harness.scores().runs(pb::RunsRequest::default()).await.expect("runs are public").into_inner().runs[0].run_id.clone();

    let owner = harness.run_detail(&run_id, HOTKEY).await.expect("the miner reads its own run").into_inner();
    assert_eq!(owner.log, "canned run by runner");
    let validator = harness.run_detail(&run_id, DevKey::Alice.address()).await.expect("a validator audits the run").into_inner();
    assert_eq!(validator.patch, owner.patch);

    let status = harness.run_detail(&run_id, DevKey::Charlie.address()).await.expect_err("another miner");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains(HOTKEY) && status.message().contains("only its own runs"), "{}", status.message());
    assert!(!status.message().contains("canned run"), "a refusal carries nothing of the run");

    let status = harness.scores().run_detail(pb::RunDetailRequest { run_id: run_id.clone() }).await.expect_err("unsigned");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("must be signed"), "{}", status.message());
}
