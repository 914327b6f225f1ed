//! The `whetstone` command line, one module per command: `whetstone <command>` lives in
//! `src/cli/<command>.rs` (`agent-runner` in `agent_runner.rs`; the `tasks` group in `tasks/`).
//! Each module owns its clap arguments and its `run`; the work itself is in the library
//! (`whetstone::…`) and the component crates. Adding a command is a module here, a variant
//! of [`Command`] and its line in [`Cli::run`].
//!
//! Modules that are no command: `connect` (reaching and signing for a coordinator, shared by
//! the client commands and the workers). Terminal output helpers are `whetstone::ui`.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod agent;
mod agent_runner;
mod chain;
mod connect;
mod coordinator;
mod devnet;
mod epochs;
mod images;
mod keys;
mod leaderboard;
mod localnet;
mod lsp;
mod mcp;
mod runs;
mod solve;
mod tasks;
mod validator;
mod validators;

/// Whetstone: a Bittensor subnet where autonomous coding agents compete on real software
/// tasks, graded in Docker sandboxes against hidden tests.
#[derive(Debug, Parser)]
#[command(name = "whetstone", version, propagate_version = true)]
pub struct Cli {
    /// How log lines are written: `text`, or `json` (one object per line with the spans it
    /// happened in: run id, task and agent on every line of a run) for log pipelines. Applies
    /// to every command; what is logged is `WHETSTONE_LOG` (default `info`).
    #[arg(long, global = true, value_enum, default_value_t = crate::logging::LogFormat::Text, env = "WHETSTONE_LOG_FORMAT")]
    log_format: crate::logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole subnet round on this machine: coordinator, agent-runner and two validators
    /// on loopback, the example agents on the starter tasks in Docker, every patch graded by
    /// both validators, then each validator's own weights on a local chain and the
    /// leaderboard. Needs Docker (and debootstrap the first time, to build the base image).
    Devnet(devnet::DevnetArgs),
    /// Run a coordinator: the gRPC server agents, tasks and workers talk to.
    Coordinator(coordinator::CoordinatorArgs),
    /// Run an agent-runner: executes miners' agents on tasks in Docker sandboxes.
    AgentRunner(agent_runner::RunnerArgs),
    /// Run a validator: grades patches in fresh Docker sandboxes against hidden tests, and
    /// with --chain.endpoint sets weights on chain from the signed verdict ledger it verifies.
    Validator(validator::ValidatorArgs),
    /// Show the leaderboard of a running coordinator: each agent's score under the public
    /// scoring function over the validators' signed verdicts.
    Leaderboard(connect::ConnectArgs),
    /// Show the evaluation epochs of a running coordinator: each epoch's boundary block, seed
    /// and task set, the generator seed for the current epoch's fresh tasks, and how many more
    /// epochs the task pool covers (--min-epochs N fails when fewer).
    Epochs(epochs::EpochsArgs),
    /// Show how each validator stands: its verdicts, its agreement with the consensus, the
    /// runs where it dissented, and any verdict rejected (bad signature, no permit, moved).
    Validators(validators::ValidatorsArgs),
    /// Show every run of a running coordinator (or one agent's): outcome, verdict, test counts.
    /// Given a run id, show that run's trajectory: the agent's output, its LLM calls, its patch.
    Runs(runs::RunsArgs),
    /// Ask the subnet's best agent to fix something in the git repository you are in: sends
    /// the work tree, streams the agent's progress, prints the diff (--apply applies it).
    /// Needs an API key (WHETSTONE_API_KEY) from the coordinator's operator.
    Solve(solve::SolveArgs),
    /// Miner tools.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Curator tools for task sets.
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
    /// Look at a subnet on a subtensor node (metagraph, hyperparameters, weights) and set
    /// weights on it: devnet's localnet by default, or --chain.endpoint finney.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Run a local subtensor-compatible chain (subnet 1, //Alice and //Ferdie validating,
    /// //Bob … //Eve mining) that subxt and `whetstone chain` talk to at ws://127.0.0.1:9944.
    #[command(long_about = localnet::LONG_ABOUT)]
    Localnet(localnet::LocalnetArgs),
    /// Build the sandbox images (base image and task environments) ahead of time.
    Images(images::ImagesArgs),
    /// The solve API's keys (operator): create, list, revoke, on the coordinator's database.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Run a language server (stdio) for your editor: the code action "Ask Whetstone to fix
    /// this" sends the problem to the subnet's best agent and proposes its change as an edit.
    #[command(long_about = lsp::LONG_ABOUT)]
    Lsp(lsp::LspArgs),
    /// Run an MCP server (stdio) for assistants: tools solve, status and cancel.
    #[command(long_about = mcp::LONG_ABOUT)]
    Mcp(mcp::McpArgs),
}

impl Cli {
    /// Runs the command; each module sets up logging and the shutdown signal as it needs.
    pub async fn run(self) -> Result<()> {
        crate::logging::set_format(self.log_format);
        match self.command {
            Command::Devnet(args) => devnet::run(args).await,
            Command::Coordinator(args) => coordinator::run(args).await,
            Command::AgentRunner(args) => agent_runner::run(args).await,
            Command::Validator(args) => validator::run(args).await,
            Command::Leaderboard(args) => leaderboard::run(args).await,
            Command::Epochs(args) => epochs::run(args).await,
            Command::Validators(args) => validators::run(args).await,
            Command::Runs(args) => runs::run(args).await,
            Command::Solve(args) => solve::run(args).await,
            Command::Agent(command) => agent::run(command).await,
            Command::Tasks(command) => tasks::run(command).await,
            Command::Chain(command) => chain::run(command).await,
            Command::Localnet(args) => localnet::run(args).await,
            Command::Images(args) => images::run(args).await,
            Command::Keys(command) => keys::run(command).await,
            Command::Lsp(args) => lsp::run(args).await,
            Command::Mcp(args) => mcp::run(args).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap's own consistency checks over every command and argument (duplicate flags, bad
    /// defaults, `requires` naming an argument that does not exist), which otherwise surface
    /// only when someone runs the broken command.
    #[test]
    fn every_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
