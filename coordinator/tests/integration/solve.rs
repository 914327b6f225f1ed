//! The solve API over real HTTP on loopback: API keys (made in the coordinator's database as
//! `whetstone keys create` makes them), request errors, limits, `best`, the event stream and
//! its resumption, cancellation reaching the runner, and one key never seeing another's jobs.
//! The runner here is a real worker session with a canned executor; the Docker path (a real
//! agent on a real repository) is tested from the `whetstone` crate. Jobs' accounting rows
//! with several coordinators on one database run on both databases (`backends`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use whetstone_coordinator::CoordinatorConfig;
use whetstone_coordinator::solve::keys::{JobLease, KeyLimits, KeyStore};
use whetstone_proto::job::{Assignment, Capability, Report, RunOutcome, SolveAssignment, SolveReport};
use whetstone_proto::worker::Executor;

use crate::backends::{TestDb, on_each_backend};
use crate::support::{CannedRunner, CannedValidator, Harness, Seen, call, eventually, within};

const DIFF: &str = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n";

async fn start(edit: impl FnOnce(&mut CoordinatorConfig)) -> (Harness, String) {
    start_on(TestDb::sqlite(), edit).await
}

async fn start_on(db: TestDb, edit: impl FnOnce(&mut CoordinatorConfig)) -> (Harness, String) {
    let harness = Harness::start_on(db, |config| {
        config.solve.listen = Some(([127, 0, 0, 1], 0).into());
        config.solve.min_decided = 1;
        edit(config);
    })
    .await;
    let url = harness.server.solve_url.clone().expect("the solve API listens");
    (harness, url)
}

async fn key(harness: &Harness, name: &str, limits: KeyLimits) -> String {
    let keys = KeyStore::open(&harness.database()).await.expect("key store opens");
    keys.create(name, limits).await.expect("key made").1
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

fn error_code(body: &[u8]) -> String {
    json_of(body)["error"]["code"].as_str().unwrap_or_default().to_owned()
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        // Written raw, so a test can make the entries a careless or hostile client would.
        let name = &mut header.as_gnu_mut().expect("gnu header").name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, *bytes).expect("appends");
    }
    builder.into_inner().expect("tar")
}

fn request_body(snapshot: &[u8], agent: &str, budget: Option<u64>) -> Vec<u8> {
    let mut body = json!({
        "statement": "make x equal 2",
        "snapshot_base64": base64::engine::general_purpose::STANDARD.encode(snapshot),
        "agent": agent,
    });
    if let Some(budget) = budget {
        body["budget_micro_usd"] = json!(budget);
    }
    serde_json::to_vec(&body).expect("json")
}

fn repo() -> Vec<u8> {
    tar_of(&[("a.py", b"x = 1\n"), ("pkg/b.py", b"y = 2\n")])
}

async fn submit(url: &str, key: &str, agent: &str) -> (StatusCode, Value) {
    let (status, body) = call(Method::POST, &format!("{url}/v1/solve"), Some(key), Some(request_body(&repo(), agent, None)), &[]).await;
    (status, json_of(&body))
}

/// SSE frames as (id, event, data).
fn parse_events(body: &[u8]) -> Vec<(u64, String, Value)> {
    let text = String::from_utf8_lossy(body);
    text.split("\n\n")
        .filter_map(|frame| {
            let (mut id, mut name, mut data) = (None, None, None);
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str(v.trim_start()).ok();
                }
            }
            Some((id?, name?, data?))
        })
        .collect()
}

/// An agent-runner that runs nothing: it records each solve job, streams the first two lines
/// of a three-line log live, and answers with [`DIFF`] and the whole log (as a real runner
/// does); or, when holding, waits until the job is cancelled.
#[derive(Debug)]
struct CannedSolver {
    seen: Seen<SolveAssignment>,
    cancelled: Seen<String>,
    hold: bool,
    progress: std::sync::OnceLock<whetstone_proto::worker::ProgressSink>,
}

impl CannedSolver {
    fn new(hold: bool) -> Arc<Self> {
        Arc::new(Self { seen: Seen::new(), cancelled: Seen::new(), hold, progress: std::sync::OnceLock::new() })
    }
}

#[async_trait::async_trait]
impl Executor for CannedSolver {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
        let Assignment::Solve(solve) = assignment else { panic!("the solver was sent {assignment:?}") };
        self.seen.push(solve.clone());
        if self.hold {
            cancel.cancelled().await;
            self.cancelled.push(solve.solve_id.clone());
            return Report::Solve(SolveReport {
                cancelled: true,
                ..SolveReport::failed(solve.solve_id, RunOutcome::InfraError, "cancelled")
            });
        }
        if let Some(sink) = self.progress.get() {
            let lines = vec!["[agent] reading".to_owned(), "[agent] editing a.py".to_owned()];
            let progress = whetstone_proto::pb::SolveProgress { solve_id: solve.solve_id.clone(), lines };
            let kind = whetstone_proto::pb::worker_message::Kind::SolveProgress(progress);
            sink.send(whetstone_proto::pb::WorkerMessage { kind: Some(kind) }).expect("progress sink open");
        }
        Report::Solve(SolveReport {
            solve_id: solve.solve_id,
            outcome: RunOutcome::Completed,
            patch: DIFF.as_bytes().to_vec(),
            log: "[agent] reading\n[agent] editing a.py\n[agent] done".into(),
            error: String::new(),
            spent_micro_usd: 1234,
            duration: Duration::from_millis(5),
            cancelled: false,
            tests: None,
        })
    }

    fn attach_progress(&self, sink: whetstone_proto::worker::ProgressSink) {
        self.progress.set(sink).expect("attached once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_key_are_401_and_say_how_to_get_one() {
    let (harness, url) = start(|_| {}).await;
    let (status, body) = call(Method::POST, &format!("{url}/v1/solve"), None, Some(request_body(&repo(), "best", None)), &[]).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "missing_key"));
    assert!(json_of(&body)["error"]["message"].as_str().unwrap_or_default().contains("whetstone keys create"), "{}", json_of(&body));
    let (status, body) = call(Method::GET, &format!("{url}/v1/solve/solve-x"), Some("ws_not-a-key"), None, &[]).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNAUTHORIZED, "invalid_key"));

    let key = key(&harness, "dev", KeyLimits::default()).await;
    let keys = KeyStore::open(&harness.database()).await.expect("key store");
    assert!(keys.revoke("dev").await.expect("revokes"));
    let (status, _) = call(Method::GET, &format!("{url}/v1/solve/solve-x"), Some(&key), None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked key is refused");
    let listed = keys.list().await.expect("lists");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at_ms.is_some());

    let (status, body) = call(Method::GET, &format!("{url}/v1/openapi.json"), None, None, &[]).await;
    assert_eq!(status, StatusCode::OK, "the description needs no key");
    let doc = json_of(&body);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/solve/{id}/events"]["get"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_snapshots_are_refused_naming_what_is_wrong() {
    let (harness, url) = start(|config| config.solve.max_snapshot_bytes = 4096).await;
    let agent = harness.submit_agent("noop").await.to_string();
    let key = key(&harness, "dev", KeyLimits::default()).await;
    let post = |body: Vec<u8>| {
        let (url, key) = (url.clone(), key.clone());
        async move { call(Method::POST, &format!("{url}/v1/solve"), Some(&key), Some(body), &[]).await }
    };

    let big = tar_of(&[("big.bin", &vec![7u8; 8192])]);
    let (status, body) = post(request_body(&big, &agent, None)).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "snapshot_too_large"));
    // Far over the cap, the body itself is cut off before it is read.
    let (status, body) = post(vec![b' '; 64 * 1024 * 1024]).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "snapshot_too_large"));

    let escaping = tar_of(&[("a.py", b"x\n"), ("../outside.py", b"evil\n")]);
    let (status, body) = post(request_body(&escaping, &agent, None)).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "snapshot_entry_escapes"));
    assert!(
        json_of(&body)["error"]["message"].as_str().unwrap_or_default().contains("../outside.py"),
        "names the entry: {}",
        json_of(&body)
    );
    let absolute = tar_of(&[("/etc/passwd", b"root\n")]);
    let (status, body) = post(request_body(&absolute, &agent, None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&body)["error"]["message"].as_str().unwrap_or_default().contains("/etc/passwd"), "{}", json_of(&body));

    let mut corrupt = repo();
    corrupt.truncate(700);
    corrupt[148..156].copy_from_slice(b"garbage!");
    let (status, body) = post(request_body(&corrupt, &agent, None)).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "snapshot_malformed"));

    let (status, body) = post(br#"{"statement": "x", "snapshot_base64": "@@@"}"#.to_vec()).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "snapshot_not_base64"));
    let (status, body) = post(b"not json".to_vec()).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
    let (status, body) = post(request_body(&repo(), "sha256:nope", None)).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "bad_agent"));
    let unknown = whetstone_tasks::Digest::of_bytes(b"no such agent").to_string();
    let (status, body) = post(request_body(&repo(), &unknown, None)).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "unknown_agent"));
    let (status, body) = post(request_body(&repo(), &agent, Some(50_000_000))).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "budget_too_large"));
}

/// A POST to `/v1/solve` written on a bare connection: the head (with `extra_headers`), then
/// all of `body` before reading anything, as Python's `http.client` (under `requests`) does;
/// then the answer up to the connection's end, as (status, head, body).
async fn post_raw(url: &str, extra_headers: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url.strip_prefix("http://").expect("an http:// url");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
        let head = format!("POST /v1/solve HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{extra_headers}\r\n");
        stream.write_all(head.as_bytes()).await.expect("head sent");
        stream.write_all(body).await.expect("the whole body is sent: the server reads what it refuses instead of resetting");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("the answer is read up to the connection's end");
        answer
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), exchange).await.expect("answered within 30 s");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole response head");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status: {head}"));
    (status, head, answer[split + 4..].to_vec())
}

/// `data` as a chunked body in 1 MiB chunks.
fn chunked(data: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(data.len() + data.len() / 1000 + 16);
    for chunk in data.chunks(1024 * 1024) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_still_sending_a_refused_body_reads_why() {
    let (harness, url) = start(|config| config.solve.max_snapshot_bytes = 4096).await;
    let key = key(&harness, "dev", KeyLimits::default()).await;
    let auth = format!("authorization: Bearer {key}\r\n");
    let big = vec![b' '; 64 * 1024 * 1024];

    // The size is declared: refused before anything is read, then the rest is read and dropped.
    let (status, head, body) = post_raw(&url, &format!("{auth}content-length: {}\r\n", big.len()), &big).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "snapshot_too_large"), "{head}");
    assert!(head.to_ascii_lowercase().contains("connection: close"), "{head}");
    // Chunked, so only reading finds it over the cap.
    let (status, head, body) = post_raw(&url, &format!("{auth}transfer-encoding: chunked\r\n"), &chunked(&big)).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "snapshot_too_large"), "{head}");
    // A wrong key is refused before the body is read too.
    let (status, head, body) = post_raw(&url, &format!("authorization: Bearer ws_wrong\r\ncontent-length: {}\r\n", big.len()), &big).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "invalid_key"), "{head}");

    // curl sends a large body only after `100 Continue`: it is refused without being asked for.
    let (status, head, body) = post_raw(&url, &format!("{auth}content-length: {}\r\nexpect: 100-continue\r\n", big.len()), b"").await;
    assert_eq!((status, error_code(&body).as_str()), (413, "snapshot_too_large"), "the answer, not 100 Continue, comes first: {head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_is_the_top_agent_with_enough_graded_tasks() {
    let (harness, url) = start(|_| {}).await;
    let key = key(&harness, "dev", KeyLimits::default()).await;
    let (status, body) = submit(&url, &key, "best").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("no_ranked_agent")),
        "nobody is graded yet"
    );

    let tasks = harness.publish_tasks(1).await;
    let weak = harness.submit_agent("noop").await;
    let strong = harness.submit_agent("repair").await;
    let runner = Arc::new(CannedRunner::completing("runner-1"));
    let strong_wins = strong.clone();
    let validator = Arc::new(CannedValidator::with_rule(whetstone_chain::wallet::dev::DevKey::Bob, move |g| g.agent == strong_wins));
    let runner_session = harness.spawn_worker("runner-1", Capability::RunAgent, 2, runner);
    let _validator = harness.spawn_worker("validator-1", Capability::Grade, 2, validator);
    harness.wait_for_progress("both agents graded", |p| p.grades_done == 2).await;
    runner_session.stop().await;
    assert_eq!(tasks.len(), 1);

    let (status, body) = submit(&url, &key, "best").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["agent"]["digest"], strong.to_string(), "{body}");
    assert_eq!(body["agent"]["name"], "repair");
    assert_ne!(body["agent"]["digest"], weak.to_string());
    let id = body["id"].as_str().expect("id");
    assert_eq!(body["events"], format!("/v1/solve/{id}/events"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_streams_its_events_and_last_event_id_replays_only_what_was_missed() {
    let (harness, url) = start(|_| {}).await;
    let agent = harness.submit_agent("noop").await.to_string();
    let key = key(&harness, "dev", KeyLimits::default()).await;
    let (status, accepted) = submit(&url, &key, &agent).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["id"].as_str().expect("id").to_owned();

    // The stream is opened before a runner exists: it waits, then follows the job to its end.
    let events_url = format!("{url}/v1/solve/{id}/events");
    let reading = tokio::spawn({
        let (events_url, key) = (events_url.clone(), key.clone());
        async move { call(Method::GET, &events_url, Some(&key), None, &[]).await }
    });
    let solver = CannedSolver::new(false);
    let _runner = harness.spawn_worker("runner-1", Capability::RunAgent, 1, solver.clone());
    let (status, body) = reading.await.expect("reader");
    assert_eq!(status, StatusCode::OK);
    let events = parse_events(&body);
    // Two lines came live and the report repeats them: each line is sent once, in order.
    let names: Vec<&str> = events.iter().map(|(_, name, _)| name.as_str()).collect();
    assert_eq!(names, ["queued", "started", "log", "log", "log", "spend", "finished"], "{}", String::from_utf8_lossy(&body));
    let ids: Vec<u64> = events.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids, (1..=7).collect::<Vec<_>>());
    assert_eq!(events[0].2["position"], 1);
    assert_eq!(events[1].2["runner"], "runner-1");
    assert_eq!(events[3].2["line"], "[agent] editing a.py");
    assert_eq!(events[5].2["micro_usd"], 1234);
    let finished = &events[6].2;
    assert_eq!((finished["status"].as_str(), finished["diff"].as_str()), (Some("diff"), Some(DIFF)));
    assert_eq!(finished["agent"]["digest"], agent);

    // The runner got the snapshot and statement as sent.
    let seen = solver.seen.all();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].snapshot.clone(), seen[0].statement.as_str()), (repo(), "make x equal 2"));

    // A client that saw up to event 4 gets 5, 6 and 7 only.
    let (status, body) = call(Method::GET, &events_url, Some(&key), None, &[("last-event-id", "4")]).await;
    assert_eq!(status, StatusCode::OK);
    let replayed: Vec<(u64, String)> = parse_events(&body).into_iter().map(|(id, name, _)| (id, name)).collect();
    assert_eq!(replayed, [(5, "log".to_owned()), (6, "spend".to_owned()), (7, "finished".to_owned())]);
    let (status, body) = call(Method::GET, &events_url, Some(&key), None, &[("last-event-id", "soon")]).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "bad_last_event_id"));

    let (status, body) = call(Method::GET, &format!("{url}/v1/solve/{id}"), Some(&key), None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let view = json_of(&body);
    assert_eq!((view["state"].as_str(), view["status"].as_str(), view["diff"].as_str()), (Some("finished"), Some("diff"), Some(DIFF)));
    assert_eq!(view["spent_micro_usd"], 1234);

    let listed = KeyStore::open(&harness.database()).await.expect("keys").list().await.expect("list");
    assert_eq!((listed[0].jobs, listed[0].spent_micro_usd), (1, 1234), "the key's spend is what the job spent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_cannot_read_or_cancel_anothers_job() {
    let (harness, url) = start(|_| {}).await;
    let agent = harness.submit_agent("noop").await.to_string();
    let alice = key(&harness, "alice", KeyLimits::default()).await;
    let bob = key(&harness, "bob", KeyLimits::default()).await;
    let (_, accepted) = submit(&url, &alice, &agent).await;
    let id = accepted["id"].as_str().expect("id");
    for (method, path) in [
        (Method::GET, format!("/v1/solve/{id}")),
        (Method::GET, format!("/v1/solve/{id}/events")),
        (Method::DELETE, format!("/v1/solve/{id}")),
    ] {
        let (status, body) = call(method.clone(), &format!("{url}{path}"), Some(&bob), None, &[]).await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "unknown_job"), "{method} {path}");
    }
    let (status, body) = call(Method::GET, &format!("{url}/v1/solve/{id}"), Some(&alice), None, &[]).await;
    assert_eq!((status, json_of(&body)["state"].as_str()), (StatusCode::OK, Some("queued")), "still alice's, untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_stops_it_on_the_runner() {
    let (harness, url) = start(|_| {}).await;
    let agent = harness.submit_agent("noop").await.to_string();
    let key = key(&harness, "dev", KeyLimits::default()).await;
    let solver = CannedSolver::new(true);
    let _runner = harness.spawn_worker("runner-1", Capability::RunAgent, 1, solver.clone());
    let (_, accepted) = submit(&url, &key, &agent).await;
    let id = accepted["id"].as_str().expect("id").to_owned();
    within(Duration::from_secs(10), "the runner to take the job", || async { (!solver.seen.all().is_empty()).then_some(()) }).await;

    let (status, body) = call(Method::DELETE, &format!("{url}/v1/solve/{id}"), Some(&key), None, &[]).await;
    assert_eq!((status, json_of(&body)["state"].as_str()), (StatusCode::ACCEPTED, Some("cancelling")));
    within(Duration::from_secs(10), "the runner to be told", || async { (solver.cancelled.all() == [id.clone()]).then_some(()) }).await;
    let view = within(Duration::from_secs(10), "the job to finish", || async {
        let (_, body) = call(Method::GET, &format!("{url}/v1/solve/{id}"), Some(&key), None, &[]).await;
        let view = json_of(&body);
        (view["state"] == "finished").then_some(view)
    })
    .await;
    assert_eq!(view["status"], "cancelled");

    // A queued job is cancelled on the spot.
    let (_, queued) = submit(&url, &key, &agent).await;
    let (_, queued2) = submit(&url, &key, &agent).await;
    let second = queued2["id"].as_str().expect("id");
    let (status, body) = call(Method::DELETE, &format!("{url}/v1/solve/{second}"), Some(&key), None, &[]).await;
    assert_eq!((status, json_of(&body)["state"].as_str()), (StatusCode::ACCEPTED, Some("finished")));
    let (_, body) = call(Method::GET, &format!("{url}/v1/solve/{second}/events"), Some(&key), None, &[]).await;
    let last = parse_events(&body).pop().expect("events");
    assert_eq!((last.1.as_str(), last.2["status"].as_str()), ("finished", Some("cancelled")));
    assert!(queued["id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_429_and_402_with_what_to_do() {
    let (harness, url) = start(|config| {
        config.solve.max_concurrent = 1;
        config.solve.default_budget_micro_usd = 1000;
    })
    .await;
    let agent = harness.submit_agent("noop").await.to_string();

    let busy = key(&harness, "busy", KeyLimits::default()).await;
    assert_eq!(submit(&url, &busy, &agent).await.0, StatusCode::ACCEPTED);
    let (status, body) = submit(&url, &busy, &agent).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_running")), "{body}");

    let hasty = key(&harness, "hasty", KeyLimits { rate_per_minute: Some(1), max_concurrent: Some(5), ..KeyLimits::default() }).await;
    assert_eq!(submit(&url, &hasty, &agent).await.0, StatusCode::ACCEPTED);
    let (status, body) = submit(&url, &hasty, &agent).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{body}");

    let poor = key(&harness, "poor", KeyLimits { spend_cap_micro_usd: Some(1500), max_concurrent: Some(5), ..KeyLimits::default() }).await;
    assert_eq!(submit(&url, &poor, &agent).await.0, StatusCode::ACCEPTED, "1000 of 1500");
    let (status, body) = submit(&url, &poor, &agent).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::PAYMENT_REQUIRED, Some("spend_cap_reached")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("budget_micro_usd"), "{body}");
}

/// btauth/1 headers from `key` over the request, for this test coordinator (dev key Alice).
fn signed_by(key: whetstone_chain::wallet::dev::DevKey, method: &str, path: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    let receiver = whetstone_tasks::Hotkey::new(whetstone_chain::wallet::dev::DevKey::Alice.address());
    let request = whetstone_chain::auth::RequestParts { method, path, body };
    let headers = whetstone_chain::auth::sign_request(&key.pair(), request, Some(&receiver), whetstone_chain::auth::SystemClock::nonce());
    headers.pairs().into_iter().map(|(name, value)| (name, value.to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotkey_signed_request_is_its_own_caller() {
    use whetstone_chain::wallet::dev::DevKey;
    let (harness, url) = start(|_| {}).await;
    let agent = harness.submit_agent("noop").await.to_string();
    let body = request_body(&repo(), &agent, None);

    let bob = signed_by(DevKey::Bob, "POST", "/v1/solve", &body);
    let headers: Vec<(&str, &str)> = bob.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, answer) = call(Method::POST, &format!("{url}/v1/solve"), None, Some(body.clone()), &headers).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&answer));
    let id = json_of(&answer)["id"].as_str().expect("id").to_owned();

    // The signature covers the body: the same headers over another body are refused.
    let other = request_body(&tar_of(&[("b.py", b"z\n")]), &agent, None);
    let (status, answer) = call(Method::POST, &format!("{url}/v1/solve"), None, Some(other), &headers).await;
    assert_eq!((status, error_code(&answer).as_str()), (StatusCode::UNAUTHORIZED, "bad_signature"));

    // Bob reads his job; Charlie, signing too, cannot see it.
    let path = format!("/v1/solve/{id}");
    for (key, expected) in [(DevKey::Bob, StatusCode::OK), (DevKey::Charlie, StatusCode::NOT_FOUND)] {
        let signed = signed_by(key, "GET", &path, b"");
        let headers: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, _) = call(Method::GET, &format!("{url}{path}"), None, None, &headers).await;
        assert_eq!(status, expected, "{key:?}");
    }
    let listed = KeyStore::open(&harness.database()).await.expect("keys").list().await.expect("list");
    assert_eq!(listed.len(), 2, "bob and charlie each became a caller: {listed:?}");
    assert!(listed.iter().any(|k| k.key_id == format!("hotkey-{}", DevKey::Bob.address()) && k.jobs == 1), "{listed:?}");
}

on_each_backend! {
    async fn a_coordinator_starting_leaves_the_solve_jobs_of_others_on_its_database_alone(db) {
        // Each key's spend cap fits one job's budget: a job whose row is open holds the key.
        let (harness, url_a) = start_on(db, |config| {
            config.solve.default_budget_micro_usd = 1000;
            config.solve.spend_cap_micro_usd = 1500;
            // Rows renewed every second, so a slow machine does not let a live one run out.
            config.lease_secs = 3;
        })
        .await;
        let agent = harness.submit_agent("noop").await.to_string();
        let (alice, bob) = (key(&harness, "alice", KeyLimits::default()).await, key(&harness, "bob", KeyLimits::default()).await);
        let keys = KeyStore::open(&harness.database()).await.expect("key store");
        let (status, accepted) = submit(&url_a, &alice, &agent).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        // Bob's job on a coordinator that crashed: its row's lease has run out.
        let bob_id = keys.list().await.expect("keys").into_iter().find(|k| k.name == "bob").expect("bob").key_id;
        let now_ms = i64::try_from(std::time::SystemTime::UNIX_EPOCH.elapsed().expect("clock").as_millis()).expect("ms");
        let gone = JobLease { coordinator: "127.0.0.1:1/crashed", expires_at_ms: now_ms - 1 };
        keys.job_created("solve-of-a-crashed-coordinator", &bob_id, &agent, 1000, gone).await.expect("row");

        let mut other = harness.start_another().await;
        let url_b = other.solve_url.clone().expect("the second coordinator's solve API");
        let (status, body) = submit(&url_b, &alice, &agent).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::PAYMENT_REQUIRED, Some("spend_cap_reached")),
            "alice's job on the first coordinator still holds her budget: {body}"
        );
        // The crashed coordinator's row is closed (at the second one's start, or by either's
        // sweep): bob's budget is free.
        eventually("bob's abandoned job to be closed", || async {
            let listed = keys.list().await.expect("keys");
            listed.iter().any(|k| k.name == "bob" && k.spent_micro_usd == 0).then_some(())
        })
        .await;
        let (status, body) = submit(&url_b, &bob, &agent).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");

        // The first coordinator stops: its jobs (in its memory) end with it, and their rows.
        let mut harness = harness;
        harness.server.stop().await;
        let (status, body) = submit(&url_b, &alice, &agent).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        other.stop().await;
    }
}
