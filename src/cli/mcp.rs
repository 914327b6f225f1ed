//! `whetstone mcp`: the MCP server for assistants. The server is `whetstone::mcp`.

use anyhow::{Context as _, Result};
use clap::Args;

use super::lsp::SolveApiArgs;

pub(crate) const LONG_ABOUT: &str = "\
Run a Model Context Protocol server on stdin/stdout, so an assistant (Claude Code, Cursor, any
MCP client) can ask the subnet's best agent for a fix. Tools:

  solve   statement [, path, agent, test_command, budget_micro_usd, wait] -> the agent's diff
          (the git repository at path, default the directory the server runs in, is sent as
          its tracked files plus uncommitted changes; the diff is returned, not applied)
  status  id -> the job's state, and its outcome and diff once finished
  cancel  id -> cancels the job; its sandbox is killed

Register it with your assistant, e.g. Claude Code:

  claude mcp add whetstone -e WHETSTONE_API_KEY=... -- whetstone mcp";

#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    #[command(flatten)]
    api: SolveApiArgs,
}

pub(crate) async fn run(args: McpArgs) -> Result<()> {
    let settings = args.api.settings();
    let dir = std::env::current_dir().context("failed to read the current directory")?;
    let shutdown = crate::shutdown_on_signal();
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    whetstone::mcp::serve(input, tokio::io::stdout(), settings, dir, shutdown).await?;
    Ok(())
}
