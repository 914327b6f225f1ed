//! The message loop: `initialize` (settings from `initializationOptions`), the editor's open
//! documents (full sync, for the statement's code and to catch unsaved changes), code actions,
//! `workspace/executeCommand` starting a [`FixJob`] on the runtime, and cancellation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lsp_server::{Connection, ErrorCode, Message, Response};
use lsp_types::notification::{DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification, WorkDoneProgressCancel};
use lsp_types::request::{CodeActionRequest, ExecuteCommand, Request};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionProviderCapability, Command, ExecuteCommandOptions,
    ExecuteCommandParams, InitializeParams, MessageType, NumberOrString, ServerCapabilities, ServerInfo, TextDocumentSyncCapability,
    TextDocumentSyncKind, Uri,
};
use tokio_util::sync::CancellationToken;

use super::edit::uri_path;
use super::job::{EditorSupport, FixArguments, FixJob, Outbox, diagnostic_statement, selection_statement};
use super::{FIX_COMMAND, FIX_TITLE};
use crate::ide::SolveSettings;

/// How long jobs still running when the editor leaves get to cancel theirs on the coordinator.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the server stopped before the editor said `exit`.
#[derive(Debug, thiserror::Error)]
pub enum LspError {
    #[error("the editor broke the language server protocol")]
    Protocol(#[from] lsp_server::ProtocolError),
    #[error("the editor's initializationOptions are not Whetstone's settings (solveUrl, apiKey, agent, budgetMicroUsd, testCommand)")]
    Settings(#[source] serde_json::Error),
    #[error("failed to read the editor's initialize request")]
    Initialize(#[source] serde_json::Error),
    #[error("the stdio threads failed")]
    Io(#[from] std::io::Error),
}

/// Serves one editor over stdin and stdout until it says `exit`.
pub fn serve_stdio(settings: SolveSettings, runtime: tokio::runtime::Handle) -> Result<(), LspError> {
    let (connection, io_threads) = Connection::stdio();
    serve(connection, settings, runtime)?;
    io_threads.join()?;
    Ok(())
}

/// Serves one editor on `connection`; fixes run on `runtime`. Jobs still running when the
/// editor leaves are cancelled on the coordinator.
pub fn serve(connection: Connection, settings: SolveSettings, runtime: tokio::runtime::Handle) -> Result<(), LspError> {
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        execute_command_provider: Some(ExecuteCommandOptions { commands: vec![FIX_COMMAND.to_owned()], ..Default::default() }),
        ..ServerCapabilities::default()
    };
    let initialize_result = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": ServerInfo { name: "whetstone".to_owned(), version: Some(env!("CARGO_PKG_VERSION").to_owned()) },
    });
    let (id, params) = connection.initialize_start()?;
    let params: InitializeParams = serde_json::from_value(params).map_err(LspError::Initialize)?;
    let settings = match merge_settings(settings, params.initialization_options.as_ref()) {
        Ok(settings) => settings,
        Err(error) => {
            let message = format!("{error}: {}", error_source(&error));
            connection.sender.send(Message::Response(Response::new_err(id, ErrorCode::InvalidParams as i32, message))).ok();
            return Err(error);
        }
    };
    connection.initialize_finish(id, initialize_result)?;
    let support = EditorSupport {
        work_done_progress: params.capabilities.window.as_ref().and_then(|window| window.work_done_progress).unwrap_or(false),
        // Neovim 0.7 lists resource operations but not documentChanges, and applies both:
        // resource operations exist only inside documentChanges.
        document_changes: params.capabilities.workspace.as_ref().and_then(|workspace| workspace.workspace_edit.as_ref()).is_some_and(
            |edit| edit.document_changes == Some(true) || edit.resource_operations.as_ref().is_some_and(|kinds| !kinds.is_empty()),
        ),
    };
    let mut server = Server {
        outbox: Arc::new(Outbox::new(connection.sender.clone())),
        settings,
        support,
        documents: HashMap::new(),
        jobs: HashMap::new(),
        running: Vec::new(),
        next_job: AtomicU64::new(1),
        runtime,
    };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    break;
                }
                server.request(request);
            }
            Message::Response(response) => server.outbox.answered(response),
            Message::Notification(notification) => server.notification(notification),
        }
    }
    // The editor is gone: cancel what still runs, and give the cancellations time to reach
    // the coordinator (so its containers stop now, not at their timeout).
    for cancel in server.jobs.values() {
        cancel.cancel();
    }
    let running = std::mem::take(&mut server.running);
    let _ = server.runtime.block_on(tokio::time::timeout(CANCEL_GRACE, futures::future::join_all(running)));
    Ok(())
}

fn error_source(error: &LspError) -> String {
    std::error::Error::source(error).map(ToString::to_string).unwrap_or_default()
}

/// The command line's settings with the editor's `initializationOptions` over them.
fn merge_settings(settings: SolveSettings, options: Option<&serde_json::Value>) -> Result<SolveSettings, LspError> {
    let Some(serde_json::Value::Object(options)) = options else { return Ok(settings) };
    let mut merged = serde_json::to_value(&settings).map_err(LspError::Settings)?;
    if let serde_json::Value::Object(merged) = &mut merged {
        for (key, value) in options {
            merged.insert(key.clone(), value.clone());
        }
    }
    serde_json::from_value(merged).map_err(LspError::Settings)
}

#[derive(Debug)]
struct Server {
    outbox: Arc<Outbox>,
    settings: SolveSettings,
    support: EditorSupport,
    /// The editor's text of each open document.
    documents: HashMap<Uri, String>,
    /// Running fixes by progress token.
    jobs: HashMap<String, CancellationToken>,
    /// Their tasks, awaited (briefly) when the editor leaves.
    running: Vec<tokio::task::JoinHandle<()>>,
    next_job: AtomicU64,
    runtime: tokio::runtime::Handle,
}

impl Server {
    fn request(&mut self, request: lsp_server::Request) {
        let response = match request.method.as_str() {
            CodeActionRequest::METHOD => match serde_json::from_value::<CodeActionParams>(request.params) {
                Ok(params) => Response::new_ok(request.id, self.code_actions(&params)),
                Err(error) => Response::new_err(request.id, ErrorCode::InvalidParams as i32, error.to_string()),
            },
            ExecuteCommand::METHOD => match serde_json::from_value::<ExecuteCommandParams>(request.params) {
                Ok(params) => match self.execute(params) {
                    Ok(()) => Response::new_ok(request.id, serde_json::Value::Null),
                    Err(message) => Response::new_err(request.id, ErrorCode::InvalidParams as i32, message),
                },
                Err(error) => Response::new_err(request.id, ErrorCode::InvalidParams as i32, error.to_string()),
            },
            _ => {
                Response::new_err(request.id, ErrorCode::MethodNotFound as i32, format!("whetstone lsp does not serve {}", request.method))
            }
        };
        self.outbox.send(Message::Response(response));
    }

    fn notification(&mut self, notification: lsp_server::Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(notification.params) {
                    self.documents.insert(params.text_document.uri, params.text_document.text);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(notification.params)
                    && let Some(change) = params.content_changes.into_iter().last()
                {
                    self.documents.insert(params.text_document.uri, change.text);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(notification.params) {
                    self.documents.remove(&params.text_document.uri);
                }
            }
            WorkDoneProgressCancel::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::WorkDoneProgressCancelParams>(notification.params)
                    && let NumberOrString::String(token) = params.token
                    && let Some(cancel) = self.jobs.get(&token)
                {
                    cancel.cancel();
                }
            }
            _ => {}
        }
    }

    /// "Ask Whetstone to fix this" for each diagnostic in the range, or for the selection.
    fn code_actions(&self, params: &CodeActionParams) -> Vec<CodeActionOrCommand> {
        let uri = &params.text_document.uri;
        let Some(path) = uri_path(uri) else { return Vec::new() };
        let text = self.documents.get(uri).map(String::as_str);
        let shown = display_path(&path);
        let mut actions: Vec<(String, Option<lsp_types::Diagnostic>)> = params
            .context
            .diagnostics
            .iter()
            .map(|diagnostic| (diagnostic_statement(&shown, diagnostic, text), Some(diagnostic.clone())))
            .collect();
        if actions.is_empty()
            && params.range.start != params.range.end
            && let Some(text) = text
        {
            actions.push((selection_statement(&shown, params.range, text), None));
        }
        let several = actions.len() > 1;
        actions
            .into_iter()
            .map(|(statement, diagnostic)| {
                let title = match (&diagnostic, several) {
                    (Some(diagnostic), true) => format!("{FIX_TITLE}: {}", diagnostic.message.lines().next().unwrap_or_default()),
                    _ => FIX_TITLE.to_owned(),
                };
                let arguments = FixArguments { path: path.clone(), statement };
                CodeActionOrCommand::CodeAction(CodeAction {
                    title: title.clone(),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: diagnostic.map(|diagnostic| vec![diagnostic]),
                    command: Some(Command {
                        title,
                        command: FIX_COMMAND.to_owned(),
                        arguments: Some(vec![serde_json::to_value(arguments).unwrap_or_default()]),
                    }),
                    ..CodeAction::default()
                })
            })
            .collect()
    }

    /// Starts a fix; the editor hears how it goes through progress and messages.
    fn execute(&mut self, params: ExecuteCommandParams) -> Result<(), String> {
        if params.command != FIX_COMMAND {
            return Err(format!("whetstone lsp has no command {:?} (it has {FIX_COMMAND})", params.command));
        }
        let arguments: FixArguments = params
            .arguments
            .into_iter()
            .next()
            .and_then(|value| serde_json::from_value(value).ok())
            .ok_or_else(|| format!("{FIX_COMMAND} takes one argument {{\"path\", \"statement\"}}"))?;
        if let Some(unsaved) = self.unsaved_document(&arguments.path) {
            let message = format!(
                "save {} first: Whetstone sends the repository as it is on disk, and the change it proposes is made against that",
                unsaved.display()
            );
            self.outbox.show(MessageType::WARNING, format!("Whetstone: {message}"));
            return Ok(());
        }
        self.jobs.retain(|_, cancel| !cancel.is_cancelled());
        let token = format!("whetstone/fix/{}", self.next_job.fetch_add(1, Ordering::Relaxed));
        let cancel = CancellationToken::new();
        self.jobs.insert(token.clone(), cancel.clone());
        let job = FixJob {
            outbox: self.outbox.clone(),
            settings: self.settings.clone(),
            support: self.support,
            arguments,
            token,
            cancel: cancel.clone(),
        };
        self.running.retain(|task| !task.is_finished());
        self.running.push(self.runtime.spawn(async move {
            job.run().await;
            // Marks the job done for `jobs.retain` above.
            cancel.cancel();
        }));
        Ok(())
    }

    /// An open document in the same repository whose editor text differs from the disk.
    fn unsaved_document(&self, path: &Path) -> Option<PathBuf> {
        let root = git_root(path)?;
        self.documents.iter().find_map(|(uri, text)| {
            let open = uri_path(uri)?;
            let on_disk = std::fs::read_to_string(&open).ok();
            (open.starts_with(&root) && on_disk.as_deref() != Some(text.as_str())).then_some(open)
        })
    }
}

fn git_root(path: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::discover(path.parent()?).ok()?;
    repo.workdir().map(Path::to_owned)
}

/// The path as the statement shows it: relative to its repository when there is one.
fn display_path(path: &Path) -> String {
    match git_root(path) {
        Some(root) => path.strip_prefix(&root).unwrap_or(path).display().to_string(),
        None => path.display().to_string(),
    }
}
