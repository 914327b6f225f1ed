//! The solve API's HTTP edge (axum): authentication, request checks, limits, and the
//! conversion of every failure into a JSON error that says what to do.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use futures::Stream;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use whetstone_proto::job::SolveAssignment;
use whetstone_tasks::Digest;
use whetstone_tasks::bundle::{Bundle, BundleError};

use super::keys::ApiKey;
use super::upload::{self, Unread, Upload};
use super::{AgentInfo, CancelOutcome, Hub, JobEvent};
use crate::scheduler::{Event, SchedulerHandle};
use crate::service::Services;
use crate::store::now_ms;

/// The OpenAPI 3.1 description of this API, served at `/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Room in a request beyond the base64 snapshot (statement, test command, JSON).
const REQUEST_OVERHEAD_BYTES: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Debug, Clone)]
pub(crate) struct SolveApi {
    pub(crate) hub: Arc<Hub>,
    pub(crate) services: Services,
    pub(crate) scheduler: SchedulerHandle,
    /// Ends the SSE streams at shutdown, so the server's graceful stop is not held open.
    pub(crate) shutdown: CancellationToken,
}

pub(crate) fn router(api: SolveApi) -> axum::Router {
    axum::Router::new()
        .route("/v1/solve", post(submit))
        .route("/v1/solve/{id}", get(status).delete(cancel))
        .route("/v1/solve/{id}/events", get(events))
        .route("/v1/openapi.json", get(openapi))
        .fallback(not_found)
        .with_state(api)
}

/// A failure as the API returns it: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub(crate) struct HttpError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl HttpError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn internal(error: &dyn std::error::Error) -> Self {
        tracing::error!(error = %whetstone_proto::error_chain(error), "solve API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; the coordinator's log says why")
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::store::StoreError> for HttpError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::internal(&error)
    }
}

async fn not_found() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; the API is described at /v1/openapi.json")
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

/// Whether the request is signed with a hotkey (btauth/1) rather than carrying a key.
fn is_signed(headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).is_none() && headers.contains_key("x-bittensor-signature")
}

/// The caller: the key of `Authorization: Bearer <key>`, or the registered hotkey that signed
/// the request with btauth/1 (`x-bittensor-*` headers over method, path and body).
async fn authenticate(api: &SolveApi, headers: &HeaderMap, method: &str, path: &str, body: &[u8]) -> Result<ApiKey, HttpError> {
    if is_signed(headers) {
        let signed = whetstone_chain::auth::AuthHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()));
        let hotkey =
            api.services.auth.solve_caller(&signed, method, path, body).map_err(|e| {
                HttpError::new(StatusCode::UNAUTHORIZED, "bad_signature", format!("the btauth/1 signature is refused: {e}"))
            })?;
        return api.hub.keys().for_hotkey(hotkey.as_str()).await?.ok_or_else(|| {
            HttpError::new(StatusCode::UNAUTHORIZED, "revoked_hotkey", format!("the operator revoked solve API access for hotkey {hotkey}"))
        });
    }
    authenticate_key(&api.hub, headers).await
}

/// The caller's key from `Authorization: Bearer <key>`.
async fn authenticate_key(hub: &Hub, headers: &HeaderMap) -> Result<ApiKey, HttpError> {
    const HOW: &str = "the coordinator's operator makes keys with `whetstone keys create NAME`; pass yours as \
                       `Authorization: Bearer <key>` (whetstone solve reads WHETSTONE_API_KEY), or sign the request with \
                       a registered hotkey (btauth/1)";
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(HttpError::new(StatusCode::UNAUTHORIZED, "missing_key", format!("this API needs an API key: {HOW}")));
    };
    let key = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).unwrap_or_default();
    if key.is_empty() {
        return Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            "missing_key",
            format!("the Authorization header is not `Bearer <key>`: {HOW}"),
        ));
    }
    match hub.keys().authenticate(key).await? {
        Some(key) => Ok(key),
        None => Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_key",
            "this API key is unknown or revoked; ask the coordinator's operator for a new one (`whetstone keys create NAME`)",
        )),
    }
}

#[derive(Debug, Deserialize)]
struct SolveRequest {
    statement: String,
    snapshot_base64: String,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    budget_micro_usd: Option<u64>,
    #[serde(default)]
    test_command: Option<String>,
}

async fn submit(State(api): State<SolveApi>, headers: HeaderMap, body: Body) -> Result<Response, HttpError> {
    // A key is checked before the body is read; a signature covers the body, so after.
    let early = if is_signed(&headers) {
        None
    } else {
        match authenticate_key(&api.hub, &headers).await {
            Ok(key) => Some(key),
            Err(error) => return Ok(Unread::untouched(body).refuse(error, &headers, &api.shutdown)),
        }
    };
    let config = api.hub.config().clone();
    let base64_cap = config.max_snapshot_bytes.div_ceil(3) * 4;
    let too_large = || {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "snapshot_too_large",
            format!(
                "the snapshot is over this coordinator's {} MiB cap; leave build outputs and large data out of the repository \
                 (or .gitignore them) and send only the files the agent needs",
                config.max_snapshot_bytes / (1024 * 1024)
            ),
        )
    };
    let bytes = match upload::read_capped(&headers, body, base64_cap + REQUEST_OVERHEAD_BYTES).await {
        Upload::Whole(bytes) => bytes,
        Upload::OverCap(unread) => return Ok(unread.refuse(too_large(), &headers, &api.shutdown)),
        Upload::Failed(error) => {
            return Err(HttpError::new(StatusCode::BAD_REQUEST, "bad_body", format!("failed to read the request body: {error}")));
        }
    };
    let key = match early {
        Some(key) => key,
        None => authenticate(&api, &headers, "POST", "/v1/solve", &bytes).await?,
    };
    let request: SolveRequest = serde_json::from_slice(&bytes).map_err(|e| {
        HttpError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the body is not a solve request ({e}); see /v1/openapi.json for its fields"),
        )
    })?;
    if request.statement.trim().is_empty() {
        return Err(HttpError::new(StatusCode::BAD_REQUEST, "empty_statement", "the statement is empty: say what the agent should fix"));
    }
    let snapshot = base64::engine::general_purpose::STANDARD.decode(request.snapshot_base64.as_bytes()).map_err(|e| {
        HttpError::new(StatusCode::BAD_REQUEST, "snapshot_not_base64", format!("snapshot_base64 is not standard base64: {e}"))
    })?;
    if snapshot.len() > config.max_snapshot_bytes {
        return Err(too_large());
    }
    check_snapshot(&snapshot)?;
    let budget = request.budget_micro_usd.unwrap_or(config.default_budget_micro_usd);
    if budget > config.max_budget_micro_usd {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "budget_too_large",
            format!("budget_micro_usd is {budget}; this coordinator allows at most {} per job", config.max_budget_micro_usd),
        ));
    }
    let agent = resolve_agent(&api, request.agent.as_deref().unwrap_or("best")).await?;
    check_limits(&api.hub, &key, budget).await?;

    let solve_id = format!("solve-{}", uuid::Uuid::new_v4().simple());
    let limits = config.limits.unwrap_or(api.services.config.agent_limits).into();
    let assignment = SolveAssignment {
        solve_id: solve_id.clone(),
        agent: agent.digest.parse().map_err(|e: whetstone_tasks::digest::InvalidDigest| HttpError::internal(&e))?,
        snapshot,
        statement: request.statement,
        test_command: request.test_command.unwrap_or_default(),
        limits,
        llm_budget_micro_usd: budget,
    };
    api.hub.record_created(&solve_id, &key.key_id, &agent.digest, budget).await?;
    let position = api.hub.submit(&key.key_id, agent.clone(), assignment);
    tracing::info!(solve = %solve_id, key = %key.key_id, agent = %agent.digest, position, "solve job queued");
    api.scheduler.send(Event::WorkAdded).await;
    let body = serde_json::json!({ "id": solve_id, "agent": agent, "events": format!("/v1/solve/{solve_id}/events") });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// A snapshot is a tar of regular files at plain relative paths; anything else is refused
/// naming the entry.
fn check_snapshot(snapshot: &[u8]) -> Result<(), HttpError> {
    let bad = |code, message: String| HttpError::new(StatusCode::BAD_REQUEST, code, message);
    match Bundle::from_tar(snapshot) {
        Ok(bundle) if bundle.files.is_empty() => {
            Err(bad("empty_snapshot", "the snapshot has no files; send a tar of the repository's tracked files".into()))
        }
        Ok(_) => Ok(()),
        Err(BundleError::UnsafePath { path }) => Err(bad(
            "snapshot_entry_escapes",
            format!("snapshot entry {path:?} is not a plain relative path inside the repository (absolute, `..` or empty); remove it"),
        )),
        Err(BundleError::NotRegular { path }) => Err(bad(
            "snapshot_entry_not_file",
            format!("snapshot entry {path:?} is a link or special file; a snapshot holds regular files and directories only"),
        )),
        Err(error) => {
            Err(bad("snapshot_malformed", format!("the snapshot is not a valid tar archive: {}", whetstone_proto::error_chain(&error))))
        }
    }
}

/// `best` or an agent digest, as the agent the job runs.
async fn resolve_agent(api: &SolveApi, wanted: &str) -> Result<AgentInfo, HttpError> {
    let info =
        |row: &crate::store::AgentRow| AgentInfo { digest: row.digest.to_string(), name: row.name.clone(), version: row.version.clone() };
    if wanted == "best" {
        let min = api.hub.config().min_decided;
        let (board, _) = api.services.current_leaderboard().await.map_err(|e| HttpError::internal(&e))?;
        return board.iter().find(|e| e.decided >= min).map(|e| info(&e.agent)).ok_or_else(|| {
            HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_ranked_agent",
                format!("no agent has {min} or more graded tasks yet, so there is no best agent; name one by digest (`whetstone leaderboard` lists them) or try again after the next round"),
            )
        });
    }
    let digest: Digest = wanted.parse().map_err(|e| {
        HttpError::new(StatusCode::BAD_REQUEST, "bad_agent", format!("agent must be \"best\" or an agent digest (sha256:…): {e}"))
    })?;
    let agents = api.services.store.agents().await?;
    agents.iter().find(|a| a.digest == digest).map(info).ok_or_else(|| {
        HttpError::new(
            StatusCode::NOT_FOUND,
            "unknown_agent",
            format!("no agent {digest} on this coordinator; `whetstone leaderboard` lists them"),
        )
    })
}

/// The key's concurrency, rate and spend limits.
async fn check_limits(hub: &Hub, key: &ApiKey, budget: u64) -> Result<(), HttpError> {
    let config = hub.config();
    let max_concurrent = key.limits.max_concurrent.unwrap_or(config.max_concurrent);
    let active = hub.active_for(&key.key_id);
    if active >= max_concurrent {
        return Err(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_running",
            format!(
                "this key has {active} jobs queued or running, its limit is {max_concurrent}; wait for one to finish or cancel one (DELETE /v1/solve/{{id}})"
            ),
        ));
    }
    let rate = key.limits.rate_per_minute.unwrap_or(config.rate_per_minute);
    let (recent, _) = hub.keys().usage_since(&key.key_id, now_ms() - 60_000).await?;
    if recent >= rate {
        return Err(HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("this key started {recent} jobs in the last minute, its limit is {rate} a minute; try again in a minute"),
        ));
    }
    let cap = key.limits.spend_cap_micro_usd.unwrap_or(config.spend_cap_micro_usd);
    let window_ms = i64::try_from(config.spend_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let (_, spent) = hub.keys().usage_since(&key.key_id, now_ms().saturating_sub(window_ms)).await?;
    if spent.saturating_add(budget) > cap {
        return Err(HttpError::new(
            StatusCode::PAYMENT_REQUIRED,
            "spend_cap_reached",
            format!(
                "this key's jobs have spent or hold {spent} of its {cap} micro-USD for the last {}s and this job's budget is {budget}; \
                 ask for a smaller budget_micro_usd, wait for the window to pass, or ask the operator for a key with a higher cap \
                 (`whetstone keys create NAME --spend-cap …`)",
                config.spend_window_secs
            ),
        ));
    }
    Ok(())
}

fn unknown_job(id: &str) -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "unknown_job",
        format!("no solve job {id} for this key (finished jobs are forgotten after the coordinator's retention)"),
    )
}

async fn status(State(api): State<SolveApi>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, HttpError> {
    let key = authenticate(&api, &headers, "GET", &format!("/v1/solve/{id}"), b"").await?;
    let view = api.hub.view(&key.key_id, &id).ok_or_else(|| unknown_job(&id))?;
    Ok(Json(view).into_response())
}

async fn cancel(State(api): State<SolveApi>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, HttpError> {
    let key = authenticate(&api, &headers, "DELETE", &format!("/v1/solve/{id}"), b"").await?;
    let outcome = api.hub.cancel(&key.key_id, &id).await.ok_or_else(|| unknown_job(&id))?;
    let state = match outcome {
        CancelOutcome::Cancelling => {
            api.scheduler.send(Event::CancelSolve { solve_id: id.clone() }).await;
            "cancelling"
        }
        CancelOutcome::Cancelled | CancelOutcome::AlreadyFinished => "finished",
    };
    tracing::info!(solve = %id, key = %key.key_id, state, "solve job cancel requested");
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id, "state": state }))).into_response())
}

async fn events(State(api): State<SolveApi>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, HttpError> {
    let key = authenticate(&api, &headers, "GET", &format!("/v1/solve/{id}/events"), b"").await?;
    let last_event_id = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()).ok_or_else(|| {
            HttpError::new(StatusCode::BAD_REQUEST, "bad_last_event_id", "Last-Event-ID must be the number of the last event you received")
        })?,
    };
    if api.hub.events_after(&key.key_id, &id, last_event_id).is_none() {
        return Err(unknown_job(&id));
    }
    let stream = event_stream(api, key.key_id, id, last_event_id);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// The job's events after `last`, then each new one as it comes, ending after `finished`.
fn event_stream(api: SolveApi, key_id: String, id: String, last: u64) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let pending: std::collections::VecDeque<JobEvent> = std::collections::VecDeque::new();
    futures::stream::unfold((api, key_id, id, last, pending, false), |(api, key_id, id, mut last, mut pending, mut done)| async move {
        loop {
            if let Some(event) = pending.pop_front() {
                last = event.id;
                let sse = SseEvent::default().id(event.id.to_string()).event(event.name).data(event.data.to_string());
                return Some((Ok(sse), (api, key_id, id, last, pending, done)));
            }
            if done {
                return None;
            }
            let (events, finished, mut changed) = api.hub.events_after(&key_id, &id, last)?;
            if !events.is_empty() {
                pending.extend(events);
                done = finished;
                continue;
            }
            if finished {
                return None;
            }
            tokio::select! {
                () = api.shutdown.cancelled() => return None,
                changed = changed.changed() => if changed.is_err() { return None },
            }
        }
    })
}
