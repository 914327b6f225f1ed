//! `whetstone leaderboard`: a running coordinator's leaderboard, with each hotkey's uid and
//! incentive when the coordinator has a chain view.

use anyhow::Result;
use whetstone::client::CoordinatorClient;
use whetstone::ui;

use super::connect::ConnectArgs;

pub async fn run(args: ConnectArgs) -> Result<()> {
    let client = CoordinatorClient::connect(&args.coordinator).await?;
    let board = client.leaderboard().await?;
    if let Some(epoch) = board.epoch {
        println!("epoch {epoch} (scores are per epoch, carried over with decay; `whetstone epochs` shows the sets)");
    }
    println!("{}", ui::leaderboard_table(&board));
    println!("scores: {} over the signed verdict ledger (docs/scoring.md; `whetstone validators` for each validator)", board.scoring);
    println!("{}", ui::incentive_note(board.chain.as_ref()));
    Ok(())
}
