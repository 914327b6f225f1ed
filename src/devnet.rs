//! `whetstone devnet`: a whole subnet round on this machine, with real parts. A coordinator,
//! an agent-runner and two validators (Alice and Ferdie, with permits and different stake)
//! talk gRPC over loopback; agents run in Docker and every patch is graded by both validators,
//! each in a fresh sandbox, each signing its verdict. Each validator then verifies the signed
//! verdict ledger itself, computes its own weight vector with the public scoring function and
//! sets it through subxt on a localnet (a local subtensor-compatible node started in-process),
//! keeping a JSON audit log. The coordinator syncs the localnet's metagraph, so the final
//! leaderboard shows what both validators' weights earn each miner in a Yuma Consensus epoch.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use whetstone_agent_runner::RunnerConfig;
use whetstone_chain::client::SubtensorClient;
use whetstone_chain::{FileLedger, WeightSubmission};
use whetstone_coordinator::config::LimitsConfig;
use whetstone_coordinator::{Coordinator, CoordinatorConfig};
use whetstone_proto::auth::RequestSigner;
use whetstone_proto::pb;
use whetstone_sandbox::{OrphanScope, Progress, Sandbox};
use whetstone_tasks::{Hotkey, TaskSet};
use whetstone_validator::ValidatorConfig;

use crate::client::{ClientError, CoordinatorClient};
use crate::dev_keys;

/// Marks a data directory as devnet's own, so a later run may wipe it.
const MARKER: &str = ".whetstone-devnet";
const RUNNER_ID: &str = "devnet-runner";
/// Devnet's validators: worker id, key and name.
const VALIDATORS: [(&str, dev_keys::DevKey, &str); 2] =
    [("devnet-validator-alice", dev_keys::DevKey::Alice, "Alice"), ("devnet-validator-ferdie", dev_keys::DevKey::Ferdie, "Ferdie")];
/// Devnet's subnet id on its local metagraph.
const NETUID: u16 = 1;
/// How often the coordinator re-reads the localnet's metagraph and weights.
const METAGRAPH_INTERVAL: Duration = Duration::from_millis(250);
/// How long the final leaderboard may wait for the sync to see the weights just set.
const SYNC_WAIT: Duration = Duration::from_secs(30);

/// Signs as a dev key for devnet's coordinator (dev key Alice).
fn dev_signer(key: dev_keys::DevKey) -> RequestSigner {
    RequestSigner::new(key.pair(), Hotkey::new(dev_keys::ALICE))
}

#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// Wiped and reused when devnet made it; refused when it holds anything else.
    pub data_dir: PathBuf,
    pub task_sets: Vec<PathBuf>,
    /// Agent directories; each is submitted under its own miner hotkey.
    pub agents: Vec<PathBuf>,
    pub runner_capacity: u32,
    /// Gradings each of the two validators runs at once.
    pub validator_capacity: u32,
    pub agent_timeout: Duration,
    /// The whole round must finish within this.
    pub deadline: Duration,
    /// Where the runner's inference proxy forwards agents' LLM calls. Default: none (agents
    /// get no network); `scripted:examples/upstream/starter.jsonl` runs the reference LLM agent
    /// offline through the production path.
    pub upstream: crate::agent_tools::Upstream,
    /// After the round, send one solve job (the first task's repository and instruction) to
    /// the best agent through the coordinator's solve API, as a developer would.
    pub solve: bool,
    /// After the round, keep the coordinator (and its dashboard) and the localnet up until
    /// `shutdown` fires.
    pub serve: bool,
}

impl Default for DevnetOptions {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".whetstone/devnet"),
            task_sets: vec![crate::defaults::task_set()],
            agents: crate::defaults::agents(),
            runner_capacity: 2,
            validator_capacity: 2,
            agent_timeout: Duration::from_secs(300),
            deadline: Duration::from_secs(30 * 60),
            upstream: crate::agent_tools::Upstream::None,
            solve: false,
            serve: false,
        }
    }
}

/// The solve job devnet sent after its round (`--solve`).
#[derive(Debug, Clone)]
pub struct DevnetSolve {
    /// The solve API's URL.
    pub url: String,
    pub task_id: String,
    pub agent: crate::solve_client::AgentInfo,
    /// `diff`, `no_diff`, `failed` or `cancelled`.
    pub status: String,
    pub diff: String,
    pub error: String,
    /// The agent's log lines as the events carried them.
    pub log_lines: usize,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("failed to set up the LLM upstream")]
    Llm(#[source] crate::agent_tools::AgentToolError),
    #[error(
        "refusing to use {path} as the devnet data directory: it is not empty and devnet did not create it; pass a new or empty --data-dir"
    )]
    ForeignDataDir { path: String },
    #[error("failed to prepare the data directory {path}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("devnet needs the Docker engine")]
    Docker(#[source] whetstone_sandbox::SandboxError),
    #[error("failed to load the task set")]
    Tasks(#[source] whetstone_tasks::task::TaskError),
    #[error("there are more agents ({0}) than devnet miner hotkeys ({1})")]
    TooManyAgents(usize, usize),
    #[error("the coordinator failed")]
    Coordinator(#[source] whetstone_coordinator::CoordinatorError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the {0} stopped unexpectedly: {1}")]
    WorkerDied(&'static str, String),
    #[error("the round did not finish within {0:?} (runs {1}/{2}, grades {3}/{4}); see the log")]
    Timeout(Duration, u32, u32, u32, u32),
    #[error("setting weights failed")]
    Weights(#[source] whetstone_validator::WeightsError),
    #[error("the local subtensor node failed to start")]
    Localnet(#[source] whetstone_localnet::LocalnetError),
    #[error("cannot talk to the local subtensor node")]
    Chain(#[source] whetstone_chain::client::ChainError),
    #[error("interrupted")]
    Interrupted,
}

/// One solve job for `task`'s repository (as a developer's git work tree) to the best agent.
async fn solve_once(coordinator_dir: &Path, url: &str, task: &whetstone_tasks::Task) -> Result<DevnetSolve, String> {
    use futures::StreamExt as _;
    let started = Instant::now();
    let keys = whetstone_coordinator::solve::keys::KeyStore::open(&whetstone_coordinator::DatabaseUrl::in_data_dir(coordinator_dir))
        .await
        .map_err(|e| format!("key store: {e}"))?;
    let (_, key) = keys.create("devnet", Default::default()).await.map_err(|e| format!("making a key: {e}"))?;
    let repo = tempfile::tempdir().map_err(|e| format!("scratch: {e}"))?;
    task.subtree("repo").write_to(repo.path()).map_err(|e| format!("writing the repository: {e}"))?;
    let git = git2::Repository::init(repo.path()).map_err(|e| format!("git init: {e}"))?;
    let mut index = git.index().map_err(|e| e.to_string())?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).map_err(|e| e.to_string())?;
    index.write().map_err(|e| e.to_string())?;
    let snapshot = crate::solve_client::pack_worktree(repo.path()).map_err(|e| e.to_string())?;
    let client = crate::solve_client::SolveClient::new(url, &key).map_err(|e| e.to_string())?;
    let request = crate::solve_client::SolveRequest {
        statement: task.instruction.clone(),
        snapshot,
        agent: "best".into(),
        budget_micro_usd: None,
        test_command: Some(task.spec.tests.command.clone()),
    };
    let accepted = client.submit(&request).await.map_err(|e| e.to_string())?;
    let mut events = client.events(&accepted.id, None).await.map_err(|e| e.to_string())?;
    let mut log_lines = 0;
    while let Some(event) = events.next().await {
        match event.map_err(|e| e.to_string())?.kind {
            crate::solve_client::SolveEventKind::Log { .. } => log_lines += 1,
            crate::solve_client::SolveEventKind::Finished(finished) => {
                return Ok(DevnetSolve {
                    url: url.to_owned(),
                    task_id: task.spec.id.clone(),
                    agent: finished.agent,
                    status: finished.status,
                    diff: finished.diff,
                    error: finished.error,
                    log_lines,
                    elapsed: started.elapsed(),
                });
            }
            _ => {}
        }
    }
    Err(format!("the event stream of {} ended before the job finished", accepted.id))
}

/// What one validator computed from the ledger and set on chain.
#[derive(Debug, Clone)]
pub struct ValidatorWeights {
    pub name: &'static str,
    pub hotkey: String,
    /// Its weights, as recorded in its audit ledger (empty when no miner scored).
    pub weights: WeightSubmission,
    /// Its audit ledger file and the submission's entry there ("none" when nothing was set).
    pub audit_path: PathBuf,
    pub audit_id: String,
    /// The extrinsic that set the weights and its block, when weights were set.
    pub extrinsic: Option<(String, u64)>,
    /// Its weights row as the chain stores it afterwards: (uid, weight).
    pub chain_weights: Vec<(u16, u16)>,
    /// Ledger entries it accepted and rejected, and runs decided and pending by its function.
    pub accepted: usize,
    pub rejected: usize,
    pub decided: usize,
    pub pending: usize,
    /// The epoch its scores are of, from the sets it recomputed from the chain's block hashes.
    pub epoch: Option<u64>,
    /// Each agent's score as its own function computed it (agent digest → score): the
    /// leaderboard must show the same.
    pub scores: Vec<(String, f64)>,
}

/// What a round produced.
#[derive(Debug, Clone)]
pub struct DevnetReport {
    /// The final leaderboard, read after the weights were set (entries carry the Yuma
    /// incentive of their hotkey).
    pub leaderboard: Vec<pb::LeaderboardEntry>,
    /// The chain view the incentive column was computed from.
    pub chain: Option<pb::ChainView>,
    /// Which scoring function produced the leaderboard.
    pub scoring: String,
    /// The epoch the leaderboard is of.
    pub epoch: Option<u64>,
    /// Every run with its consensus and how many verdicts agree with it.
    pub runs: Vec<pb::RunRecord>,
    /// Each validator's standing: verdicts, agreement, dissents.
    pub standings: pb::ValidatorsResponse,
    /// Each validator's own weights, in the order of [`VALIDATORS`] (Alice, Ferdie).
    pub validators: Vec<ValidatorWeights>,
    /// The chain's metagraph: hotkey by uid (uid 0 is Alice, uid 5 Ferdie).
    pub hotkeys: Vec<String>,
    pub tasks: usize,
    pub elapsed: Duration,
    /// Containers still present after shutdown (should be none).
    pub leftover_containers: usize,
    /// With `--solve`: the solve job sent after the round.
    pub solve: Option<Result<DevnetSolve, String>>,
    /// Where the coordinator served the dashboard (and the solve API).
    pub dashboard: Option<String>,
}

/// Devnet's epochs: one epoch longer than any round (the localnet seals a block per
/// transaction), whose draw takes every starter task, so a round runs every agent on every
/// task as before while the epoch path (clock, draw, run ids, the validators' check) is the
/// production one.
pub const DEVNET_EPOCHS: whetstone_chain::epochs::EpochRules =
    whetstone_chain::epochs::EpochRules { genesis_block: 0, length_blocks: 1_000_000, draw: 1000, fresh: 20, decay: 0.5 };

/// Where devnet reports what it is doing.
pub trait Reporter: Progress {
    /// A phase begins; it lasts until the next one.
    fn step(&self, message: &str);
    /// Something happened that is worth a line of its own.
    fn event(&self, message: &str);
    /// The round's counters, polled while agents run and patches are graded.
    fn round(&self, progress: &pb::ProgressResponse);
}

/// Creates `dir` or empties it when a previous devnet made it. Call before logging into it.
pub fn prepare_data_dir(dir: &Path) -> Result<(), DevnetError> {
    let io = |source| DevnetError::DataDir { path: dir.display().to_string(), source };
    if dir.exists() {
        let is_empty = std::fs::read_dir(dir).map_err(io)?.next().is_none();
        if !is_empty {
            if !dir.join(MARKER).exists() {
                return Err(DevnetError::ForeignDataDir { path: dir.display().to_string() });
            }
            std::fs::remove_dir_all(dir).map_err(io)?;
        }
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(dir.join(MARKER), b"made by `whetstone devnet`; wiped by its next run\n").map_err(io)?;
    Ok(())
}

/// Runs one round. The data directory must have been prepared with [`prepare_data_dir`].
pub async fn run(options: DevnetOptions, reporter: &dyn Reporter, shutdown: CancellationToken) -> Result<DevnetReport, DevnetError> {
    let started = Instant::now();
    if options.agents.len() > dev_keys::MINERS.len() {
        return Err(DevnetError::TooManyAgents(options.agents.len(), dev_keys::MINERS.len()));
    }

    reporter.step("checking the Docker engine");
    let sandbox = Sandbox::connect("devnet").await.map_err(DevnetError::Docker)?;
    let mut sets = Vec::new();
    for path in &options.task_sets {
        sets.push(TaskSet::load(path).map_err(DevnetError::Tasks)?);
    }
    let task_count: usize = sets.iter().map(|s| s.tasks.len()).sum();

    // Build images first, with visible progress; the workers then find them cached.
    reporter.step("preparing the base image (first run: debootstrap, about a minute)");
    sandbox.ensure_base_image(reporter).await.map_err(DevnetError::Docker)?;
    for task in sets.iter().flat_map(|s| &s.tasks) {
        sandbox.ensure_environment_image(&task.environment(), reporter).await.map_err(DevnetError::Docker)?;
    }

    reporter.step("starting a local subtensor node (localnet) for the metagraph and weights");
    let localnet = whetstone_localnet::spawn(whetstone_localnet::LocalnetConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        ..whetstone_localnet::LocalnetConfig::default()
    })
    .await
    .map_err(DevnetError::Localnet)?;
    let chain = match SubtensorClient::connect(&localnet.url).await {
        Ok(chain) => Arc::new(chain),
        Err(error) => {
            localnet.stop().await;
            return Err(DevnetError::Chain(error));
        }
    };
    reporter.event(&format!("localnet at {} (subnet {NETUID}: Alice and Ferdie validate, Bob to Eve mine)", localnet.url));

    reporter.step("starting the coordinator, an agent-runner and two validators on loopback");
    let stop = shutdown.child_token();
    let (metagraph, sync_task) = whetstone_chain::sync::spawn(Arc::clone(&chain), NETUID, METAGRAPH_INTERVAL, stop.clone());
    let config = CoordinatorConfig {
        data_dir: options.data_dir.join("coordinator"),
        listen: ([127, 0, 0, 1], 0).into(),
        agent_limits: LimitsConfig { timeout_secs: options.agent_timeout.as_secs(), memory_mib: 2048, cpu_millis: 1000, pids: 256 },
        // Signed requests, checked against the dev keyring: Alice and Ferdie validate, the
        // others mine.
        auth: whetstone_coordinator::auth::AuthConfig::devnet(),
        // Both validators grade every run. With no third validator, a dispute or audit grade
        // would wait forever: none.
        grading: whetstone_coordinator::GradingConfig { replicas: 2, max_disputes: 0, audit_fraction: 0.0 },
        // The HTTP port (dashboard, solve API) on a free port, and "best" ranked after one round.
        solve: whetstone_coordinator::solve::SolveConfig { listen: Some(([127, 0, 0, 1], 0).into()), min_decided: 1, ..Default::default() },
        // Only this machine's user reaches devnet's loopback port, and every miner is a dev
        // key: runs' logs, LLM calls and patches are shown.
        web: whetstone_coordinator::WebConfig { show_run_details: true },
        epochs: Some(DEVNET_EPOCHS),
        ..CoordinatorConfig::default()
    };
    let clock: Arc<dyn whetstone_coordinator::epochs::ChainClock> = chain.clone();
    let coordinator = Coordinator::bind(config).await.map_err(DevnetError::Coordinator)?.with_chain_view(metagraph).with_epoch_clock(clock);
    let http_url = coordinator.solve_addr().map(|addr| format!("http://{addr}"));
    if let Some(http_url) = &http_url {
        reporter.event(&format!("dashboard at {http_url}/ (live while the round runs)"));
    }
    let addr = coordinator.local_addr().map_err(|source| DevnetError::DataDir { path: "listener".into(), source })?;
    let url = format!("http://{addr}");
    let coordinator_task = tokio::spawn(coordinator.serve(stop.clone()));
    let (llm, _scripted) = crate::agent_tools::proxy_upstream(&options.upstream, None).await.map_err(DevnetError::Llm)?;
    let runner_task = tokio::spawn(whetstone_agent_runner::serve(
        RunnerConfig {
            coordinator_urls: vec![url.clone()],
            worker_id: RUNNER_ID.into(),
            signer: dev_signer(dev_keys::DevKey::Alice),
            capacity: options.runner_capacity,
            data_dir: options.data_dir.join("agent-runner"),
            llm,
            run_subnets: whetstone_sandbox::RunSubnets::default(),
        },
        stop.clone(),
    ));
    let validator_tasks: Vec<_> = VALIDATORS
        .iter()
        .map(|(worker_id, key, name)| {
            tokio::spawn(whetstone_validator::serve(
                ValidatorConfig {
                    coordinator_urls: vec![url.clone()],
                    worker_id: (*worker_id).into(),
                    signer: dev_signer(*key),
                    capacity: options.validator_capacity,
                    data_dir: options.data_dir.join(format!("validator-{}", name.to_lowercase())),
                },
                stop.clone(),
            ))
        })
        .collect();

    let result = round(&options, &sets, &url, &chain, reporter, &shutdown, &runner_task, &validator_tasks).await;
    let solve_url = http_url.as_ref().filter(|_| options.solve);
    let solve = match (&result, solve_url, sets.iter().flat_map(|s| &s.tasks).next()) {
        (Ok(_), Some(solve_url), Some(task)) => {
            reporter.step(&format!("solve API at {solve_url}: one solve job for {}'s repository to the best agent", task.spec.id));
            let coordinator_dir = options.data_dir.join("coordinator");
            let solved = tokio::select! {
                solved = solve_once(&coordinator_dir, solve_url, task) => solved,
                () = shutdown.cancelled() => Err("interrupted".to_owned()),
            };
            Some(solved)
        }
        _ => None,
    };

    if let (true, Ok(_), Some(http_url)) = (options.serve, &result, &http_url) {
        reporter.step(&format!("round finished; dashboard at {http_url}/ until Ctrl-C (then the results print here)"));
        shutdown.cancelled().await;
    }
    reporter.step("shutting down");
    stop.cancel();
    let _ = runner_task.await;
    for task in validator_tasks {
        let _ = task.await;
    }
    let _ = coordinator_task.await;
    let _ = sync_task.await;
    localnet.stop().await;
    let mut leftover_containers = 0;
    for owner in std::iter::once(RUNNER_ID).chain(VALIDATORS.iter().map(|(id, _, _)| *id)) {
        if let Ok(check) = Sandbox::connect(owner).await {
            leftover_containers += check.list_ours(OrphanScope::ThisOwner).await.map(|c| c.len()).unwrap_or(0);
        }
    }
    let RoundResult { leaderboard, chain: chain_view, scoring, epoch, runs, standings, validators, hotkeys } = result?;
    Ok(DevnetReport {
        leaderboard,
        chain: chain_view,
        scoring,
        epoch,
        runs,
        standings,
        validators,
        hotkeys,
        tasks: task_count,
        elapsed: started.elapsed(),
        leftover_containers,
        solve,
        dashboard: http_url,
    })
}

struct RoundResult {
    leaderboard: Vec<pb::LeaderboardEntry>,
    chain: Option<pb::ChainView>,
    scoring: String,
    epoch: Option<u64>,
    runs: Vec<pb::RunRecord>,
    standings: pb::ValidatorsResponse,
    validators: Vec<ValidatorWeights>,
    hotkeys: Vec<String>,
}

#[expect(clippy::too_many_arguments, reason = "the round's parts, each used once")]
async fn round(
    options: &DevnetOptions,
    sets: &[TaskSet],
    url: &str,
    chain: &SubtensorClient,
    reporter: &dyn Reporter,
    shutdown: &CancellationToken,
    runner: &JoinHandle<Result<(), whetstone_agent_runner::RunnerError>>,
    validators: &[JoinHandle<Result<(), whetstone_validator::ValidatorError>>],
) -> Result<RoundResult, DevnetError> {
    let client = CoordinatorClient::connect(url).await?;
    let curator = dev_signer(dev_keys::DevKey::Alice);
    for set in sets {
        reporter.step(&format!("publishing {} tasks from {}", set.tasks.len(), set.path.display()));
        for task in &set.tasks {
            client.publish_task(task, &curator).await?;
        }
    }
    let mut hotkeys: Vec<String> = dev_keys::VALIDATORS.iter().map(|h| (*h).to_owned()).collect();
    for (agent, hotkey) in options.agents.iter().zip(dev_keys::MINERS) {
        let miner = dev_keys::DevKey::of_address(hotkey).unwrap_or(dev_keys::DevKey::Bob);
        let response = client.submit_agent(agent, &dev_signer(miner)).await?;
        reporter.event(&format!("submitted agent {} {} as {}…", response.name, response.version, &hotkey[..8]));
        hotkeys.push((*hotkey).to_owned());
    }

    let expected_runs = u32::try_from(options.agents.len() * sets.iter().map(|s| s.tasks.len()).sum::<usize>()).unwrap_or(u32::MAX);
    let deadline = Instant::now() + options.deadline;
    loop {
        let progress = client.progress().await?;
        reporter.round(&progress);
        let finished = progress.runs_total >= expected_runs
            && progress.runs_done == progress.runs_total
            && progress.grades_done == progress.grades_total;
        if finished {
            break;
        }
        if runner.is_finished() {
            return Err(DevnetError::WorkerDied("agent-runner", "it exited; see the log".into()));
        }
        if validators.iter().any(JoinHandle::is_finished) {
            return Err(DevnetError::WorkerDied("validator", "it exited; see the log".into()));
        }
        if Instant::now() > deadline {
            return Err(DevnetError::Timeout(
                options.deadline,
                progress.runs_done,
                progress.runs_total,
                progress.grades_done,
                progress.grades_total,
            ));
        }
        tokio::select! {
            () = shutdown.cancelled() => return Err(DevnetError::Interrupted),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }

    let runs = client.runs(None).await?;
    let standings = client.validators().await?;
    let mut weights = Vec::new();
    for (_, key, name) in VALIDATORS {
        reporter.step(&format!("validator {name} verifies the verdict ledger, computes its weights and sets them on the localnet"));
        weights.push(validator_sets_weights(options, &client, chain, key, name, reporter).await?);
    }
    // The chain's metagraph names every uid, the miners without an agent too.
    let (_, neurons) = chain.neurons(NETUID).await.map_err(DevnetError::Chain)?;
    let chain_hotkeys: Vec<String> = neurons.iter().map(|n| n.hotkey.to_string()).collect();
    if chain_hotkeys.len() >= hotkeys.len() {
        hotkeys = chain_hotkeys;
    }
    // The final leaderboard, once the coordinator's sync has read the blocks the weights are in.
    let set_in = weights.iter().filter_map(|w| w.extrinsic.as_ref().map(|(_, block)| *block)).max().unwrap_or(0);
    let sync_deadline = Instant::now() + SYNC_WAIT;
    let board = loop {
        let board = client.leaderboard().await?;
        if board.chain.as_ref().is_some_and(|view| view.block >= set_in) || Instant::now() > sync_deadline {
            break board;
        }
        tokio::time::sleep(METAGRAPH_INTERVAL).await;
    };
    Ok(RoundResult {
        leaderboard: board.entries,
        chain: board.chain,
        scoring: board.scoring,
        epoch: board.epoch,
        runs,
        standings,
        validators: weights,
        hotkeys,
    })
}

/// One validator's weight step, as `whetstone validator` does it on its timer: catch up with
/// the ledger, verify every verdict against the chain's permits, run the scoring function,
/// set the weights through subxt and append them to its audit log.
async fn validator_sets_weights(
    options: &DevnetOptions,
    client: &CoordinatorClient,
    chain: &SubtensorClient,
    key: dev_keys::DevKey,
    name: &'static str,
    reporter: &dyn Reporter,
) -> Result<ValidatorWeights, DevnetError> {
    let audit_path = options.data_dir.join(format!("weights-{}.jsonl", name.to_lowercase()));
    let audit = FileLedger::new(audit_path.clone());
    let mut ledger = whetstone_validator::Ledger::new();
    let (outcome, evaluation) = whetstone_validator::set_weights_on_chain(
        &mut ledger,
        &mut client.scores(),
        chain,
        &key.pair(),
        NETUID,
        &audit,
        None,
        &whetstone_validator::ScoringOptions::default(),
    )
    .await
    .map_err(DevnetError::Weights)?;
    let (extrinsic, chain_weights) = match &outcome.receipt {
        Some(receipt) => {
            reporter.event(&format!("{name}'s weights set by extrinsic {} in block {}", receipt.extrinsic_hash, receipt.block_number));
            let row = chain.weights_row(NETUID, receipt.uid).await.map_err(DevnetError::Chain)?;
            (Some((receipt.extrinsic_hash.clone(), receipt.block_number)), row)
        }
        None => (None, Vec::new()),
    };
    Ok(ValidatorWeights {
        name,
        hotkey: key.address().to_owned(),
        weights: outcome.submission,
        audit_path,
        audit_id: outcome.audit_id.unwrap_or_else(|| "none".into()),
        extrinsic,
        chain_weights,
        accepted: evaluation.accepted,
        rejected: evaluation.rejected.len(),
        decided: evaluation.decided_runs(),
        pending: evaluation.pending_runs(),
        epoch: evaluation.epochs.as_ref().and_then(|e| e.scores.current),
        scores: evaluation.consensus.agents.iter().map(|a| (a.agent.to_string(), a.score)).collect(),
    })
}
