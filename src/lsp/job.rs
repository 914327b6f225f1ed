//! One "Ask Whetstone to fix this": the statement the agent gets, the solve job followed with
//! `$/progress`, and its diff proposed to the editor as a workspace edit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::Sender;
use lsp_server::{Message, RequestId};
use lsp_types::notification::{Notification, Progress, ShowMessage};
use lsp_types::request::{ApplyWorkspaceEdit, Request, WorkDoneProgressCreate};
use lsp_types::{
    ApplyWorkspaceEditParams, ApplyWorkspaceEditResponse, Diagnostic, MessageType, NumberOrString, ProgressParams, ProgressParamsValue,
    Range, ShowMessageParams, WorkDoneProgress, WorkDoneProgressBegin, WorkDoneProgressCreateParams, WorkDoneProgressEnd,
    WorkDoneProgressReport,
};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use whetstone_proto::error_chain;

use crate::ide::{self, SolveSettings};

/// How the server talks to the editor from any task: notifications, and requests whose
/// responses the message loop hands back here.
#[derive(Debug)]
pub(crate) struct Outbox {
    sender: Sender<Message>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<RequestId, oneshot::Sender<lsp_server::Response>>>,
}

impl Outbox {
    pub(crate) fn new(sender: Sender<Message>) -> Self {
        Self { sender, next_id: AtomicU64::new(1), pending: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn send(&self, message: Message) {
        // The editor went away: the loop ends on its own, nothing left to tell.
        let _ = self.sender.send(message);
    }

    pub(crate) fn notify<N: Notification>(&self, params: N::Params) {
        self.send(Message::Notification(lsp_server::Notification::new(N::METHOD.to_owned(), params)));
    }

    pub(crate) fn show(&self, typ: MessageType, message: String) {
        self.notify::<ShowMessage>(ShowMessageParams { typ, message });
    }

    /// Sends a request to the editor; the receiver gets its response.
    pub(crate) fn request<R: Request>(&self, params: R::Params) -> oneshot::Receiver<lsp_server::Response> {
        let id = RequestId::from(format!("whetstone/{}", self.next_id.fetch_add(1, Ordering::Relaxed)));
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.clone(), tx);
        self.send(Message::Request(lsp_server::Request::new(id, R::METHOD.to_owned(), params)));
        rx
    }

    /// A response from the editor to one of our requests.
    pub(crate) fn answered(&self, response: lsp_server::Response) {
        let waiter = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&response.id);
        if let Some(waiter) = waiter {
            let _ = waiter.send(response);
        }
    }
}

/// What the code action carries to `workspace/executeCommand`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct FixArguments {
    /// The file the action was asked on; the repository holding it is packed.
    pub(crate) path: PathBuf,
    pub(crate) statement: String,
}

/// What the editor can take, from its `initialize` capabilities.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EditorSupport {
    pub(crate) work_done_progress: bool,
    pub(crate) document_changes: bool,
}

/// The statement for a diagnostic: where, what the tool said, and the code around it.
pub(crate) fn diagnostic_statement(path: &str, diagnostic: &Diagnostic, text: Option<&str>) -> String {
    let start = diagnostic.range.start;
    let mut statement =
        format!("Fix this problem in {path} at line {}, column {}: {}", start.line + 1, start.character + 1, diagnostic.message.trim());
    let source = diagnostic.source.as_deref().unwrap_or_default();
    let code = match &diagnostic.code {
        Some(NumberOrString::Number(code)) => code.to_string(),
        Some(NumberOrString::String(code)) => code.clone(),
        None => String::new(),
    };
    if !source.is_empty() || !code.is_empty() {
        statement.push_str(&format!(" (reported by {})", format!("{source} {code}").trim()));
    }
    if let Some(text) = text {
        let context = Range::new(
            lsp_types::Position::new(diagnostic.range.start.line.saturating_sub(3), 0),
            lsp_types::Position::new(diagnostic.range.end.line + 3, 0),
        );
        statement.push_str(&format!("\n\nThe code around it ({}):\n```\n{}```\n", lines_label(context, text), lines(text, context)));
    }
    statement
}

/// The statement for a selection: fix what is wrong in this code.
pub(crate) fn selection_statement(path: &str, range: Range, text: &str) -> String {
    format!(
        "Fix the problem in this code from {path} ({}), making the smallest change that works:\n```\n{}```\n",
        lines_label(range, text),
        lines(text, range)
    )
}

fn lines_label(range: Range, text: &str) -> String {
    let first = range.start.line as usize + 1;
    let last = end_line(range).min(text.lines().count()).max(first);
    if last == first { format!("line {first}") } else { format!("lines {first}-{last}") }
}

/// One past the last 0-based line `range` touches: a range ending at character 0 stops before
/// that line.
fn end_line(range: Range) -> usize {
    let end = if range.end.character == 0 && range.end.line > range.start.line { range.end.line } else { range.end.line + 1 };
    end as usize
}

/// The whole lines `range` touches.
fn lines(text: &str, range: Range) -> String {
    let start = range.start.line as usize;
    let mut selected: String = text.split_inclusive('\n').skip(start).take(end_line(range).saturating_sub(start)).collect();
    if !selected.ends_with('\n') {
        selected.push('\n');
    }
    selected
}

/// Everything one fix needs.
#[derive(Debug)]
pub(crate) struct FixJob {
    pub(crate) outbox: std::sync::Arc<Outbox>,
    pub(crate) settings: SolveSettings,
    pub(crate) support: EditorSupport,
    pub(crate) arguments: FixArguments,
    pub(crate) token: String,
    pub(crate) cancel: CancellationToken,
}

impl FixJob {
    /// Runs the fix to its end; every failure reaches the user as a message.
    pub(crate) async fn run(self) {
        if self.support.work_done_progress {
            // The editor answers before it sees our first progress; its answer needs no wait.
            drop(
                self.outbox
                    .request::<WorkDoneProgressCreate>(WorkDoneProgressCreateParams { token: NumberOrString::String(self.token.clone()) }),
            );
        }
        self.progress(WorkDoneProgress::Begin(WorkDoneProgressBegin {
            title: "Whetstone".to_owned(),
            cancellable: Some(true),
            message: Some("packing the repository".to_owned()),
            percentage: None,
        }));
        let outcome = self.solve().await;
        let end_message = match &outcome {
            Ok(message) => message.clone(),
            Err(message) => message.clone(),
        };
        self.progress(WorkDoneProgress::End(WorkDoneProgressEnd { message: Some(end_message) }));
        match outcome {
            Ok(message) => self.outbox.show(MessageType::INFO, format!("Whetstone: {message}")),
            Err(message) => self.outbox.show(MessageType::ERROR, format!("Whetstone: {message}")),
        }
    }

    /// The job from submission to the applied edit; `Ok` and `Err` are what to tell the user.
    async fn solve(&self) -> Result<String, String> {
        let client = ide::client(&self.settings).map_err(|error| error_chain(&error))?;
        let dir = self.arguments.path.parent().unwrap_or(Path::new("/"));
        let (accepted, root) =
            ide::submit(&client, &self.settings, dir, &self.arguments.statement).await.map_err(|error| error_chain(&error))?;
        let agent = ide::agent_label(&accepted.agent);
        self.report(format!("{agent} took job {}", accepted.id));
        let finished = ide::follow(&client, &accepted.id, &self.cancel, |event| {
            if let Some(line) = ide::event_line(event) {
                self.report(line);
            }
        })
        .await
        .map_err(|error| error_chain(&error))?;
        let agent = if finished.agent.digest.is_empty() { agent } else { ide::agent_label(&finished.agent) };
        match finished.status.as_str() {
            "diff" => {}
            "no_diff" => return Err(format!("{agent} made no change (job {})", accepted.id)),
            "cancelled" => return Ok(format!("job {} cancelled", accepted.id)),
            _ => return Err(format!("job {} failed: {}", accepted.id, finished.error)),
        }
        let edit = super::workspace_edit(&finished.diff, &root, self.support.document_changes).map_err(|error| error_chain(&error))?;
        let label = format!("Whetstone ({agent}): {}", self.arguments.statement.lines().next().unwrap_or_default());
        let response = self.outbox.request::<ApplyWorkspaceEdit>(ApplyWorkspaceEditParams { label: Some(label), edit });
        let response = response.await.map_err(|_| "the editor closed before it answered the edit".to_owned())?;
        if let Some(error) = response.error {
            return Err(format!("the editor refused the edit: {}", error.message));
        }
        let applied: ApplyWorkspaceEditResponse = serde_json::from_value(response.result.unwrap_or_default())
            .map_err(|_| "the editor answered the edit with something that is no ApplyWorkspaceEditResponse".to_owned())?;
        if !applied.applied {
            return Err(format!(
                "the editor did not apply {agent}'s change: {}",
                applied.failure_reason.unwrap_or_else(|| "no reason given".to_owned())
            ));
        }
        Ok(format!("{agent} proposed a change (job {}); review it and save, or undo it", accepted.id))
    }

    fn report(&self, message: String) {
        self.progress(WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(true),
            message: Some(message),
            percentage: None,
        }));
    }

    fn progress(&self, progress: WorkDoneProgress) {
        self.outbox.notify::<Progress>(ProgressParams {
            token: NumberOrString::String(self.token.clone()),
            value: ProgressParamsValue::WorkDone(progress),
        });
    }
}

#[cfg(test)]
mod tests {
    use lsp_types::{DiagnosticSeverity, Position};

    use super::*;

    #[test]
    fn statements_name_the_place_the_message_and_the_code() {
        let text = "a = 1\nb = 2\nc = a - b\nd = 4\n";
        let diagnostic = Diagnostic {
            range: Range::new(Position::new(2, 4), Position::new(2, 9)),
            severity: Some(DiagnosticSeverity::ERROR),
            source: Some("test".into()),
            message: "expected 3".into(),
            ..Diagnostic::default()
        };
        let statement = diagnostic_statement("calc.py", &diagnostic, Some(text));
        assert!(statement.starts_with("Fix this problem in calc.py at line 3, column 5: expected 3 (reported by test)"), "{statement}");
        assert!(statement.contains("```\na = 1\nb = 2\nc = a - b\nd = 4\n```"), "{statement}");
        let selection = selection_statement("calc.py", Range::new(Position::new(1, 0), Position::new(3, 0)), text);
        assert!(selection.contains("(lines 2-3)") && selection.contains("```\nb = 2\nc = a - b\n```"), "{selection}");
    }
}
