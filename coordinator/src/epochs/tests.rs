//! The epoch clock against a real localnet and a real SQLite store: boundaries are read from
//! the chain as blocks are sealed, each epoch draws its own pool tasks, runs name their
//! epoch, and a curator's fresh task is refused with the seed to use.

use whetstone_chain::epochs::run_epoch;
use whetstone_localnet::LocalnetConfig;
use whetstone_tasks::{Digest, Hotkey};

use super::*;
use crate::store::{DatabaseUrl, NewAgent, NewTask, SqlStore};

async fn localnet() -> (whetstone_localnet::LocalnetHandle, SubtensorClient) {
    let config = LocalnetConfig { listen: "127.0.0.1:0".parse().expect("address"), ..LocalnetConfig::default() };
    let node = whetstone_localnet::spawn(config).await.expect("localnet starts");
    let client = SubtensorClient::connect(&node.url).await.expect("subxt connects");
    (node, client)
}

#[tokio::test]
async fn the_clock_records_boundaries_from_the_chain_and_each_epoch_draws_its_own_tasks() {
    let (node, client) = localnet().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqlStore::open(&DatabaseUrl::Sqlite(dir.path().join("coordinator.db"))).await.expect("store");
    let head = client.current_block().await.expect("head");
    let rules = EpochRules { genesis_block: head, length_blocks: 3, draw: 2, fresh: 1, decay: 0.5 };

    // Five pool tasks published before epoch 0; the first two epochs draw two each.
    for n in 0..5u8 {
        let digest = Digest::of_bytes(&[n]);
        store.insert_task(&NewTask { digest: digest.clone(), task_id: format!("t{n}"), timeout_secs: 60 }).await.expect("task");
        let view = EpochView::load(&store, rules).await.expect("view");
        let placement = view.placement(None, None).expect("pool");
        assert_eq!(placement, Placement::Pool { eligible_from: 0 });
        assert!(store.place_task(&digest, placement).await.expect("place"));
    }
    let agent = NewAgent {
        digest: Digest::of_bytes(b"agent"),
        name: "a".into(),
        version: "1".into(),
        hotkey: Hotkey::new("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"),
        claimed_at_ms: 1,
        claim_signature: vec![0; 64],
    };
    store.insert_agent(&agent).await.expect("agent");
    assert_eq!(schedule_runs(&store, Some(rules)).await.expect("schedule"), 0, "no epoch yet: nothing to run");

    let (_, recorded) = advance(&store, &rules, &client).await.expect("advance");
    assert_eq!(recorded, [0]);
    let view = EpochView::load(&store, rules).await.expect("view");
    assert_eq!(view.rows[0].block_hash, client.block_hash(head).await.expect("hash"), "the boundary hash is the chain's");
    let first = view.current().expect("epoch 0").clone();
    assert_eq!(first.drawn.len(), 2);
    assert_eq!(view.coverage().epochs, 1, "three undrawn tasks fill one more epoch of two");
    assert_eq!(schedule_runs(&store, Some(rules)).await.expect("schedule"), 2);

    node.seal_blocks(3).await;
    let (_, recorded) = advance(&store, &rules, &client).await.expect("advance");
    assert_eq!(recorded, [1]);
    let view = EpochView::load(&store, rules).await.expect("view");
    let second = view.current().expect("epoch 1").clone();
    assert_eq!(second.drawn.len(), 2);
    assert!(second.drawn.iter().all(|t| !first.contains(t)), "a pool task is drawn once");
    assert_eq!(schedule_runs(&store, Some(rules)).await.expect("schedule"), 2, "the agent meets the new epoch's tasks");
    let runs = store.run_records(None).await.expect("runs");
    for run in &runs {
        let epoch = run_epoch(&run.run_id).expect("run ids name their epoch");
        assert!(view.sets[usize::try_from(epoch).expect("small")].contains(&run.task), "{} ran outside its epoch", run.run_id);
    }

    // Fresh tasks: only the current epoch, only with its generator seed, at most `fresh`.
    let seed = second.seed.generator_seed();
    let wrong = view.placement(Some(1), Some(seed ^ 1)).expect_err("wrong seed");
    assert!(wrong.contains(&format!("--seed {seed}")), "{wrong}");
    let stale = view.placement(Some(0), Some(first.seed.generator_seed())).expect_err("old epoch");
    assert!(stale.contains("current epoch, 1"), "{stale}");
    assert_eq!(view.placement(Some(1), Some(seed)), Ok(Placement::Fresh { epoch: 1, generator_seed: seed }));
    let fresh = Digest::of_bytes(b"fresh");
    store.insert_task(&NewTask { digest: fresh.clone(), task_id: "fresh".into(), timeout_secs: 60 }).await.expect("task");
    assert!(store.place_task(&fresh, Placement::Fresh { epoch: 1, generator_seed: seed }).await.expect("place"));
    let view = EpochView::load(&store, rules).await.expect("view");
    assert_eq!(view.current().map(|s| s.fresh.clone()), Some(vec![fresh]));
    let full = view.placement(Some(1), Some(seed)).expect_err("full");
    assert!(full.contains("already has its 1 fresh tasks"), "{full}");
    assert_eq!(schedule_runs(&store, Some(rules)).await.expect("schedule"), 1);

    // A pool task published now waits for the next epoch, whose draw is not made yet.
    assert_eq!(view.pool_placement(), 2);
    store.close().await;
    node.stop().await;
}
