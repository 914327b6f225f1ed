//! A scripted OpenAI-compatible upstream: replays recorded chat completions, so an LLM agent
//! can be run end to end, reproducibly and offline (`whetstone agent test --upstream
//! scripted:FILE`, and the tests).
//!
//! A script is JSON lines, one recorded reply each:
//!
//! ```json
//! {"when": "one-element index list", "content": "FILE: toolz/itertoolz.py\n<<<<<<< SEARCH\n…", "prompt_tokens": 5200, "completion_tokens": 80}
//! ```
//!
//! A request is answered by the first unused reply whose `when` occurs in one of its
//! messages (a reply without `when` matches any request); a request nothing matches gets a
//! 503, as a provider outage would. `usage` is reported from the recorded token counts, so the
//! proxy meters replayed runs like real ones.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The model a scripted upstream says it serves (and accepts any other name too).
pub const SCRIPTED_MODEL: &str = "whetstone/scripted";

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("failed to read the script {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a recorded reply (expected {{\"when\", \"content\", \"prompt_tokens\", \"completion_tokens\"}})")]
    Parse {
        path: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to bind the scripted upstream")]
    Bind(#[source] std::io::Error),
}

/// One recorded reply.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Text that must occur in one of the request's messages; `None` matches anything.
    #[serde(default)]
    pub when: Option<String>,
    /// The assistant message's content.
    pub content: String,
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

/// Replies not yet used, and what was asked.
#[derive(Debug, Default)]
struct Script {
    replies: Vec<Option<Reply>>,
    requests: u32,
    unmatched: u32,
}

/// A running scripted upstream.
#[derive(Debug)]
pub struct ScriptedUpstream {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    stop: CancellationToken,
}

impl ScriptedUpstream {
    /// Reads a JSON-lines script (see the module docs).
    pub fn load(path: &Path) -> Result<Vec<Reply>, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read { path: path.display().to_string(), source })?;
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(index, line)| {
                serde_json::from_str(line).map_err(|source| ScriptError::Parse {
                    path: path.display().to_string(),
                    line: index + 1,
                    source,
                })
            })
            .collect()
    }

    /// Serves `replies` on `addr` (port 0 picks one) until dropped.
    pub async fn start(replies: Vec<Reply>, addr: SocketAddr) -> Result<Self, ScriptError> {
        let listener = TcpListener::bind(addr).await.map_err(ScriptError::Bind)?;
        let addr = listener.local_addr().map_err(ScriptError::Bind)?;
        let script = Arc::new(Mutex::new(Script { replies: replies.into_iter().map(Some).collect(), ..Script::default() }));
        let app = axum::Router::new()
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(complete))
            .with_state(Arc::clone(&script));
        let stop = CancellationToken::new();
        let shutdown = stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
            if let Err(error) = served {
                tracing::warn!(%error, "scripted upstream stopped");
            }
        });
        Ok(Self { addr, script, stop })
    }

    /// The base URL to configure as the proxy's upstream (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Chat requests answered so far, and how many of them matched no reply.
    pub fn requests(&self) -> (u32, u32) {
        let script = self.script.lock().unwrap_or_else(PoisonError::into_inner);
        (script.requests, script.unmatched)
    }
}

impl Drop for ScriptedUpstream {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": SCRIPTED_MODEL, "object": "model", "owned_by": "whetstone"}]}))
}

async fn complete(State(script): State<Arc<Mutex<Script>>>, Json(request): Json<Value>) -> Response {
    let texts: Vec<String> = request["messages"]
        .as_array()
        .map(|messages| messages.iter().filter_map(|m| m["content"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let model = request["model"].as_str().unwrap_or(SCRIPTED_MODEL).to_owned();
    let reply = {
        let mut script = script.lock().unwrap_or_else(PoisonError::into_inner);
        script.requests += 1;
        let found = script.replies.iter_mut().find(|slot| {
            slot.as_ref().is_some_and(|reply| reply.when.as_ref().is_none_or(|when| texts.iter().any(|t| t.contains(when.as_str()))))
        });
        let reply = found.and_then(Option::take);
        if reply.is_none() {
            script.unmatched += 1;
        }
        reply
    };
    let Some(reply) = reply else {
        let error = json!({"error": {"message": "the script has no reply for this request", "type": "scripted_upstream"}});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(error)).into_response();
    };
    Json(json!({
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }))
    .into_response()
}
