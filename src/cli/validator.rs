//! `whetstone validator`: the worker that grades patches in fresh Docker sandboxes and, with
//! `--chain.endpoint`, sets weights on chain from the coordinator's leaderboard. The grading
//! is `whetstone_validator`; this module connects it to a coordinator and runs the weight loop
//! beside it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio_util::sync::CancellationToken;
use whetstone_chain::client::SubtensorClient;
use whetstone_chain::wallet::HotkeyPair;
use whetstone_validator::ValidatorConfig;

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
    /// `local`) every --weights-interval, from the coordinator's leaderboard, signed with the
    /// wallet's hotkey. Without it the validator grades but sets no weights.
    #[arg(long = "chain.endpoint", env = "WHETSTONE_CHAIN_ENDPOINT", value_name = "URL")]
    endpoint: Option<String>,
    /// The subnet to set weights on.
    #[arg(long, env = "WHETSTONE_NETUID", default_value_t = 1)]
    netuid: u16,
    /// Seconds between weight settings (finney's usual rate limit is 100 blocks, 20 minutes).
    #[arg(long, default_value_t = 1200, value_name = "SECS")]
    weights_interval: u64,
}

pub async fn run(ValidatorArgs { worker, weights }: ValidatorArgs) -> Result<()> {
    crate::init_logging_to_stderr();
    let shutdown = crate::shutdown_on_signal();
    let weight_loop =
        start_weight_loop(&weights, &worker.connect.coordinator, worker.signer.wallet.load()?, &worker.data_dir, shutdown.clone()).await?;
    let config = ValidatorConfig {
        signer: worker.signer.signer()?,
        worker_id: worker.worker_id("validator"),
        coordinator_url: worker.connect.coordinator,
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
    tracing::info!(endpoint = %chain.url(), netuid, interval_secs = interval.as_secs(), audit = %audit.path().display(), "setting weights on chain");
    Ok(Some(tokio::spawn(async move {
        whetstone_validator::run_weight_loop(scores, &chain, &signer, netuid, &audit, interval, shutdown).await;
    })))
}
