//! `whetstone mcp`: a Model Context Protocol server (stdio, JSON-RPC 2.0, one message per
//! line) that lets any assistant speaking MCP ask the subnet's best agent for a fix.
//!
//! The subset of MCP an assistant needs for tools, by hand over serde_json: `initialize`
//! (protocol 2025-06-18, and the older versions a client may ask for), `ping`, `tools/list`,
//! `tools/call`, `notifications/cancelled` (cancels the solve job behind the call) and
//! progress notifications when the call carries a `progressToken`. The tools are in
//! [`tools`]: `solve`, `status`, `cancel`.

mod tools;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ide::SolveSettings;

/// The protocol version this server speaks first; older ones it also accepts.
pub const PROTOCOL_VERSION: &str = "2025-06-18";
const OLDER_VERSIONS: [&str; 2] = ["2025-03-26", "2024-11-05"];

/// How long calls still running when the input ends get to cancel their jobs.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the server stopped before its input ended.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("failed to read the client's messages from stdin")]
    Read(#[source] std::io::Error),
    #[error("failed to write to stdout")]
    Write(#[source] std::io::Error),
}

/// What every tool call shares.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) settings: SolveSettings,
    /// Where `solve` packs the repository from when the call names no path.
    pub(crate) default_dir: PathBuf,
    outgoing: mpsc::UnboundedSender<Value>,
}

impl Context {
    pub(crate) fn notify(&self, method: &str, params: Value) {
        let _ = self.outgoing.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }
}

/// Serves one client until its input ends or `shutdown` fires; calls still running are
/// cancelled (their solve jobs too) before it returns.
pub async fn serve(
    input: impl AsyncBufRead + Unpin,
    mut output: impl AsyncWrite + Unpin + Send + 'static,
    settings: SolveSettings,
    default_dir: PathBuf,
    shutdown: CancellationToken,
) -> Result<(), McpError> {
    let (outgoing, mut to_write) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        while let Some(message) = to_write.recv().await {
            let mut line = message.to_string();
            line.push('\n');
            output.write_all(line.as_bytes()).await.map_err(McpError::Write)?;
            output.flush().await.map_err(McpError::Write)?;
        }
        Ok::<(), McpError>(())
    });
    let context = Arc::new(Context { settings, default_dir, outgoing: outgoing.clone() });
    let calls: Arc<Mutex<HashMap<String, CancellationToken>>> = Arc::default();
    let mut running = tokio::task::JoinSet::new();
    let mut lines = input.lines();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line.map_err(McpError::Read)?,
            () = shutdown.cancelled() => None,
        };
        let Some(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(message) => message,
            Err(error) => {
                let _ = outgoing.send(error_response(Value::Null, -32700, &format!("not JSON: {error}")));
                continue;
            }
        };
        let method = message.get("method").and_then(Value::as_str).unwrap_or_default().to_owned();
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let Some(id) = message.get("id").cloned() else {
            // A notification: only cancellation needs doing.
            if method == "notifications/cancelled"
                && let Some(request_id) = params.get("requestId")
                && let Some(cancel) = calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&request_id.to_string())
            {
                cancel.cancel();
            }
            continue;
        };
        if method.is_empty() {
            // A response to a request we never send.
            continue;
        }
        match method.as_str() {
            "initialize" => {
                let _ = outgoing.send(result_response(id, initialize_result(&params)));
            }
            "ping" => {
                let _ = outgoing.send(result_response(id, json!({})));
            }
            "tools/list" => {
                let _ = outgoing.send(result_response(id, json!({"tools": tools::list()})));
            }
            "tools/call" => {
                let cancel = shutdown.child_token();
                let key = id.to_string();
                calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.clone(), cancel.clone());
                let (context, calls, outgoing) = (context.clone(), calls.clone(), outgoing.clone());
                running.spawn(async move {
                    let response = match tools::call(&context, &params, &cancel).await {
                        Ok(result) => result_response(id, result),
                        Err(tools::CallError::InvalidParams(message)) => error_response(id, -32602, &message),
                    };
                    calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&key);
                    let _ = outgoing.send(response);
                });
            }
            _ => {
                let _ = outgoing.send(error_response(id, -32601, &format!("whetstone mcp does not serve {method}")));
            }
        }
    }
    for cancel in calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values() {
        cancel.cancel();
    }
    // Give the cancellations time to reach the coordinator, then stop regardless.
    let drained = tokio::time::timeout(CANCEL_GRACE, async { while running.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        running.abort_all();
    }
    drop((outgoing, context));
    writer.await.unwrap_or(Ok(()))
}

fn initialize_result(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str).unwrap_or(PROTOCOL_VERSION);
    let version = if asked == PROTOCOL_VERSION || OLDER_VERSIONS.contains(&asked) { asked } else { PROTOCOL_VERSION };
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "whetstone", "title": "Whetstone", "version": env!("CARGO_PKG_VERSION")},
        "instructions": "Whetstone asks the Bittensor subnet's best coding agent to fix a problem in a git repository. \
            Call `solve` with a problem statement (and the repository's path); it returns a unified diff to review \
            and apply. Solves take minutes: `status` and `cancel` take the job id `solve` reports.",
    })
}

fn result_response(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn error_response(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}
