//! The agent-facing side: an OpenAI-compatible HTTP server that authenticates the run,
//! prices the request, reserves its worst case, rewrites it, forwards it and settles it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::time::{Instant, timeout_at};

use super::budget::{Ledgers, Outcome, Refusal, Reservation, ReserveError, Usage, worst_case};
use super::config::{ModelPrice, ProxyConfig};
use super::upstream::{Upstream, UpstreamError};

/// Largest request body an agent may send (a long prompt is a few hundred KiB).
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// Longest SSE line the usage scanner buffers; longer lines pass through unscanned.
const MAX_SSE_LINE: usize = 1024 * 1024;

#[derive(Debug)]
pub(crate) struct ProxyState {
    pub(crate) config: ProxyConfig,
    pub(crate) ledgers: Arc<Ledgers>,
    pub(crate) upstream: Upstream,
    pub(crate) request_timeout: Duration,
}

pub(crate) fn router(state: Arc<ProxyState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state)
}

/// Every way the proxy itself answers instead of the upstream, as OpenAI-style errors.
#[derive(Debug)]
enum ApiError {
    Unauthorized,
    BadRequest(String),
    ModelNotAllowed { model: String, allowed: Vec<String> },
    OverBudget(Refusal),
    Unreachable(String),
    Timeout(Duration),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, code, message) = match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "missing or invalid API key: use the OPENAI_API_KEY this run was given".to_owned(),
            ),
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_request", message),
            Self::ModelNotAllowed { model, allowed } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "model_not_found",
                format!("model {model:?} is not allowed; allowed models: {}", allowed.join(", ")),
            ),
            Self::OverBudget(Refusal { budget, spent, outstanding, needed }) => (
                StatusCode::TOO_MANY_REQUESTS,
                "insufficient_quota",
                "budget_exceeded",
                format!(
                    "run budget exceeded: this request could cost up to {needed} micro-USD (every request byte \
                     counted as a prompt token, plus max_tokens completion tokens), but the run has spent {spent} \
                     and holds {outstanding} for calls in flight out of a budget of {budget} micro-USD, leaving {}. \
                     Nothing was sent upstream; shorten the prompt or lower max_tokens.",
                    budget.saturating_sub(spent).saturating_sub(outstanding),
                ),
            ),
            Self::Unreachable(reason) => (
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "upstream_unreachable",
                format!("the LLM provider could not be reached: {reason}"),
            ),
            Self::Timeout(limit) => (
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_error",
                "upstream_timeout",
                format!("the LLM provider did not finish within {} s", limit.as_secs()),
            ),
        };
        let body = json!({ "error": { "message": message, "type": kind, "code": code } });
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string()).into_response()
    }
}

/// The run's bearer token, from `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(ApiError::Unauthorized)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized);
    }
    Ok(token.trim())
}

/// The token and seed of an open run.
fn authenticate<'h>(state: &ProxyState, headers: &'h HeaderMap) -> Result<(&'h str, u64), ApiError> {
    let token = bearer(headers)?;
    let seed = state.ledgers.seed(token).ok_or(ApiError::Unauthorized)?;
    Ok((token, seed))
}

fn parse_request(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(request)) => Ok(request),
        Ok(_) => Err(ApiError::BadRequest("request body must be a JSON object".to_owned())),
        Err(e) => Err(ApiError::BadRequest(format!("request body is not valid JSON: {e}"))),
    }
}

fn allowed_model<'c>(config: &'c ProxyConfig, request: &Map<String, Value>) -> Result<&'c ModelPrice, ApiError> {
    let name =
        request.get("model").and_then(Value::as_str).ok_or_else(|| ApiError::BadRequest("request has no \"model\" string".to_owned()))?;
    config.model(name).ok_or_else(|| ApiError::ModelNotAllowed {
        model: name.to_owned(),
        allowed: config.model_names().into_iter().map(str::to_owned).collect(),
    })
}

/// Caps the request's completion-token limit at the model's and fills it in when absent,
/// returning the most completion tokens the upstream may produce for this request.
fn bound_completion_tokens(request: &mut Map<String, Value>, model: &ModelPrice) -> Result<u64, ApiError> {
    let mut bound = None;
    for field in ["max_tokens", "max_completion_tokens"] {
        let Some(value) = request.get(field) else { continue };
        if value.is_null() {
            request.remove(field);
            continue;
        }
        let asked = value.as_u64().ok_or_else(|| ApiError::BadRequest(format!("{field} must be a non-negative integer")))?;
        let capped = asked.min(model.max_output_tokens);
        request.insert(field.to_owned(), capped.into());
        bound = Some(bound.unwrap_or(0).max(capped));
    }
    Ok(match bound {
        Some(bound) => bound,
        None => {
            request.insert("max_tokens".to_owned(), model.max_output_tokens.into());
            model.max_output_tokens
        }
    })
}

/// The chat parameters forwarded. Anything else is refused rather than passed on, because
/// providers accept extensions that would break the budget or the sandbox: OpenRouter's
/// `models` (fallback to models not on the price list), `plugins` and `web_search_options`
/// (paid web search, and the web), `provider` routing.
const CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stream",
    "stream_options",
    "seed",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "stop",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "user",
];

/// The embeddings parameters forwarded.
const EMBEDDING_FIELDS: &[&str] = &["model", "input", "encoding_format", "dimensions", "user"];

fn only_known_fields(request: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    let unknown: Vec<&str> = request.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(ApiError::BadRequest(format!("unsupported parameter(s) {}; the proxy forwards only: {}", unknown.join(", "), known.join(", "),)))
}

/// Refuses message content that is not text: an image or audio part costs tokens its bytes
/// do not bound (a URL of a few bytes can be a large image), so it cannot be reserved for.
fn text_only(request: &Map<String, Value>) -> Result<(), ApiError> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::BadRequest("\"messages\" must be an array".to_owned()))?;
    for message in messages {
        let Some(Value::Array(parts)) = message.get("content") else { continue };
        if let Some(part) = parts.iter().find(|p| p.get("type").and_then(Value::as_str) != Some("text")) {
            let kind = part.get("type").and_then(Value::as_str).unwrap_or("untyped");
            return Err(ApiError::BadRequest(format!(
                "message content of type {kind:?} is not supported: only text parts are, so that every \
                 request's cost can be bounded before it is sent"
            )));
        }
    }
    Ok(())
}

/// How many choices the request asks for; each may use the whole completion limit.
fn choices(request: &Map<String, Value>) -> Result<u64, ApiError> {
    match request.get("n") {
        None | Some(Value::Null) => Ok(1),
        Some(n) => n.as_u64().filter(|n| *n >= 1).ok_or_else(|| ApiError::BadRequest("n must be a positive integer".to_owned())),
    }
}

fn reserve(state: &Arc<ProxyState>, token: &str, model: &ModelPrice, amount: u64) -> Result<Reservation, ApiError> {
    state.ledgers.reserve(token, model, amount).map_err(|e| match e {
        ReserveError::UnknownRun => ApiError::Unauthorized,
        ReserveError::OverBudget(refusal) => ApiError::OverBudget(refusal),
    })
}

async fn chat_completions(State(state): State<Arc<ProxyState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (token, seed) = authenticate(&state, &headers)?;
    let mut request = parse_request(&body)?;
    let model = allowed_model(&state.config, &request)?;
    only_known_fields(&request, CHAT_FIELDS)?;
    text_only(&request)?;
    let completion_tokens = bound_completion_tokens(&mut request, model)?.saturating_mul(choices(&request)?);
    request.insert("seed".to_owned(), seed.into());
    let stream = request.get("stream").and_then(Value::as_bool) == Some(true);
    if stream {
        let options = request.entry("stream_options").or_insert_with(|| json!({}));
        if !options.is_object() {
            *options = json!({});
        }
        if let Value::Object(options) = options {
            options.insert("include_usage".to_owned(), Value::Bool(true));
        }
    }
    let forwarded = Bytes::from(Value::Object(request).to_string());
    let reservation = reserve(&state, token, model, worst_case(model, forwarded.len(), completion_tokens))?;
    forward(&state, "/chat/completions", forwarded, reservation, stream).await
}

async fn embeddings(State(state): State<Arc<ProxyState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (token, _) = authenticate(&state, &headers)?;
    let request = parse_request(&body)?;
    let model = allowed_model(&state.config, &request)?;
    only_known_fields(&request, EMBEDDING_FIELDS)?;
    let reservation = reserve(&state, token, model, worst_case(model, body.len(), 0))?;
    forward(&state, "/embeddings", body, reservation, false).await
}

async fn models(State(state): State<Arc<ProxyState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    authenticate(&state, &headers)?;
    let data: Vec<Value> =
        state.config.models.iter().map(|m| json!({ "id": m.name, "object": "model", "owned_by": "whetstone-proxy" })).collect();
    let body = json!({ "object": "list", "data": data });
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string()).into_response())
}

/// Sends the rewritten request upstream and settles the reservation from what comes back;
/// a successful stream is passed through as it arrives and settles when it ends.
async fn forward(state: &ProxyState, path: &str, body: Bytes, reservation: Reservation, stream: bool) -> Result<Response, ApiError> {
    let limit = state.request_timeout;
    let deadline = Instant::now() + limit;
    let response = match timeout_at(deadline, state.upstream.post_json(path, body)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            // A refused connection generated nothing; a connection lost mid-request may have.
            let outcome = match &e {
                UpstreamError::Unreachable(e) if e.is_connect() => Outcome::Failed,
                UpstreamError::Unreachable(_) => Outcome::Unreported,
                UpstreamError::Request(_) => Outcome::Failed,
            };
            reservation.settle(outcome, StatusCode::BAD_GATEWAY.as_u16());
            tracing::warn!(error = %whetstone_proto::error_chain(&e), "LLM upstream call failed");
            return Err(ApiError::Unreachable(whetstone_proto::error_chain(&e)));
        }
        Err(_) => {
            reservation.settle(Outcome::Unreported, StatusCode::GATEWAY_TIMEOUT.as_u16());
            return Err(ApiError::Timeout(limit));
        }
    };
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let is_sse = content_type.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"));
    if stream && status.is_success() && is_sse {
        return Ok(pass_stream(response, reservation, deadline, limit));
    }

    let bytes = match timeout_at(deadline, response.into_body().collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) => {
            reservation.settle(Outcome::Unreported, StatusCode::BAD_GATEWAY.as_u16());
            return Err(ApiError::Unreachable(whetstone_proto::error_chain(&e)));
        }
        Err(_) => {
            reservation.settle(Outcome::Unreported, StatusCode::GATEWAY_TIMEOUT.as_u16());
            return Err(ApiError::Timeout(limit));
        }
    };
    let outcome = match (reported_usage(&bytes), status.is_success()) {
        (Some(usage), _) => Outcome::Reported(usage),
        (None, true) => Outcome::Unreported,
        (None, false) => Outcome::Failed,
    };
    reservation.settle(outcome, status.as_u16());
    let content_type = content_type.unwrap_or(HeaderValue::from_static("application/json"));
    Ok((status, [(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

#[derive(Deserialize)]
struct WithUsage {
    usage: Option<Usage>,
}

fn reported_usage(json: &[u8]) -> Option<Usage> {
    serde_json::from_slice::<WithUsage>(json).ok()?.usage
}

/// Why a stream ended early; the agent sees its connection cut.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("upstream stream failed")]
    Upstream(#[source] hyper::Error),
    #[error("upstream stream exceeded the request timeout of {} s", .0.as_secs())]
    Timeout(Duration),
}

struct Passthrough {
    body: Incoming,
    usage: SseUsage,
    /// `None` once settled, which ends the stream.
    reservation: Option<Reservation>,
    deadline: Instant,
    limit: Duration,
}

impl Passthrough {
    fn settle(&mut self, status: StatusCode) {
        if let Some(reservation) = self.reservation.take() {
            let outcome = self.usage.usage.map_or(Outcome::Unreported, Outcome::Reported);
            reservation.settle(outcome, status.as_u16());
        }
    }
}

/// Passes an SSE body through chunk by chunk, unchanged, watching for the usage chunk.
fn pass_stream(response: http::Response<Incoming>, reservation: Reservation, deadline: Instant, limit: Duration) -> Response {
    let status = response.status();
    let state = Passthrough { body: response.into_body(), usage: SseUsage::default(), reservation: Some(reservation), deadline, limit };
    let chunks = futures::stream::unfold(state, move |mut state| async move {
        state.reservation.as_ref()?;
        match timeout_at(state.deadline, state.body.frame()).await {
            Ok(Some(Ok(frame))) => {
                let data = frame.into_data().unwrap_or_default();
                state.usage.feed(&data);
                Some((Ok(data), state))
            }
            Ok(None) => {
                state.settle(status);
                None
            }
            Ok(Some(Err(e))) => {
                state.settle(StatusCode::BAD_GATEWAY);
                Some((Err(StreamError::Upstream(e)), state))
            }
            Err(_) => {
                state.settle(StatusCode::GATEWAY_TIMEOUT);
                let limit = state.limit;
                Some((Err(StreamError::Timeout(limit)), state))
            }
        }
    });
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// Finds the `usage` an OpenAI-style SSE stream reports (with `include_usage`, in a final
/// chunk whose `choices` is empty), however the bytes are split into chunks.
#[derive(Debug, Default)]
struct SseUsage {
    line: Vec<u8>,
    line_too_long: bool,
    usage: Option<Usage>,
}

impl SseUsage {
    fn feed(&mut self, mut data: &[u8]) {
        while let Some(end) = data.iter().position(|b| *b == b'\n') {
            self.push(&data[..end]);
            self.end_line();
            data = &data[end + 1..];
        }
        self.push(data);
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.line.len() + bytes.len() > MAX_SSE_LINE {
            self.line_too_long = true;
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.line_too_long) {
            return;
        }
        let Some(payload) = line.strip_prefix(b"data:") else { return };
        let payload = payload.trim_ascii();
        if payload == b"[DONE]" {
            return;
        }
        if let Some(usage) = reported_usage(payload) {
            self.usage = Some(usage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(max_output_tokens: u64) -> ModelPrice {
        ModelPrice { name: "m".to_owned(), input_micro_usd_per_mtok: 1, output_micro_usd_per_mtok: 1, max_output_tokens }
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn completion_limits_are_filled_in_and_capped() {
        // (request, bound, forwarded max_tokens, forwarded max_completion_tokens)
        let table = [
            (json!({}), 100, Some(100), None),
            (json!({ "max_tokens": 10 }), 10, Some(10), None),
            (json!({ "max_tokens": 1000 }), 100, Some(100), None),
            (json!({ "max_completion_tokens": 20 }), 20, None, Some(20)),
            (json!({ "max_tokens": 5, "max_completion_tokens": 30 }), 30, Some(5), Some(30)),
            (json!({ "max_tokens": null }), 100, Some(100), None),
        ];
        for (request, bound, max_tokens, max_completion) in table {
            let mut forwarded = object(request.clone());
            let got = bound_completion_tokens(&mut forwarded, &model(100)).expect("valid");
            assert_eq!(got, bound, "{request}");
            assert_eq!(forwarded.get("max_tokens").and_then(Value::as_u64), max_tokens, "{request}");
            assert_eq!(forwarded.get("max_completion_tokens").and_then(Value::as_u64), max_completion, "{request}");
        }
        for bad in [json!({ "max_tokens": -1 }), json!({ "max_tokens": "9" }), json!({ "max_completion_tokens": 1.5 })] {
            assert!(bound_completion_tokens(&mut object(bad.clone()), &model(100)).is_err(), "{bad}");
        }
        assert_eq!(choices(&object(json!({ "n": 3 }))).expect("valid"), 3);
        assert!(choices(&object(json!({ "n": 0 }))).is_err());
    }

    #[test]
    fn only_text_and_known_parameters_are_forwarded() {
        let text = |content: Value| object(json!({ "model": "m", "messages": [{ "role": "user", "content": content }] }));
        let accepted = [
            text(json!("plain")),
            text(json!([{ "type": "text", "text": "a" }, { "type": "text", "text": "b" }])),
            object(json!({ "model": "m", "messages": [{ "role": "assistant", "content": null, "tool_calls": [] }] })),
        ];
        for request in accepted {
            assert!(only_known_fields(&request, CHAT_FIELDS).is_ok() && text_only(&request).is_ok(), "{request:?}");
        }
        let image = text(json!([{ "type": "image_url", "image_url": { "url": "https://x/y.png" } }]));
        assert!(text_only(&image).is_err());
        assert!(text_only(&object(json!({ "model": "m" }))).is_err(), "messages are required");
        for field in ["models", "plugins", "web_search_options", "provider"] {
            let mut request = text(json!("hi"));
            request.insert(field.to_owned(), json!(true));
            let Err(ApiError::BadRequest(message)) = only_known_fields(&request, CHAT_FIELDS) else {
                panic!("{field} must be refused");
            };
            assert!(message.contains(field), "{message}");
        }
    }

    #[test]
    fn sse_usage_is_found_across_arbitrary_chunk_splits() {
        let stream = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3,\"total_tokens\":14}}\r\n\r\n",
            "data: [DONE]\n\n",
        )
        .as_bytes();
        for split in 0..stream.len() {
            let mut scanner = SseUsage::default();
            scanner.feed(&stream[..split]);
            scanner.feed(&stream[split..]);
            assert_eq!(scanner.usage, Some(Usage { prompt_tokens: 11, completion_tokens: 3 }), "split at {split}");
        }
        let mut none = SseUsage::default();
        none.feed(b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n");
        assert_eq!(none.usage, None);
    }
}
