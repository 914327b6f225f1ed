//! The editor integrations driven by real clients over stdio: `whetstone lsp` by a headless
//! Neovim (Debian's `neovim`), `whetstone mcp` by the `mcp` package from PyPI.
//!
//! Each runs against two solve APIs: [`real_coordinator`], a real coordinator with a real
//! worker session whose executor answers with a fixed diff instead of running a container
//! (the Docker path is `whetstone solve`'s to test), and [`contract_server`], a small axum
//! server speaking the solve contract, which lets a test see exactly what reached the API
//! and hold a job to cancel it. What the tests check is the editor side: the code action, the
//! statement and snapshot that reach the API, progress, errors shown to the developer, and the
//! diff landing in the editor's buffers (LSP) or in the assistant's tool result (MCP).

mod contract_server;
mod lsp_neovim;
mod mcp_python;
mod real_coordinator;
mod repo;
