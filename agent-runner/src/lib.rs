//! The agent-runner: a worker that runs miners' agents on tasks in Docker sandboxes.
//!
//! For each run it fetches the task and the agent package by digest, commits the task's repo
//! as a single fresh commit (git2), starts the agent in a single-use container from the task
//! image with no network and the run's limits, and when the agent exits or its deadline
//! passes, takes `git diff --binary` of what it left against that commit. The contract an
//! agent sees is in `AGENT_CONTRACT.md`.

pub mod proxy;
mod run;

use std::path::PathBuf;
use std::sync::Arc;

pub use run::{AgentRunner, run_agent};
use tokio_util::sync::CancellationToken;
use whetstone_proto::fetch::Fetcher;
use whetstone_proto::job::Capability;
use whetstone_proto::worker::{WorkerConfig, run_worker};
use whetstone_sandbox::{Sandbox, SandboxError};

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// e.g. `http://127.0.0.1:50051`.
    pub coordinator_url: String,
    pub worker_id: String,
    pub hotkey: String,
    /// Agents run at once.
    pub capacity: u32,
    /// Cache of fetched tasks and agents.
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("invalid coordinator address {0:?}")]
    BadUrl(String, #[source] tonic::transport::Error),
}

/// Connects to Docker, clears containers a previous runner with this id left behind, and
/// serves the coordinator until `shutdown`.
pub async fn serve(config: RunnerConfig, shutdown: CancellationToken) -> Result<(), RunnerError> {
    let sandbox = Sandbox::connect(&config.worker_id).await?;
    let removed = sandbox.remove_orphans(whetstone_sandbox::OrphanScope::ThisOwner).await?;
    if removed > 0 {
        tracing::info!(removed, "removed containers and networks left by a previous run of this worker");
    }
    // Catches what a crash between container creation and its guard could still leave.
    let janitor = sandbox.spawn_janitor(whetstone_sandbox::JanitorConfig::default(), shutdown.clone());
    let fetcher = Fetcher::connect_lazy(&config.coordinator_url, config.data_dir.join("cache"))
        .map_err(|e| RunnerError::BadUrl(config.coordinator_url.clone(), e))?;
    let runner = AgentRunner::new(sandbox, fetcher);
    let worker = WorkerConfig {
        coordinator_url: config.coordinator_url,
        worker_id: config.worker_id,
        hotkey: config.hotkey,
        capabilities: vec![Capability::RunAgent],
        capacity: config.capacity,
        reconnect_delay: std::time::Duration::from_millis(500),
    };
    run_worker(worker, Arc::new(runner), shutdown).await;
    let _ = janitor.await;
    Ok(())
}
