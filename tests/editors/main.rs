//! The editor integrations driven by real clients over stdio: `whetstone lsp` by a headless
//! Neovim (Debian's `neovim`), `whetstone mcp` by the `mcp` package from PyPI.
//!
//! The solve API they talk to is [`contract_server`], a small axum server in the test that
//! speaks /work/SOLVE_CONTRACT.md (issue 12) exactly as the coordinator does — auth, the job,
//! its Server-Sent Events with ids and `Last-Event-ID`, status, cancel — and hands back a
//! fixed diff, because the coordinator's solve API had not landed when these tests were
//! written. What the tests check is the editor side: the code action, the statement and
//! snapshot that reach the API, progress, and the diff landing in the editor's buffer (LSP)
//! or in the assistant's tool result (MCP).

mod contract_server;
mod lsp_neovim;
mod mcp_python;
mod repo;
