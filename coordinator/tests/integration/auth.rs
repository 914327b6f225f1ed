//! Signed calls (`btauth/1` over gRPC metadata): who may submit agents and who may connect as
//! a worker, against the dev keyring's membership (Alice and Ferdie validate, Bob..Eve mine) or a
//! metagraph handed to the coordinator.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::Channel;
use whetstone_chain::metagraph::StaticMembership;
use whetstone_chain::wallet::HotkeyPair;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_coordinator::auth::{AuthConfig, MembershipPolicy};
use whetstone_coordinator::{Coordinator, CoordinatorError};
use whetstone_proto::auth::{RequestSigner, SUBMIT_AGENT, WORKER_CONNECT};
use whetstone_proto::{MAX_MESSAGE_BYTES, pb};
use whetstone_tasks::Hotkey;

use whetstone_proto::pb::TaskPart::{Grading, Visible};
use whetstone_tasks::RunId;
use whetstone_tasks::bundle::Bundle;
use whetstone_tasks::split::join_parts;

use crate::support::{Harness, RawWorker, example_agent, patch_for, run_report, signed_report, test_config};

fn coordinator_hotkey() -> Hotkey {
    Hotkey::new(DevKey::Alice.address())
}

fn signer(pair: HotkeyPair) -> RequestSigner {
    RequestSigner::new(pair, coordinator_hotkey())
}

/// The noop agent submitted as `hotkey`, with the dev key's claim on it.
fn submission(hotkey: &Hotkey) -> pb::SubmitAgentRequest {
    crate::support::with_claim(pb::SubmitAgentRequest {
        hotkey: hotkey.to_string(),
        package: example_agent("noop").bundle.to_tar().expect("tar"),
        ..Default::default()
    })
}

async fn devnet_harness() -> Harness {
    Harness::start_with(|config| config.auth = AuthConfig::devnet()).await
}

fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, mentions: &str) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(mentions), "{:?} should mention {mentions:?}", status.message());
}

#[tokio::test]
async fn submissions_must_be_signed_by_a_registered_hotkey() {
    let harness = devnet_harness().await;
    let bob = signer(DevKey::Bob.pair());

    refused(harness.agents().submit(submission(bob.hotkey())).await, Code::Unauthenticated, "must be signed");

    let stranger = signer(HotkeyPair::sr25519_from_seed([9; 32]).expect("seed"));
    let request = stranger.signed(SUBMIT_AGENT, submission(stranger.hotkey()));
    refused(harness.agents().submit(request).await, Code::PermissionDenied, "not registered");

    let charlie = Hotkey::new(DevKey::Charlie.address());
    let request = bob.signed(SUBMIT_AGENT, submission(&charlie));
    refused(harness.agents().submit(request).await, Code::InvalidArgument, "signed by");

    let for_bob = RequestSigner::new(DevKey::Bob.pair(), Hotkey::new(DevKey::Bob.address()));
    let request = for_bob.signed(SUBMIT_AGENT, submission(bob.hotkey()));
    refused(harness.agents().submit(request).await, Code::Unauthenticated, DevKey::Alice.address());

    let original = submission(bob.hotkey());
    let signed = bob.signed(SUBMIT_AGENT, original.clone());
    let mut swapped =
        tonic::Request::new(pb::SubmitAgentRequest { package: example_agent("repair").bundle.to_tar().expect("tar"), ..original.clone() });
    *swapped.metadata_mut() = signed.metadata().clone();
    refused(harness.agents().submit(swapped).await, Code::Unauthenticated, "does not verify");

    let mut replay = tonic::Request::new(original);
    *replay.metadata_mut() = signed.metadata().clone();
    let response = harness.agents().submit(signed).await.expect("bob is registered").into_inner();
    assert_eq!(response.name, "noop");
    refused(harness.agents().submit(replay).await, Code::Unauthenticated, "already accepted");

    let board = harness.leaderboard().await;
    assert_eq!(board.len(), 1, "only the signed, registered submission went in");
    assert_eq!(board[0].hotkey, DevKey::Bob.address());
}

fn hello(hotkey: &Hotkey, capability: pb::Capability) -> pb::WorkerMessage {
    pb::WorkerMessage {
        kind: Some(pb::worker_message::Kind::Hello(pb::Hello {
            worker_id: "auth-test".into(),
            capabilities: vec![capability.into()],
            capacity: 1,
            hotkey: hotkey.to_string(),
            software_version: "integration-test".into(),
            active_job_ids: Vec::new(),
        })),
    }
}

/// Opens `Worker.Connect`, signing `signed_over` (if a signer is given) but sending `sent`;
/// returns the coordinator's first message and the open stream's sender.
async fn open(
    url: &str,
    signer: Option<&RequestSigner>,
    signed_over: &pb::WorkerMessage,
    sent: pb::WorkerMessage,
) -> Result<(pb::coordinator_message::Kind, mpsc::Sender<pb::WorkerMessage>), tonic::Status> {
    let channel = Channel::from_shared(url.to_owned()).expect("url").connect().await.expect("coordinator accepts");
    let mut client = pb::worker_client::WorkerClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
    let (outbound, receiver) = mpsc::channel(4);
    let stream = ReceiverStream::new(receiver);
    let request = match signer {
        Some(signer) => signer.signed_stream(WORKER_CONNECT, signed_over, stream),
        None => tonic::Request::new(stream),
    };
    outbound.send(sent).await.expect("queue the hello");
    let mut inbound = client.connect(request).await?.into_inner();
    let first = inbound.message().await?.expect("a first message");
    Ok((first.kind.expect("a kind"), outbound))
}

/// [`open`], closing the session once the first answer is read.
async fn connect(
    url: &str,
    signer: Option<&RequestSigner>,
    signed_over: &pb::WorkerMessage,
    sent: pb::WorkerMessage,
) -> Result<pb::coordinator_message::Kind, tonic::Status> {
    open(url, signer, signed_over, sent).await.map(|(kind, _)| kind)
}

fn welcomed(result: Result<pb::coordinator_message::Kind, tonic::Status>) {
    match result {
        Ok(pb::coordinator_message::Kind::Welcome(_)) => {}
        other => panic!("expected a welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn workers_must_sign_their_hello_and_hold_a_permit_to_grade_or_run() {
    let harness = devnet_harness().await;
    let url = harness.url();
    let alice = signer(DevKey::Alice.pair());
    let bob = signer(DevKey::Bob.pair());
    let grade = pb::Capability::Grade;
    let run = pb::Capability::RunAgent;

    let alice_grades = hello(alice.hotkey(), grade);
    let (answer, _alice_session) = open(url, Some(&alice), &alice_grades, alice_grades.clone()).await.expect("alice may grade");
    welcomed(Ok(answer));

    refused(connect(url, None, &alice_grades, alice_grades.clone()).await, Code::Unauthenticated, "must be signed");

    let bob_grades = hello(bob.hotkey(), grade);
    refused(connect(url, Some(&bob), &bob_grades, bob_grades.clone()).await, Code::PermissionDenied, "grading");
    let bob_runs = hello(bob.hotkey(), run);
    refused(connect(url, Some(&bob), &bob_runs, bob_runs.clone()).await, Code::PermissionDenied, "running agents");

    let stranger = signer(HotkeyPair::ed25519_from_seed([4; 32]));
    let stranger_runs = hello(stranger.hotkey(), run);
    refused(connect(url, Some(&stranger), &stranger_runs, stranger_runs.clone()).await, Code::PermissionDenied, "not registered");

    // The hello sent must be the hello signed.
    let mut bigger = alice_grades.clone();
    if let Some(pb::worker_message::Kind::Hello(hello)) = &mut bigger.kind {
        hello.capacity = 64;
    }
    refused(connect(url, Some(&alice), &alice_grades, bigger).await, Code::Unauthenticated, "does not verify");

    // And it must name the hotkey that signed it.
    let claims_bob = hello(bob.hotkey(), grade);
    refused(connect(url, Some(&alice), &claims_bob, claims_bob.clone()).await, Code::InvalidArgument, "signed by");

    crate::support::eventually("alice's session, and no refused one, counted as a worker", || async {
        (harness.progress().await.workers_connected == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn runners_may_be_opened_to_registered_hotkeys_without_a_permit() {
    let harness = Harness::start_with(|config| {
        config.auth = AuthConfig { runners_need_permit: false, ..AuthConfig::devnet() };
    })
    .await;
    let bob = signer(DevKey::Bob.pair());
    let bob_runs = hello(bob.hotkey(), pb::Capability::RunAgent);
    welcomed(connect(harness.url(), Some(&bob), &bob_runs, bob_runs.clone()).await);
    let bob_grades = hello(bob.hotkey(), pb::Capability::Grade);
    refused(connect(harness.url(), Some(&bob), &bob_grades, bob_grades.clone()).await, Code::PermissionDenied, "grading");
}

#[tokio::test]
async fn tasks_are_published_by_curators_and_fetched_by_validators_only() {
    let harness = Harness::start_with(|config| {
        config.auth = AuthConfig { curators: vec![DevKey::Dave.address().to_owned()], ..AuthConfig::devnet() };
    })
    .await;
    let alice = DevKey::Alice.address();
    let task = harness.publish_tasks(1).await.remove(0);
    let bundle =
        || pb::PublishTaskRequest { bundle: crate::support::starter_tasks(2)[1].bundle.to_tar().expect("tar"), ..Default::default() };

    refused(harness.publish(bundle(), DevKey::Bob.address()).await, Code::PermissionDenied, "not a curator");
    refused(harness.tasks().publish(bundle()).await, Code::Unauthenticated, "must be signed");
    assert!(harness.publish(bundle(), DevKey::Dave.address()).await.expect("a listed curator publishes").into_inner().created);

    // Even the task's visible part is for workers, not for miners.
    refused(harness.fetch_task(task.as_str(), Visible, DevKey::Bob.address()).await, Code::PermissionDenied, "validator permit");
    let unsigned = pb::FetchTaskRequest { task_digest: task.to_string(), part: Visible as i32 };
    refused(harness.tasks().fetch(unsigned).await, Code::Unauthenticated, "must be signed");
    assert!(!harness.fetch_task(task.as_str(), Visible, alice).await.expect("a worker fetches").into_inner().bundle.is_empty());

    // Agent packages go to workers, not to competitors.
    let agent = harness.submit_agent("noop").await;
    refused(harness.get_agent(agent.as_str(), DevKey::Charlie.address()).await, Code::PermissionDenied, "validator permit");
    assert!(!harness.get_agent(agent.as_str(), alice).await.expect("the validator fetches").into_inner().package.is_empty());
}

#[tokio::test]
async fn registered_runners_without_a_permit_may_fetch_when_opened_to_them() {
    let harness = Harness::start_with(|config| {
        config.auth = AuthConfig { runners_need_permit: false, ..AuthConfig::devnet() };
    })
    .await;
    let task = harness.publish_tasks(1).await.remove(0);
    assert!(harness.fetch_task(task.as_str(), Visible, DevKey::Bob.address()).await.is_ok(), "registered Bob runs agents here");
    let refusal = harness.fetch_task(task.as_str(), Grading, DevKey::Bob.address()).await;
    refused(refusal, Code::PermissionDenied, "agent-runners fetch the visible part");
}

/// A task travels in two parts: the runner gets what its agent may see and is refused the
/// hidden tests, gold patch and expected test ids, which go to the validator grading a run of
/// the task, while it holds the grade.
#[tokio::test]
async fn runners_get_the_visible_part_and_only_a_grading_validator_the_answers() {
    let harness = devnet_harness().await;
    let task = harness.publish_tasks(1).await.remove(0);
    harness.submit_agent("noop").await;
    let (alice, ferdie) = (DevKey::Alice.address(), DevKey::Ferdie.address());

    // Alice runs the agent. She holds a validator permit, but no grade on the task.
    let mut runner = RawWorker::connect_as(harness.url(), DevKey::Alice, "runner", pb::Capability::RunAgent, 1).await;
    let run = runner.next_run().await;
    assert_eq!(run.task_digest, task.to_string());
    let visible = harness.fetch_task(task.as_str(), Visible, alice).await.expect("the runner fetches the visible part").into_inner();
    let visible = Bundle::from_tar_expecting(&visible.bundle, &visible.part_digest.parse().expect("digest")).expect("as named");
    let paths: Vec<&str> = visible.files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.iter().any(|p| p.starts_with("repo/")) && paths.contains(&"instruction.md"), "{paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with("hidden/") || *p == "gold.patch" || *p == "task.toml"), "answers leaked: {paths:?}");
    let refusal = harness.fetch_task(task.as_str(), Grading, alice).await;
    refused(refusal, Code::PermissionDenied, "holds no grade lease on a run of task");
    let refusal = harness.fetch_task(task.as_str(), Grading, DevKey::Bob.address()).await;
    refused(refusal, Code::PermissionDenied, "no validator permit");
    let unnamed = harness.fetch_task(task.as_str(), pb::TaskPart::Unspecified, alice).await;
    refused(unnamed, Code::InvalidArgument, "name the task part");

    // The patch comes back; Ferdie grades it and may fetch the answers while he holds the grade.
    runner.send(run_report(&run.run_id, pb::RunOutcome::Completed, &patch_for(&RunId::new(&run.run_id), "r"))).await;
    assert!(runner.next_ack().await.accepted);
    let mut grader = RawWorker::connect_as(harness.url(), DevKey::Ferdie, "grader", pb::Capability::Grade, 1).await;
    let grade = grader.next_grade().await;
    let grading = harness.fetch_task(task.as_str(), Grading, ferdie).await.expect("the grading validator fetches").into_inner();
    let grading = Bundle::from_tar_expecting(&grading.bundle, &grading.part_digest.parse().expect("digest")).expect("as named");
    let joined = join_parts(&visible, &grading, &task).expect("the two parts are the task");
    assert_eq!(joined.digest(), &task);
    refused(harness.fetch_task(task.as_str(), Grading, alice).await, Code::PermissionDenied, "no grade lease");

    // Once the verdict is in, the lease is gone and so is the access.
    let report = signed_report(&grade, DevKey::Ferdie, false);
    grader.send(pb::WorkerMessage { kind: Some(pb::worker_message::Kind::GradeReport(report.into())) }).await;
    assert!(grader.next_ack().await.accepted);
    refused(harness.fetch_task(task.as_str(), Grading, ferdie).await, Code::PermissionDenied, "no grade lease");
}

#[tokio::test]
async fn a_chain_coordinator_needs_its_metagraph_and_then_enforces_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    config.auth = AuthConfig { hotkey: Some(DevKey::Alice.address().into()), ..AuthConfig::default() };
    assert_eq!(config.auth.membership, MembershipPolicy::Chain);
    match Coordinator::bind(config.clone()).await {
        Err(error @ CoordinatorError::Auth(_)) => {
            let chain = whetstone_proto::error_chain(&error);
            assert!(chain.contains("metagraph") && chain.contains("\"dev\""), "{chain}");
        }
        other => panic!("a chain coordinator without a metagraph must not start: {other:?}"),
    }

    // Eve alone is registered (and validates) on this metagraph.
    let eve = Hotkey::new(DevKey::Eve.address());
    let metagraph = Arc::new(StaticMembership::new([], [eve.clone()]));
    let coordinator = Coordinator::bind_with_membership(config, Some(metagraph)).await.expect("binds with a metagraph");
    let url = format!("http://{}", coordinator.local_addr().expect("address"));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(coordinator.serve(shutdown.clone()));

    let channel = Channel::from_shared(url).expect("url").connect().await.expect("connects");
    let mut agents = pb::agents_client::AgentsClient::new(channel).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let bob = signer(DevKey::Bob.pair());
    let request = bob.signed(SUBMIT_AGENT, submission(bob.hotkey()));
    refused(agents.submit(request).await, Code::PermissionDenied, "not registered");
    let eve_signer = signer(DevKey::Eve.pair());
    let request = eve_signer.signed(SUBMIT_AGENT, submission(&eve));
    agents.submit(request).await.expect("eve is registered");

    shutdown.cancel();
    serving.await.expect("no panic").expect("served");
}
