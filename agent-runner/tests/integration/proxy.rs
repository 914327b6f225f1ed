//! The inference proxy over real loopback HTTP, in front of a scripted OpenAI-compatible
//! upstream that replays recorded responses (`tests/fixtures/llm/`) and records every request
//! it receives.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use whetstone_agent_runner::proxy::{InferenceProxy, LlmCall, ModelPrice, ProxyConfig, ProxyRuns, RunBudget, RunKey, UpstreamKey};

const OPERATOR_KEY: &str = "sk-operator-secret";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llm").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).expect("fixture is JSON")
}

// ---- the scripted upstream ----

/// A request as the upstream saw it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    authorization: Option<String>,
    raw: String,
    body: Value,
}

/// What the scripted upstream does; the gates hold responses until a test opens them.
#[derive(Debug)]
struct Script {
    received: Mutex<Vec<Received>>,
    /// Chat responses wait for this to be true before answering.
    hold_responses: Option<watch::Receiver<bool>>,
    /// Streams send everything but their last event, then wait for this to be true.
    hold_last_event: Option<watch::Receiver<bool>>,
    /// Answer every chat request with this status and body instead of a fixture.
    fail_with: Option<(StatusCode, Value)>,
}

impl Script {
    fn replay() -> Self {
        Self { received: Mutex::new(Vec::new()), hold_responses: None, hold_last_event: None, fail_with: None }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    fn record(&self, path: &str, headers: &HeaderMap, body: &Bytes) -> Value {
        let value: Value = serde_json::from_slice(body).expect("the proxy forwards JSON");
        self.received.lock().expect("lock").push(Received {
            path: path.to_owned(),
            authorization: headers.get(header::AUTHORIZATION).map(|v| v.to_str().expect("ascii").to_owned()),
            raw: String::from_utf8_lossy(body).into_owned(),
            body: value.clone(),
        });
        value
    }
}

async fn wait_open(gate: Option<&watch::Receiver<bool>>) {
    if let Some(gate) = gate {
        let mut gate = gate.clone();
        gate.wait_for(|open| *open).await.expect("gate sender alive");
    }
}

async fn upstream_chat(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> Response {
    let request = script.record("/v1/chat/completions", &headers, &body);
    wait_open(script.hold_responses.as_ref()).await;
    if let Some((status, body)) = &script.fail_with {
        return (*status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    }
    if request["stream"] != json!(true) {
        return ([(header::CONTENT_TYPE, "application/json")], fixture("chat_completion.json")).into_response();
    }
    let text = String::from_utf8(fixture("chat_stream.sse")).expect("utf-8");
    let mut events: Vec<String> = text.split_inclusive("\n\n").map(str::to_owned).collect();
    let last = events.pop().expect("events");
    let hold = script.hold_last_event.clone();
    let stream = async_events(events, last, hold);
    ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(stream)).into_response()
}

/// Each SSE event as its own body frame; the last one waits for the gate.
fn async_events(
    events: Vec<String>,
    last: String,
    hold: Option<watch::Receiver<bool>>,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    let head = futures::stream::iter(events.into_iter().map(|e| Ok(Bytes::from(e))));
    let tail = futures::stream::once(async move {
        wait_open(hold.as_ref()).await;
        Ok(Bytes::from(last))
    });
    futures::StreamExt::chain(head, tail)
}

async fn upstream_embeddings(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> Response {
    script.record("/v1/embeddings", &headers, &body);
    ([(header::CONTENT_TYPE, "application/json")], fixture("embeddings.json")).into_response()
}

async fn start_upstream(script: Arc<Script>, shutdown: CancellationToken) -> SocketAddr {
    let app = Router::new()
        .route("/v1/chat/completions", post(upstream_chat))
        .route("/v1/embeddings", post(upstream_embeddings))
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await.expect("upstream serves");
    });
    addr
}

// ---- the proxy under test ----

/// Prices chosen so costs are easy to check by hand.
fn models() -> Vec<ModelPrice> {
    vec![
        // 1 µ$ per prompt token, 2 µ$ per completion token.
        ModelPrice {
            name: "test-model".into(),
            input_micro_usd_per_mtok: 1_000_000,
            output_micro_usd_per_mtok: 2_000_000,
            max_output_tokens: 1000,
        },
        // Prompts free, 1000 µ$ per completion token: reservations are max_tokens × 1000 exactly.
        ModelPrice {
            name: "flat-model".into(),
            input_micro_usd_per_mtok: 0,
            output_micro_usd_per_mtok: 1_000_000_000,
            max_output_tokens: 1000,
        },
        // 2 µ$ per input token.
        ModelPrice { name: "embed-model".into(), input_micro_usd_per_mtok: 2_000_000, output_micro_usd_per_mtok: 0, max_output_tokens: 1 },
    ]
}

struct Harness {
    proxy: SocketAddr,
    runs: ProxyRuns,
    script: Arc<Script>,
    shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start_with_upstream(script: Script, upstream_base_url: impl FnOnce(SocketAddr) -> String) -> Harness {
    let shutdown = CancellationToken::new();
    let script = Arc::new(script);
    let upstream = start_upstream(Arc::clone(&script), shutdown.clone()).await;
    let config = ProxyConfig {
        upstream_base_url: upstream_base_url(upstream),
        upstream_api_key_env: "UNUSED_IN_TESTS".into(),
        models: models(),
        request_timeout_secs: 30,
    };
    let (proxy, addr) = InferenceProxy::bind_with_key(config, UpstreamKey::new(OPERATOR_KEY), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("proxy binds");
    let runs = proxy.runs();
    tokio::spawn(proxy.serve(shutdown.clone()));
    Harness { proxy: addr, runs, script, shutdown }
}

async fn start(script: Script) -> Harness {
    start_with_upstream(script, |upstream| format!("http://{upstream}/v1")).await
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

impl Harness {
    fn open(&self, budget_micro_usd: u64) -> RunKey {
        self.runs.open_run(RunBudget { budget_micro_usd, seed: 42 })
    }

    async fn send(&self, path: &str, key: Option<&str>, body: Bytes) -> http::Response<hyper::body::Incoming> {
        let mut request = http::Request::post(format!("http://{}{path}", self.proxy)).header(header::CONTENT_TYPE, "application/json");
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        client().request(request.body(Full::new(body)).expect("request")).await.expect("proxy reachable")
    }

    /// POSTs JSON as an agent would and returns the status and the JSON answer.
    async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let response = self.send(path, key, Bytes::from(body.to_string())).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("proxy answered {status} with non-JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
        (status, json)
    }

    async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let request = http::Request::get(format!("http://{}{path}", self.proxy))
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = client().request(request).await.expect("proxy reachable");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }
}

fn chat(model: &str, extra: Value) -> Value {
    let mut body = json!({
        "model": model,
        "messages": [{ "role": "user", "content": "Why does merge_with fail on one mapping?" }],
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], json!(want_code), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

// ---- tests ----

/// A plain completion comes back exactly as the upstream sent it; the upstream saw the
/// operator's key and the run's seed, never the agent's key; the run is charged exactly the
/// reported usage (57 prompt × 1 µ$ + 12 completion × 2 µ$).
#[tokio::test]
async fn completion_passes_through_and_settles_reported_usage_exactly() {
    let harness = start(Script::replay()).await;
    let key = harness.open(1_000_000);
    let (status, body) =
        harness.post("/v1/chat/completions", Some(key.as_str()), &chat("test-model", json!({ "max_tokens": 50, "seed": 7 }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, fixture_json("chat_completion.json"));

    let received = harness.script.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v1/chat/completions");
    assert_eq!(received[0].authorization.as_deref(), Some("Bearer sk-operator-secret"));
    assert_eq!(received[0].body["seed"], json!(42), "the run's seed overrides the agent's");
    assert_eq!(received[0].body["max_tokens"], json!(50));
    assert!(!received[0].raw.contains(key.as_str()), "the agent's key leaked upstream");

    let usage = harness.runs.close_run(&key).await;
    assert_eq!(
        usage
            .calls
            .iter()
            .map(|c| (c.model.as_str(), c.prompt_tokens, c.completion_tokens, c.cost_micro_usd, c.status))
            .collect::<Vec<_>>(),
        vec![("test-model", 57, 12, 81, 200)]
    );
    assert_eq!(usage.spent_micro_usd, 81);
    assert_eq!(usage.refused, 0);
}

/// A stream is relayed event by event while the upstream is still producing it (the first
/// events arrive while the upstream holds back its last), byte for byte, and the run is
/// charged from the final usage chunk the proxy asked for with `include_usage`.
#[tokio::test]
async fn stream_passes_through_chunk_by_chunk_and_settles_from_the_usage_chunk() {
    let (release, hold) = watch::channel(false);
    let harness = start(Script { hold_last_event: Some(hold), ..Script::replay() }).await;
    let key = harness.open(1_000_000);
    let request = chat("test-model", json!({ "stream": true, "stream_options": { "include_usage": false } }));
    let response = harness.send("/v1/chat/completions", Some(key.as_str()), Bytes::from(request.to_string())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");

    let expected = fixture("chat_stream.sse");
    let mut body = response.into_body();
    let mut seen = Vec::new();
    let mut frames = 0;
    // A proxy that buffered the stream would deliver nothing until the held event is
    // released, so this times out instead of passing.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !seen.ends_with(b"\"total_tokens\":35}}\n\n") {
            let frame = body.frame().await.expect("more frames before the held event").expect("frame");
            if let Ok(data) = frame.into_data() {
                seen.extend_from_slice(&data);
                frames += 1;
            }
        }
    })
    .await
    .expect("the first events must arrive while the upstream is still streaming");
    assert!(frames >= 2, "events should arrive as separate chunks, got {frames}");
    assert!(!String::from_utf8_lossy(&seen).contains("[DONE]"), "the held event cannot have arrived yet");
    release.send(true).expect("upstream waiting");
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("frame").into_data() {
            seen.extend_from_slice(&data);
        }
    }
    assert_eq!(String::from_utf8_lossy(&seen), String::from_utf8_lossy(&expected), "the stream must pass through unchanged");

    let received = harness.script.received();
    assert_eq!(received[0].body["stream_options"]["include_usage"], json!(true));
    assert_eq!(received[0].body["seed"], json!(42));
    assert_eq!(received[0].body["max_tokens"], json!(1000));

    let usage = harness.runs.close_run(&key).await;
    assert_eq!(usage.calls.len(), 1);
    let call: &LlmCall = &usage.calls[0];
    assert_eq!((call.prompt_tokens, call.completion_tokens, call.cost_micro_usd, call.status), (31, 4, 31 + 8, 200));
    assert_eq!(usage.spent_micro_usd, 39);
}

/// Once what a run has spent plus a request's worst case exceeds its budget, the request is
/// refused with an OpenAI-style 429 that explains the numbers, and never reaches the
/// upstream; the refusal shows in the run's usage next to the call that did go through.
#[tokio::test]
async fn budget_exhaustion_is_a_429_and_nothing_reaches_the_upstream() {
    let harness = start(Script::replay()).await;
    // Worst case with max_tokens 20: the ~200-byte body at 1 µ$ + 20 × 2 µ$. Fits once; after
    // the first call settles at 81 µ$ the second's worst case no longer fits.
    let key = harness.open(200);
    let request = chat("test-model", json!({ "max_tokens": 20 }));
    let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &request).await;
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "budget_exceeded");
    assert_eq!(body["error"]["type"], json!("insufficient_quota"));
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("budget of 200") && message.contains("spent 81"), "{message}");
    assert_eq!(harness.script.received().len(), 1, "the refused request must not be forwarded");

    let usage = harness.runs.close_run(&key).await;
    assert_eq!(usage.calls.len(), 1);
    assert_eq!(usage.spent_micro_usd, 81);
    assert_eq!(usage.refused, 1);
}

/// Requests without a key, or with a key no open run has, get a 401 and reach nothing.
#[tokio::test]
async fn unknown_or_missing_key_is_a_401() {
    let harness = start(Script::replay()).await;
    let _open = harness.open(1_000_000);
    let request = chat("test-model", json!({}));
    for key in [None, Some("wsk-not-a-run"), Some(OPERATOR_KEY)] {
        let (status, body) = harness.post("/v1/chat/completions", key, &request).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_api_key");
    }
    let (status, body) = harness.get("/v1/models", "wsk-not-a-run").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(harness.script.received().is_empty());
}

/// A run's key works while it is open (including listing the allowlist) and is dead once the
/// run is closed.
#[tokio::test]
async fn closed_run_key_is_a_401() {
    let harness = start(Script::replay()).await;
    let key = harness.open(1_000_000);
    let (status, models) = harness.get("/v1/models", key.as_str()).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = models["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["test-model", "flat-model", "embed-model"]);

    let usage = harness.runs.close_run(&key).await;
    assert!(usage.calls.is_empty());
    let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &chat("test-model", json!({}))).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_api_key");
    assert!(harness.script.received().is_empty());
}

/// A model outside the allowlist is a 400 naming the allowed ones; so is a body that is not
/// JSON, an unsupported parameter, or a non-text content part. None is forwarded or charged.
#[tokio::test]
async fn unknown_model_and_bad_json_are_400s() {
    let harness = start(Script::replay()).await;
    let key = harness.open(1_000_000);
    let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &chat("gpt-9-ultra", json!({}))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "model_not_found");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("gpt-9-ultra") && message.contains("test-model") && message.contains("embed-model"), "{message}");

    let response = harness.send("/v1/chat/completions", Some(key.as_str()), Bytes::from_static(b"{\"model\": ")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Provider extensions that would escape the price list or reach the web, and content
    // whose cost its bytes do not bound, are refused too.
    let fallback = chat("test-model", json!({ "models": ["some-expensive-model"] }));
    let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &fallback).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let image = json!({
        "model": "test-model",
        "messages": [{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "https://x/y.png" } }] }],
    });
    let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &image).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");

    assert!(harness.script.received().is_empty());
    let usage = harness.runs.close_run(&key).await;
    assert!(usage.calls.is_empty() && usage.refused == 0 && usage.spent_micro_usd == 0, "{usage:?}");
}

/// A request without `max_tokens` is forwarded with the model's `max_output_tokens`, so the
/// upstream cannot exceed what was reserved; a larger `max_tokens` is capped to it.
#[tokio::test]
async fn missing_max_tokens_is_injected_and_excess_is_capped() {
    let harness = start(Script::replay()).await;
    let key = harness.open(1_000_000);
    for extra in [json!({}), json!({ "max_tokens": 50_000 })] {
        let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &chat("test-model", extra)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let received = harness.script.received();
    assert_eq!(received.iter().map(|r| r.body["max_tokens"].clone()).collect::<Vec<_>>(), [json!(1000), json!(1000)]);
}

/// N requests fired at once against a budget that fits two worst cases: exactly two are
/// forwarded (their reservations are held while they are in flight), the rest are refused,
/// and the run never spends more than its budget.
#[tokio::test]
async fn concurrent_requests_cannot_overspend() {
    const N: usize = 6;
    let (release, hold) = watch::channel(false);
    let harness = Arc::new(start(Script { hold_responses: Some(hold), ..Script::replay() }).await);
    // flat-model: each request reserves exactly 20 × 1000 µ$ = 20 000 µ$; settles at 12 × 1000.
    let budget = 50_000;
    let key = harness.open(budget);
    let request = chat("flat-model", json!({ "max_tokens": 20 }));

    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..N {
        let (harness, key, request, refused) = (Arc::clone(&harness), key.clone(), request.clone(), Arc::clone(&refused));
        calls.spawn(async move {
            let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &request).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            (status, body)
        });
    }
    // Hold every forwarded call until all N have been either forwarded or refused, so all
    // reservations overlap.
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while harness.script.received().len() + refused.load(std::sync::atomic::Ordering::SeqCst) < N {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every request forwarded or refused");
    release.send(true).expect("upstream waiting");

    let mut statuses = Vec::new();
    while let Some(joined) = calls.join_next().await {
        let (status, body) = joined.expect("request task");
        assert!(status == StatusCode::OK || status == StatusCode::TOO_MANY_REQUESTS, "{status}: {body}");
        statuses.push(status);
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 2, "exactly two 20 000 µ$ reservations fit in 50 000 µ$: {statuses:?}");
    assert_eq!(harness.script.received().len(), 2);

    let usage = harness.runs.close_run(&key).await;
    assert_eq!(usage.calls.len(), 2);
    assert_eq!(usage.refused as usize, N - 2);
    assert_eq!(usage.spent_micro_usd, 24_000);
    assert!(usage.spent_micro_usd <= budget);
}

/// An upstream nobody listens on is a 502 that says so; the failed call is recorded at no cost.
#[tokio::test]
async fn upstream_down_is_a_502() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let harness = start_with_upstream(Script::replay(), |_| format!("http://{closed}/v1")).await;
    let key = harness.open(1_000_000);
    let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &chat("test-model", json!({}))).await;
    assert_error(status, &body, StatusCode::BAD_GATEWAY, "upstream_unreachable");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("could not be reached")), "{body}");

    let usage = harness.runs.close_run(&key).await;
    assert_eq!(usage.calls.iter().map(|c| (c.status, c.cost_micro_usd)).collect::<Vec<_>>(), [(502, 0)]);
    assert_eq!(usage.spent_micro_usd, 0);
}

/// An upstream error keeps its status and body, and is not charged when it reports no usage.
#[tokio::test]
async fn upstream_errors_pass_through_with_their_status() {
    let error = json!({ "error": { "message": "rate limited by provider", "type": "rate_limit", "code": null } });
    let harness = start(Script { fail_with: Some((StatusCode::SERVICE_UNAVAILABLE, error.clone())), ..Script::replay() }).await;
    let key = harness.open(1_000_000);
    let (status, body) = harness.post("/v1/chat/completions", Some(key.as_str()), &chat("test-model", json!({}))).await;
    assert_eq!((status, body), (StatusCode::SERVICE_UNAVAILABLE, error));
    let usage = harness.runs.close_run(&key).await;
    assert_eq!(usage.calls.iter().map(|c| (c.status, c.cost_micro_usd)).collect::<Vec<_>>(), [(503, 0)]);
}

/// Embeddings are forwarded unchanged (no seed or max_tokens added) with the operator's key,
/// and charged by input tokens only: 8 × 2 µ$.
#[tokio::test]
async fn embeddings_pass_through_and_are_charged_by_input_tokens() {
    let harness = start(Script::replay()).await;
    let key = harness.open(1_000_000);
    let request = json!({ "model": "embed-model", "input": "def merge_with(func, *dicts):" });
    let (status, body) = harness.post("/v1/embeddings", Some(key.as_str()), &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, fixture_json("embeddings.json"));

    let received = harness.script.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v1/embeddings");
    assert_eq!(received[0].body, request);
    assert_eq!(received[0].authorization.as_deref(), Some("Bearer sk-operator-secret"));

    let usage = harness.runs.close_run(&key).await;
    assert_eq!(
        usage.calls.iter().map(|c| (c.model.as_str(), c.prompt_tokens, c.completion_tokens, c.cost_micro_usd)).collect::<Vec<_>>(),
        [("embed-model", 8, 0, 16)]
    );
}

/// A second listener bound through the runs handle (as the runner will bind each run
/// network's gateway) serves the same runs: a key opened once works on both, and both
/// listeners' calls land in one ledger.
#[tokio::test]
async fn extra_listeners_share_the_runs() {
    let harness = start(Script::replay()).await;
    let (second, addr) = harness.runs.bind("127.0.0.1:0".parse().expect("addr")).await.expect("second listener binds");
    tokio::spawn(second.serve(harness.shutdown.clone()));
    let other =
        Harness { proxy: addr, runs: harness.runs.clone(), script: Arc::clone(&harness.script), shutdown: harness.shutdown.clone() };

    let key = harness.open(1_000_000);
    for via in [&harness, &other] {
        let (status, body) = via.post("/v1/chat/completions", Some(key.as_str()), &chat("test-model", json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let usage = harness.runs.close_run(&key).await;
    assert_eq!((usage.calls.len(), usage.spent_micro_usd), (2, 162));
    let (status, _) = other.post("/v1/chat/completions", Some(key.as_str()), &chat("test-model", json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// An agent that hangs up in the middle of a stream is charged its whole reservation (the
/// provider may bill for what it already generated), recorded as status 499, and the
/// reservation does not stay held.
#[tokio::test]
async fn abandoned_stream_is_charged_its_reservation() {
    let (_release, hold) = watch::channel(false);
    let harness = start(Script { hold_last_event: Some(hold), ..Script::replay() }).await;
    let key = harness.open(1_000_000);
    // flat-model: reserves exactly 20 × 1000 µ$.
    let request = chat("flat-model", json!({ "stream": true, "max_tokens": 20 }));
    let response = harness.send("/v1/chat/completions", Some(key.as_str()), Bytes::from(request.to_string())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.expect("a first event").expect("frame");
    assert!(first.is_data());
    drop(body);

    let settled = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let usage = harness.runs.usage(&key).expect("run open");
            if let Some(call) = usage.calls.first() {
                return (call.status, call.cost_micro_usd, usage.spent_micro_usd);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the abandoned call settles once the agent hangs up");
    assert_eq!(settled, (499, 20_000, 20_000));
}

/// Closing a run kills its key at once but waits for its calls in flight: an agent that hung
/// up while the upstream was still thinking is settled (charged its reservation, 499) and
/// shows in the usage that `close_run` returns.
#[tokio::test]
async fn close_run_waits_for_a_call_abandoned_in_flight() {
    let (_release, hold) = watch::channel(false);
    let harness = start(Script { hold_responses: Some(hold), ..Script::replay() }).await;
    let key = harness.open(1_000_000);
    let request = chat("flat-model", json!({ "max_tokens": 20 }));
    let gave_up =
        tokio::time::timeout(std::time::Duration::from_millis(300), harness.post("/v1/chat/completions", Some(key.as_str()), &request))
            .await;
    assert!(gave_up.is_err(), "the upstream holds the response");
    assert_eq!(harness.script.received().len(), 1);

    let started = std::time::Instant::now();
    let usage = harness.runs.close_run(&key).await;
    assert!(started.elapsed() < whetstone_agent_runner::proxy::CLOSE_GRACE, "settled by the hang-up, not the grace");
    assert_eq!(usage.calls.iter().map(|c| (c.status, c.cost_micro_usd)).collect::<Vec<_>>(), [(499, 20_000)]);
}
