//! `whetstone chain metagraph / hyperparams / weights / set-weights`: look at a subnet on a
//! subtensor node and set weights on it, against devnet's localnet or a real network. The
//! work is in `whetstone_chain::client`; this module parses options, shows progress and
//! prints tables.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use whetstone::ui::Spinner;
use whetstone_chain::client::{DEFAULT_ENDPOINT, Hyperparameters, NeuronRecord, SubtensorClient, WeightCall};
use whetstone_chain::sync::MetagraphSnapshot;
use whetstone_chain::wallet::WalletArgs;
use whetstone_chain::weights::{Summation, WeightRules, conform};

/// Which node and which subnet.
#[derive(Debug, Args)]
pub struct ChainArgs {
    /// The subtensor node: a ws:// or wss:// URL, or `finney`, `test` (testnet) or `local`.
    /// The default is the localnet `whetstone devnet` and `whetstone localnet` start.
    #[arg(long = "chain.endpoint", visible_alias = "subtensor.chain_endpoint", env = "WHETSTONE_CHAIN_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL")]
    pub endpoint: String,
    /// The subnet (netuid).
    #[arg(long, env = "WHETSTONE_NETUID", default_value_t = 1)]
    pub netuid: u16,
}

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Show the subnet's neurons: uid, hotkey, stake, validator permit and last weight update.
    Metagraph {
        #[command(flatten)]
        chain: ChainArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the subnet's weight-setting hyperparameters (tempo, rate limit, version key,
    /// min/max weights, commit-reveal).
    Hyperparams {
        #[command(flatten)]
        chain: ChainArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the weights a validator has set on chain (its row of the weight matrix), and any
    /// timelocked commits still waiting to be revealed.
    Weights {
        #[command(flatten)]
        chain: ChainArgs,
        /// The validator's uid (default: the hotkey of the wallet options).
        #[arg(long)]
        uid: Option<u16>,
        #[command(flatten)]
        wallet: WalletArgs,
    },
    /// Set weights on the subnet as the wallet's hotkey (which needs a validator permit).
    /// Weights are normalised as the Bittensor SDK does (max-weight clip, u16 quantisation,
    /// min-allowed check) and submitted with `set_weights`, or as a timelocked commit when
    /// the subnet runs commit-reveal.
    ///
    /// Example (devnet): whetstone chain set-weights --dev-key alice 1=0.5 2=0.25 3=0.25
    SetWeights(SetWeightsArgs),
}

#[derive(Debug, Args)]
pub struct SetWeightsArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    wallet: WalletArgs,
    /// A JSON file of weights: an object `{"uid": weight, ...}` or a list
    /// `[{"uid": 1, "weight": 0.5}, ...]`. Weights are non-negative numbers in any scale.
    #[arg(long = "from", value_name = "FILE", conflicts_with = "pairs")]
    from: Option<PathBuf>,
    /// Weights as UID=WEIGHT pairs, e.g. `1=0.5 2=0.25`.
    #[arg(value_name = "UID=WEIGHT")]
    pairs: Vec<String>,
    /// The version key to submit (default: the subnet's weights_version_key).
    #[arg(long)]
    version_key: Option<u64>,
    /// Show the normalised weights and stop without submitting.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(command: ChainCommand) -> Result<()> {
    match command {
        ChainCommand::Metagraph { chain, json } => metagraph(chain, json).await,
        ChainCommand::Hyperparams { chain, json } => hyperparams(chain, json).await,
        ChainCommand::Weights { chain, uid, wallet } => weights(chain, uid, wallet).await,
        ChainCommand::SetWeights(args) => set_weights(args).await,
    }
}

async fn connect(chain: &ChainArgs, spinner: &Spinner) -> Result<SubtensorClient> {
    spinner.set(format!("connecting to {}", chain.endpoint));
    let client = SubtensorClient::connect(&chain.endpoint).await?;
    Ok(client)
}

async fn metagraph(chain: ChainArgs, json: bool) -> Result<()> {
    let spinner = Spinner::new("connecting");
    let client = connect(&chain, &spinner).await?;
    spinner.set(format!("reading subnet {}", chain.netuid));
    let snapshot = MetagraphSnapshot::fetch(&client, chain.netuid).await?;
    spinner.done(format!("subnet {} at block {} on {}: {} neurons", chain.netuid, snapshot.block, client.url(), snapshot.neurons.len()));
    if json {
        println!("{}", serde_json::to_string_pretty(&snapshot)?);
    } else {
        println!("{}", metagraph_table(&snapshot.neurons, snapshot.block));
    }
    Ok(())
}

async fn hyperparams(chain: ChainArgs, json: bool) -> Result<()> {
    let spinner = Spinner::new("connecting");
    let client = connect(&chain, &spinner).await?;
    spinner.set(format!("reading subnet {}", chain.netuid));
    let params = client.hyperparameters(chain.netuid).await?;
    spinner.done(format!("subnet {} on {}", chain.netuid, client.url()));
    if json {
        println!("{}", serde_json::to_string_pretty(&params)?);
    } else {
        println!("{}", hyperparameters_table(&params, client.block_time()));
    }
    Ok(())
}

async fn weights(chain: ChainArgs, uid: Option<u16>, wallet: WalletArgs) -> Result<()> {
    let spinner = Spinner::new("connecting");
    let client = connect(&chain, &spinner).await?;
    let snapshot = MetagraphSnapshot::fetch(&client, chain.netuid).await?;
    let uid = match uid {
        Some(uid) => uid,
        None => {
            let pair = wallet.load().context("name the validator with --uid, or choose its hotkey with the wallet options")?;
            snapshot
                .uid_of(pair.hotkey())
                .with_context(|| format!("hotkey {} is not registered on subnet {}", pair.hotkey(), chain.netuid))?
        }
    };
    let row = client.weights_row(chain.netuid, uid).await?;
    let commits = client.timelocked_commits(chain.netuid).await?;
    spinner.done(format!("weights of uid {uid} on subnet {} at block {}", chain.netuid, snapshot.block));
    if row.is_empty() {
        println!("uid {uid} has no weights on chain");
    } else {
        println!("{}", row_table(&row, &snapshot.neurons));
    }
    let own = snapshot.neurons.get(usize::from(uid)).map(|n| n.hotkey.clone());
    for commit in commits.iter().filter(|c| Some(&c.hotkey) == own.as_ref()) {
        println!(
            "pending timelocked commit from block {} (epoch {}), revealed with drand round {}",
            commit.commit_block, commit.epoch, commit.reveal_round
        );
    }
    Ok(())
}

async fn set_weights(args: SetWeightsArgs) -> Result<()> {
    let scores = match &args.from {
        Some(path) => read_weights_file(path)?,
        None if args.pairs.is_empty() => bail!("give the weights as UID=WEIGHT pairs or with --from FILE"),
        None => parse_pairs(&args.pairs)?,
    };
    let source = args.wallet.source()?;
    let pair = source
        .load()
        .with_context(|| format!("cannot load the hotkey to sign with ({}); choose it with --wallet.name/--wallet.hotkey/--wallet.path, or --dev-key on a devnet", source.describe()))?;
    let spinner = Spinner::new("connecting");
    let client = connect(&args.chain, &spinner).await?;
    let netuid = args.chain.netuid;
    spinner.set(format!("reading subnet {netuid}"));
    let snapshot = MetagraphSnapshot::fetch(&client, netuid).await?;
    let own_uid = snapshot
        .uid_of(pair.hotkey())
        .with_context(|| format!("hotkey {} is not registered on subnet {netuid}; register it first", pair.hotkey()))?;
    if let Some((uid, _)) = scores.iter().find(|(uid, _)| usize::from(*uid) >= snapshot.neurons.len()) {
        bail!("uid {uid} is not on subnet {netuid}, which has uids 0 to {}", snapshot.neurons.len().saturating_sub(1));
    }
    let params = snapshot.hyperparameters;
    let rules = WeightRules { own_uid, min_allowed_weights: params.min_allowed_weights, max_weight_limit: params.max_weights_limit };
    let (uids, values) = conform(&scores, &rules, Summation::default()).context("the weights do not meet the subnet's rules")?;
    let version_key = args.version_key.unwrap_or(params.weights_version_key);
    let row: Vec<(u16, u16)> = uids.iter().copied().zip(values.iter().copied()).collect();
    spinner.println(format!("weights of uid {own_uid} ({}) after normalisation:", pair.hotkey()));
    spinner.println(row_table(&row, &snapshot.neurons).to_string());
    if args.dry_run {
        spinner.done("dry run: nothing submitted");
        return Ok(());
    }
    let how = if params.commit_reveal_enabled { "committing (timelocked)" } else { "setting" };
    spinner.set(format!("{how} weights on subnet {netuid} and waiting for finalization"));
    let receipt = client.submit_weights(&pair, netuid, &uids, &values, version_key).await?;
    let what = match receipt.call {
        WeightCall::SetWeights => "weights set".to_owned(),
        WeightCall::CommitTimelockedWeights => {
            format!("weights committed; the chain reveals them with drand round {}", receipt.reveal_round.unwrap_or_default())
        }
    };
    spinner.done(format!("{what} in block {} ({})", receipt.block_number, receipt.block_hash));
    println!("extrinsic {} ({})", receipt.extrinsic_hash, receipt.extrinsic_call);
    if receipt.call == WeightCall::SetWeights {
        let on_chain = client.weights_row(netuid, own_uid).await?;
        println!("on-chain weights of uid {own_uid}:");
        println!("{}", row_table(&on_chain, &snapshot.neurons));
    }
    Ok(())
}

/// `UID=WEIGHT` pairs.
fn parse_pairs(pairs: &[String]) -> Result<Vec<(u16, f64)>> {
    pairs
        .iter()
        .map(|pair| {
            let (uid, weight) = pair.split_once('=').with_context(|| format!("`{pair}` is not UID=WEIGHT (e.g. 3=0.25)"))?;
            let uid: u16 = uid.trim().parse().with_context(|| format!("`{uid}` in `{pair}` is not a uid (0 to 65535)"))?;
            let weight: f64 = weight.trim().parse().with_context(|| format!("`{weight}` in `{pair}` is not a number"))?;
            Ok((uid, weight))
        })
        .collect()
}

/// `{"uid": weight}` or `[{"uid": u, "weight": w}]`.
fn read_weights_file(path: &PathBuf) -> Result<Vec<(u16, f64)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the weights file {}", path.display()))?;
    parse_weights_json(&text).with_context(|| format!("{} is not a weights file", path.display()))
}

fn parse_weights_json(text: &str) -> Result<Vec<(u16, f64)>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        uid: u16,
        weight: f64,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum File {
        Map(BTreeMap<String, f64>),
        List(Vec<Entry>),
    }
    let file: File = serde_json::from_str(text).context(r#"expected {"UID": WEIGHT, ...} or [{"uid": UID, "weight": WEIGHT}, ...]"#)?;
    match file {
        File::List(entries) => Ok(entries.into_iter().map(|e| (e.uid, e.weight)).collect()),
        File::Map(map) => map
            .into_iter()
            .map(|(uid, weight)| Ok((uid.trim().parse().with_context(|| format!("key `{uid}` is not a uid"))?, weight)))
            .collect(),
    }
}

/// Rao (10^-9) as a decimal amount with four places.
fn alpha(rao: u64) -> String {
    format!("{}.{:04}", rao / 1_000_000_000, (rao % 1_000_000_000) / 100_000)
}

fn metagraph_table(neurons: &[NeuronRecord], block: u64) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["uid", "hotkey", "stake (α)", "permit", "last update"]);
    for neuron in neurons {
        let last = if neuron.last_update == 0 {
            "never".to_owned()
        } else {
            format!("{} ({} blocks ago)", neuron.last_update, block.saturating_sub(neuron.last_update))
        };
        table.add_row([
            Cell::new(neuron.uid).set_alignment(CellAlignment::Right),
            Cell::new(neuron.hotkey.as_str()),
            Cell::new(alpha(neuron.stake)).set_alignment(CellAlignment::Right),
            Cell::new(if neuron.validator_permit { "yes" } else { "" }),
            Cell::new(last),
        ]);
    }
    table
}

fn hyperparameters_table(params: &Hyperparameters, block_time: std::time::Duration) -> Table {
    let blocks = |n: u64| format!("{n} blocks (~{})", whetstone_chain::client::error::human_duration(&(block_time * n as u32)));
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["hyperparameter", "value"]);
    let rows = [
        ("tempo", blocks(params.tempo.into())),
        ("weights_rate_limit", blocks(params.weights_rate_limit)),
        ("weights_version_key", params.weights_version_key.to_string()),
        ("min_allowed_weights", params.min_allowed_weights.to_string()),
        ("max_weights_limit", format!("{} ({:.2}% of the total)", params.max_weights_limit, f64::from(params.max_weights_limit) / 655.35)),
        ("commit_reveal_weights_enabled", params.commit_reveal_enabled.to_string()),
        ("reveal_period_epochs", params.reveal_period_epochs.to_string()),
        ("commit_reveal_version", params.commit_reveal_version.to_string()),
    ];
    for (name, value) in rows {
        table.add_row([name.to_owned(), value]);
    }
    table
}

fn row_table(row: &[(u16, u16)], neurons: &[NeuronRecord]) -> Table {
    let total: f64 = row.iter().map(|(_, w)| f64::from(*w)).sum();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["uid", "hotkey", "weight (u16)", "share"]);
    for (uid, weight) in row {
        let hotkey = neurons.get(usize::from(*uid)).map(|n| n.hotkey.to_string()).unwrap_or_else(|| "?".into());
        let share = if total > 0.0 { f64::from(*weight) / total * 100.0 } else { 0.0 };
        table.add_row([
            Cell::new(uid).set_alignment(CellAlignment::Right),
            Cell::new(hotkey),
            Cell::new(weight).set_alignment(CellAlignment::Right),
            Cell::new(format!("{share:.2}%")).set_alignment(CellAlignment::Right),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_files_give_the_same_weights() {
        let pairs = parse_pairs(&["1=0.5".into(), " 2 = 0.25".into()]).expect("pairs");
        assert_eq!(pairs, vec![(1, 0.5), (2, 0.25)]);
        let map = parse_weights_json(r#"{"1": 0.5, "2": 0.25}"#).expect("map");
        let list = parse_weights_json(r#"[{"uid": 1, "weight": 0.5}, {"uid": 2, "weight": 0.25}]"#).expect("list");
        assert_eq!(map, pairs);
        assert_eq!(list, pairs);
    }

    #[test]
    fn malformed_weights_are_explained() {
        let bad = parse_pairs(&["1:0.5".into()]).expect_err("no =");
        assert!(bad.to_string().contains("UID=WEIGHT"), "{bad}");
        let big = parse_pairs(&["70000=1".into()]).expect_err("uid too big");
        assert!(big.to_string().contains("not a uid"), "{big}");
        let json = parse_weights_json(r#"{"one": 1}"#).expect_err("key");
        assert!(format!("{json:#}").contains("`one`"), "{json:#}");
        assert!(parse_weights_json("[1, 2]").is_err());
    }

    #[test]
    fn stake_reads_in_alpha() {
        assert_eq!(alpha(1_000 * 1_000_000_000), "1000.0000");
        assert_eq!(alpha(1_234_567_890), "1.2345");
        assert_eq!(alpha(0), "0.0000");
    }
}
