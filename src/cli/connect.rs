//! Reaching a coordinator: its URL, the hotkey that signs requests for it, and the options
//! every worker (agent-runner, validator) shares. Used by the client commands (`agent submit`,
//! `runs`, `tasks publish`, `leaderboard`) and the workers.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Coordinator URL.
    #[arg(long, env = "WHETSTONE_COORDINATOR", default_value = "http://127.0.0.1:50051")]
    pub coordinator: String,
}

/// Who signs the requests, and for which coordinator.
#[derive(Debug, Args)]
pub struct SignerArgs {
    #[command(flatten)]
    pub wallet: whetstone_chain::wallet::WalletArgs,
    /// The coordinator's hotkey (SS58). Requests are signed for it, so they cannot be replayed
    /// to another server; a coordinator that is someone else names its hotkey in its refusal.
    /// Default: devnet's coordinator (dev key Alice).
    #[arg(long, env = "WHETSTONE_COORDINATOR_HOTKEY", default_value = whetstone::dev_keys::ALICE, value_name = "SS58")]
    coordinator_hotkey: String,
}

impl SignerArgs {
    /// Loads the hotkey (from the wallet, or the dev key) and binds it to the coordinator.
    pub fn signer(&self) -> Result<whetstone_proto::auth::RequestSigner> {
        let source = self.wallet.source()?;
        let pair = source.load().with_context(|| {
            format!(
                "cannot load the hotkey to sign with ({}); choose it with --wallet.name/--wallet.hotkey/--wallet.path, or --dev-key on a devnet",
                source.describe()
            )
        })?;
        let coordinator = whetstone_tasks::Hotkey::parse(&self.coordinator_hotkey).context("invalid --coordinator-hotkey")?;
        Ok(whetstone_proto::auth::RequestSigner::new(pair, coordinator))
    }
}

/// The options of `whetstone agent-runner` and `whetstone validator`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Coordinator URL. Repeat the flag (or separate URLs with commas) to name several
    /// coordinators sharing one database: the worker uses one at a time and moves to the next
    /// when its coordinator stops answering, keeping its running jobs.
    #[arg(
        long = "coordinator",
        env = "WHETSTONE_COORDINATOR",
        default_value = "http://127.0.0.1:50051",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub coordinators: Vec<String>,
    /// Stable worker name; leases survive reconnects under the same name.
    #[arg(long, env = "WHETSTONE_WORKER_ID")]
    worker_id: Option<String>,
    /// The operator's hotkey signs the session's hello; grading (and running agents) needs
    /// a validator permit on the subnet.
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Jobs run at once.
    #[arg(long, default_value_t = 2)]
    pub capacity: u32,
    /// Cache directory for fetched tasks and agents.
    #[arg(long, env = "WHETSTONE_DATA_DIR", default_value = ".whetstone/worker")]
    pub data_dir: PathBuf,
    /// Serve Prometheus metrics at http://ADDR/metrics (jobs by outcome, job durations,
    /// containers started and failed, LLM calls and spend, weight submissions). Off unless
    /// given; keep it on loopback (e.g. 127.0.0.1:9184) unless a scraper elsewhere needs it.
    #[arg(long, env = "WHETSTONE_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl WorkerArgs {
    /// Starts the `/metrics` listener when `--metrics-addr` is given; it stops with `shutdown`.
    pub async fn serve_metrics(&self, shutdown: &tokio_util::sync::CancellationToken) -> Result<()> {
        if let Some(addr) = self.metrics_addr {
            whetstone_proto::telemetry::serve(addr, shutdown.clone())
                .await
                .with_context(|| format!("cannot serve metrics on {addr}; choose another --metrics-addr"))?;
        }
        Ok(())
    }

    /// `--worker-id`, or `<role>-<hostname>`.
    pub fn worker_id(&self, role: &str) -> String {
        self.worker_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "local".into());
            format!("{role}-{host}")
        })
    }
}
