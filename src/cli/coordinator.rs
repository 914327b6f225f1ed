//! `whetstone coordinator`: the gRPC server agents, tasks and workers talk to. The server is
//! `whetstone_coordinator`; this module reads its configuration, applies the flags and, when
//! membership comes from the chain, keeps the subnet's metagraph synced for it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio_util::sync::CancellationToken;
use whetstone_chain::client::{DEFAULT_ENDPOINT, SubtensorClient};
use whetstone_coordinator::auth::MembershipPolicy;
use whetstone_coordinator::{BlobUrl, Coordinator, CoordinatorConfig, DatabaseUrl};

#[derive(Debug, Args)]
pub struct CoordinatorArgs {
    /// TOML configuration (see coordinator/src/config.rs for every field and its default).
    #[arg(long, env = "WHETSTONE_COORDINATOR_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address; overrides the configuration.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data directory; overrides the configuration.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The database: postgres://USER:PASSWORD@HOST:PORT/DB for PostgreSQL (several
    /// coordinators may share one; docs/deploy.md), or the path of an SQLite file. Overrides
    /// the configuration's `database`; default: coordinator.db in the data directory.
    #[arg(long, env = "WHETSTONE_DATABASE", value_name = "URL")]
    database: Option<DatabaseUrl>,
    /// Where agent packages and task bundles are kept: a directory (a path or file:///…), or
    /// s3://bucket/prefix on any S3-compatible store, with credentials, region and endpoint
    /// from the usual AWS_* variables (docs/deploy.md). Overrides `[blobs] url`; default: the
    /// data directory's blobs/.
    #[arg(long, env = "WHETSTONE_BLOBS", value_name = "URL")]
    blobs: Option<BlobUrl>,
    /// This coordinator's hotkey (SS58): clients sign their requests for it (their
    /// `--coordinator-hotkey`). Overrides `[auth] hotkey`; required unless the configuration's
    /// `[auth] membership` is "dev" or "allow_all".
    #[arg(long, env = "WHETSTONE_COORDINATOR_HOTKEY", value_name = "SS58")]
    hotkey: Option<String>,
    /// Where the coordinator's HTTP port listens: the developers' solve API (keys for it:
    /// `whetstone keys create NAME`), the dashboard's web pages at `/` and Prometheus metrics
    /// at `/metrics`. Overrides `[solve] listen`. Default 127.0.0.1:50052.
    #[arg(long, value_name = "ADDR")]
    solve_listen: Option<SocketAddr>,
    #[command(flatten)]
    chain: SyncArgs,
}

/// Where `whetstone coordinator` serves the solve API when neither flag nor file says.
pub const DEFAULT_SOLVE_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 50052);

/// Where `whetstone coordinator` syncs the subnet's metagraph from, when its `[auth]`
/// membership is `"chain"` (the default).
#[derive(Debug, Args)]
struct SyncArgs {
    /// The subtensor node the metagraph (who is registered, who holds a validator permit) is
    /// synced from, and with `[epochs]` the node whose block hashes seed each epoch: a ws:// or
    /// wss:// URL, or `finney`, `test`, `local`.
    #[arg(long = "chain.endpoint", env = "WHETSTONE_CHAIN_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL")]
    endpoint: String,
    /// The subnet whose metagraph decides membership.
    #[arg(long, env = "WHETSTONE_NETUID", default_value_t = 1)]
    netuid: u16,
    /// Seconds between metagraph refreshes.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    metagraph_interval: u64,
}

pub async fn run(args: CoordinatorArgs) -> Result<()> {
    crate::logging::to_stderr();
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{} is not a valid coordinator configuration", path.display()))?
        }
        None => CoordinatorConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(database) = args.database {
        config.database = Some(database);
    }
    if let Some(blobs) = args.blobs {
        config.blobs.url = Some(blobs);
    }
    match args.solve_listen {
        Some(addr) => config.solve.listen = Some(addr),
        None if config.solve.listen.is_none() => config.solve.listen = Some(DEFAULT_SOLVE_LISTEN.into()),
        None => {}
    }
    if let Some(hotkey) = args.hotkey {
        config.auth.hotkey = Some(hotkey);
    }
    let epochs = config.epochs;
    let shutdown = crate::shutdown_on_signal();
    let (coordinator, sync) = if config.auth.membership == MembershipPolicy::Chain {
        let (metagraph, sync) = start_metagraph_sync(&args.chain, shutdown.clone()).await?;
        let membership = Arc::new(metagraph.clone());
        let coordinator = Coordinator::bind_with_membership(config, Some(membership)).await?;
        (coordinator.with_chain_view(metagraph), Some(sync))
    } else {
        (Coordinator::bind(config).await?, None)
    };
    let coordinator = match epochs {
        Some(rules) => {
            let client = SubtensorClient::connect(&args.chain.endpoint).await.with_context(|| {
                format!("[epochs] seeds each epoch with the chain's block hash at its boundary; start a node (e.g. `whetstone localnet`) or point --chain.endpoint at one ({})", args.chain.endpoint)
            })?;
            tracing::info!(rules = %rules.describe(), chain = client.url(), "running in epochs");
            coordinator.with_epoch_clock(Arc::new(client))
        }
        None => coordinator,
    };
    tracing::info!("coordinator listening on {}", coordinator.local_addr()?);
    if let Some(addr) = coordinator.solve_addr() {
        tracing::info!("solve API on http://{addr} (described at /v1/openapi.json); dashboard at http://{addr}/");
    }
    let served = coordinator.serve(shutdown.clone()).await;
    shutdown.cancel();
    if let Some(sync) = sync {
        let _ = sync.await;
    }
    served?;
    Ok(())
}

/// Connects to the chain, starts the metagraph sync and waits (up to a minute) for its first
/// snapshot, so the coordinator never starts with nobody registered.
async fn start_metagraph_sync(
    args: &SyncArgs,
    shutdown: CancellationToken,
) -> Result<(whetstone_chain::sync::SharedMetagraph, tokio::task::JoinHandle<()>)> {
    let client = Arc::new(SubtensorClient::connect(&args.endpoint).await.context(
        "the coordinator's [auth] membership is \"chain\" and needs the subnet's metagraph; start a node (e.g. `whetstone localnet`) or point --chain.endpoint at one",
    )?);
    if !client.subnet_exists(args.netuid).await? {
        bail!("subnet {} does not exist on {}; check --netuid", args.netuid, client.url());
    }
    let interval = Duration::from_secs(args.metagraph_interval.max(1));
    let (mut metagraph, task) = whetstone_chain::sync::spawn(client.clone(), args.netuid, interval, shutdown);
    tokio::time::timeout(Duration::from_secs(60), metagraph.changed())
        .await
        .ok()
        .flatten()
        .with_context(|| format!("no metagraph of subnet {} from {} within a minute; see the log for why", args.netuid, client.url()))?;
    Ok((metagraph, task))
}
