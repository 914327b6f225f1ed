//! `whetstone validator`: the worker that grades patches in fresh Docker sandboxes and, with
//! `--chain.endpoint`, sets weights on chain from the verdict ledger: it reads every signed
//! verdict from the coordinator, verifies each against the chain's metagraph and scores the
//! miners itself (`whetstone_validator::Evaluation`), so the coordinator's own leaderboard
//! never enters its weights. The grading is `whetstone_validator`; this module connects it to
//! a coordinator and runs the weight loop beside it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio_util::sync::CancellationToken;
use whetstone_chain::client::SubtensorClient;
use whetstone_chain::wallet::HotkeyPair;
use whetstone_validator::{ScoringOptions, ValidatorConfig};

use super::connect::WorkerArgs;

#[derive(Debug, Args)]
pub struct ValidatorArgs {
    #[command(flatten)]
    worker: WorkerArgs,
    #[command(flatten)]
    weights: WeightLoopArgs,
}

/// How `whetstone validator` sets weights on chain.
#[derive(Debug, Args)]
struct WeightLoopArgs {
    /// Set weights on this subtensor node (a ws:// or wss:// URL, or `finney`, `test`,
    /// `local`) every --weights-interval, signed with the wallet's hotkey. The weights are
    /// computed here from the coordinator's signed verdict ledger, each verdict checked
    /// against the validators with a permit on chain; the coordinator's leaderboard is not
    /// used. Without it the validator grades but sets no weights.
    #[arg(long = "chain.endpoint", env = "WHETSTONE_CHAIN_ENDPOINT", value_name = "URL")]
    endpoint: Option<String>,
    /// The subnet to set weights on.
    #[arg(long, env = "WHETSTONE_NETUID", default_value_t = 1)]
    netuid: u16,
    /// Seconds between weight settings (finney's usual rate limit is 100 blocks, 20 minutes).
    #[arg(long, default_value_t = 1200, value_name = "SECS")]
    weights_interval: u64,
    /// How many different validators must have graded a run before it counts for anyone's
    /// weights. A run with fewer verdicts is pending and scores for nobody; with enough, its
    /// result is the stake-weighted majority. Default: 2, or 1 when the subnet has a single
    /// validator with a permit. Raise it to trust no pair of validators alone; keep it at or
    /// below the number of permit holders, or no run can ever count.
    #[arg(long, env = "WHETSTONE_QUORUM", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    quorum: Option<u32>,
    /// On runs this validator graded itself, use its own verdict instead of the majority's
    /// (runs it did not grade still need the quorum). For a cautious operator who trusts its
    /// own grading over other validators': a run it graded counts even before a quorum
    /// forms, and a majority that disagrees with it does not move its weights.
    #[arg(long, env = "WHETSTONE_OWN_VERDICTS_FIRST")]
    own_verdicts_first: bool,
}

pub async fn run(ValidatorArgs { worker, weights }: ValidatorArgs) -> Result<()> {
    crate::logging::to_stderr();
    let shutdown = crate::shutdown_on_signal();
    worker.serve_metrics(&shutdown).await?;
    // The weight loop reads the verdict ledger from the first coordinator (any has all of it).
    let ledger_from = worker.coordinators.first().context("name a coordinator with --coordinator")?;
    let weight_loop = start_weight_loop(&weights, ledger_from, worker.signer.wallet.load()?, &worker.data_dir, shutdown.clone()).await?;
    let config = ValidatorConfig {
        signer: worker.signer.signer()?,
        worker_id: worker.worker_id("validator"),
        coordinator_urls: worker.coordinators,
        capacity: worker.capacity,
        data_dir: worker.data_dir,
    };
    let served = whetstone_validator::serve(config, shutdown.clone()).await;
    shutdown.cancel();
    if let Some(weight_loop) = weight_loop {
        let _ = weight_loop.await;
    }
    served?;
    Ok(())
}

/// Connects to the chain and the coordinator and starts setting weights on a timer, when
/// `--chain.endpoint` is given. Accepted submissions are appended to
/// `<data_dir>/weights.jsonl`, the audit log.
async fn start_weight_loop(
    args: &WeightLoopArgs,
    coordinator_url: &str,
    signer: HotkeyPair,
    data_dir: &Path,
    shutdown: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(endpoint) = &args.endpoint else {
        tracing::info!("no --chain.endpoint: weights are not set on chain");
        return Ok(None);
    };
    let chain = Arc::new(SubtensorClient::connect(endpoint).await?);
    let scores = whetstone::client::CoordinatorClient::connect(coordinator_url).await?.scores();
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let audit = whetstone_chain::FileLedger::new(data_dir.join("weights.jsonl"));
    let (netuid, interval) = (args.netuid, Duration::from_secs(args.weights_interval.max(1)));
    let options = ScoringOptions { quorum: args.quorum, own_first: args.own_verdicts_first };
    tracing::info!(
        endpoint = %chain.url(),
        netuid,
        interval_secs = interval.as_secs(),
        quorum = ?options.quorum,
        own_verdicts_first = options.own_first,
        audit = %audit.path().display(),
        "setting weights on chain from the verdict ledger"
    );
    Ok(Some(tokio::spawn(async move {
        whetstone_validator::run_weight_loop(scores, &chain, &signer, netuid, &audit, interval, options, shutdown).await;
    })))
}
