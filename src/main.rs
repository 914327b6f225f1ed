//! `whetstone`: the command line of the Whetstone subnet. `main` parses the arguments and hands
//! the command to [`cli`], where each command group has its own module (`src/cli/<command>.rs`)
//! owning its arguments and its `run`. What belongs to the process stays here: how errors are
//! printed, logging, and the shutdown signal, which commands start when they need them.

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;

mod cli;
mod logging;
#[cfg(feature = "otlp")]
mod otlp;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let result =
        tokio::runtime::Runtime::new().context("failed to start the async runtime").and_then(|runtime| runtime.block_on(cli.run()));
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

/// Cancelled on Ctrl-C or SIGTERM, so every component can clean up its containers. Only the
/// commands that watch the token call this: elsewhere Ctrl-C keeps ending the process at once.
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
