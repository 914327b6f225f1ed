//! The `whetstone` command's library: the work behind the subcommands that is more than a call
//! into one component crate, kept out of the binary so tests can drive it (devnet's round, the
//! miner's local agent test, the coordinator client), and the terminal output helpers. The
//! clap layer, one module per command, is the binary's `src/cli/`.

pub mod agent_tools;
pub mod client;
pub mod devnet;
pub mod ide;
pub mod lsp;
pub mod mcp;
pub mod memoriser;
pub mod solve_client;
pub mod ui;

/// Well-known development accounts (the substrate dev keyring), used as hotkeys on devnet:
/// Alice runs the coordinator and validates, the others mine. Their addresses and signing
/// pairs live in `whetstone_chain::wallet::dev`.
pub use whetstone_chain::wallet::dev as dev_keys;

/// The starter task set and example agents of this checkout: devnet's embedded defaults.
pub mod defaults {
    use std::path::PathBuf;

    pub fn task_set() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tasks/sets/starter"))
    }

    /// Recorded LLM replies for the starter set, served by a scripted upstream.
    pub fn scripted_upstream() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/upstream/starter.jsonl"))
    }

    pub fn agents() -> Vec<PathBuf> {
        ["noop", "repair", "cheater"]
            .iter()
            .map(|name| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/agents")).join(name))
            .collect()
    }
}
