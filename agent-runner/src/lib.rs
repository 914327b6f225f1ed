//! The agent-runner: a worker that runs miners' agents on tasks in Docker sandboxes.
//!
//! For each run it fetches the task and the agent package by digest, commits the task's repo
//! as a single fresh commit (git2), starts the agent in a single-use container from the task
//! image with no network and the run's limits, and when the agent exits or its deadline
//! passes, takes `git diff --binary` of what it left against that commit. The contract an
//! agent sees is in `AGENT_CONTRACT.md`.

mod gateway;
pub mod proxy;
mod run;
pub mod scripted;
mod solve;

use std::path::PathBuf;
use std::sync::Arc;

pub use gateway::{GatewayError, InferenceGateway, task_seed};
pub use run::{AgentRunner, LlmAccess, agent_image, agent_limits, run_agent, run_agent_with_llm};
pub use solve::{SOLVE_DOCKERFILE, snapshot_task};
use tokio_util::sync::CancellationToken;
use whetstone_proto::fetch::Fetcher;
use whetstone_proto::job::Capability;
use whetstone_proto::worker::{WorkerConfig, run_worker};
use whetstone_sandbox::{RunSubnets, Sandbox, SandboxError};

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// e.g. `http://127.0.0.1:50051`; several coordinators sharing one database are used in
    /// turn, moving on when one goes away (`whetstone_proto::worker`).
    pub coordinator_urls: Vec<String>,
    pub worker_id: String,
    /// Signs the session's hello with the operator's hotkey (see `whetstone_proto::auth`).
    pub signer: whetstone_proto::auth::RequestSigner,
    /// Agents run at once.
    pub capacity: u32,
    /// Cache of fetched tasks and agents.
    pub data_dir: PathBuf,
    /// The inference proxy's upstream, allowlist and prices, with the operator's key. `None`
    /// gives agents no LLM access (and no network) whatever their budget.
    pub llm: Option<(proxy::ProxyConfig, proxy::UpstreamKey)>,
    /// Where runs' networks take their addresses (only runs with an LLM budget get one).
    /// Default ([`RunSubnets::default`]): 10.77.0.0/16 in /29 blocks, 8,192 networks.
    pub run_subnets: RunSubnets,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("invalid coordinator address {0:?}")]
    BadUrl(String, #[source] tonic::transport::Error),
    #[error("failed to start the inference proxy")]
    Gateway(#[from] GatewayError),
}

/// Connects to Docker, clears containers a previous runner with this id left behind, and
/// serves the coordinator until `shutdown`.
pub async fn serve(config: RunnerConfig, shutdown: CancellationToken) -> Result<(), RunnerError> {
    let sandbox = Sandbox::connect(&config.worker_id).await?.with_run_subnets(config.run_subnets);
    let removed = sandbox.remove_orphans(whetstone_sandbox::OrphanScope::ThisOwner).await?;
    if removed > 0 {
        tracing::info!(removed, "removed containers and networks left by a previous run of this worker");
    }
    // Catches what a crash between container creation and its guard could still leave.
    let janitor = sandbox.spawn_janitor(whetstone_sandbox::JanitorConfig::default(), shutdown.clone());
    let fetcher = Fetcher::connect_lazy_any(&config.coordinator_urls, config.signer.clone(), config.data_dir.join("cache"))
        .map_err(|e| RunnerError::BadUrl(config.coordinator_urls.join(","), e))?;
    let gateway = match config.llm {
        Some((proxy_config, key)) => Some(Arc::new(InferenceGateway::start(&sandbox, proxy_config, key).await?)),
        None => None,
    };
    let mut runner = AgentRunner::new(sandbox, fetcher);
    if let Some(gateway) = &gateway {
        tracing::info!(proxy = %gateway.proxy_addr(), run_networks = %config.run_subnets, "agents reach the inference proxy through per-run relays");
        runner = runner.with_gateway(Arc::clone(gateway));
    }
    let worker = WorkerConfig {
        coordinator_urls: config.coordinator_urls,
        worker_id: config.worker_id,
        signer: config.signer,
        capabilities: vec![Capability::RunAgent],
        capacity: config.capacity,
        reconnect_delay: std::time::Duration::from_millis(500),
    };
    run_worker(worker, Arc::new(runner), shutdown).await;
    if let Some(gateway) = gateway.and_then(Arc::into_inner) {
        gateway.shutdown().await;
    }
    let _ = janitor.await;
    Ok(())
}
