//! What the editor integrations (`whetstone lsp`, `whetstone mcp`) share: where the solve API
//! is and with which key, packing the developer's repository, and following one solve job
//! from submission to its `finished` event (reconnecting with `Last-Event-ID` when the stream
//! breaks, cancelling the job when the editor gives up on it).

pub mod client;
mod pack;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use tokio_util::sync::CancellationToken;

pub use client::{SolveAccepted, SolveClient, SolveClientError, SolveEvent, SolveFinished, SolveRequest};
pub use pack::{PackError, Snapshot, pack_worktree};

/// The solve API's default address (the coordinator's `--solve-listen`).
pub const DEFAULT_SOLVE_URL: &str = "http://127.0.0.1:50052";

/// Where and how the editor servers ask for solves. Filled from the command line and the
/// environment (`WHETSTONE_SOLVE_URL`, `WHETSTONE_API_KEY`); the language server lets the
/// editor's `initializationOptions` override each field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SolveSettings {
    /// The coordinator's solve API, default [`DEFAULT_SOLVE_URL`].
    #[serde(default = "default_solve_url")]
    pub solve_url: String,
    /// An API key from `whetstone keys create`; without one the API answers 401.
    #[serde(default)]
    pub api_key: Option<String>,
    /// `best` (the leaderboard's top agent with enough graded runs) or an agent digest.
    #[serde(default = "default_agent")]
    pub agent: String,
    /// The most the job may spend on inference, in micro-USD; default: the coordinator's.
    #[serde(default)]
    pub budget_micro_usd: Option<u64>,
    /// A command the agent's sandbox runs after the agent, reported with the diff.
    #[serde(default)]
    pub test_command: Option<String>,
}

fn default_solve_url() -> String {
    DEFAULT_SOLVE_URL.to_owned()
}

fn default_agent() -> String {
    "best".to_owned()
}

impl Default for SolveSettings {
    fn default() -> Self {
        Self { solve_url: default_solve_url(), api_key: None, agent: default_agent(), budget_micro_usd: None, test_command: None }
    }
}

/// Why a solve did not come back with an outcome.
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error("packing the repository stopped unexpectedly")]
    PackPanicked,
    #[error(transparent)]
    Api(#[from] SolveClientError),
    #[error("the event stream of solve job {id} ended {attempts} times without a finished event; ask for its state with its id")]
    StreamLost { id: String, attempts: u32 },
}

/// How many times a broken event stream is reopened (with `Last-Event-ID`) before giving up.
const STREAM_ATTEMPTS: u32 = 5;

/// Packs the repository holding `dir` and submits a job for `statement`; returns the job and
/// the work tree's root, which the diff's paths are relative to.
pub async fn submit(
    client: &SolveClient,
    settings: &SolveSettings,
    dir: &Path,
    statement: &str,
) -> Result<(SolveAccepted, PathBuf), SolveError> {
    let dir = dir.to_owned();
    let snapshot = tokio::task::spawn_blocking(move || pack_worktree(&dir)).await.map_err(|_| SolveError::PackPanicked)??;
    let request = SolveRequest {
        statement: statement.to_owned(),
        snapshot_base64: base64::engine::general_purpose::STANDARD.encode(&snapshot.tar),
        agent: settings.agent.clone(),
        budget_micro_usd: settings.budget_micro_usd,
        test_command: settings.test_command.clone(),
    };
    Ok((client.submit(&request).await?, snapshot.root))
}

/// Follows job `id` until it finishes, handing every event to `on_event`. When `cancel` fires
/// first, the job is cancelled on the coordinator (its container killed) and the stream is
/// followed on to the `cancelled` outcome.
pub async fn follow(
    client: &SolveClient,
    id: &str,
    cancel: &CancellationToken,
    mut on_event: impl FnMut(&SolveEvent),
) -> Result<SolveFinished, SolveError> {
    let mut last_event_id = None;
    let mut cancel_sent = false;
    for attempt in 0..STREAM_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        let mut events = client.events(id, last_event_id).await?;
        loop {
            let next = tokio::select! {
                next = events.next() => next,
                () = cancel.cancelled(), if !cancel_sent => {
                    cancel_sent = true;
                    client.cancel(id).await?;
                    continue;
                }
            };
            match next {
                None | Some(Err(_)) => break,
                Some(Ok((event_id, event))) => {
                    last_event_id = Some(event_id);
                    on_event(&event);
                    if let SolveEvent::Finished(finished) = event {
                        return Ok(finished);
                    }
                }
            }
        }
    }
    Err(SolveError::StreamLost { id: id.to_owned(), attempts: STREAM_ATTEMPTS })
}
