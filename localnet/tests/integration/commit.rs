//! Timelocked weight commits: stored under their epoch, checked like subtensor checks them,
//! and revealed into `Weights` by the node's local drand beacon, encrypted by the chain
//! crate's timelock code from the beacon parameters the chain publishes.

use std::time::{Duration, SystemTime};

use subxt::ext::scale_decode::DecodeAsType;
use subxt::utils::AccountId32;
use subxt_signer::sr25519::dev;
use whetstone_chain::timelock::{self, WeightsCommit};

use crate::support::*;

fn commit_reveal_config() -> whetstone_localnet::LocalnetConfig {
    let mut config = test_config();
    let params = &mut config.subnets[0].hyperparameters;
    params.commit_reveal_weights_enabled = true;
    params.tempo = 4;
    params.reveal_period_epochs = 1;
    config.drand.period_secs = 1;
    config
}

#[derive(Debug, DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
struct BeaconConfiguration {
    public_key: Vec<u8>,
    period: u32,
    genesis_time: u32,
}

/// The beacon as a client learns it: from `Drand.BeaconConfig`.
async fn published_beacon(client: &Client) -> timelock::BeaconInfo {
    let config: BeaconConfiguration = read(client, "Drand", "BeaconConfig", ()).await;
    timelock::BeaconInfo::new(&config.public_key, u64::from(config.genesis_time), u64::from(config.period))
        .expect("the chain publishes a valid beacon")
}

fn encrypt(beacon: &timelock::BeaconInfo, round: u64, uids: Vec<u16>, values: Vec<u16>) -> Vec<u8> {
    let commit = WeightsCommit { hotkey_public_key: dev::alice().public_key().0, uids, values, version_key: 0 };
    timelock::encrypt_to_round(beacon, round, &commit.to_scale(), &mut rand_core::OsRng).expect("encrypts")
}

async fn commit(client: &Client, ciphertext: Vec<u8>, round: u64, version: u16) -> Result<Events, TxError> {
    submit(client, &dev::alice(), "SubtensorModule", "commit_timelocked_weights", (NETUID, ciphertext, round, version)).await
}

type StoredCommit = (AccountId32, u64, Vec<u8>, u64);

/// Every stored commit of the subnet, across epochs.
async fn stored_commits(client: &Client) -> Vec<(u64, Vec<StoredCommit>)> {
    let at = client.at_current_block().await.expect("current block");
    let address = subxt::dynamic::storage::<(u16, u64), Vec<StoredCommit>>("SubtensorModule", "TimelockedWeightCommits");
    let mut entries = at.storage().iter(address, (NETUID,)).await.expect("iteration");
    let mut out = Vec::new();
    while let Some(entry) = entries.next().await {
        let entry = entry.expect("entry");
        let (_, epoch) = entry.key().expect("key").decode().expect("key parts");
        out.push((epoch, entry.value().decode().expect("commits")));
    }
    out
}

#[tokio::test]
async fn a_commit_is_stored_then_revealed_into_weights_with_the_local_beacon() {
    let (node, client) = start(commit_reveal_config()).await;
    let beacon = published_beacon(&client).await;
    // A round already published: the reveal waits only for the next epoch.
    let round = beacon.latest_round_at(SystemTime::now()).max(1);
    let ciphertext = encrypt(&beacon, round, vec![1, 3], vec![65535, 21845]);
    let events = commit(&client, ciphertext.clone(), round, 4).await.expect("committed");
    assert!(event_names(&events).contains(&("SubtensorModule".into(), "TimelockedWeightsCommitted".into())));
    let stored = stored_commits(&client).await;
    assert_eq!(stored.len(), 1);
    let (_, commits) = &stored[0];
    assert_eq!(commits.len(), 1);
    assert_eq!((&commits[0].0, &commits[0].2, commits[0].3), (&account(&dev::alice()), &ciphertext, round));
    let row: Vec<(u16, u16)> = read(&client, "SubtensorModule", "Weights", (NETUID, 0u16)).await;
    assert!(row.is_empty(), "hidden until the reveal");

    // Tempo 4: the commit's epoch ends within 5 blocks and the next block reveals it.
    let mut revealed: Vec<(u16, u16)> = Vec::new();
    for _ in 0..12 {
        node.seal_blocks(1).await;
        revealed = read(&client, "SubtensorModule", "Weights", (NETUID, 0u16)).await;
        if !revealed.is_empty() {
            break;
        }
    }
    assert_eq!(revealed, vec![(1, 65535), (3, 21845)]);
    assert!(stored_commits(&client).await.is_empty(), "the revealed commit is consumed");
    let last_update: Vec<u64> = read(&client, "SubtensorModule", "LastUpdate", (NETUID,)).await;
    assert_eq!(last_update[0], commits[0].1, "the commit stamped LastUpdate; the reveal left it");
    node.stop().await;
}

#[tokio::test]
async fn a_commit_to_a_round_never_published_in_time_is_dropped_unrevealed() {
    let (node, client) = start(commit_reveal_config()).await;
    let beacon = published_beacon(&client).await;
    let far = beacon.latest_round_at(SystemTime::now() + Duration::from_secs(3600));
    commit(&client, encrypt(&beacon, far, vec![1], vec![1]), far, 4).await.expect("committed");
    // Two epochs later the commit's reveal epoch is over.
    node.seal_blocks(12).await;
    let row: Vec<(u16, u16)> = read(&client, "SubtensorModule", "Weights", (NETUID, 0u16)).await;
    assert!(row.is_empty());
    assert!(stored_commits(&client).await.is_empty(), "expired commits are removed");
    node.stop().await;
}

#[tokio::test]
async fn commits_are_refused_with_the_chains_errors() {
    let (node, client) = start(commit_reveal_config()).await;
    let refused = commit(&client, vec![1, 2, 3], 1, 3).await.expect_err("old protocol version");
    assert_eq!(module_error(&refused), "SubtensorModule::IncorrectCommitRevealVersion");
    node.stop().await;

    let (node, client) = start(test_config()).await;
    let refused = commit(&client, vec![1, 2, 3], 1, 4).await.expect_err("commit-reveal is off");
    assert_eq!(module_error(&refused), "SubtensorModule::CommitRevealDisabled");
    node.stop().await;
}

#[tokio::test]
async fn a_commit_to_a_published_round_the_chain_never_stored_is_still_revealed() {
    // The beacon has published 1000 rounds before the chain starts; blocks store only the
    // latest pulses, so round 100 is published but not in `Drand.Pulses`.
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock").as_secs();
    let drand = whetstone_localnet::LocalDrand::new("idle-gap", now - 1000, 1).expect("beacon");
    let node = whetstone_localnet::spawn_with_beacon(commit_reveal_config(), Some(std::sync::Arc::new(drand))).await.expect("starts");
    let client = Client::from_insecure_url(&node.url).await.expect("connects");
    let beacon = published_beacon(&client).await;
    commit(&client, encrypt(&beacon, 100, vec![2], vec![9]), 100, 4).await.expect("committed");
    let stored: Option<Vec<u8>> = {
        let at = client.at_current_block().await.expect("block");
        let address = subxt::dynamic::storage::<(u64,), subxt::dynamic::Value>("Drand", "Pulses");
        at.storage().try_fetch(address, (100u64,)).await.expect("read").map(|v| v.bytes().to_vec())
    };
    assert!(stored.is_none(), "round 100 was skipped by the chain");
    node.seal_blocks(12).await;
    let row: Vec<(u16, u16)> = read(&client, "SubtensorModule", "Weights", (NETUID, 0u16)).await;
    assert_eq!(row, vec![(2, 65535)]);
    node.stop().await;
}
