//! `whetstone lsp`: the language server for editors. The server is `whetstone::lsp`; this
//! module is its arguments, which `whetstone mcp` shares.

use anyhow::Result;
use clap::Args;
use whetstone::ide::{DEFAULT_SOLVE_URL, SolveSettings};

pub(crate) const LONG_ABOUT: &str = "\
Run a language server on stdin/stdout for your editor. On a diagnostic (or a selection) it
offers the code action \"Ask Whetstone to fix this\": the repository holding the file (its
tracked files plus uncommitted changes, as saved on disk) goes to the subnet's best agent with
a statement naming the file, the lines and the problem; the editor shows the agent's progress
and then proposes its change as an edit you review, keep or undo.

Configure it with the flags or environment below, or with the editor's initializationOptions
(solveUrl, apiKey, agent, budgetMicroUsd, testCommand), which take precedence. Neovim:

  vim.lsp.start({ name = 'whetstone', cmd = { 'whetstone', 'lsp' },
    root_dir = vim.fs.dirname(vim.fs.find('.git', { upward = true })[1]) })

then `:lua vim.lsp.buf.code_action()` on the line with the problem.";

/// Where the solve API is and what to ask it for.
#[derive(Debug, Args)]
pub(crate) struct SolveApiArgs {
    /// The coordinator's solve API (`whetstone coordinator --solve-listen`).
    #[arg(long, env = "WHETSTONE_SOLVE_URL", default_value = DEFAULT_SOLVE_URL)]
    solve_url: String,
    /// Your API key (from the coordinator's operator: `whetstone keys create`).
    #[arg(long, env = "WHETSTONE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The agent to ask: `best` (the leaderboard's top agent with enough graded runs) or an
    /// agent digest.
    #[arg(long, env = "WHETSTONE_AGENT", default_value = "best")]
    agent: String,
    /// The most one job may spend on inference, in millionths of a dollar (default: the
    /// coordinator's per-job budget).
    #[arg(long)]
    budget_micro_usd: Option<u64>,
    /// A command the sandbox runs after the agent (e.g. `pytest -q`); its result comes back
    /// with the diff.
    #[arg(long)]
    test_command: Option<String>,
}

impl SolveApiArgs {
    pub(crate) fn settings(self) -> SolveSettings {
        SolveSettings {
            solve_url: self.solve_url,
            api_key: self.api_key.filter(|key| !key.is_empty()),
            agent: self.agent,
            budget_micro_usd: self.budget_micro_usd,
            test_command: self.test_command,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct LspArgs {
    #[command(flatten)]
    api: SolveApiArgs,
}

pub(crate) async fn run(args: LspArgs) -> Result<()> {
    let settings = args.api.settings();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || whetstone::lsp::serve_stdio(settings, runtime)).await??;
    Ok(())
}
