//! `whetstone solve`: ask the subnet's best agent (or one named) to fix something in the git
//! repository you are in. Packs the work tree (tracked files plus uncommitted changes), sends
//! it to the coordinator's solve API, follows the job (a spinner and the agent's log, resuming
//! the event stream if the connection drops), prints the diff, and with `--apply` applies it
//! (checked first, then a 3-way merge if it does not apply cleanly). Ctrl-C cancels the job.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use futures::StreamExt as _;
use whetstone::solve_client::{
    DEFAULT_SOLVE_URL, Finished, HOW_TO_GET_A_KEY, SolveClient, SolveEventKind, SolveRequest, pack_worktree, worktree_root,
};
use whetstone::ui::{self, Spinner};

#[derive(Debug, Args)]
pub struct SolveArgs {
    /// What to fix, in words, as you would write an issue: the agent gets it as its instruction.
    statement: String,
    /// `best` (the top of the leaderboard among agents with enough graded tasks) or an agent
    /// digest (`whetstone leaderboard` lists them).
    #[arg(long, default_value = "best")]
    agent: String,
    /// Apply the diff to your work tree when it comes back (checked first; 3-way merge when
    /// your files moved on meanwhile).
    #[arg(long)]
    apply: bool,
    /// A command that runs your tests (e.g. "python3 -m pytest -q"); the agent is told it.
    #[arg(long, value_name = "CMD")]
    test: Option<String>,
    /// LLM budget for the job in micro-dollars (1 000 000 = $1); default: the coordinator's.
    #[arg(long, value_name = "MICRO_USD")]
    budget: Option<u64>,
    /// The coordinator's solve API.
    #[arg(long, env = "WHETSTONE_SOLVE_URL", default_value = DEFAULT_SOLVE_URL)]
    url: String,
    /// Your API key (from the coordinator's operator: `whetstone keys create`).
    #[arg(long, env = "WHETSTONE_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// The repository (any directory inside it). Default: the current directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

pub async fn run(args: SolveArgs) -> Result<()> {
    let Some(key) = args.key.clone().filter(|k| !k.trim().is_empty()) else {
        bail!("no API key: {HOW_TO_GET_A_KEY} (or pass --key)");
    };
    let root = worktree_root(&args.dir)?;
    let spinner = Spinner::new(format!("packing {}", root.display()));
    let snapshot = pack_worktree(&root)?;
    let client = SolveClient::new(&args.url, &key)?;
    spinner.set(format!("sending {} KiB to {}", snapshot.len().div_ceil(1024), client.base_url()));
    let request = SolveRequest {
        statement: args.statement.clone(),
        snapshot,
        agent: args.agent.clone(),
        budget_micro_usd: args.budget,
        test_command: args.test.clone(),
    };
    let accepted = client.submit(&request).await?;
    spinner.println(format!(
        "job {} with agent {} {} ({})",
        accepted.id,
        accepted.agent.name,
        accepted.agent.version,
        ui::short(&accepted.agent.digest, 19)
    ));
    let finished = tokio::select! {
        finished = follow(&client, &accepted.id, &spinner) => finished?,
        _ = tokio::signal::ctrl_c() => {
            spinner.set("cancelling");
            let answer = client.cancel(&accepted.id).await?;
            spinner.done(format!("cancelled {} ({})", accepted.id, answer.state));
            bail!("cancelled: no diff");
        }
    };
    match finished.status.as_str() {
        "diff" => {
            spinner.done(format!("{} made a diff", finished.agent.name));
            print!("{}", finished.diff);
            if args.apply {
                apply(&root, &finished.diff)?;
            }
            Ok(())
        }
        status => {
            spinner.done(format!("no diff came back ({status})"));
            let why = if finished.error.is_empty() { "the agent changed nothing".to_owned() } else { finished.error };
            bail!("no diff ({status}): {why}")
        }
    }
}

/// Follows the job to its end, reconnecting with the last event id when the stream drops.
async fn follow(client: &SolveClient, id: &str, spinner: &Spinner) -> Result<Finished> {
    let mut last = 0;
    let mut drops = 0;
    loop {
        let mut events = client.events(id, Some(last)).await?;
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(event) => event,
                Err(error) => {
                    tracing::debug!(%error, "event stream dropped");
                    break;
                }
            };
            last = event.id;
            match event.kind {
                SolveEventKind::Queued { position } => spinner.set(format!("queued ({position} in line)")),
                SolveEventKind::Started { runner } => spinner.set(format!("running on {runner}")),
                SolveEventKind::Log { line } => spinner.println(format!("  │ {line}")),
                SolveEventKind::Spend { micro_usd } => spinner.set(format!("LLM spend {}", ui::usd(micro_usd))),
                SolveEventKind::Tests { command, exit_code, output_tail } => {
                    spinner.println(format!("tests `{command}` exited {exit_code}\n{output_tail}"));
                }
                SolveEventKind::Finished(finished) => return Ok(finished),
                SolveEventKind::Other { name, .. } => tracing::debug!(event = %name, "unknown event"),
            }
        }
        drops += 1;
        if drops > 20 {
            let status = client.status(id).await.context("the event stream keeps dropping")?;
            bail!("the event stream keeps dropping; the job is {} (see `GET /v1/solve/{id}` on {})", status.state, client.base_url());
        }
        spinner.set(format!("reconnecting after event {last}"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `git apply --check`, then `git apply`; when the check fails, `git apply --3way`.
fn apply(root: &std::path::Path, diff: &str) -> Result<()> {
    let git = |args: &[&str]| -> Result<std::process::Output> {
        use std::io::Write as _;
        let mut child = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("failed to run git (is it installed?)")?;
        child.stdin.take().context("git's stdin")?.write_all(diff.as_bytes())?;
        Ok(child.wait_with_output()?)
    };
    if git(&["apply", "--check", "-"])?.status.success() {
        let applied = git(&["apply", "-"])?;
        if !applied.status.success() {
            bail!("git apply failed: {}", String::from_utf8_lossy(&applied.stderr));
        }
        eprintln!("whetstone: applied to {}", root.display());
        return Ok(());
    }
    let merged = git(&["apply", "--3way", "-"])?;
    if merged.status.success() {
        eprintln!("whetstone: applied to {} with a 3-way merge (your files had changed); review `git diff`", root.display());
        return Ok(());
    }
    bail!(
        "the diff does not apply to {} even with a 3-way merge:\n{}\nthe diff is printed above; apply what you want by hand",
        root.display(),
        String::from_utf8_lossy(&merged.stderr)
    )
}
