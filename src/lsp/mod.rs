//! `whetstone lsp`: a language server (stdio, `lsp-server` as rust-analyzer uses it) that asks
//! the subnet's best agent to fix code from the editor.
//!
//! On a diagnostic or a selection it offers the code action "Ask Whetstone to fix this".
//! Running it packs the repository (git work tree, uncommitted changes included), submits a
//! solve job whose statement names the file, the range and the diagnostic's message (or the
//! selected code), shows the job's progress (`$/progress`: queued, the agent's log lines, spend,
//! tests) and proposes the diff that comes back as a `WorkspaceEdit` (`workspace/applyEdit`), so
//! the editor shows it for review and undo. Cancelling the progress cancels the job.
//!
//! Modules: [`server`] (the message loop and the editor's documents), [`job`] (one fix from
//! submission to the edit), [`edit`] (a diff into a `WorkspaceEdit`), [`diff`] (unified diffs).

pub mod diff;
mod edit;
mod job;
mod server;

pub use edit::workspace_edit;
pub use server::{LspError, serve, serve_stdio};

/// The command the code action runs (`workspace/executeCommand`).
pub const FIX_COMMAND: &str = "whetstone.fix";

/// The code action's title.
pub const FIX_TITLE: &str = "Ask Whetstone to fix this";
