//! `whetstone agent-runner`: the worker that runs miners' agents on tasks in Docker sandboxes.
//! The worker is `whetstone_agent_runner`; this module reads the inference proxy's
//! configuration and connects it to a coordinator.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use whetstone_agent_runner::RunnerConfig;
use whetstone_agent_runner::proxy::{ProxyConfig, UpstreamKey};

use super::connect::WorkerArgs;

#[derive(Debug, Args)]
pub struct RunnerArgs {
    #[command(flatten)]
    worker: WorkerArgs,
    /// The inference proxy's config (TOML: upstream_base_url, upstream_api_key_env, the model
    /// allowlist with prices; see agent-runner/AGENT_CONTRACT.md). Without it agents get no
    /// LLM access and no network at all.
    #[arg(long, env = "WHETSTONE_PROXY_CONFIG")]
    proxy_config: Option<PathBuf>,
}

pub async fn run(RunnerArgs { worker, proxy_config }: RunnerArgs) -> Result<()> {
    crate::init_logging_to_stderr();
    let llm = match proxy_config {
        Some(path) => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
            let config: ProxyConfig =
                toml::from_str(&text).with_context(|| format!("{} is not a valid proxy configuration", path.display()))?;
            let key = UpstreamKey::from_env(&config)?;
            Some((config, key))
        }
        None => None,
    };
    let config = RunnerConfig {
        llm,
        signer: worker.signer.signer()?,
        worker_id: worker.worker_id("runner"),
        coordinator_url: worker.connect.coordinator,
        capacity: worker.capacity,
        data_dir: worker.data_dir,
    };
    whetstone_agent_runner::serve(config, crate::shutdown_on_signal()).await?;
    Ok(())
}
