//! `whetstone epochs`: a coordinator's evaluation epochs — the rules, every epoch with its
//! boundary block, seed, generator seed and set, and how many more epochs the task pool
//! covers. With `--min-epochs N` it fails (exit 1) when the pool covers fewer, saying what to
//! publish, so a curator's cron job notices before an epoch starts short.

use anyhow::{Result, bail};
use clap::Args;
use whetstone::client::CoordinatorClient;
use whetstone::ui;

use super::connect::ConnectArgs;

#[derive(Debug, Args)]
pub struct EpochsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Fail unless the undrawn pool fills at least this many more epochs.
    #[arg(long, value_name = "N")]
    min_epochs: Option<u64>,
}

pub async fn run(args: EpochsArgs) -> Result<()> {
    let client = CoordinatorClient::connect(&args.connect.coordinator).await?;
    let listing = client.epochs().await?;
    let Some(rules) = &listing.rules else {
        println!("{} runs without epochs: every published task is in one set, scored by consensus/1", args.connect.coordinator);
        println!("(turn them on with an [epochs] table in its configuration; see docs/scoring.md, \"Epochs\")");
        if args.min_epochs.is_some() {
            bail!("--min-epochs needs a coordinator with epochs");
        }
        return Ok(());
    };
    println!(
        "epochs/1: {} blocks each from block {}; each draws {} pool tasks and takes up to {} fresh ones; a score k epochs old weighs {}^k",
        rules.length_blocks, rules.genesis_block, rules.draw, rules.fresh, rules.decay
    );
    if listing.epochs.is_empty() {
        println!("no epoch has started yet (chain head {}, epoch 0 starts at block {})", listing.head_block, rules.genesis_block);
    } else {
        println!("{}", ui::epochs_table(&listing));
    }
    if let Some(current) = listing.epochs.last() {
        println!(
            "current epoch {}: fresh tasks for it are generated with `whetstone tasks generate --seed {}` and published with `whetstone tasks publish --fresh-epoch {} --generator-seed {}`",
            current.epoch, current.generator_seed, current.epoch, current.generator_seed
        );
    }
    println!(
        "pool: {} tasks ({} not drawn yet) cover {} more epoch{}",
        listing.pool.len(),
        listing.undrawn,
        listing.epochs_covered,
        if listing.epochs_covered == 1 { "" } else { "s" }
    );
    if let Some(min) = args.min_epochs
        && listing.epochs_covered < min
    {
        let missing = (min * u64::from(rules.draw)).saturating_sub(listing.undrawn);
        bail!(
            "the task pool covers {} epoch(s), fewer than --min-epochs {min}: publish at least {missing} more tasks to the pool (`whetstone tasks generate --set SET --project NAME-VERSION` then `whetstone tasks publish SET`)",
            listing.epochs_covered
        );
    }
    Ok(())
}
