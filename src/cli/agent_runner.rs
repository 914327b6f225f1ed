//! `whetstone agent-runner`: the worker that runs miners' agents on tasks in Docker sandboxes.
//! The worker is `whetstone_agent_runner`; this module reads the inference proxy's
//! configuration and connects it to a coordinator.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use whetstone_agent_runner::RunnerConfig;
use whetstone_agent_runner::proxy::{ProxyConfig, UpstreamKey};
use whetstone_sandbox::{Ipv4Block, RunSubnets};

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
    /// The private IPv4 range each run's network (the agent and its inference relay) takes a
    /// small block of. The default avoids Docker's own pools and common LAN, cloud, Kubernetes
    /// and VPN ranges; change it only if this host routes to it (docs/deploy.md). Runners on
    /// one host may share it.
    #[arg(long, env = "WHETSTONE_RUN_NETWORK_RANGE", default_value = "10.77.0.0/16", value_name = "CIDR")]
    run_network_range: Ipv4Block,
    /// Prefix length of each run's block: 29 (8 addresses) holds the agent and its relay, and
    /// the default range then holds 8,192 run networks.
    #[arg(long, env = "WHETSTONE_RUN_NETWORK_PREFIX", default_value_t = RunSubnets::DEFAULT_BLOCK_PREFIX, value_name = "BITS")]
    run_network_prefix: u8,
}

pub async fn run(RunnerArgs { worker, proxy_config, run_network_range, run_network_prefix }: RunnerArgs) -> Result<()> {
    crate::logging::to_stderr();
    let run_subnets =
        RunSubnets::new(run_network_range, run_network_prefix).context("invalid --run-network-range or --run-network-prefix")?;
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
    let shutdown = crate::shutdown_on_signal();
    worker.serve_metrics(&shutdown).await?;
    let config = RunnerConfig {
        llm,
        signer: worker.signer.signer()?,
        worker_id: worker.worker_id("runner"),
        coordinator_urls: worker.coordinators,
        capacity: worker.capacity,
        data_dir: worker.data_dir,
        run_subnets,
    };
    whetstone_agent_runner::serve(config, shutdown).await?;
    Ok(())
}
