//! `whetstone agent init / test / submit`: the miner's tools. The work is in
//! `whetstone::agent_tools` (templates, the local test bench) and `whetstone::client`; this
//! module parses the options and prints what happened and what to do next.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use whetstone::agent_tools::{self, AgentTestOptions, Upstream};
use whetstone::client::CoordinatorClient;
use whetstone::ui::{self, Spinner};

use super::connect::{ConnectArgs, SignerArgs};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
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

pub async fn run(command: AgentCommand) -> Result<()> {
    match command {
        AgentCommand::Init { dir, name } => {
            let written = agent_tools::init(&dir, name.as_deref())?;
            for path in written {
                println!("wrote {}", path.display());
            }
            println!(
                "next: whetstone agent test --agent {0} --upstream scripted:examples/upstream/starter.jsonl\n      whetstone agent submit {0}",
                dir.display()
            );
            Ok(())
        }
        AgentCommand::Test { agent, task_sets, only, upstream, proxy_config, budget_usd, jobs } => {
            let defaults = whetstone_coordinator::CoordinatorConfig::default();
            let budget_micro_usd = match budget_usd {
                Some(usd) if usd.is_finite() && usd >= 0.0 => (usd * 1e6).round() as u64,
                Some(usd) => anyhow::bail!("--budget-usd {usd} must be a non-negative number of dollars"),
                None => defaults.llm_budget_micro_usd,
            };
            let options = AgentTestOptions {
                agent_dir: agent,
                task_sets,
                tasks: only,
                upstream: Upstream::parse(upstream.as_deref()),
                proxy_config,
                budget_micro_usd,
                limits: defaults.agent_limits.into(),
                grade_limits: defaults.grade_limits.into(),
                grade_overhead: std::time::Duration::from_secs(defaults.grade_overhead_secs),
                jobs: usize::from(jobs),
            };
            let spinner = Spinner::new("loading the agent and tasks");
            let started = std::time::Instant::now();
            let outcomes = agent_tools::test_agent(&options, &spinner).await?;
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
        AgentCommand::Submit { connect, signer, dir } => {
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
    }
}
