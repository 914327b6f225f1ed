//! `whetstone validators`: how each validator stands under the scoring function over the
//! signed verdict ledger: its verdicts, how often it agrees with the consensus, the runs where
//! it dissented, and any verdict the function rejected, with the reason.

use anyhow::Result;
use clap::Args;
use whetstone::client::CoordinatorClient;
use whetstone::ui;

use super::connect::ConnectArgs;

#[derive(Debug, Args)]
pub struct ValidatorsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Also list each validator's flagged runs (where it dissented on tests not known to be
    /// flaky); `whetstone runs <run id>` shows one.
    #[arg(long)]
    details: bool,
}

pub async fn run(args: ValidatorsArgs) -> Result<()> {
    let client = CoordinatorClient::connect(&args.connect.coordinator).await?;
    let standings = client.validators().await?;
    if standings.validators.is_empty() {
        println!("no verdicts yet: validators appear here once they have graded a run");
    } else {
        println!("{}", ui::validators_table(&standings, &|_| String::new()));
    }
    println!("{}", ui::scoring_note(&standings));
    if args.details {
        for v in standings.validators.iter().filter(|v| !v.flagged_run_ids.is_empty()) {
            println!("\n{} dissented on:", v.hotkey);
            for run in &v.flagged_run_ids {
                println!("  {run}");
            }
        }
    }
    Ok(())
}
