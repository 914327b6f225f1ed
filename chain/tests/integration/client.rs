//! The subxt client against a real localnet over 127.0.0.1: metagraph sync, weights accepted
//! and read back, refusals with the messages a validator operator sees, and a timelocked
//! commit revealed by the chain.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use whetstone_chain::client::{ChainError, ClientOptions, RetryPolicy, SubtensorClient, WeightCall};
use whetstone_chain::incentive::IncentiveView;
use whetstone_chain::metagraph::Membership;
use whetstone_chain::sync::{self, MetagraphSnapshot};
use whetstone_chain::wallet::HotkeyPair;
use whetstone_chain::wallet::dev::DevKey;
use whetstone_localnet::{Hyperparameters, LocalDrand, LocalnetConfig, LocalnetHandle};
use whetstone_tasks::Hotkey;

const NETUID: u16 = 1;
const TAO: u64 = 1_000_000_000;

fn config(edit: impl FnOnce(&mut Hyperparameters)) -> LocalnetConfig {
    let mut config = LocalnetConfig { listen: "127.0.0.1:0".parse().expect("address"), ..LocalnetConfig::default() };
    edit(&mut config.subnets[0].hyperparameters);
    config
}

async fn start(config: LocalnetConfig) -> (LocalnetHandle, SubtensorClient) {
    start_with(config, None, ClientOptions::default()).await
}

async fn start_with(
    config: LocalnetConfig,
    beacon: Option<Arc<dyn whetstone_localnet::Beacon>>,
    options: ClientOptions,
) -> (LocalnetHandle, SubtensorClient) {
    let node = whetstone_localnet::spawn_with_beacon(config, beacon).await.expect("localnet starts");
    let client = SubtensorClient::connect_with(&node.url, options).await.expect("the client connects and accepts the runtime");
    (node, client)
}

fn alice() -> HotkeyPair {
    DevKey::Alice.pair()
}

fn hotkey(key: DevKey) -> Hotkey {
    key.pair().hotkey().clone()
}

#[tokio::test]
async fn metagraph_and_hyperparameters_are_read_from_storage() {
    let (node, client) = start(config(|h| {
        h.tempo = 20;
        h.weights_set_rate_limit = 7;
        h.weights_version_key = 3;
        h.min_allowed_weights = 2;
        h.max_weights_limit = 40_000;
        h.reveal_period_epochs = 2;
    }))
    .await;
    let snapshot = MetagraphSnapshot::fetch(&client, NETUID).await.expect("snapshot");
    assert_eq!(snapshot.neurons.len(), 6);
    let uids: Vec<(u16, Hotkey)> = snapshot.neurons.iter().map(|n| (n.uid, n.hotkey.clone())).collect();
    let expected: Vec<(u16, Hotkey)> = DevKey::ALL.iter().enumerate().map(|(i, k)| (i as u16, hotkey(*k))).collect();
    assert_eq!(uids, expected, "uids in genesis order");
    let alice = &snapshot.neurons[0];
    assert_eq!((alice.stake, alice.validator_permit, alice.last_update), (1000 * TAO, true, 0));
    assert!(snapshot.neurons[1..5].iter().all(|n| !n.validator_permit && n.stake == 0), "Bob to Eve mine");
    let ferdie = &snapshot.neurons[5];
    assert_eq!((ferdie.stake, ferdie.validator_permit), (600 * TAO, true), "Ferdie validates too");
    let h = snapshot.hyperparameters;
    assert_eq!((h.tempo, h.weights_rate_limit, h.weights_version_key, h.min_allowed_weights, h.max_weights_limit), (20, 7, 3, 2, 40_000));
    assert_eq!((h.commit_reveal_enabled, h.reveal_period_epochs, h.commit_reveal_version), (false, 2, 4));

    let missing = client.hyperparameters(9).await.expect_err("no subnet 9");
    assert!(matches!(missing, ChainError::NoSuchSubnet { netuid: 9 }), "{missing}");
    assert!(missing.to_string().contains("--netuid"));
    node.stop().await;
}

#[tokio::test]
async fn the_sync_task_keeps_a_snapshot_membership_is_answered_from() {
    let (node, client) = start(config(|h| h.weights_set_rate_limit = 1)).await;
    let client = Arc::new(client);
    let shutdown = CancellationToken::new();
    let (mut shared, task) = sync::spawn(client.clone(), NETUID, Duration::from_millis(100), shutdown.clone());
    let first = tokio::time::timeout(Duration::from_secs(20), shared.changed()).await.expect("first sync").expect("snapshot");
    assert_eq!(first.neurons.len(), 6);
    assert!(shared.is_registered(&hotkey(DevKey::Bob)) && !shared.has_validator_permit(&hotkey(DevKey::Bob)));
    assert!(shared.has_validator_permit(&hotkey(DevKey::Alice)));
    let stranger = HotkeyPair::from_uri("//Stranger").expect("uri").hotkey().clone();
    assert!(!shared.is_registered(&stranger));

    // Setting weights moves Alice's last update; a later refresh shows it.
    let receipt = client.set_weights(&alice(), NETUID, &[1, 2], &[65535, 100], 0).await.expect("weights set");
    let updated = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let snapshot = shared.changed().await.expect("sync running");
            if snapshot.neurons[0].last_update == receipt.block_number {
                return snapshot;
            }
        }
    })
    .await
    .expect("the refresh shows the new last update");
    assert!(updated.block >= receipt.block_number);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("sync stops on shutdown").expect("no panic");
    node.stop().await;
}

#[tokio::test]
async fn the_epoch_inputs_are_read_with_the_snapshot_and_priced_by_yuma() {
    let (node, client) = start(config(|_| {})).await;
    client.set_weights(&alice(), NETUID, &[1, 2, 3], &[65535, 32768, 0], 0).await.expect("weights set");
    let snapshot = MetagraphSnapshot::fetch_with_consensus(&client, NETUID).await.expect("snapshot");
    let consensus = snapshot.consensus.as_ref().expect("consensus inputs");
    assert_eq!(consensus.block_at_registration, vec![0; 6], "genesis neurons");
    assert_eq!(
        consensus.weights,
        vec![(0, vec![(1, 65535), (2, 32768), (3, 0)]), (5, Vec::new())],
        "only permit holders' rows (Ferdie has set none)"
    );
    // Localnet keeps no bonds nor Yuma parameters: subtensor's defaults stand in.
    assert!(!consensus.bonds_stored && consensus.bonds.is_empty());
    assert_eq!((consensus.kappa, consensus.activity_cutoff), (32_767, 5000));
    let view = IncentiveView::of(&snapshot).expect("an epoch");
    let share = |key: DevKey| view.of_hotkey(&hotkey(key)).expect("registered").incentive;
    assert!((share(DevKey::Bob) - 65535.0 / 98303.0).abs() < 1e-9, "{}", share(DevKey::Bob));
    assert!((share(DevKey::Charlie) - 32768.0 / 98303.0).abs() < 1e-9);
    assert_eq!(share(DevKey::Dave), 0.0);
    assert!(MetagraphSnapshot::fetch(&client, NETUID).await.expect("plain snapshot").consensus.is_none());
    node.stop().await;
}

#[tokio::test]
async fn set_weights_is_accepted_and_read_back() {
    let (node, client) = start(config(|_| {})).await;
    let receipt = client.submit_weights(&alice(), NETUID, &[1, 2, 3], &[16384, 32768, 65535], 0).await.expect("accepted");
    assert_eq!(receipt.call, WeightCall::SetWeights);
    assert_eq!(receipt.extrinsic_call, "set_mechanism_weights", "mechanism 0, as the runtime declares it");
    assert_eq!((receipt.uid, receipt.attempts, receipt.reveal_round), (0, 1, None));
    assert!(receipt.extrinsic_hash.starts_with("0x") && receipt.extrinsic_hash.len() == 66, "{}", receipt.extrinsic_hash);
    let row = client.weights_row(NETUID, 0).await.expect("weights row");
    assert_eq!(row, vec![(1, 16384), (2, 32768), (3, 65535)]);
    let (_, neurons) = client.neurons(NETUID).await.expect("neurons");
    assert_eq!(neurons[0].last_update, receipt.block_number);
    node.stop().await;
}

#[tokio::test]
async fn setting_weights_too_soon_says_when_it_is_allowed() {
    let (node, client) = start(config(|h| h.weights_set_rate_limit = 5)).await;
    let first = client.set_weights(&alice(), NETUID, &[1], &[65535], 0).await.expect("first setting");
    let refused = client.set_weights(&alice(), NETUID, &[2], &[65535], 0).await.expect_err("too soon");
    match &refused {
        ChainError::RateLimited { allowed_at, last_update, rate_limit, .. } => {
            assert_eq!((*last_update, *rate_limit, *allowed_at), (first.block_number, 5, first.block_number + 5));
        }
        other => panic!("expected a local rate-limit refusal, got {other}"),
    }
    let message = refused.to_string();
    assert!(message.contains(&format!("allowed at block {}", first.block_number + 5)), "{message}");

    // The chain agrees, in its own words, when asked without the local check.
    let (node_b, unchecked) =
        start_with(config(|h| h.weights_set_rate_limit = 5), None, ClientOptions { skip_local_checks: true, ..ClientOptions::default() })
            .await;
    unchecked.set_weights(&alice(), NETUID, &[1], &[65535], 0).await.expect("first setting");
    let chain_says = unchecked.set_weights(&alice(), NETUID, &[2], &[65535], 0).await.expect_err("too soon on chain");
    let text = chain_says.to_string();
    assert!(
        matches!(&chain_says, ChainError::Rejected { extrinsic: Some(_), rejection, .. } if rejection.reason == "SubtensorModule::SettingWeightsTooFast"),
        "{text}"
    );
    assert!(text.contains("rate limit"), "{text}");

    // Once the limit has passed, weights go through.
    node.seal_blocks(5).await;
    client.set_weights(&alice(), NETUID, &[2], &[65535], 0).await.expect("allowed after the rate limit");
    node.stop().await;
    node_b.stop().await;
}

#[tokio::test]
async fn a_hotkey_without_a_permit_is_told_how_to_get_one() {
    let (node, client) = start(config(|_| {})).await;
    let bob = DevKey::Bob.pair();
    let refused = client.set_weights(&bob, NETUID, &[0, 2], &[65535, 1], 0).await.expect_err("no permit");
    assert!(matches!(refused, ChainError::NoValidatorPermit { uid: 1, .. }), "{refused}");
    assert!(refused.to_string().contains("add stake"), "{refused}");

    let (node_b, unchecked) = start_with(config(|_| {}), None, ClientOptions { skip_local_checks: true, ..ClientOptions::default() }).await;
    let chain_says = unchecked.set_weights(&bob, NETUID, &[0, 2], &[65535, 1], 0).await.expect_err("no permit on chain");
    assert!(
        matches!(&chain_says, ChainError::Rejected { rejection, .. } if rejection.reason == "SubtensorModule::NeuronNoValidatorPermit"),
        "{chain_says}"
    );
    assert!(chain_says.to_string().contains("validator permit"), "{chain_says}");
    node.stop().await;
    node_b.stop().await;
}

#[tokio::test]
async fn unregistered_hotkeys_wrong_subnets_and_old_version_keys_are_refused_by_name() {
    let (node, client) = start(config(|h| h.weights_version_key = 9)).await;
    let stranger = HotkeyPair::from_uri("//Stranger").expect("uri");
    let unregistered = client.set_weights(&stranger, NETUID, &[0], &[1], 9).await.expect_err("not registered");
    assert!(matches!(unregistered, ChainError::NotRegistered { netuid: NETUID, .. }), "{unregistered}");
    assert!(unregistered.to_string().contains(stranger.hotkey().as_str()));

    let no_subnet = client.set_weights(&alice(), 12, &[0], &[1], 9).await.expect_err("no subnet");
    assert!(matches!(no_subnet, ChainError::NoSuchSubnet { netuid: 12 }), "{no_subnet}");

    let old = client.set_weights(&alice(), NETUID, &[1], &[1], 8).await.expect_err("old version key");
    assert!(matches!(old, ChainError::VersionKeyTooLow { given: 8, required: 9, .. }), "{old}");
    client.set_weights(&alice(), NETUID, &[1], &[1], 9).await.expect("current version key");
    node.stop().await;
}

#[tokio::test]
async fn an_unreachable_node_is_reported_with_what_to_check() {
    // Bind and drop a listener: nothing listens on this port afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let error = SubtensorClient::connect(&format!("ws://127.0.0.1:{port}")).await.expect_err("nothing listens");
    assert!(matches!(error, ChainError::Unreachable { .. }), "{error}");
    assert!(error.to_string().contains("--chain.endpoint"), "{error}");
    let bad = SubtensorClient::connect("127.0.0.1:9944").await.expect_err("not a URL");
    assert!(matches!(bad, ChainError::BadEndpoint(_)), "{bad}");
}

#[tokio::test]
async fn a_dropped_connection_is_retried_on_a_fresh_one() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let on_port = || {
        let mut config = config(|_| {});
        config.listen = ([127, 0, 0, 1], port).into();
        config
    };
    let retry = RetryPolicy { attempts: 4, first_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(1) };
    let (node, client) = start_with(on_port(), None, ClientOptions { retry, ..ClientOptions::default() }).await;
    // The node goes away and comes back (a restart): the client's connection is dead.
    node.stop().await;
    let restarted = whetstone_localnet::spawn(on_port()).await.expect("the node restarts on the same port");
    let receipt = client.set_weights(&alice(), NETUID, &[1], &[65535], 0).await.expect("set after reconnecting");
    assert!(receipt.attempts >= 2, "the first attempt hit the dead connection ({} attempts)", receipt.attempts);
    assert_eq!(client.weights_row(NETUID, 0).await.expect("row"), vec![(1, 65535)]);
    restarted.stop().await;
}

#[tokio::test]
async fn a_timelocked_commit_is_stored_and_revealed_into_weights() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let beacon = LocalDrand::new("client-test", now - 10, 1).expect("beacon");
    let options = ClientOptions { block_time: Some(Duration::from_millis(100)), ..ClientOptions::default() };
    let (node, client) = start_with(
        config(|h| {
            h.commit_reveal_weights_enabled = true;
            h.tempo = 4;
            h.reveal_period_epochs = 1;
            // Longer than the reveal delay: the commit is rate limited, its reveal is not.
            h.weights_set_rate_limit = 100;
        }),
        Some(Arc::new(beacon)),
        options,
    )
    .await;
    let plain = client.set_weights(&alice(), NETUID, &[1], &[1], 0).await.expect_err("commit-reveal is on");
    assert!(plain.to_string().contains("CommitRevealEnabled"), "{plain}");

    let receipt = client.submit_weights(&alice(), NETUID, &[1, 3], &[65535, 21845], 0).await.expect("committed");
    assert_eq!(receipt.call, WeightCall::CommitTimelockedWeights);
    assert_eq!(receipt.extrinsic_call, "commit_timelocked_mechanism_weights");
    let reveal_round = receipt.reveal_round.expect("a reveal round");
    let commits = client.timelocked_commits(NETUID).await.expect("commits");
    assert_eq!(commits.len(), 1);
    assert_eq!((commits[0].hotkey.clone(), commits[0].reveal_round), (hotkey(DevKey::Alice), reveal_round));
    assert!(client.weights_row(NETUID, 0).await.expect("row").is_empty(), "nothing is revealed yet");

    // Epochs pass and the round's pulse is published: the chain reveals the commit.
    let revealed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            node.seal_blocks(1).await;
            let row = client.weights_row(NETUID, 0).await.expect("row");
            if !row.is_empty() {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .expect("revealed within a minute");
    assert_eq!(revealed, vec![(1, 65535), (3, 21845)]);
    assert!(client.timelocked_commits(NETUID).await.expect("commits").is_empty(), "the commit is consumed");
    node.stop().await;
}
