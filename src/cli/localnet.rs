//! `whetstone localnet`: run a local subtensor-compatible chain for devnet and tests. The node
//! is `whetstone_localnet`; this module turns options and an optional config file into its
//! configuration, prints what the chain holds, and runs it until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use whetstone_localnet::{LocalnetConfig, SubnetConfig, TAO};

/// The long help of `whetstone localnet --help` (the `Command` variant in cli/mod.rs uses it).
pub const LONG_ABOUT: &str = "Run a local subtensor-compatible chain on this machine, for devnet and tests.

It speaks the substrate JSON-RPC a subxt client (and `whetstone chain …`) uses, over WebSocket and \
HTTP on one port, and serves runtime metadata whose SubtensorModule calls, storage items, events and \
errors are named and shaped as on finney. Signed transactions are checked as a real node checks them \
(sr25519 signature, nonce, mortality) and set_weights, commit_timelocked_weights (and their mechanism-0 \
forms set_mechanism_weights, commit_timelocked_mechanism_weights) and burned_register \
follow subtensor's rules and report its errors (SettingWeightsTooFast, NeuronNoValidatorPermit, …).

Blocks: one block per transaction, sealed and final at once; --block-time-ms also seals empty blocks \
on a timer so epochs pass and timelocked commits get revealed. A local drand beacon publishes a pulse \
every 3 s and the chain reveals commits with it. State lives in memory only.

Without a config file the genesis is subnet 1 with //Alice (uid 0) and //Ferdie (uid 5) as \
validators (permits; 1000 and 600 TAO of stake) and //Bob, //Charlie, //Dave, //Eve (uids 1-4) as \
miners, each account holding \
1,000,000 TAO. `whetstone localnet --print-config` prints that configuration as TOML: edit it and \
pass it back with --config.

Then, in another terminal: whetstone chain metagraph   (defaults to ws://127.0.0.1:9944)";

/// Options of `whetstone localnet`. Flags override the config file; subnet flags apply to
/// the first subnet.
#[derive(Debug, Args)]
pub struct LocalnetArgs {
    /// Configuration file (TOML, or JSON if it ends in .json): listen address, block timer,
    /// accounts, subnets with their neurons and hyperparameters, drand beacon. Every field is
    /// optional; see --print-config for all of them with their defaults.
    #[arg(long, env = "WHETSTONE_LOCALNET_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address of the JSON-RPC server (WebSocket and HTTP). Default 127.0.0.1:9944.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Also seal an empty block every this many milliseconds (0: only when a transaction
    /// arrives). Default 0.
    #[arg(long, value_name = "MS")]
    block_time_ms: Option<u64>,
    /// Netuid of the first subnet. Default 1.
    #[arg(long)]
    netuid: Option<u16>,
    /// Blocks per epoch of the first subnet. Default 10.
    #[arg(long, value_name = "BLOCKS")]
    tempo: Option<u16>,
    /// Blocks a neuron of the first subnet waits between weight settings. Default 100.
    #[arg(long, value_name = "BLOCKS")]
    weights_rate_limit: Option<u64>,
    /// Lowest weights version key the first subnet accepts. Default 0 (any).
    #[arg(long, value_name = "KEY")]
    weights_version_key: Option<u64>,
    /// Require commit_timelocked_weights instead of set_weights on the first subnet.
    #[arg(long)]
    commit_reveal: bool,
    /// Run without the local drand beacon: timelocked commits are stored but never revealed.
    #[arg(long)]
    no_drand: bool,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

impl LocalnetArgs {
    fn config(&self) -> Result<LocalnetConfig> {
        let mut config = match &self.config {
            Some(path) => LocalnetConfig::load(path)?,
            None => LocalnetConfig::default(),
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(ms) = self.block_time_ms {
            config.block_interval_ms = ms;
        }
        if self.no_drand {
            config.drand.enabled = false;
        }
        let subnet_flags = self.netuid.is_some()
            || self.tempo.is_some()
            || self.weights_rate_limit.is_some()
            || self.weights_version_key.is_some()
            || self.commit_reveal;
        if subnet_flags {
            if config.subnets.is_empty() {
                config.subnets.push(SubnetConfig::default_devnet());
            }
            let subnet = &mut config.subnets[0];
            if let Some(netuid) = self.netuid {
                subnet.netuid = netuid;
            }
            let params = &mut subnet.hyperparameters;
            if let Some(tempo) = self.tempo {
                params.tempo = tempo;
            }
            if let Some(limit) = self.weights_rate_limit {
                params.weights_set_rate_limit = limit;
            }
            if let Some(key) = self.weights_version_key {
                params.weights_version_key = key;
            }
            if self.commit_reveal {
                params.commit_reveal_weights_enabled = true;
            }
        }
        config.validate()?;
        Ok(config)
    }
}

pub async fn run(args: LocalnetArgs) -> Result<()> {
    let config = args.config()?;
    if args.print_config {
        print!("{}", toml::to_string_pretty(&config).context("failed to print the configuration")?);
        return Ok(());
    }
    crate::logging::to_stderr();
    let node = whetstone_localnet::spawn(config.clone()).await?;
    println!("localnet listening on {} (HTTP: {})", node.url, node.http_url);
    println!("genesis {:?}", node.genesis_hash);
    for subnet in &config.subnets {
        println!("{}", subnet_summary(subnet)?);
    }
    println!("{}", sealing_summary(&config));
    println!("Ctrl-C stops the chain (its state is not kept).");
    let shutdown = crate::shutdown_on_signal();
    let stop = node.shutdown.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stop.cancel();
    });
    node.stopped().await;
    Ok(())
}

fn sealing_summary(config: &LocalnetConfig) -> String {
    let blocks = match config.block_interval_ms {
        0 => "a block per transaction".to_owned(),
        ms => format!("a block per transaction and an empty block every {ms} ms"),
    };
    let drand = if config.drand.enabled {
        format!("local drand beacon: a pulse every {} s", config.drand.period_secs)
    } else {
        "no drand beacon: timelocked commits are never revealed".to_owned()
    };
    format!("{blocks}; {drand}")
}

/// The subnet's hyperparameters on one line and its neurons as a table.
fn subnet_summary(subnet: &SubnetConfig) -> Result<String> {
    let p = &subnet.hyperparameters;
    let mut out = format!(
        "subnet {}: tempo {}, weights rate limit {}, version key {}, min weights {}, commit-reveal {}\n",
        subnet.netuid,
        p.tempo,
        p.weights_set_rate_limit,
        p.weights_version_key,
        p.min_allowed_weights,
        if p.commit_reveal_weights_enabled { "on" } else { "off" },
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["uid", "hotkey", "as", "stake (TAO)", "permit"]);
    for (uid, neuron) in subnet.neurons.iter().enumerate() {
        let hotkey = neuron.hotkey.resolve()?;
        table.add_row([
            Cell::new(uid).set_alignment(CellAlignment::Right),
            Cell::new(hotkey.to_ss58()),
            Cell::new(&neuron.hotkey.0),
            Cell::new(format!("{:.3}", neuron.stake as f64 / TAO as f64)).set_alignment(CellAlignment::Right),
            Cell::new(if neuron.validator_permit { "yes" } else { "" }),
        ]);
    }
    out.push_str(&table.to_string());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> LocalnetArgs {
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: LocalnetArgs,
        }
        let argv = std::iter::once("localnet").chain(extra.iter().copied());
        <Cli as clap::Parser>::parse_from(argv).args
    }

    #[test]
    fn flags_override_the_first_subnet_and_the_node() {
        let config =
            args(&["--netuid", "7", "--tempo", "99", "--commit-reveal", "--block-time-ms", "250", "--no-drand"]).config().expect("valid");
        assert_eq!(config.subnets[0].netuid, 7);
        assert_eq!(config.subnets[0].hyperparameters.tempo, 99);
        assert!(config.subnets[0].hyperparameters.commit_reveal_weights_enabled);
        assert_eq!(config.block_interval_ms, 250);
        assert!(!config.drand.enabled);
    }

    #[test]
    fn the_printed_configuration_reads_back_as_the_same_configuration() {
        let config = args(&[]).config().expect("valid");
        let text = toml::to_string_pretty(&config).expect("prints");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("localnet.toml");
        std::fs::write(&path, text).expect("write");
        let reread = args(&["--config", path.to_str().expect("utf-8")]).config().expect("valid");
        assert_eq!(reread, config);
    }

    #[test]
    fn the_summary_names_the_validator_and_its_stake() {
        let summary = subnet_summary(&SubnetConfig::default_devnet()).expect("summary");
        assert!(summary.contains("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"), "{summary}");
        assert!(summary.contains("1000.000"), "{summary}");
        assert!(summary.contains("commit-reveal off"), "{summary}");
    }
}
