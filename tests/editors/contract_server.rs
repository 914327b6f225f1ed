//! The solve API of /work/SOLVE_CONTRACT.md, served on `127.0.0.1:0` for the editor tests
//! (see the crate docs for why it stands in for the coordinator). Every job "runs" at once:
//! queued, started, two log lines, spend, finished with the test's diff.

use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};

pub const API_KEY: &str = "wk_test_0123456789";

/// What a submitted job carried.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub statement: String,
    pub agent: String,
    pub test_command: Option<String>,
    /// The snapshot's entries and their text.
    pub files: Vec<(String, String)>,
    pub cancelled: bool,
}

#[derive(Debug, Default)]
pub struct Jobs {
    pub jobs: Vec<Job>,
}

#[derive(Clone)]
struct AppState {
    jobs: Arc<Mutex<Jobs>>,
    diff: String,
}

/// A running contract server.
pub struct ContractServer {
    pub url: String,
    pub jobs: Arc<Mutex<Jobs>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ContractServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ContractServer {
    pub async fn start(diff: &str) -> Self {
        let jobs = Arc::new(Mutex::new(Jobs::default()));
        let state = AppState { jobs: jobs.clone(), diff: diff.to_owned() };
        let app = axum::Router::new()
            .route("/v1/solve", post(submit))
            .route("/v1/solve/{id}", get(status).delete(cancel))
            .route("/v1/solve/{id}/events", get(events))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { url, jobs, task }
    }

    pub fn jobs(&self) -> Vec<Job> {
        self.jobs.lock().expect("jobs").jobs.clone()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// `None` when the request carries the key, else the 401 to answer.
fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    match headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) {
        Some(value) if value == format!("Bearer {API_KEY}") => None,
        _ => Some(error(StatusCode::UNAUTHORIZED, "unauthorized", "send an API key: Authorization: Bearer <key> (whetstone keys create)")),
    }
}

fn agent() -> Value {
    json!({"digest": "sha256:7e57", "name": "repair", "version": "1.0.0"})
}

async fn submit(State(state): State<AppState>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    let Some(statement) = body.get("statement").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "statement is required");
    };
    let Some(snapshot) = body.get("snapshot_base64").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "snapshot_base64 is required");
    };
    let Ok(tar_bytes) = base64::engine::general_purpose::STANDARD.decode(snapshot) else {
        return error(StatusCode::BAD_REQUEST, "bad_snapshot", "snapshot_base64 is not base64");
    };
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("entry path").display().to_string();
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("entry text");
        files.push((path, text));
    }
    let mut jobs = state.jobs.lock().expect("jobs");
    let id = format!("solve-{}", jobs.jobs.len() + 1);
    jobs.jobs.push(Job {
        id: id.clone(),
        statement: statement.to_owned(),
        agent: body.get("agent").and_then(Value::as_str).unwrap_or("best").to_owned(),
        test_command: body.get("test_command").and_then(Value::as_str).map(str::to_owned),
        files,
        cancelled: false,
    });
    (StatusCode::ACCEPTED, Json(json!({"id": id, "agent": agent(), "events": format!("/v1/solve/{id}/events")}))).into_response()
}

fn find(state: &AppState, id: &str) -> Option<Job> {
    state.jobs.lock().expect("jobs").jobs.iter().find(|job| job.id == id).cloned()
}

fn not_found(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, "not_found", &format!("no solve job {id} for this key"))
}

async fn events(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    let Some(job) = find(&state, &id) else { return not_found(&id) };
    let finished = if job.cancelled {
        json!({"status": "cancelled", "diff": "", "agent": agent(), "error": ""})
    } else {
        json!({"status": "diff", "diff": state.diff, "agent": agent(), "error": ""})
    };
    let all = [
        ("queued", json!({"position": 0})),
        ("started", json!({"runner": "runner-1"})),
        ("log", json!({"line": "reading calc.py"})),
        ("log", json!({"line": "add subtracts: changing - to +"})),
        ("spend", json!({"micro_usd": 1200})),
        ("finished", finished),
    ];
    let after: usize = headers.get("last-event-id").and_then(|value| value.to_str().ok()).and_then(|value| value.parse().ok()).unwrap_or(0);
    let body: String = all
        .iter()
        .enumerate()
        .skip(after)
        .map(|(index, (name, data))| format!("id: {}\nevent: {name}\ndata: {data}\n\n", index + 1))
        .collect();
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn status(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    let Some(job) = find(&state, &id) else { return not_found(&id) };
    let (outcome, diff) = if job.cancelled { ("cancelled", String::new()) } else { ("diff", state.diff.clone()) };
    Json(json!({"id": id, "state": "finished", "status": outcome, "agent": agent(), "diff": diff, "spent_micro_usd": 1200})).into_response()
}

async fn cancel(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(response) = unauthorized(&headers) {
        return response;
    }
    let mut jobs = state.jobs.lock().expect("jobs");
    let Some(job) = jobs.jobs.iter_mut().find(|job| job.id == id) else { return not_found(&id) };
    job.cancelled = true;
    (StatusCode::ACCEPTED, Json(json!({"id": id, "state": "cancelling"}))).into_response()
}
