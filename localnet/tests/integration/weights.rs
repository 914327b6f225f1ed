//! `set_weights` (and `set_mechanism_weights` on mechanism 0) against subtensor's rules, with
//! the chain's error names.

use subxt::ext::codec::Decode;
use subxt_signer::sr25519::dev;
use whetstone_localnet::LocalnetConfig;

use crate::support::*;

async fn set_weights(
    client: &Client,
    signer: &subxt_signer::sr25519::Keypair,
    dests: Vec<u16>,
    weights: Vec<u16>,
    version_key: u64,
) -> Result<Events, TxError> {
    submit(client, signer, "SubtensorModule", "set_weights", (NETUID, dests, weights, version_key)).await
}

fn configured(edit: impl FnOnce(&mut whetstone_localnet::Hyperparameters)) -> LocalnetConfig {
    let mut config = test_config();
    edit(&mut config.subnets[0].hyperparameters);
    config
}

#[tokio::test]
async fn set_weights_is_accepted_and_stored_max_upscaled() {
    let (node, client) = start(test_config()).await;
    let events = set_weights(&client, &dev::alice(), vec![1, 2, 3], vec![10, 20, 40], 0).await.expect("weights set");
    let (netuid, uid) = <(u16, u16)>::decode(&mut &event_fields(&events, "SubtensorModule", "WeightsSet")[..]).expect("fields");
    assert_eq!((netuid, uid), (NETUID, 0));
    assert!(event_names(&events).contains(&("System".into(), "ExtrinsicSuccess".into())));

    let row: Vec<(u16, u16)> = read(&client, "SubtensorModule", "Weights", (NETUID, 0u16)).await;
    assert_eq!(row, vec![(1, 16384), (2, 32768), (3, 65535)]);
    let last_update: Vec<u64> = read(&client, "SubtensorModule", "LastUpdate", (NETUID,)).await;
    assert_eq!(last_update[0], block_number(&client).await, "stamped with the inclusion block");
    node.stop().await;
}

#[tokio::test]
async fn set_mechanism_weights_on_the_main_mechanism_is_set_weights_and_other_mechanisms_do_not_exist() {
    let (node, client) = start(test_config()).await;
    let on_main = (NETUID, 0u8, vec![1u16, 2], vec![10u16, 40], 0u64);
    let events = submit(&client, &dev::alice(), "SubtensorModule", "set_mechanism_weights", on_main).await.expect("mechanism 0");
    let (netuid, uid) = <(u16, u16)>::decode(&mut &event_fields(&events, "SubtensorModule", "WeightsSet")[..]).expect("fields");
    assert_eq!((netuid, uid), (NETUID, 0));
    let row: Vec<(u16, u16)> = read(&client, "SubtensorModule", "Weights", (NETUID, 0u16)).await;
    assert_eq!(row, vec![(1, 16384), (2, 65535)], "the row set_weights writes");

    let on_second = (NETUID, 1u8, vec![1u16], vec![1u16], 0u64);
    let refused = submit(&client, &dev::alice(), "SubtensorModule", "set_mechanism_weights", on_second).await.expect_err("mecid 1");
    assert_eq!(module_error(&refused), "SubtensorModule::MechanismDoesNotExist");
    node.stop().await;
}

#[tokio::test]
async fn setting_weights_again_within_the_rate_limit_is_refused() {
    let (node, client) = start(configured(|h| h.weights_set_rate_limit = 5)).await;
    set_weights(&client, &dev::alice(), vec![1], vec![1], 0).await.expect("first setting");
    let refused = set_weights(&client, &dev::alice(), vec![2], vec![1], 0).await.expect_err("too soon");
    assert_eq!(module_error(&refused), "SubtensorModule::SettingWeightsTooFast");
    // The failed extrinsic is in a block; the rate limit counts from the first setting.
    node.seal_blocks(3).await;
    set_weights(&client, &dev::alice(), vec![2], vec![1], 0).await.expect("5 blocks later");
    node.stop().await;
}

#[tokio::test]
async fn a_neuron_without_a_permit_may_only_weight_itself() {
    let (node, client) = start(test_config()).await;
    let refused = set_weights(&client, &dev::bob(), vec![0, 2], vec![1, 1], 0).await.expect_err("no permit");
    assert_eq!(module_error(&refused), "SubtensorModule::NeuronNoValidatorPermit");
    set_weights(&client, &dev::bob(), vec![1], vec![7], 0).await.expect("a self weight needs no permit");
    let row: Vec<(u16, u16)> = read(&client, "SubtensorModule", "Weights", (NETUID, 1u16)).await;
    assert_eq!(row, vec![(1, 65535)]);
    node.stop().await;
}

#[tokio::test]
async fn an_old_version_key_is_refused() {
    let (node, client) = start(configured(|h| h.weights_version_key = 5)).await;
    let refused = set_weights(&client, &dev::alice(), vec![1], vec![1], 4).await.expect_err("old client");
    assert_eq!(module_error(&refused), "SubtensorModule::IncorrectWeightVersionKey");
    set_weights(&client, &dev::alice(), vec![1], vec![1], 5).await.expect("current version");
    node.stop().await;
}

#[tokio::test]
async fn malformed_weight_vectors_get_the_chains_errors() {
    let (node, client) = start(configured(|h| h.min_allowed_weights = 3)).await;
    let alice = dev::alice();
    let cases: [(Vec<u16>, Vec<u16>, &str); 4] = [
        (vec![1, 2], vec![1], "WeightVecNotEqualSize"),
        (vec![1, 1, 2], vec![1, 1, 1], "DuplicateUids"),
        (vec![1, 2, 9], vec![1, 1, 1], "UidVecContainInvalidOne"),
        (vec![1, 2], vec![1, 1], "WeightVecLengthIsLow"),
    ];
    for (dests, weights, expected) in cases {
        let refused = set_weights(&client, &alice, dests, weights, 0).await.expect_err(expected);
        assert_eq!(module_error(&refused), format!("SubtensorModule::{expected}"));
    }
    let row: Vec<(u16, u16)> = read(&client, "SubtensorModule", "Weights", (NETUID, 0u16)).await;
    assert!(row.is_empty(), "failed calls change nothing");
    node.stop().await;
}

#[tokio::test]
async fn unregistered_hotkeys_and_commit_reveal_subnets_are_refused() {
    let (node, client) = start(test_config()).await;
    let stranger = subxt_signer::sr25519::Keypair::from_uri(&"//Stranger".parse().expect("uri")).expect("key");
    let refused = set_weights(&client, &stranger, vec![0], vec![1], 0).await.expect_err("not registered");
    assert_eq!(module_error(&refused), "SubtensorModule::HotKeyNotRegisteredInSubNet");
    node.stop().await;

    let (node, client) = start(configured(|h| h.commit_reveal_weights_enabled = true)).await;
    let refused = set_weights(&client, &dev::alice(), vec![1], vec![1], 0).await.expect_err("commit-reveal is on");
    assert_eq!(module_error(&refused), "SubtensorModule::CommitRevealEnabled");
    node.stop().await;
}
