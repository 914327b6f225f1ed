//! `whetstone devnet`: a whole subnet round on this machine. The round is `whetstone::devnet`;
//! this module parses the options, logs to the round's directory, shows each step as it runs
//! and prints the results, the leaderboard and the weights.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use whetstone::devnet::{self, DevnetOptions, Reporter};
use whetstone::ui::{self, Spinner};
use whetstone_proto::pb;

#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Working directory for the round (database, blobs, logs, weights). Wiped at the start
    /// when an earlier devnet made it; refused when it holds anything else.
    #[arg(long, env = "WHETSTONE_DEVNET_DIR", default_value = ".whetstone/devnet")]
    data_dir: PathBuf,
    /// Task set directory to run (repeatable). Default: the starter set.
    #[arg(long = "tasks")]
    task_sets: Vec<PathBuf>,
    /// Agent directory to submit (repeatable). Default: examples/agents/{noop,repair,cheater}.
    #[arg(long = "agent")]
    agents: Vec<PathBuf>,
    /// Where agents' LLM calls go, through the runner's inference proxy: an OpenAI-compatible
    /// base URL (key from $WHETSTONE_LLM_API_KEY) or `scripted:FILE`, e.g.
    /// `scripted:examples/upstream/starter.jsonl` with `--agent examples/agents/llm`. Default:
    /// no LLM access.
    #[arg(long)]
    upstream: Option<String>,
    /// Agents the runner executes at once.
    #[arg(long, default_value_t = 2)]
    runner_capacity: u32,
    /// Gradings each of the two validators runs at once.
    #[arg(long, default_value_t = 2)]
    validator_capacity: u32,
    /// Seconds an agent may run on one task.
    #[arg(long, default_value_t = 300)]
    agent_timeout: u64,
    /// Print logs to the terminal instead of `<data-dir>/devnet.log`.
    #[arg(short, long)]
    verbose: bool,
    /// After the round, send one solve job (the first task's repository and instruction) to
    /// the best agent through the coordinator's solve API, as `whetstone solve` would, and
    /// print the diff it got back.
    #[arg(long)]
    solve: bool,
    /// After the round, keep the coordinator's dashboard (leaderboard, agents, runs with their
    /// patches, tasks, validators) up until Ctrl-C; the results print when it stops.
    #[arg(long)]
    serve: bool,
}

pub async fn run(args: DevnetArgs) -> Result<()> {
    let mut options = DevnetOptions { data_dir: args.data_dir, ..DevnetOptions::default() };
    if !args.task_sets.is_empty() {
        options.task_sets = args.task_sets;
    }
    if !args.agents.is_empty() {
        options.agents = args.agents;
    }
    options.runner_capacity = args.runner_capacity;
    options.validator_capacity = args.validator_capacity;
    options.agent_timeout = Duration::from_secs(args.agent_timeout);
    options.solve = args.solve;
    options.serve = args.serve;
    if let Some(upstream) = args.upstream {
        options.upstream = whetstone::agent_tools::Upstream::parse(Some(&upstream));
    }

    // The log goes into the data directory, so the directory is prepared (wiped) first.
    devnet::prepare_data_dir(&options.data_dir)?;
    let log_path = options.data_dir.join("devnet.log");
    if args.verbose {
        crate::logging::to_stderr();
    } else {
        crate::logging::to_file(&log_path)?;
    }
    println!("whetstone devnet: a local subnet round in {}", options.data_dir.display());
    let reporter = DevnetUi { spinner: Spinner::new("starting"), last_step: std::sync::Mutex::new(None) };
    let result = devnet::run(options.clone(), &reporter, crate::shutdown_on_signal()).await;
    reporter.finish_step();
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            reporter.spinner.done("failed");
            return Err(anyhow::Error::new(error).context(format!("devnet failed; the log is {}", log_path.display())));
        }
    };
    reporter.spinner.done(format!("round finished in {:.1}s", report.elapsed.as_secs_f64()));

    println!("\nResults (each run graded by both validators: the consensus, and how many verdicts agree with it)");
    println!("{}", ui::results_matrix(&report.runs));
    let validator_name = |hotkey: &str| report.validators.iter().find(|v| v.hotkey == hotkey).map_or(String::new(), |v| v.name.to_owned());
    println!("\nValidators");
    println!("{}", ui::validators_table(&report.standings, &validator_name));
    println!("{}", ui::scoring_note(&report.standings));
    match report.epoch {
        Some(epoch) => println!("\nLeaderboard ({} tasks, epoch {epoch})", report.tasks),
        None => println!("\nLeaderboard ({} tasks)", report.tasks),
    }
    let board = pb::LeaderboardResponse {
        entries: report.leaderboard.clone(),
        chain: report.chain,
        scoring: report.scoring.clone(),
        epoch: report.epoch,
    };
    println!("{}", ui::leaderboard_table(&board));
    let names =
        |hotkey: &str| report.leaderboard.iter().filter(|e| e.hotkey == hotkey).map(|e| e.name.clone()).collect::<Vec<_>>().join(", ");
    for validator in &report.validators {
        let verified = format!(
            "verified {} verdicts ({} rejected), {} runs decided, {} pending",
            validator.accepted, validator.rejected, validator.decided, validator.pending
        );
        match &validator.extrinsic {
            Some((extrinsic, block)) => println!(
                "\nWeights validator {} computed itself ({verified}), set on netuid {}: extrinsic {extrinsic} in block {block}",
                validator.name, validator.weights.netuid
            ),
            None => println!("\nWeights validator {} computed itself ({verified}) on netuid {}", validator.name, validator.weights.netuid),
        }
        if validator.weights.uids.is_empty() {
            println!("(no agent resolved any task, so every weight is zero and none is set)");
        } else {
            println!("{}", ui::weights_table(&validator.weights, &report.hotkeys, &names));
            let row = validator.chain_weights.iter().map(|(uid, weight)| format!("uid {uid}: {weight}")).collect::<Vec<_>>().join(", ");
            println!("on-chain weights row of {}: {row}", validator.name);
        }
        println!("audit log: {} (entry {})", validator.audit_path.display(), validator.audit_id);
    }
    println!("\n{}", ui::incentive_note(board.chain.as_ref()));
    match &report.solve {
        Some(Ok(solve)) => {
            println!(
                "\nSolve API ({}): {} on {}'s repository, {} log lines, {} in {:.1}s",
                solve.url,
                solve.agent.name,
                solve.task_id,
                solve.log_lines,
                solve.status,
                solve.elapsed.as_secs_f64()
            );
            match solve.status.as_str() {
                "diff" => print!("{}", solve.diff),
                _ => println!("no diff: {}", solve.error),
            }
        }
        Some(Err(error)) => println!("\nSolve API: the solve job failed: {error}"),
        None => {}
    }
    if let Some(dashboard) = &report.dashboard {
        let until = if args.serve { "until Ctrl-C" } else { "while devnet ran; `whetstone devnet --serve` keeps it up after the round" };
        println!("dashboard at {dashboard}/ ({until})");
    }
    println!("log:    {}", log_path.display());
    if report.leftover_containers > 0 {
        bail!("{} sandbox containers were left behind after shutdown", report.leftover_containers);
    }
    Ok(())
}

/// Devnet's terminal output: one line per finished step, a spinner for the current one.
struct DevnetUi {
    spinner: Spinner,
    last_step: std::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl DevnetUi {
    fn finish_step(&self) {
        if let Ok(mut last) = self.last_step.lock()
            && let Some((step, started)) = last.take()
        {
            // Off a terminal the step's first line is already in the log; repeat only slow ones.
            let elapsed = started.elapsed();
            if self.spinner.is_terminal() || elapsed > Duration::from_secs(1) {
                self.spinner.println(format!("✓ {step} ({:.1}s)", elapsed.as_secs_f64()));
            }
        }
    }
}

impl whetstone_sandbox::Progress for DevnetUi {
    fn message(&self, msg: &str) {
        self.spinner.set(msg);
    }
}

impl Reporter for DevnetUi {
    fn step(&self, message: &str) {
        self.finish_step();
        if let Ok(mut last) = self.last_step.lock() {
            *last = Some((message.to_owned(), std::time::Instant::now()));
        }
        self.spinner.set(message);
    }

    fn event(&self, message: &str) {
        self.spinner.println(format!("• {message}"));
    }

    fn round(&self, progress: &pb::ProgressResponse) {
        const RUNNING: &str = "running agents and grading their patches";
        let running = self.last_step.lock().map(|l| l.as_ref().is_some_and(|(s, _)| s == RUNNING)).unwrap_or(true);
        if !running {
            self.step(RUNNING);
        }
        self.spinner.set(format!(
            "agent runs {}/{} · gradings {}/{} · {} workers connected",
            progress.runs_done, progress.runs_total, progress.grades_done, progress.grades_total, progress.workers_connected
        ));
    }
}
