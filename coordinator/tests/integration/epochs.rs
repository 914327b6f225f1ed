//! Epochs over gRPC, seeded by a real localnet's block hashes: tasks published before epoch 0
//! fill its draw, agents run on it under run ids naming the epoch, `Scores.Epochs` lists what
//! a validator needs to recompute the set, the leaderboard names the epoch, and a curator's
//! fresh task with the wrong seed is refused with the seed to use.

use std::sync::Arc;

use tonic::Code;
use whetstone_chain::client::SubtensorClient;
use whetstone_chain::epochs::{EpochRules, EpochSeed, PoolTask, epoch_sets, run_epoch};
use whetstone_chain::wallet::dev::DevKey;
use whetstone_coordinator::epochs::ChainClock;
use whetstone_localnet::LocalnetConfig;
use whetstone_proto::pb;
use whetstone_tasks::{Digest, RunId};

use crate::backends::on_each_backend;
use crate::support::{Harness, eventually, starter_tasks};

on_each_backend! {
/// On both databases: the epoch tables and placements are part of the store.
async fn an_epoch_draws_from_the_pool_with_the_chains_hash_and_its_runs_name_it(db) {
    let node = whetstone_localnet::spawn(LocalnetConfig { listen: "127.0.0.1:0".parse().expect("address"), ..LocalnetConfig::default() })
        .await
        .expect("localnet");
    let chain = Arc::new(SubtensorClient::connect(&node.url).await.expect("subxt"));
    let head = chain.current_block().await.expect("head");
    let rules = EpochRules { genesis_block: head, length_blocks: 1000, draw: 2, fresh: 1, decay: 0.5 };
    let clock: Arc<dyn ChainClock> = chain.clone();
    let harness = Harness::start_on_with_clock(db, |config| config.epochs = Some(rules), Some(clock)).await;

    let published = harness.publish_tasks(3).await;
    let agent = harness.submit_agent("noop").await;
    let listing = eventually("epoch 0 is recorded", || async {
        let listing = harness.scores().epochs(pb::EpochsRequest {}).await.expect("epochs").into_inner();
        (!listing.epochs.is_empty()).then_some(listing)
    })
    .await;

    // What a validator recomputes from the listing and the chain's own block hash.
    let wire = listing.rules.expect("rules served");
    assert_eq!((wire.length_blocks, wire.draw, wire.fresh), (1000, 2, 1));
    let boundary = chain.block_hash(head).await.expect("boundary hash");
    assert_eq!(listing.epochs[0].block_hash, hex::encode(boundary));
    let pool: Vec<PoolTask> =
        listing.pool.iter().map(|p| PoolTask { task: p.task_digest.parse().expect("digest"), eligible_from: p.eligible_from }).collect();
    assert_eq!(pool.len(), 3, "every published task is in the pool");
    let sets = epoch_sets(&rules, &[EpochSeed::derive(0, &boundary)], &pool, &[]);
    assert_eq!(sets[0].drawn.len(), 2, "the draw takes two of the three");
    assert_eq!((listing.epochs[0].drawn, listing.undrawn, listing.epochs_covered), (2, 1, 0));

    // The agent runs on the epoch's set only, under run ids naming epoch 0.
    let runs = eventually("the epoch's runs are scheduled", || async {
        let runs = harness.scores().runs(pb::RunsRequest { agent_digest: agent.to_string() }).await.expect("runs").into_inner().runs;
        (runs.len() == 2).then_some(runs)
    })
    .await;
    for run in &runs {
        assert_eq!(run_epoch(&RunId::new(run.run_id.clone())), Some(0), "{}", run.run_id);
        let task: Digest = run.task_digest.parse().expect("digest");
        assert!(sets[0].contains(&task), "{} is not in epoch 0's set", run.task_id);
    }
    let left_out: Vec<&Digest> = published.iter().filter(|t| !sets[0].contains(t)).collect();
    assert_eq!(left_out.len(), 1, "one pool task waits for a later epoch");

    let board = harness.scores().leaderboard(pb::LeaderboardRequest {}).await.expect("leaderboard").into_inner();
    assert_eq!(board.epoch, Some(0));
    assert!(board.scoring.starts_with("consensus/2"), "{}", board.scoring);

    // A fresh task generated with another seed is refused, naming the seed to use.
    let seed = listing.epochs[0].generator_seed;
    let fresh = pb::PublishTaskRequest {
        bundle: starter_tasks(4)[3].bundle.to_tar().expect("tar"),
        fresh_epoch: Some(0),
        generator_seed: Some(seed ^ 1),
    };
    let refused = harness.publish(fresh.clone(), DevKey::Alice.address()).await.expect_err("wrong seed");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains(&format!("--seed {seed}")), "{}", refused.message());
    let accepted = harness
        .publish(pb::PublishTaskRequest { generator_seed: Some(seed), ..fresh }, DevKey::Alice.address())
        .await
        .expect("the right seed is accepted")
        .into_inner();
    assert_eq!(accepted.runs_scheduled, 1, "the fresh task joins the current epoch at once");
    node.stop().await;
}
}

#[tokio::test]
async fn epochs_need_a_chain_and_fresh_tasks_need_epochs() {
    let harness = Harness::start().await;
    let fresh =
        pb::PublishTaskRequest { bundle: starter_tasks(1)[0].bundle.to_tar().expect("tar"), fresh_epoch: Some(0), generator_seed: Some(1) };
    let refused = harness.publish(fresh, DevKey::Alice.address()).await.expect_err("no epochs");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("without --fresh-epoch"), "{}", refused.message());
    let listing = harness.scores().epochs(pb::EpochsRequest {}).await.expect("epochs").into_inner();
    assert!(listing.rules.is_none(), "no rules: a coordinator without epochs");

    let dir = tempfile::tempdir().expect("dir");
    let mut config = crate::support::test_config(dir.path());
    config.epochs = Some(EpochRules::default());
    let coordinator = whetstone_coordinator::Coordinator::bind(config).await.expect("binds");
    let error = coordinator.serve(tokio_util::sync::CancellationToken::new()).await.expect_err("no chain for the clock");
    assert!(error.to_string().contains("--chain.endpoint"), "{error}");
}
