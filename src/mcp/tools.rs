//! The MCP tools: `solve` (statement → diff), `status` and `cancel` (by job id). A failure of
//! the job or the API is a tool result with `isError` (the assistant reads it and can act);
//! only calls that name no tool or lack an argument are protocol errors.

use std::path::Path;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Context;
use crate::ide::{self, SolveSettings};
use crate::solve_client::{SolveClient, SolveEventKind};

#[derive(Debug)]
pub(crate) enum CallError {
    /// JSON-RPC -32602: unknown tool or missing argument.
    InvalidParams(String),
}

/// `tools/list`.
pub(crate) fn list() -> Value {
    json!([
        {
            "name": "solve",
            "title": "Fix a problem with Whetstone's best agent",
            "description": "Sends the git repository at `path` (tracked files plus uncommitted changes) and a problem \
                statement to the Whetstone subnet's best coding agent, which works on it in a sandbox; returns the \
                unified diff it made (not applied: review it, then apply it with `git apply`). Takes minutes; \
                progress notifications carry the agent's log.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "statement": {"type": "string", "description": "The problem to fix, as you would write an issue: what is wrong, where, what should happen."},
                    "path": {"type": "string", "description": "A directory inside the git repository to fix; default: the directory the server runs in."},
                    "agent": {"type": "string", "description": "`best` (default: the leaderboard's top agent) or an agent digest."},
                    "test_command": {"type": "string", "description": "A command run in the sandbox after the agent (e.g. `pytest -q`); its exit code and output tail come back with the diff."},
                    "budget_micro_usd": {"type": "integer", "minimum": 0, "description": "The most the job may spend on inference, in millionths of a dollar."},
                    "wait": {"type": "boolean", "description": "Wait for the diff (default true); false returns the job id at once, for `status`."}
                },
                "required": ["statement"]
            }
        },
        {
            "name": "status",
            "title": "A Whetstone solve job's state",
            "description": "The state of a solve job (queued, running, finished), and when finished its outcome and diff.",
            "inputSchema": {
                "type": "object",
                "properties": {"id": {"type": "string", "description": "The job id `solve` returned (solve-…)."}},
                "required": ["id"]
            }
        },
        {
            "name": "cancel",
            "title": "Cancel a Whetstone solve job",
            "description": "Cancels a solve job; its sandbox is killed and nothing of it is kept.",
            "inputSchema": {
                "type": "object",
                "properties": {"id": {"type": "string", "description": "The job id `solve` returned (solve-…)."}},
                "required": ["id"]
            }
        }
    ])
}

/// `tools/call`.
pub(crate) async fn call(context: &Context, params: &Value, cancel: &CancellationToken) -> Result<Value, CallError> {
    let name = params.get("name").and_then(Value::as_str).unwrap_or_default();
    let arguments = params.get("arguments").cloned().unwrap_or_else(|| json!({}));
    let progress_token = params.get("_meta").and_then(|meta| meta.get("progressToken")).cloned();
    let text = |key: &str| arguments.get(key).and_then(Value::as_str).map(str::to_owned);
    let required = |key: &str| text(key).ok_or_else(|| CallError::InvalidParams(format!("tool {name} needs the string argument {key:?}")));
    let client = match ide::client(&context.settings) {
        Ok(client) => client,
        Err(error) => return Ok(tool_error(&error)),
    };
    match name {
        "solve" => {
            let statement = required("statement")?;
            let mut settings: SolveSettings = context.settings.clone();
            if let Some(agent) = text("agent") {
                settings.agent = agent;
            }
            if let Some(command) = text("test_command") {
                settings.test_command = Some(command);
            }
            if let Some(budget) = arguments.get("budget_micro_usd").and_then(Value::as_u64) {
                settings.budget_micro_usd = Some(budget);
            }
            let dir = text("path").map_or_else(|| context.default_dir.clone(), |path| context.default_dir.join(path));
            let wait = arguments.get("wait").and_then(Value::as_bool).unwrap_or(true);
            Ok(solve(context, &client, &settings, &dir, &statement, wait, progress_token, cancel).await)
        }
        "status" => {
            let id = required("id")?;
            Ok(match client.status(&id).await {
                Ok(status) => {
                    let summary = match (&status.status, &status.diff) {
                        (Some(outcome), Some(diff)) if !diff.is_empty() => format!("job {id}: {}, {outcome}\n\n{diff}", status.state),
                        (Some(outcome), _) => format!("job {id}: {}, {outcome}", status.state),
                        _ => format!("job {id}: {}", status.state),
                    };
                    let structured = json!({
                        "id": status.id,
                        "state": status.state,
                        "status": status.status,
                        "agent": status.agent,
                        "diff": status.diff,
                        "error": status.error,
                        "spent_micro_usd": status.spent_micro_usd,
                    });
                    tool_result(summary, structured, false)
                }
                Err(error) => tool_error(&error),
            })
        }
        "cancel" => {
            let id = required("id")?;
            Ok(match client.cancel(&id).await {
                Ok(cancelled) => {
                    tool_result(format!("job {id}: {}", cancelled.state), json!({"id": cancelled.id, "state": cancelled.state}), false)
                }
                Err(error) => tool_error(&error),
            })
        }
        _ => Err(CallError::InvalidParams(format!("whetstone mcp has no tool {name:?} (it has solve, status, cancel)"))),
    }
}

#[expect(clippy::too_many_arguments, reason = "one call's parts, each from a different place")]
async fn solve(
    context: &Context,
    client: &SolveClient,
    settings: &SolveSettings,
    dir: &Path,
    statement: &str,
    wait: bool,
    progress_token: Option<Value>,
    cancel: &CancellationToken,
) -> Value {
    let (accepted, _root) = match ide::submit(client, settings, dir, statement).await {
        Ok(accepted) => accepted,
        Err(error) => return tool_error(&error),
    };
    let agent = serde_json::to_value(&accepted.agent).unwrap_or_default();
    let agent_name = ide::agent_label(&accepted.agent);
    if !wait {
        return tool_result(
            format!("job {} submitted to {agent_name}; ask `status` with this id for its diff", accepted.id),
            json!({"id": accepted.id, "state": "queued", "agent": agent}),
            false,
        );
    }
    let mut progress = 0u64;
    let mut report = |message: String| {
        if let Some(token) = &progress_token {
            progress += 1;
            context.notify("notifications/progress", json!({"progressToken": token, "progress": progress, "message": message}));
        }
    };
    report(format!("job {} taken by {agent_name}", accepted.id));
    let mut tests = Value::Null;
    let finished = ide::follow(client, &accepted.id, cancel, |event| {
        if let SolveEventKind::Tests { command, exit_code, output_tail } = event {
            tests = json!({"command": command, "exit_code": exit_code, "output_tail": output_tail});
        }
        let Some(line) = ide::event_line(event) else { return };
        report(line);
    })
    .await;
    let finished = match finished {
        Ok(finished) => finished,
        Err(error) => return tool_error(&error),
    };
    let agent = if finished.agent.digest.is_empty() { agent } else { serde_json::to_value(&finished.agent).unwrap_or_default() };
    let structured = json!({
        "id": accepted.id,
        "status": finished.status,
        "agent": agent,
        "diff": finished.diff,
        "error": finished.error,
        "tests": tests,
    });
    match finished.status.as_str() {
        "diff" => {
            let mut result = tool_result(
                format!("{agent_name} proposed this change (job {}); it is not applied: review it, then `git apply` it.", accepted.id),
                structured,
                false,
            );
            if let Some(content) = result.get_mut("content").and_then(Value::as_array_mut) {
                content.push(json!({"type": "text", "text": finished.diff}));
            }
            result
        }
        "no_diff" => tool_result(format!("{agent_name} made no change (job {})", accepted.id), structured, true),
        "cancelled" => tool_result(format!("job {} was cancelled", accepted.id), structured, true),
        _ => tool_result(format!("job {} failed: {}", accepted.id, finished.error), structured, true),
    }
}

fn tool_result(text: String, structured: Value, is_error: bool) -> Value {
    json!({"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": is_error})
}

fn tool_error(error: &dyn std::error::Error) -> Value {
    json!({"content": [{"type": "text", "text": whetstone_proto::error_chain(error)}], "isError": true})
}
