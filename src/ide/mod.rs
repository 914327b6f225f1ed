//! What the editor integrations (`whetstone lsp`, `whetstone mcp`) share, on top of
//! [`crate::solve_client`]: their settings (where the solve API is, which key, agent, budget
//! and test command), submitting the repository holding a file, and following one solve job
//! to its `finished` event (reconnecting with `Last-Event-ID` when the stream breaks,
//! cancelling the job when the editor gives up on it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

pub use crate::solve_client::DEFAULT_SOLVE_URL;
use crate::solve_client::{self, Finished, PackError, SolveAccepted, SolveClient, SolveClientError, SolveEventKind, SolveRequest};

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

/// A client of the solve API the settings name. Without a key the API answers 401, and the
/// error says how to get one.
pub fn client(settings: &SolveSettings) -> Result<SolveClient, SolveClientError> {
    SolveClient::new(&settings.solve_url, settings.api_key.as_deref().unwrap_or_default())
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
    let (root, snapshot) = tokio::task::spawn_blocking(move || -> Result<_, PackError> {
        Ok((solve_client::worktree_root(&dir)?, solve_client::pack_worktree(&dir)?))
    })
    .await
    .map_err(|_| SolveError::PackPanicked)??;
    let request = SolveRequest {
        statement: statement.to_owned(),
        snapshot,
        agent: settings.agent.clone(),
        budget_micro_usd: settings.budget_micro_usd,
        test_command: settings.test_command.clone(),
    };
    Ok((client.submit(&request).await?, root))
}

/// Follows job `id` until it finishes, handing every event to `on_event`. When `cancel` fires
/// first, the job is cancelled on the coordinator (its container killed) and the stream is
/// followed on to the `cancelled` outcome.
pub async fn follow(
    client: &SolveClient,
    id: &str,
    cancel: &CancellationToken,
    mut on_event: impl FnMut(&SolveEventKind),
) -> Result<Finished, SolveError> {
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
                Some(Ok(event)) => {
                    last_event_id = Some(event.id);
                    on_event(&event.kind);
                    if let SolveEventKind::Finished(finished) = event.kind {
                        return Ok(finished);
                    }
                }
            }
        }
    }
    Err(SolveError::StreamLost { id: id.to_owned(), attempts: STREAM_ATTEMPTS })
}

/// How an event reads in a progress line; `None` for events this client does not know.
pub fn event_line(event: &SolveEventKind) -> Option<String> {
    Some(match event {
        SolveEventKind::Queued { position } => format!("queued (position {position})"),
        SolveEventKind::Started { runner } => format!("running on {runner}"),
        SolveEventKind::Log { line } => line.clone(),
        SolveEventKind::Spend { micro_usd } => format!("spent ${:.4} on inference", *micro_usd as f64 / 1e6),
        SolveEventKind::Tests { command, exit_code, .. } => format!("tests `{command}` exited {exit_code}"),
        SolveEventKind::Finished(finished) => format!("finished: {}", finished.status),
        SolveEventKind::Other { .. } => return None,
    })
}

/// The agent as people name it: `name version`, or its digest when it has no name.
pub fn agent_label(agent: &solve_client::AgentInfo) -> String {
    let label = format!("{} {}", agent.name, agent.version).trim().to_owned();
    if label.is_empty() { agent.digest.clone() } else { label }
}
