//! A client of the coordinator's solve API (issue 12; the contract is served at
//! `/v1/openapi.json`), shared by `whetstone solve`, `whetstone lsp` and `whetstone mcp`:
//! submit a job, follow its Server-Sent Events (resuming with `Last-Event-ID` after a dropped
//! connection), read its state, cancel it; and pack a git work tree into the snapshot a job
//! carries.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures::Stream;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

/// Where `whetstone solve` looks when told nothing (`whetstone coordinator`'s default).
pub const DEFAULT_SOLVE_URL: &str = "http://127.0.0.1:50052";

/// What to do without a key, said wherever a key is missing.
pub const HOW_TO_GET_A_KEY: &str = "ask the coordinator's operator for an API key (they make one with `whetstone keys create NAME` on the \
                                    coordinator's host) and export WHETSTONE_API_KEY=<key>";

#[derive(Debug, thiserror::Error)]
pub enum SolveClientError {
    #[error("invalid solve API URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach the solve API at {url}: is the coordinator running with its solve API on (--solve-listen)?")]
    Connect {
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("the solve API answered {status} {code}: {message}")]
    Api { status: u16, code: String, message: String },
    #[error("the solve API's answer could not be read: {0}")]
    Decode(String),
    #[error("failed to set up TLS")]
    Tls(#[source] rustls::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{dir} is not inside a git repository: `whetstone solve` sends the repository's tracked files (run `git init` first)")]
    NotARepository { dir: String, source: git2::Error },
    #[error("{0} is a bare repository: there is no work tree to send")]
    Bare(String),
    #[error("failed to read the repository's index or status")]
    Git(#[from] git2::Error),
    #[error("failed to read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to build the snapshot")]
    Tar(#[source] std::io::Error),
}

/// A job to submit. `agent` is `best` or an agent digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolveRequest {
    pub statement: String,
    /// A tar of the repository's files ([`pack_worktree`]).
    pub snapshot: Vec<u8>,
    pub agent: String,
    pub budget_micro_usd: Option<u64>,
    pub test_command: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub digest: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SolveAccepted {
    pub id: String,
    pub agent: AgentInfo,
    /// The event stream's path.
    pub events: String,
}

/// `GET /v1/solve/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SolveStatus {
    pub id: String,
    /// `queued`, `running` or `finished`.
    pub state: String,
    /// Once finished: `diff`, `no_diff`, `failed` or `cancelled`.
    #[serde(default)]
    pub status: Option<String>,
    pub agent: AgentInfo,
    #[serde(default)]
    pub diff: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    pub spent_micro_usd: u64,
}

/// `DELETE /v1/solve/{id}`: `cancelling` (a runner is stopping it) or `finished`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CancelAnswer {
    pub id: String,
    pub state: String,
}

/// One event of a job's stream, with its number for `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveEvent {
    pub id: u64,
    pub kind: SolveEventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SolveEventKind {
    Queued {
        position: u64,
    },
    Started {
        runner: String,
    },
    Log {
        line: String,
    },
    Spend {
        micro_usd: u64,
    },
    Tests {
        command: String,
        exit_code: i64,
        output_tail: String,
    },
    Finished(Finished),
    /// An event this client does not know (a newer coordinator): passed on as it came.
    Other {
        name: String,
        data: serde_json::Value,
    },
}

/// The last event: how the job ended.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Finished {
    /// `diff`, `no_diff`, `failed` or `cancelled`.
    pub status: String,
    #[serde(default)]
    pub diff: String,
    pub agent: AgentInfo,
    #[serde(default)]
    pub error: String,
}

impl SolveEventKind {
    fn parse(name: &str, data: &str) -> Result<Self, SolveClientError> {
        let value: serde_json::Value = serde_json::from_str(data).map_err(|e| SolveClientError::Decode(format!("event {name}: {e}")))?;
        let text = |field: &str| value[field].as_str().unwrap_or_default().to_owned();
        let number = |field: &str| value[field].as_u64().unwrap_or_default();
        Ok(match name {
            "queued" => Self::Queued { position: number("position") },
            "started" => Self::Started { runner: text("runner") },
            "log" => Self::Log { line: text("line") },
            "spend" => Self::Spend { micro_usd: number("micro_usd") },
            "tests" => Self::Tests {
                command: text("command"),
                exit_code: value["exit_code"].as_i64().unwrap_or(-1),
                output_tail: text("output_tail"),
            },
            "finished" => {
                Self::Finished(serde_json::from_value(value).map_err(|e| SolveClientError::Decode(format!("event finished: {e}")))?)
            }
            _ => Self::Other { name: name.to_owned(), data: value },
        })
    }
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<SolveEvent, SolveClientError>> + Send>>;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A solve API client for one base URL and key.
#[derive(Debug, Clone)]
pub struct SolveClient {
    base_url: String,
    key: String,
    http: HttpsClient,
}

impl SolveClient {
    /// `base_url` like `http://127.0.0.1:50052` (https works too); `key` from `whetstone keys create`.
    pub fn new(base_url: &str, key: &str) -> Result<Self, SolveClientError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(SolveClientError::BadUrl { url: base_url, reason: "it must start with http:// or https://".into() });
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(SolveClientError::Tls)?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(https);
        Ok(Self { base_url, key: key.to_owned(), http })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        last_event_id: Option<u64>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, SolveClientError> {
        let url = format!("{}{path}", self.base_url);
        let mut request = Request::builder().method(method).uri(&url).header("authorization", format!("Bearer {}", self.key));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| SolveClientError::BadUrl { url: url.clone(), reason: e.to_string() })?;
        let response =
            self.http.request(request).await.map_err(|source| SolveClientError::Connect { url: self.base_url.clone(), source })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Err(api_error(status, &body))
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<T, SolveClientError> {
        let response = self.send(method, path, body, None).await?;
        let bytes = response.into_body().collect().await.map_err(|e| SolveClientError::Decode(e.to_string()))?.to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| SolveClientError::Decode(format!("{e}: {}", String::from_utf8_lossy(&bytes))))
    }

    /// `POST /v1/solve`.
    pub async fn submit(&self, request: &SolveRequest) -> Result<SolveAccepted, SolveClientError> {
        let mut body = serde_json::json!({
            "statement": request.statement,
            "snapshot_base64": base64::engine::general_purpose::STANDARD.encode(&request.snapshot),
            "agent": request.agent,
        });
        if let Some(budget) = request.budget_micro_usd {
            body["budget_micro_usd"] = budget.into();
        }
        if let Some(command) = &request.test_command {
            body["test_command"] = command.clone().into();
        }
        let body = serde_json::to_vec(&body).map_err(|e| SolveClientError::Decode(e.to_string()))?;
        self.json(Method::POST, "/v1/solve", Some(body)).await
    }

    /// `GET /v1/solve/{id}`.
    pub async fn status(&self, id: &str) -> Result<SolveStatus, SolveClientError> {
        self.json(Method::GET, &format!("/v1/solve/{id}"), None).await
    }

    /// `DELETE /v1/solve/{id}`: the runner kills the agent's container.
    pub async fn cancel(&self, id: &str) -> Result<CancelAnswer, SolveClientError> {
        self.json(Method::DELETE, &format!("/v1/solve/{id}"), None).await
    }

    /// The job's events after `last_event_id` (0 or `None`: from the start), ending after
    /// `finished` or when the connection drops (then call again with the last id seen).
    pub async fn events(&self, id: &str, last_event_id: Option<u64>) -> Result<EventStream, SolveClientError> {
        let response = self.send(Method::GET, &format!("/v1/solve/{id}/events"), None, last_event_id.filter(|n| *n > 0)).await?;
        let body = response.into_body();
        let stream = futures::stream::unfold((body, String::new(), false), |(mut body, mut buffer, mut ended)| async move {
            loop {
                if let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    match parse_frame(&frame) {
                        Some(Ok(event)) => return Some((Ok(event), (body, buffer, ended))),
                        Some(Err(error)) => return Some((Err(error), (body, buffer, ended))),
                        None => continue,
                    }
                }
                if ended {
                    return None;
                }
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            buffer.push_str(&String::from_utf8_lossy(&data).replace("\r\n", "\n"));
                        }
                    }
                    Some(Err(error)) => {
                        ended = true;
                        return Some((Err(SolveClientError::Decode(format!("the event stream broke: {error}"))), (body, buffer, ended)));
                    }
                    None => ended = true,
                }
            }
        });
        Ok(Box::pin(stream))
    }
}

/// One SSE frame; `None` for a comment or keep-alive.
fn parse_frame(frame: &str) -> Option<Result<SolveEvent, SolveClientError>> {
    let (mut id, mut name, mut data) = (None, None, String::new());
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse::<u64>().ok();
        } else if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    let (id, name) = (id?, name?);
    Some(SolveEventKind::parse(&name, &data).map(|kind| SolveEvent { id, kind }))
}

fn api_error(status: StatusCode, body: &[u8]) -> SolveClientError {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = value["error"]["code"].as_str().unwrap_or("unknown").to_owned();
    let mut message = value["error"]["message"].as_str().map_or_else(|| String::from_utf8_lossy(body).into_owned(), str::to_owned);
    if status == StatusCode::UNAUTHORIZED {
        message = format!("{message}\n(whetstone: {HOW_TO_GET_A_KEY})");
    }
    SolveClientError::Api { status: status.as_u16(), code, message }
}

/// The work tree's root of the repository `dir` is in.
pub fn worktree_root(dir: &Path) -> Result<PathBuf, PackError> {
    let repo = git2::Repository::discover(dir).map_err(|source| PackError::NotARepository { dir: dir.display().to_string(), source })?;
    repo.workdir().map(Path::to_path_buf).ok_or_else(|| PackError::Bare(repo.path().display().to_string()))
}

/// A tar of the repository's work tree as the developer sees it: every tracked file as it is on
/// disk (uncommitted edits included, deleted ones left out) plus untracked files git does not
/// ignore. Symbolic links and submodules are left out (a snapshot holds regular files only).
/// Paths are relative to the work tree's root.
pub fn pack_worktree(dir: &Path) -> Result<Vec<u8>, PackError> {
    let root = worktree_root(dir)?;
    let repo = git2::Repository::open(&root)?;
    let mut paths: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    const GITLINK: u32 = 0o160_000;
    const SYMLINK: u32 = 0o120_000;
    for entry in repo.index()?.iter() {
        if entry.mode == GITLINK || entry.mode == SYMLINK {
            continue;
        }
        paths.insert(String::from_utf8_lossy(&entry.path).into_owned());
    }
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    for status in repo.statuses(Some(&mut options))?.iter() {
        if status.status().contains(git2::Status::WT_NEW)
            && let Ok(path) = status.path()
        {
            paths.insert(path.to_owned());
        }
    }
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    for path in paths {
        let full = root.join(&path);
        let metadata = match std::fs::symlink_metadata(&full) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PackError::Read { path, source }),
        };
        if !metadata.is_file() {
            continue;
        }
        let bytes = std::fs::read(&full).map_err(|source| PackError::Read { path: path.clone(), source })?;
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(if is_executable(&metadata) { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, &path, bytes.as_slice()).map_err(PackError::Tar)?;
    }
    builder.into_inner().map_err(PackError::Tar)
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn entries(tar: &[u8]) -> Vec<(String, String)> {
        let mut archive = tar::Archive::new(tar);
        let mut out = Vec::new();
        for entry in archive.entries().expect("tar") {
            let mut entry = entry.expect("entry");
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let mut text = String::new();
            entry.read_to_string(&mut text).expect("text");
            out.push((path, text));
        }
        out
    }

    #[test]
    fn the_snapshot_is_tracked_files_as_on_disk_plus_unignored_new_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let repo = git2::Repository::init(dir.path()).expect("init");
        let write = |path: &str, text: &str| {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, text).expect("write");
        };
        write("a.py", "x = 1\n");
        write("pkg/gone.py", "old\n");
        write(".gitignore", "build/\n");
        let mut index = repo.index().expect("index");
        for path in ["a.py", "pkg/gone.py", ".gitignore"] {
            index.add_path(Path::new(path)).expect("add");
        }
        index.write().expect("index written");
        write("a.py", "x = 2\n");
        std::fs::remove_file(dir.path().join("pkg/gone.py")).expect("rm");
        write("new/b.py", "y = 3\n");
        write("build/out.bin", "ignored\n");

        let tar = pack_worktree(&dir.path().join("new")).expect("packs from a subdirectory");
        let files = entries(&tar);
        let expected: Vec<(String, String)> = [(".gitignore", "build/\n"), ("a.py", "x = 2\n"), ("new/b.py", "y = 3\n")]
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect();
        assert_eq!(files, expected, "uncommitted edit, deleted file left out, new file in, ignored file out");
        assert!(whetstone_tasks::bundle::Bundle::from_tar(&tar).is_ok(), "the coordinator accepts it");
    }

    #[test]
    fn outside_a_repository_the_error_says_so() {
        let dir = tempfile::tempdir().expect("dir");
        let error = pack_worktree(dir.path()).expect_err("no repo");
        assert!(error.to_string().contains("not inside a git repository"), "{error}");
    }

    #[test]
    fn sse_frames_parse_into_events() {
        let event = parse_frame("event: log\ndata: {\"line\":\"hi\"}\nid: 3\n\n").expect("frame").expect("event");
        assert_eq!(event, SolveEvent { id: 3, kind: SolveEventKind::Log { line: "hi".into() } });
        assert!(parse_frame(":keep-alive\n\n").is_none());
        let finished = parse_frame("id: 9\nevent: finished\ndata: {\"status\":\"no_diff\",\"diff\":\"\",\"agent\":{\"digest\":\"d\",\"name\":\"n\",\"version\":\"1\"},\"error\":\"e\"}\n\n")
            .expect("frame")
            .expect("event");
        assert!(matches!(finished.kind, SolveEventKind::Finished(Finished { ref status, .. }) if status == "no_diff"));
    }
}
