//! `whetstone runs`: a running coordinator's runs as a table, or one run in full (its agent's
//! output, LLM calls and patch), which only the run's miner and validators may read.

use anyhow::Result;
use clap::Args;
use whetstone::client::CoordinatorClient;
use whetstone::ui;

use super::connect::{ConnectArgs, SignerArgs};

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Only this agent's runs (its full digest, as `agent submit` printed it).
    #[arg(long)]
    agent: Option<String>,
    /// A run id from the list, to show that run in full: its agent's output, LLM calls and
    /// patch. Only the miner whose agent made the run (and validators) may read it, so the
    /// request is signed with the hotkey the wallet options choose.
    run: Option<String>,
    #[command(flatten)]
    signer: SignerArgs,
    /// With a run id: print the patch too.
    #[arg(long, requires = "run")]
    patch: bool,
}

pub async fn run(args: RunsArgs) -> Result<()> {
    match &args.run {
        Some(run_id) => show_run(&args, run_id).await,
        None => list_runs(&args).await,
    }
}

async fn list_runs(args: &RunsArgs) -> Result<()> {
    let client = CoordinatorClient::connect(&args.connect.coordinator).await?;
    let runs = client.runs(args.agent.as_deref()).await?;
    if runs.is_empty() {
        println!("no runs yet");
    } else {
        println!("{}", ui::runs_table(&runs));
    }
    Ok(())
}

async fn show_run(args: &RunsArgs, run_id: &str) -> Result<()> {
    let signer = args.signer.signer()?;
    let client = CoordinatorClient::connect(&args.connect.coordinator).await?;
    let detail = client.run_detail(run_id, &signer).await?;
    if let Some(run) = &detail.run {
        println!("{}", ui::runs_table(std::slice::from_ref(run)));
    }
    println!("LLM: {} spent in {} calls, {} refused", ui::usd(detail.llm_spent_micro_usd), detail.llm_calls.len(), detail.llm_refused);
    if !detail.llm_calls.is_empty() {
        println!("{}", ui::llm_calls_table(&detail.llm_calls));
    }
    println!("--- agent output ---\n{}", detail.log);
    if args.patch {
        println!("--- patch ---\n{}", String::from_utf8_lossy(&detail.patch));
    } else {
        println!("--- patch: {} bytes (--patch prints it) ---", detail.patch.len());
    }
    Ok(())
}
