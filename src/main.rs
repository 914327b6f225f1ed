//! `whetstone`: the command line of the Whetstone subnet. Parses arguments, sets up logging,
//! and hands off to the component crates; see `whetstone --help`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use whetstone::client::CoordinatorClient;
use whetstone::devnet::{self, DevnetOptions, Reporter};
use whetstone::ui::{self, Spinner};
use whetstone_proto::pb;

mod chain_cli;
mod localnet_cli;

/// Whetstone: a Bittensor subnet where autonomous coding agents compete on real software
/// tasks, graded in Docker sandboxes against hidden tests.
#[derive(Debug, Parser)]
#[command(name = "whetstone", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole subnet round on this machine: coordinator, agent-runner and validator on
    /// loopback, the example agents on the starter tasks in Docker, then a leaderboard and
    /// weights. Needs Docker (and debootstrap the first time, to build the base image).
    Devnet(DevnetArgs),
    /// Run a coordinator: the gRPC server agents, tasks and workers talk to.
    Coordinator(CoordinatorArgs),
    /// Run an agent-runner: executes miners' agents on tasks in Docker sandboxes.
    AgentRunner(RunnerArgs),
    /// Run a validator: grades patches in fresh Docker sandboxes against hidden tests, and
    /// with --chain.endpoint sets weights on chain from the leaderboard.
    Validator {
        #[command(flatten)]
        worker: WorkerArgs,
        #[command(flatten)]
        weights: chain_cli::WeightLoopArgs,
    },
    /// Show the leaderboard of a running coordinator.
    Leaderboard(ConnectArgs),
    /// Show every run of a running coordinator (or one agent's): outcome, verdict, test counts.
    /// Given a run id, show that run's trajectory: the agent's output, its LLM calls, its patch.
    Runs {
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
    },
    /// Miner tools.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Curator tools for task sets.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Look at a subnet on a subtensor node (metagraph, hyperparameters, weights) and set
    /// weights on it: devnet's localnet by default, or --chain.endpoint finney.
    #[command(subcommand)]
    Chain(chain_cli::ChainCommand),
    /// Run a local subtensor-compatible chain (subnet 1, //Alice validating, //Bob … //Ferdie
    /// mining) that subxt and `whetstone chain` talk to at ws://127.0.0.1:9944.
    #[command(long_about = localnet_cli::LONG_ABOUT)]
    Localnet(localnet_cli::LocalnetArgs),
    /// Build the sandbox images (base image and task environments) ahead of time.
    Images {
        /// Task set directories whose environments to build.
        #[arg(default_values_os_t = [whetstone::defaults::task_set()])]
        sets: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct DevnetArgs {
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
    /// Gradings the validator runs at once.
    #[arg(long, default_value_t = 2)]
    validator_capacity: u32,
    /// Seconds an agent may run on one task.
    #[arg(long, default_value_t = 300)]
    agent_timeout: u64,
    /// Print logs to the terminal instead of `<data-dir>/devnet.log`.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Debug, Args)]
struct CoordinatorArgs {
    /// TOML configuration (see coordinator/src/config.rs for every field and its default).
    #[arg(long, env = "WHETSTONE_COORDINATOR_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address; overrides the configuration.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory; overrides the configuration.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// This coordinator's hotkey (SS58): clients sign their requests for it (their
    /// `--coordinator-hotkey`). Overrides `[auth] hotkey`; required unless the configuration's
    /// `[auth] membership` is "dev" or "allow_all".
    #[arg(long, env = "WHETSTONE_COORDINATOR_HOTKEY", value_name = "SS58")]
    hotkey: Option<String>,
    #[command(flatten)]
    chain: chain_cli::SyncArgs,
}

#[derive(Debug, Args)]
struct ConnectArgs {
    /// Coordinator URL.
    #[arg(long, env = "WHETSTONE_COORDINATOR", default_value = "http://127.0.0.1:50051")]
    coordinator: String,
}

/// Who signs the requests, and for which coordinator.
#[derive(Debug, Args)]
struct SignerArgs {
    #[command(flatten)]
    wallet: whetstone_chain::wallet::WalletArgs,
    /// The coordinator's hotkey (SS58). Requests are signed for it, so they cannot be replayed
    /// to another server; a coordinator that is someone else names its hotkey in its refusal.
    /// Default: devnet's coordinator (dev key Alice).
    #[arg(long, env = "WHETSTONE_COORDINATOR_HOTKEY", default_value = whetstone::dev_keys::ALICE, value_name = "SS58")]
    coordinator_hotkey: String,
}

impl SignerArgs {
    /// Loads the hotkey (from the wallet, or the dev key) and binds it to the coordinator.
    fn signer(&self) -> Result<whetstone_proto::auth::RequestSigner> {
        let source = self.wallet.source()?;
        let pair = source.load().with_context(|| {
            format!(
                "cannot load the hotkey to sign with ({}); choose it with --wallet.name/--wallet.hotkey/--wallet.path, or --dev-key on a devnet",
                source.describe()
            )
        })?;
        let coordinator = whetstone_tasks::Hotkey::parse(&self.coordinator_hotkey).context("invalid --coordinator-hotkey")?;
        Ok(whetstone_proto::auth::RequestSigner::new(pair, coordinator))
    }
}

#[derive(Debug, Args)]
struct WorkerArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Stable worker name; leases survive reconnects under the same name.
    #[arg(long, env = "WHETSTONE_WORKER_ID")]
    worker_id: Option<String>,
    /// The operator's hotkey signs the session's hello; grading (and running agents) needs
    /// a validator permit on the subnet.
    #[command(flatten)]
    signer: SignerArgs,
    /// Jobs run at once.
    #[arg(long, default_value_t = 2)]
    capacity: u32,
    /// Cache directory for fetched tasks and agents.
    #[arg(long, env = "WHETSTONE_DATA_DIR", default_value = ".whetstone/worker")]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct RunnerArgs {
    #[command(flatten)]
    worker: WorkerArgs,
    /// The inference proxy's config (TOML: upstream_base_url, upstream_api_key_env, the model
    /// allowlist with prices; see agent-runner/AGENT_CONTRACT.md). Without it agents get no
    /// LLM access and no network at all.
    #[arg(long, env = "WHETSTONE_PROXY_CONFIG")]
    proxy_config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Create a new agent directory from the reference LLM agent (Python, standard library):
    /// agent.toml and agent.py, ready for `agent test` and `agent submit`.
    Init {
        /// Directory to create (must not exist or be empty).
        dir: PathBuf,
        /// The agent's name in agent.toml; default: from the directory name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Run an agent on tasks on this machine exactly as validators will: the same task image,
    /// sandbox, inference proxy and budget, then the same grading. Prints each task's result,
    /// LLM cost and time. Needs Docker.
    Test {
        /// Directory with agent.toml.
        #[arg(long)]
        agent: PathBuf,
        /// Task set directory (repeatable). Default: the starter set.
        #[arg(long = "tasks", default_values_os_t = [whetstone::defaults::task_set()])]
        task_sets: Vec<PathBuf>,
        /// Only this task id (repeatable).
        #[arg(long = "task")]
        only: Vec<String>,
        /// Where the proxy forwards LLM calls: an OpenAI-compatible base URL
        /// (`http://127.0.0.1:8000/v1`; key from $WHETSTONE_LLM_API_KEY), or `scripted:FILE` to
        /// replay recorded replies (examples/upstream/starter.jsonl). Without it the agent has no
        /// LLM access, as in production without a budget.
        #[arg(long)]
        upstream: Option<String>,
        /// The proxy's model allowlist and prices (the operator's TOML); default: a built-in list.
        #[arg(long)]
        proxy_config: Option<PathBuf>,
        /// LLM budget per task, in dollars. Default: the subnet's default.
        #[arg(long)]
        budget_usd: Option<f64>,
        /// Tasks run at once, each in its own sandbox with its own budget. Production runs one
        /// task per sandbox too; more jobs need more cores and memory (each agent gets the
        /// subnet's limits: see agent-runner/AGENT_CONTRACT.md).
        #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
    },
    /// Package an agent directory and submit it, signed with your hotkey (which must be
    /// registered on the subnet).
    Submit {
        #[command(flatten)]
        connect: ConnectArgs,
        #[command(flatten)]
        signer: SignerArgs,
        /// Directory with agent.toml (see agent-runner/AGENT_CONTRACT.md).
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TasksCommand {
    /// Load task sets, check every task against the format and the pinned digests.
    Check {
        #[arg(default_values_os_t = [whetstone::defaults::task_set()])]
        sets: Vec<PathBuf>,
    },
    /// Print each task's digest; with --write, pin them in the set's DIGESTS file.
    Digests {
        set: PathBuf,
        #[arg(long)]
        write: bool,
    },
    /// Publish every task of the given sets to a coordinator.
    Publish {
        #[command(flatten)]
        connect: ConnectArgs,
        /// A curator's hotkey signs each task: the coordinator's own, or one listed in its
        /// `auth.curators`.
        #[command(flatten)]
        signer: SignerArgs,
        /// Task set directories.
        sets: Vec<PathBuf>,
    },
    Add(whetstone::tasks_cli::AddArgs),
    Generate(whetstone::tasks_cli::GenerateArgs),
    Validate(whetstone::tasks_cli::ValidateArgs),
    /// Import public benchmark tasks (SWE-bench instances, Harbor task directories) into a
    /// task set; each task is reproduced in Docker before it is written.
    ///
    /// Reproduced means: its gold patch makes every FAIL_TO_PASS test pass and keeps every
    /// PASS_TO_PASS test passing, and without it every FAIL_TO_PASS test fails, graded exactly
    /// as validators grade agents. Tasks that do not reproduce are listed with the reason and
    /// left out. Needs Docker (and, once, root with debootstrap to build the base image).
    #[command(subcommand)]
    Import(whetstone::tasks_import::ImportCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Runtime::new()
        .context("failed to start the async runtime")
        .and_then(|runtime| runtime.block_on(dispatch(cli.command)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The whole cause chain, one cause per line; no backtrace for a user-facing error.
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging_to_stderr() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("WHETSTONE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn init_logging_to_file(path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("failed to create the log file {}", path.display()))?;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("WHETSTONE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(std::sync::Mutex::new(file)).init();
    Ok(())
}

/// Cancelled on Ctrl-C or SIGTERM, so every component can clean up its containers.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    cancel.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        cancel.cancel();
    });
    token
}

async fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Devnet(args) => run_devnet(args).await,
        Command::Coordinator(args) => {
            init_logging_to_stderr();
            let mut config = match &args.config {
                Some(path) => {
                    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
                    toml::from_str(&text).with_context(|| format!("{} is not a valid coordinator configuration", path.display()))?
                }
                None => whetstone_coordinator::CoordinatorConfig::default(),
            };
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            if let Some(dir) = args.data_dir {
                config.data_dir = dir;
            }
            if let Some(hotkey) = args.hotkey {
                config.auth.hotkey = Some(hotkey);
            }
            let shutdown = shutdown_on_signal();
            let (coordinator, sync) = if config.auth.membership == whetstone_coordinator::auth::MembershipPolicy::Chain {
                let (metagraph, sync) = chain_cli::start_metagraph_sync(&args.chain, shutdown.clone()).await?;
                let membership = std::sync::Arc::new(metagraph.clone());
                let coordinator = whetstone_coordinator::Coordinator::bind_with_membership(config, Some(membership)).await?;
                (coordinator.with_chain_view(metagraph), Some(sync))
            } else {
                (whetstone_coordinator::Coordinator::bind(config).await?, None)
            };
            tracing::info!("coordinator listening on {}", coordinator.local_addr()?);
            let served = coordinator.serve(shutdown.clone()).await;
            shutdown.cancel();
            if let Some(sync) = sync {
                let _ = sync.await;
            }
            served?;
            Ok(())
        }
        Command::AgentRunner(RunnerArgs { worker: args, proxy_config }) => {
            init_logging_to_stderr();
            let llm = match proxy_config {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
                    let config: whetstone_agent_runner::proxy::ProxyConfig =
                        toml::from_str(&text).with_context(|| format!("{} is not a valid proxy configuration", path.display()))?;
                    let key = whetstone_agent_runner::proxy::UpstreamKey::from_env(&config)?;
                    Some((config, key))
                }
                None => None,
            };
            let config = whetstone_agent_runner::RunnerConfig {
                llm,
                coordinator_url: args.connect.coordinator,
                signer: args.signer.signer()?,
                worker_id: args.worker_id.unwrap_or_else(|| default_worker_id("runner")),
                capacity: args.capacity,
                data_dir: args.data_dir,
            };
            whetstone_agent_runner::serve(config, shutdown_on_signal()).await?;
            Ok(())
        }
        Command::Validator { worker: args, weights } => {
            init_logging_to_stderr();
            let shutdown = shutdown_on_signal();
            let weight_loop = chain_cli::start_weight_loop(
                &weights,
                &args.connect.coordinator,
                args.signer.wallet.load()?,
                &args.data_dir,
                shutdown.clone(),
            )
            .await?;
            let config = whetstone_validator::ValidatorConfig {
                coordinator_url: args.connect.coordinator,
                signer: args.signer.signer()?,
                worker_id: args.worker_id.unwrap_or_else(|| default_worker_id("validator")),
                capacity: args.capacity,
                data_dir: args.data_dir,
            };
            let served = whetstone_validator::serve(config, shutdown.clone()).await;
            shutdown.cancel();
            if let Some(weight_loop) = weight_loop {
                let _ = weight_loop.await;
            }
            served?;
            Ok(())
        }
        Command::Leaderboard(args) => {
            let client = CoordinatorClient::connect(&args.coordinator).await?;
            let board = client.leaderboard().await?;
            println!("{}", ui::leaderboard_table(&board));
            println!("{}", ui::incentive_note(board.chain.as_ref()));
            Ok(())
        }
        Command::Runs { connect, run: Some(run_id), signer, patch, .. } => {
            let signer = signer.signer()?;
            let client = CoordinatorClient::connect(&connect.coordinator).await?;
            let detail = client.run_detail(&run_id, &signer).await?;
            if let Some(run) = &detail.run {
                println!("{}", ui::runs_table(std::slice::from_ref(run)));
            }
            println!(
                "LLM: {} spent in {} calls, {} refused",
                ui::usd(detail.llm_spent_micro_usd),
                detail.llm_calls.len(),
                detail.llm_refused
            );
            if !detail.llm_calls.is_empty() {
                println!("{}", ui::llm_calls_table(&detail.llm_calls));
            }
            println!("--- agent output ---\n{}", detail.log);
            if patch {
                println!("--- patch ---\n{}", String::from_utf8_lossy(&detail.patch));
            } else {
                println!("--- patch: {} bytes (--patch prints it) ---", detail.patch.len());
            }
            Ok(())
        }
        Command::Runs { connect, agent, .. } => {
            let client = CoordinatorClient::connect(&connect.coordinator).await?;
            let runs = client.runs(agent.as_deref()).await?;
            if runs.is_empty() {
                println!("no runs yet");
            } else {
                println!("{}", ui::runs_table(&runs));
            }
            Ok(())
        }
        Command::Agent(AgentCommand::Init { dir, name }) => {
            let written = whetstone::agent_tools::init(&dir, name.as_deref())?;
            for path in written {
                println!("wrote {}", path.display());
            }
            println!(
                "next: whetstone agent test --agent {0} --upstream scripted:examples/upstream/starter.jsonl\n      whetstone agent submit {0}",
                dir.display()
            );
            Ok(())
        }
        Command::Agent(AgentCommand::Test { agent, task_sets, only, upstream, proxy_config, budget_usd, jobs }) => {
            let defaults = whetstone_coordinator::CoordinatorConfig::default();
            let budget_micro_usd = match budget_usd {
                Some(usd) if usd.is_finite() && usd >= 0.0 => (usd * 1e6).round() as u64,
                Some(usd) => anyhow::bail!("--budget-usd {usd} must be a non-negative number of dollars"),
                None => defaults.llm_budget_micro_usd,
            };
            let options = whetstone::agent_tools::AgentTestOptions {
                agent_dir: agent,
                task_sets,
                tasks: only,
                upstream: whetstone::agent_tools::Upstream::parse(upstream.as_deref()),
                proxy_config,
                budget_micro_usd,
                limits: defaults.agent_limits.into(),
                grade_limits: defaults.grade_limits.into(),
                grade_overhead: std::time::Duration::from_secs(defaults.grade_overhead_secs),
                jobs: usize::from(jobs),
            };
            let spinner = ui::Spinner::new("loading the agent and tasks");
            let started = std::time::Instant::now();
            let outcomes = whetstone::agent_tools::test_agent(&options, &spinner).await?;
            let resolved = outcomes
                .iter()
                .filter(|o| o.verdict.as_ref().is_some_and(|v| v.status == whetstone_tasks::VerdictStatus::Resolved))
                .count();
            let spent: u64 = outcomes.iter().map(|o| o.run.llm.spent_micro_usd).sum();
            let elapsed = started.elapsed().as_secs_f64();
            spinner.done(format!(
                "resolved {resolved}/{} tasks, {} of LLM calls, {elapsed:.0}s (budget {} per task)",
                outcomes.len(),
                ui::usd(spent),
                ui::usd(budget_micro_usd)
            ));
            Ok(())
        }
        Command::Agent(AgentCommand::Submit { connect, signer, dir }) => {
            let signer = signer.signer()?;
            let client = CoordinatorClient::connect(&connect.coordinator).await?;
            let response = client.submit_agent(&dir, &signer).await?;
            println!(
                "submitted {} {} as {}\ndigest {}\n{} runs scheduled",
                response.name,
                response.version,
                signer.hotkey(),
                response.agent_digest,
                response.runs_scheduled
            );
            Ok(())
        }
        Command::Chain(command) => chain_cli::run(command).await,
        Command::Localnet(args) => localnet_cli::run(args).await,
        Command::Tasks(TasksCommand::Import(command)) => whetstone::tasks_import::run(command).await,
        Command::Tasks(TasksCommand::Check { sets }) => {
            for path in sets {
                let set = whetstone_tasks::TaskSet::load(&path).with_context(|| format!("task set {} is invalid", path.display()))?;
                for task in &set.tasks {
                    println!(
                        "{}  {}  {} fail-to-pass, {} pass-to-pass",
                        task.digest().short(),
                        task.spec.id,
                        task.spec.tests.fail_to_pass.len(),
                        task.spec.tests.pass_to_pass.len()
                    );
                }
                println!("{}: {} tasks, all valid", path.display(), set.tasks.len());
            }
            Ok(())
        }
        Command::Tasks(TasksCommand::Digests { set, write }) => {
            let loaded = whetstone_tasks::TaskSet::load_unpinned(&set).with_context(|| format!("task set {} is invalid", set.display()))?;
            let text = loaded.digests_file();
            if write {
                let path = set.join(whetstone_tasks::task::DIGESTS_FILE);
                std::fs::write(&path, &text).with_context(|| format!("failed to write {}", path.display()))?;
                println!("pinned {} digests in {}", loaded.tasks.len(), path.display());
            } else {
                print!("{text}");
            }
            Ok(())
        }
        Command::Tasks(TasksCommand::Add(args)) => whetstone::tasks_cli::add(args).await,
        Command::Tasks(TasksCommand::Generate(args)) => whetstone::tasks_cli::generate(args).await,
        Command::Tasks(TasksCommand::Validate(args)) => whetstone::tasks_cli::validate(args).await,
        Command::Tasks(TasksCommand::Publish { connect, signer, sets }) => {
            if sets.is_empty() {
                bail!("name at least one task set directory to publish");
            }
            let signer = signer.signer()?;
            let client = CoordinatorClient::connect(&connect.coordinator).await?;
            for path in sets {
                let set = whetstone_tasks::TaskSet::load(&path).with_context(|| format!("task set {} is invalid", path.display()))?;
                for task in &set.tasks {
                    let response = client.publish_task(task, &signer).await?;
                    let state = if response.created { "published" } else { "already published" };
                    println!("{state} {} ({}), {} runs scheduled", response.task_id, &response.task_digest[..12], response.runs_scheduled);
                }
            }
            Ok(())
        }
        Command::Images { sets } => {
            let spinner = Spinner::new("connecting to Docker");
            let sandbox = whetstone_sandbox::Sandbox::connect("images").await?;
            let base = sandbox.ensure_base_image(&spinner).await?;
            let mut built = vec![base.to_string()];
            for path in sets {
                let set = whetstone_tasks::TaskSet::load(&path).with_context(|| format!("task set {} is invalid", path.display()))?;
                for task in &set.tasks {
                    let image = sandbox.ensure_task_image(task.dockerfile(), &spinner).await?;
                    if !built.contains(&image.to_string()) {
                        built.push(image.to_string());
                    }
                }
            }
            spinner.done(format!("images ready: {}", built.join(", ")));
            Ok(())
        }
    }
}

fn default_worker_id(role: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "local".into());
    format!("{role}-{host}")
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

async fn run_devnet(args: DevnetArgs) -> Result<()> {
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
    if let Some(upstream) = args.upstream {
        options.upstream = whetstone::agent_tools::Upstream::parse(Some(&upstream));
    }

    devnet::prepare_data_dir(&options.data_dir)?;
    let log_path = options.data_dir.join("devnet.log");
    if args.verbose {
        init_logging_to_stderr();
    } else {
        init_logging_to_file(&log_path)?;
    }
    println!("whetstone devnet: a local subnet round in {}", options.data_dir.display());
    let reporter = DevnetUi { spinner: Spinner::new("starting"), last_step: std::sync::Mutex::new(None) };
    let result = devnet::run(options.clone(), &reporter, shutdown_on_signal()).await;
    reporter.finish_step();
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            reporter.spinner.done("failed");
            return Err(anyhow::Error::new(error).context(format!("devnet failed; the log is {}", log_path.display())));
        }
    };
    reporter.spinner.done(format!("round finished in {:.1}s", report.elapsed.as_secs_f64()));

    println!("\nResults");
    println!("{}", ui::results_matrix(&report.runs));
    println!("\nLeaderboard ({} tasks)", report.tasks);
    let board = pb::LeaderboardResponse { entries: report.leaderboard.clone(), chain: report.chain, scoring: String::new() };
    println!("{}", ui::leaderboard_table(&board));
    println!("{}", ui::incentive_note(board.chain.as_ref()));
    let names =
        |hotkey: &str| report.leaderboard.iter().filter(|e| e.hotkey == hotkey).map(|e| e.name.clone()).collect::<Vec<_>>().join(", ");
    match &report.extrinsic {
        Some((extrinsic, block)) => println!(
            "\nWeights set on chain by validator {} on netuid {}: extrinsic {extrinsic} in block {block} of the localnet",
            &report.weights.validator[..10],
            report.weights.netuid
        ),
        None => println!("\nWeights of validator {} on netuid {}", &report.weights.validator[..10], report.weights.netuid),
    }
    if report.weights.uids.is_empty() {
        println!("(no agent resolved any task, so every weight is zero and none is set)");
    } else {
        println!("{}", ui::weights_table(&report.weights, &report.hotkeys, &names));
        let row = report.chain_weights.iter().map(|(uid, weight)| format!("uid {uid}: {weight}")).collect::<Vec<_>>().join(", ");
        println!("on-chain weights row (SubtensorModule::Weights[{}][0]): {row}", report.weights.netuid);
    }
    println!("\nledger: {} (audit log; entry {})", options.data_dir.join("weights.jsonl").display(), report.ledger_id);
    println!("log:    {}", log_path.display());
    if report.leftover_containers > 0 {
        bail!("{} sandbox containers were left behind after shutdown", report.leftover_containers);
    }
    Ok(())
}
