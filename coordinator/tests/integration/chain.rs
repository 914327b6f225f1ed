//! A coordinator whose membership and leaderboard come from a chain: a localnet in-process,
//! the metagraph sync over subxt, and the coordinator over gRPC. Registration on the chain
//! decides who may submit, a validator permit who may grade, a hotkey registered while the
//! coordinator runs is admitted after the next refresh, and the leaderboard shows what the
//! validators' weights on chain earn each miner.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;
use whetstone_chain::client::SubtensorClient;
use whetstone_chain::metagraph::Membership;
use whetstone_chain::sync::{self, SharedMetagraph};
use whetstone_chain::wallet::HotkeyPair;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_coordinator::Coordinator;
use whetstone_coordinator::auth::{AuthConfig, MembershipPolicy};
use whetstone_localnet::{LocalnetConfig, LocalnetHandle};
use whetstone_proto::auth::{RequestSigner, SUBMIT_AGENT, WORKER_CONNECT};
use whetstone_proto::{MAX_MESSAGE_BYTES, pb};
use whetstone_tasks::Hotkey;

use crate::support::{eventually, example_agent, test_config};

const NETUID: u16 = 1;

/// A localnet (Alice and Ferdie validate, Bob..Eve mine), its metagraph synced every 100 ms, and a
/// coordinator with `membership = "chain"` and a chain view on it.
struct ChainCoordinator {
    node: LocalnetHandle,
    chain: Arc<SubtensorClient>,
    metagraph: SharedMetagraph,
    channel: Channel,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl ChainCoordinator {
    async fn start() -> Self {
        let config = LocalnetConfig { listen: "127.0.0.1:0".parse().expect("address"), ..LocalnetConfig::default() };
        let node = whetstone_localnet::spawn(config).await.expect("localnet starts");
        let chain = Arc::new(SubtensorClient::connect(&node.url).await.expect("subxt connects"));
        let shutdown = CancellationToken::new();
        let (mut metagraph, _sync) = sync::spawn(Arc::clone(&chain), NETUID, Duration::from_millis(100), shutdown.clone());
        tokio::time::timeout(Duration::from_secs(20), metagraph.changed()).await.expect("first sync").expect("snapshot");

        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        config.auth = AuthConfig { hotkey: Some(DevKey::Alice.address().into()), ..AuthConfig::default() };
        assert_eq!(config.auth.membership, MembershipPolicy::Chain);
        let membership: Arc<dyn Membership> = Arc::new(metagraph.clone());
        let coordinator =
            Coordinator::bind_with_membership(config, Some(membership)).await.expect("binds").with_chain_view(metagraph.clone());
        let url = format!("http://{}", coordinator.local_addr().expect("address"));
        tokio::spawn(coordinator.serve(shutdown.clone()));
        let channel = Channel::from_shared(url).expect("url").connect().await.expect("connects");
        Self { node, chain, metagraph, channel, shutdown, _dir: dir }
    }

    /// Submits the example agent `agent` as `pair` (an agent's digest is accepted once).
    async fn submit(&self, pair: HotkeyPair, agent: &str) -> Result<pb::SubmitAgentResponse, tonic::Status> {
        let package = example_agent(agent);
        let claim = whetstone_chain::verdict::AgentClaim::sign(package.digest().clone(), &pair, 1_700_000_000_000).expect("claim signs");
        let signer = RequestSigner::new(pair, Hotkey::new(DevKey::Alice.address()));
        let request = pb::SubmitAgentRequest {
            hotkey: signer.hotkey().to_string(),
            package: package.bundle.to_tar().expect("tar"),
            claimed_at_ms: claim.claimed_at_ms,
            claim_signature: claim.signature,
        };
        let mut agents = pb::agents_client::AgentsClient::new(self.channel.clone()).max_encoding_message_size(MAX_MESSAGE_BYTES);
        agents.submit(signer.signed(SUBMIT_AGENT, request)).await.map(tonic::Response::into_inner)
    }

    /// Opens `Worker.Connect` as `pair` with one capability; the coordinator's first answer.
    async fn hello(&self, pair: HotkeyPair, capability: pb::Capability) -> Result<pb::coordinator_message::Kind, tonic::Status> {
        let signer = RequestSigner::new(pair, Hotkey::new(DevKey::Alice.address()));
        let hello = pb::WorkerMessage {
            kind: Some(pb::worker_message::Kind::Hello(pb::Hello {
                worker_id: "chain-test".into(),
                capabilities: vec![capability.into()],
                capacity: 1,
                hotkey: signer.hotkey().to_string(),
                software_version: "integration-test".into(),
                active_job_ids: Vec::new(),
            })),
        };
        let (outbound, receiver) = mpsc::channel(1);
        outbound.send(hello.clone()).await.expect("queue the hello");
        let request = signer.signed_stream(WORKER_CONNECT, &hello, ReceiverStream::new(receiver));
        let mut workers = pb::worker_client::WorkerClient::new(self.channel.clone());
        let mut inbound = workers.connect(request).await?.into_inner();
        Ok(inbound.message().await?.expect("a first message").kind.expect("a kind"))
    }

    async fn leaderboard(&self) -> pb::LeaderboardResponse {
        let mut scores = pb::scores_client::ScoresClient::new(self.channel.clone());
        scores.leaderboard(pb::LeaderboardRequest {}).await.expect("leaderboard").into_inner()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.node.stop().await;
    }
}

fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, mentions: &str) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(mentions), "{:?} should mention {mentions:?}", status.message());
}

/// `burned_register` of `hotkey` on the subnet, paid by Alice's coldkey.
async fn register_on_chain(node: &LocalnetHandle, hotkey: &HotkeyPair) {
    let api = subxt::OnlineClient::<subxt::SubstrateConfig>::from_insecure_url(&node.url).await.expect("subxt connects");
    let account = subxt::utils::AccountId32(whetstone_chain::wallet::public_key_of(hotkey.hotkey()).expect("ss58"));
    let call = subxt::dynamic::tx("SubtensorModule", "burned_register", (NETUID, account));
    api.tx()
        .await
        .expect("client at the head")
        .sign_and_submit_then_watch_default(&call, &subxt_signer::sr25519::dev::alice())
        .await
        .expect("the node accepts the registration")
        .wait_for_finalized_success()
        .await
        .expect("registered");
}

#[tokio::test]
async fn chain_membership_admits_registered_hotkeys_and_permits_and_follows_new_registrations() {
    let harness = ChainCoordinator::start().await;

    // Bob holds a uid on the localnet: he may submit, but not grade (no permit).
    harness.submit(DevKey::Bob.pair(), "noop").await.expect("bob is registered on chain");
    refused(harness.hello(DevKey::Bob.pair(), pb::Capability::Grade).await, Code::PermissionDenied, "grading");
    match harness.hello(DevKey::Alice.pair(), pb::Capability::Grade).await {
        Ok(pb::coordinator_message::Kind::Welcome(_)) => {}
        other => panic!("alice holds a permit and may grade, got {other:?}"),
    }

    // A hotkey without a uid is refused until it registers; the sync picks the registration up.
    let newcomer = HotkeyPair::from_uri("//Newcomer").expect("uri");
    refused(harness.submit(newcomer.clone(), "repair").await, Code::PermissionDenied, "not registered");
    register_on_chain(&harness.node, &newcomer).await;
    eventually("the sync to see the new registration", || async { harness.metagraph.is_registered(newcomer.hotkey()).then_some(()) }).await;
    harness.submit(newcomer.clone(), "repair").await.expect("registered on chain since");
    let snapshot = harness.metagraph.current().expect("snapshot");
    assert_eq!(snapshot.uid_of(newcomer.hotkey()), Some(6), "the next free uid");
    harness.stop().await;
}

#[tokio::test]
async fn the_leaderboard_shows_what_the_weights_on_chain_earn_each_miner() {
    let harness = ChainCoordinator::start().await;
    harness.submit(DevKey::Bob.pair(), "noop").await.expect("bob submits");
    harness.submit(DevKey::Charlie.pair(), "repair").await.expect("charlie submits");

    // Before any validator sets weights, the chain view says so and nobody earns.
    let board = harness.leaderboard().await;
    let view = board.chain.expect("a chain view");
    assert_eq!((view.netuid, view.validators_with_weights), (u32::from(NETUID), 0));
    assert!(board.entries.iter().all(|e| e.incentive == Some(0.0)), "{:?}", board.entries);

    // Alice weights Bob 3:1 over Charlie; the next refresh shows the Yuma split.
    let receipt = harness.chain.set_weights(&DevKey::Alice.pair(), NETUID, &[1, 2], &[65535, 21845], 0).await.expect("weights set");
    let board = eventually("the leaderboard to reflect the weights", || async {
        let board = harness.leaderboard().await;
        board.chain.as_ref().is_some_and(|view| view.block >= receipt.block_number).then_some(board)
    })
    .await;
    assert_eq!(board.chain.as_ref().map(|view| view.validators_with_weights), Some(1));
    let earned = |hotkey: &str| {
        let entry = board.entries.iter().find(|e| e.hotkey == hotkey).expect("on the board");
        (entry.uid, entry.incentive.expect("registered hotkeys carry an incentive"))
    };
    let (bob_uid, bob) = earned(DevKey::Bob.address());
    let (charlie_uid, charlie) = earned(DevKey::Charlie.address());
    assert_eq!((bob_uid, charlie_uid), (Some(1), Some(2)));
    assert!((bob - 0.75).abs() < 1e-6 && (charlie - 0.25).abs() < 1e-6, "bob {bob}, charlie {charlie}");
    harness.stop().await;
}

#[tokio::test]
async fn without_a_chain_view_the_leaderboard_carries_no_incentive() {
    let harness = crate::support::Harness::start_with(|config| config.auth = AuthConfig::devnet()).await;
    let signer = RequestSigner::new(DevKey::Bob.pair(), Hotkey::new(DevKey::Alice.address()));
    let request = crate::support::with_claim(pb::SubmitAgentRequest {
        hotkey: signer.hotkey().to_string(),
        package: example_agent("noop").bundle.to_tar().expect("tar"),
        ..Default::default()
    });
    harness.agents().submit(signer.signed(SUBMIT_AGENT, request)).await.expect("bob is in the dev keyring");
    let board = harness.scores().leaderboard(pb::LeaderboardRequest {}).await.expect("leaderboard").into_inner();
    assert!(board.chain.is_none());
    assert_eq!(board.entries.len(), 1);
    assert_eq!((board.entries[0].uid, board.entries[0].incentive), (None, None));
}
