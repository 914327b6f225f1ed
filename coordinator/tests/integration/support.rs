//! The harness every test shares: a real coordinator on `127.0.0.1:0` over a temporary data
//! dir (real SQLite, real blob store), gRPC clients with the protocol's message limits, the
//! shipped starter task set and example agents, real worker sessions (`run_worker`) driving
//! canned executors, raw worker streams for tests that misbehave, and a bounded poll.

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Streaming;
use tonic::transport::Channel;
use whetstone_chain::verdict::{AgentClaim, VerdictStatement};
use whetstone_chain::wallet::dev::DevKey;
use whetstone_coordinator::{Coordinator, CoordinatorConfig, CoordinatorError, DatabaseUrl};

use crate::backends::TestDb;
use whetstone_proto::auth::{FETCH_TASK, GET_AGENT, PUBLISH_TASK, RUN_DETAIL, RequestSigner, SUBMIT_AGENT, WORKER_CONNECT};
use whetstone_proto::job::{
    Assignment, Capability, GradeAssignment, GradeReport, LlmCall, LlmUsage, Report, RunAssignment, RunOutcome, RunReport,
};
use whetstone_proto::worker::{Executor, WorkerConfig, run_worker};
use whetstone_proto::{MAX_MESSAGE_BYTES, pb};
use whetstone_tasks::{AgentPackage, Digest, Hotkey, RunId, Task, TaskSet, TestResult, TestStatus, Verdict, VerdictStatus};

/// A well-formed SS58 hotkey for the miner in these tests.
pub const HOTKEY: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

/// Signs as the dev key whose address `hotkey` is (Bob for anything else), for the test
/// coordinator's hotkey (dev key Alice, the default under `AuthConfig::allow_all`).
pub fn signer_for(hotkey: &str) -> RequestSigner {
    let key = DevKey::of_address(hotkey).unwrap_or(DevKey::Bob);
    RequestSigner::new(key.pair(), Hotkey::new(DevKey::Alice.address()))
}

/// How long [`eventually`] waits before failing: generous, because a loaded CI machine is
/// slow, and a passing test returns as soon as its condition holds.
pub const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

static STARTER: LazyLock<TaskSet> = LazyLock::new(|| {
    let path = workspace_dir().join("tasks/sets/starter");
    TaskSet::load(&path).unwrap_or_else(|e| panic!("failed to load the starter set at {}: {e}", path.display()))
});

/// The first `count` tasks of the shipped starter set, sorted by id.
pub fn starter_tasks(count: usize) -> &'static [Task] {
    assert!(STARTER.tasks.len() >= count, "the starter set has only {} tasks", STARTER.tasks.len());
    &STARTER.tasks[..count]
}

/// One of the shipped example agents (`examples/agents/<name>`).
pub fn example_agent(name: &str) -> AgentPackage {
    let dir = workspace_dir().join("examples/agents").join(name);
    AgentPackage::from_dir(&dir).unwrap_or_else(|e| panic!("failed to package {}: {e}", dir.display()))
}

/// Logs to the test's captured output when `RUST_LOG` is set.
fn init_tracing() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
}

/// Polls `check` every 50 ms until it yields a value, failing the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(DEADLINE, what, check).await
}

/// Polls `check` every 50 ms until it yields a value, failing the test after `limit`.
pub async fn within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

// --- the coordinator ------------------------------------------------------------------------

/// Short leases and fast ticks, so lease expiry takes about a second.
pub fn test_config(data_dir: &Path) -> CoordinatorConfig {
    CoordinatorConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: data_dir.to_owned(),
        lease_secs: 1,
        heartbeat_ms: 200,
        tick_ms: 50,
        max_attempts: 3,
        submissions: whetstone_coordinator::SubmissionLimit { max: 100, window_secs: 3600 },
        // Signatures are checked; membership is not (the `auth` module tests that).
        auth: whetstone_coordinator::auth::AuthConfig::allow_all(),
        // One verdict per run and no extra grades, unless a test asks for redundancy (the
        // `consensus` tests): most tests have a single validator hotkey.
        grading: whetstone_coordinator::GradingConfig { replicas: 1, max_disputes: 2, audit_fraction: 0.0 },
        ..CoordinatorConfig::default()
    }
}

/// A loopback address nothing listens on now (a coordinator started later may take it).
pub fn free_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("bound address")
}

/// A serving coordinator. Dropping it cancels the server, so a failed test leaves no task.
#[derive(Debug)]
pub struct Server {
    pub url: String,
    /// The solve API's base URL, when `[solve] listen` is set.
    pub solve_url: Option<String>,
    channel: Channel,
    shutdown: CancellationToken,
    serving: Option<JoinHandle<Result<(), CoordinatorError>>>,
}

impl Server {
    pub async fn start(config: CoordinatorConfig) -> Self {
        Self::start_with_clock(config, None).await
    }

    /// [`Self::start`] with the epoch clock reading `clock` (for `[epochs]`).
    pub async fn start_with_clock(config: CoordinatorConfig, clock: Option<Arc<dyn whetstone_coordinator::epochs::ChainClock>>) -> Self {
        let mut coordinator = Coordinator::bind(config).await.expect("coordinator binds");
        if let Some(clock) = clock {
            coordinator = coordinator.with_epoch_clock(clock);
        }
        let addr = coordinator.local_addr().expect("bound address");
        let solve_url = coordinator.solve_addr().map(|addr| format!("http://{addr}"));
        let shutdown = CancellationToken::new();
        let serving = tokio::spawn(coordinator.serve(shutdown.clone()));
        let url = format!("http://{addr}");
        let channel = Channel::from_shared(url.clone()).expect("valid url").connect().await.expect("coordinator accepts");
        Self { url, solve_url, channel, shutdown, serving: Some(serving) }
    }

    /// Cancels the server and waits for it to finish (scheduler stopped, store closed).
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        let Some(serving) = self.serving.take() else { return };
        let result = tokio::time::timeout(Duration::from_secs(10), serving).await.expect("coordinator stops within 10 s of shutdown");
        result.expect("coordinator task did not panic").expect("coordinator served without error");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A coordinator with its data dir and database, restartable on the same ones.
#[derive(Debug)]
pub struct Harness {
    pub config: CoordinatorConfig,
    pub server: Server,
    // After the server, so the database and the dir are removed once it stopped using them.
    db: TestDb,
    dir: TempDir,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// On SQLite in the data dir.
    pub async fn start_with(edit: impl FnOnce(&mut CoordinatorConfig)) -> Self {
        Self::start_on(TestDb::sqlite(), edit).await
    }

    /// On the given database (see [`crate::backends::on_each_backend`]).
    pub async fn start_on(db: TestDb, edit: impl FnOnce(&mut CoordinatorConfig)) -> Self {
        Self::start_on_with_clock(db, edit, None).await
    }

    /// [`Self::start_on`], with an epoch clock reading the chain (for `[epochs]`).
    pub async fn start_on_with_clock(
        db: TestDb,
        edit: impl FnOnce(&mut CoordinatorConfig),
        clock: Option<Arc<dyn whetstone_coordinator::epochs::ChainClock>>,
    ) -> Self {
        init_tracing();
        let dir = tempfile::tempdir().expect("temporary data dir");
        let mut config = test_config(dir.path());
        config.database = db.config_value();
        edit(&mut config);
        let server = Server::start_with_clock(config.clone(), clock).await;
        Self { config, server, db, dir }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the coordinator keeps its state, to open the store beside (or after) it.
    pub fn database(&self) -> DatabaseUrl {
        self.db.url(self.dir.path())
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Another coordinator on the same database and data dir, on its own port, serving beside
    /// this one.
    pub async fn start_another(&self) -> Server {
        Server::start(self.config.clone()).await
    }

    /// Stops the coordinator and starts a new one on the same data dir (and a new port).
    pub async fn restart(&mut self) {
        self.server.stop().await;
        self.server = Server::start(self.config.clone()).await;
    }

    /// `Agents.Submit`, signed by the dev key the request names (see [`signer_for`]), with
    /// that key's claim on the package added when the request carries none and the package
    /// reads (a malformed package is sent as it is).
    pub async fn submit(&self, request: pb::SubmitAgentRequest) -> Result<tonic::Response<pb::SubmitAgentResponse>, tonic::Status> {
        let request = if request.claim_signature.is_empty() { with_claim(request) } else { request };
        self.submit_as_is(request).await
    }

    /// `Agents.Submit`, signed, with the request's claim as it is.
    pub async fn submit_as_is(&self, request: pb::SubmitAgentRequest) -> Result<tonic::Response<pb::SubmitAgentResponse>, tonic::Status> {
        let signed = signer_for(&request.hotkey).signed(SUBMIT_AGENT, request);
        self.agents().submit(signed).await
    }

    pub fn agents(&self) -> pb::agents_client::AgentsClient<Channel> {
        pb::agents_client::AgentsClient::new(self.server.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn tasks(&self) -> pb::tasks_client::TasksClient<Channel> {
        pb::tasks_client::TasksClient::new(self.server.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn scores(&self) -> pb::scores_client::ScoresClient<Channel> {
        pb::scores_client::ScoresClient::new(self.server.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Publishes the first `count` starter tasks; returns their digests in order.
    pub async fn publish_tasks(&self, count: usize) -> Vec<Digest> {
        let mut digests = Vec::with_capacity(count);
        for task in starter_tasks(count) {
            let bundle = task.bundle.to_tar().expect("task bundle packs");
            let response = self
                .publish(pb::PublishTaskRequest { bundle, ..Default::default() }, DevKey::Alice.address())
                .await
                .expect("task publishes");
            let response = response.into_inner();
            assert_eq!(response.task_digest, task.digest().to_string(), "the coordinator keeps the task's digest");
            assert!(response.created, "task {} is new", task.spec.id);
            digests.push(task.digest().clone());
        }
        digests
    }

    /// Submits an example agent for [`HOTKEY`]; returns its digest.
    pub async fn submit_agent(&self, name: &str) -> Digest {
        let package = example_agent(name);
        let request = pb::SubmitAgentRequest {
            hotkey: HOTKEY.to_owned(),
            package: package.bundle.to_tar().expect("agent package packs"),
            ..Default::default()
        };
        let response = self.submit(request).await.expect("agent submits").into_inner();
        assert_eq!(response.agent_digest, package.digest().to_string());
        package.digest().clone()
    }

    /// `Tasks.Publish`, signed by the dev key whose address `curator` is (see [`signer_for`]).
    pub async fn publish(
        &self,
        request: pb::PublishTaskRequest,
        curator: &str,
    ) -> Result<tonic::Response<pb::PublishTaskResponse>, tonic::Status> {
        self.tasks().publish(signer_for(curator).signed(PUBLISH_TASK, request)).await
    }

    /// `Tasks.Fetch` of one part of a task, signed by the dev key whose address `worker` is.
    pub async fn fetch_task(
        &self,
        digest: &str,
        part: pb::TaskPart,
        worker: &str,
    ) -> Result<tonic::Response<pb::TaskBundle>, tonic::Status> {
        let request = pb::FetchTaskRequest { task_digest: digest.to_owned(), part: part as i32 };
        self.tasks().fetch(signer_for(worker).signed(FETCH_TASK, request)).await
    }

    /// `Agents.Get`, signed by the dev key whose address `worker` is.
    pub async fn get_agent(&self, digest: &str, worker: &str) -> Result<tonic::Response<pb::AgentPackage>, tonic::Status> {
        let request = pb::GetAgentRequest { agent_digest: digest.to_owned() };
        self.agents().get(signer_for(worker).signed(GET_AGENT, request)).await
    }

    /// `Scores.RunDetail`, signed by the dev key whose address `reader` is (see [`signer_for`]).
    pub async fn run_detail(&self, run_id: &str, reader: &str) -> Result<tonic::Response<pb::RunDetailResponse>, tonic::Status> {
        let request = pb::RunDetailRequest { run_id: run_id.to_owned() };
        self.scores().run_detail(signer_for(reader).signed(RUN_DETAIL, request)).await
    }

    pub async fn progress(&self) -> pb::ProgressResponse {
        self.scores().progress(pb::ProgressRequest {}).await.expect("progress").into_inner()
    }

    pub async fn leaderboard(&self) -> Vec<pb::LeaderboardEntry> {
        self.scores().leaderboard(pb::LeaderboardRequest {}).await.expect("leaderboard").into_inner().entries
    }

    pub async fn weights(&self) -> pb::WeightsResponse {
        self.scores().weights(pb::WeightsRequest {}).await.expect("weights").into_inner()
    }

    /// Waits until the round's progress satisfies `done`; returns that progress.
    pub async fn wait_for_progress(&self, what: &str, done: impl Fn(&pb::ProgressResponse) -> bool) -> pb::ProgressResponse {
        eventually(what, || async {
            let progress = self.progress().await;
            done(&progress).then_some(progress)
        })
        .await
    }

    /// Starts a real worker session against this coordinator, as [`HOTKEY`].
    pub fn spawn_worker(&self, worker_id: &str, capability: Capability, capacity: u32, executor: Arc<dyn Executor>) -> WorkerSession {
        WorkerSession::spawn(self.url(), worker_id, signer_for(HOTKEY), capability, capacity, executor)
    }

    /// Starts a real worker session signed by a dev key: a validator or runner of its own.
    pub fn spawn_worker_as(
        &self,
        key: DevKey,
        worker_id: &str,
        capability: Capability,
        capacity: u32,
        executor: Arc<dyn Executor>,
    ) -> WorkerSession {
        let signer = RequestSigner::new(key.pair(), Hotkey::new(DevKey::Alice.address()));
        WorkerSession::spawn(self.url(), worker_id, signer, capability, capacity, executor)
    }
}

// --- HTTP -----------------------------------------------------------------------------------

/// One request; the status and the whole body.
pub async fn call(method: Method, url: &str, key: Option<&str>, body: Option<Vec<u8>>, headers: &[(&str, &str)]) -> (StatusCode, Vec<u8>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body.unwrap_or_default()))).expect("request");
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request)).await.expect("answer within 30 s").expect("HTTP");
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    (status, body)
}

// --- real worker sessions -------------------------------------------------------------------

/// `whetstone_proto::worker::run_worker` in a task. Dropping it shuts the session down.
#[derive(Debug)]
pub struct WorkerSession {
    shutdown: CancellationToken,
    running: Option<JoinHandle<()>>,
}

impl WorkerSession {
    pub fn spawn(
        url: &str,
        worker_id: &str,
        signer: RequestSigner,
        capability: Capability,
        capacity: u32,
        executor: Arc<dyn Executor>,
    ) -> Self {
        Self::spawn_to(&[url.to_owned()], worker_id, signer, capability, capacity, executor)
    }

    /// [`Self::spawn`] with a list of coordinators, used in turn.
    pub fn spawn_to(
        urls: &[String],
        worker_id: &str,
        signer: RequestSigner,
        capability: Capability,
        capacity: u32,
        executor: Arc<dyn Executor>,
    ) -> Self {
        let config = WorkerConfig {
            coordinator_urls: urls.to_vec(),
            worker_id: worker_id.to_owned(),
            signer,
            capabilities: vec![capability],
            capacity,
            reconnect_delay: Duration::from_millis(100),
        };
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(run_worker(config, executor, shutdown.clone()));
        Self { shutdown, running: Some(running) }
    }

    /// Shuts the session down and waits for its jobs to be cancelled.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(10), running).await.expect("worker stops within 10 s").expect("worker did not panic");
        }
    }
}

impl Drop for WorkerSession {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What an executor was handed, in order.
#[derive(Debug)]
pub struct Seen<T>(Mutex<Vec<T>>);

impl<T: Clone> Seen<T> {
    pub fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    pub fn push(&self, item: T) {
        self.0.lock().expect("seen lock").push(item);
    }

    pub fn all(&self) -> Vec<T> {
        self.0.lock().expect("seen lock").clone()
    }
}

/// The patch a canned runner reports for a run: distinct per run, so a test can tell whose
/// work reached the validator.
pub fn patch_for(run_id: &RunId, author: &str) -> Vec<u8> {
    format!("diff --git a/toolz/itertoolz.py b/toolz/itertoolz.py\n# {author} worked on {run_id}\n").into_bytes()
}

type OutcomeRule = Box<dyn Fn(&RunAssignment) -> RunOutcome + Send + Sync>;

/// The LLM calls a [`CannedRunner`] reports with every completed run: one answered, one
/// refused for the budget.
/// The sandbox time a [`CannedRunner`] reports for a completed run.
pub const CANNED_SANDBOX_TIME: Duration = Duration::from_millis(1_500);

pub fn canned_llm_usage() -> LlmUsage {
    let call = LlmCall { model: "m".into(), prompt_tokens: 1200, completion_tokens: 80, cost_micro_usd: 412, latency_ms: 950, status: 200 };
    LlmUsage { calls: vec![call.clone(), LlmCall { status: 429, cost_micro_usd: 0, ..call }], spent_micro_usd: 412, refused: 1 }
}

/// An agent-runner that runs nothing: it records the assignment, waits `delay`, and reports
/// the outcome its rule picks, with [`patch_for`] as the work of a completed run.
pub struct CannedRunner {
    pub seen: Seen<RunAssignment>,
    name: String,
    delay: Duration,
    outcome: OutcomeRule,
}

impl std::fmt::Debug for CannedRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CannedRunner").field("name", &self.name).field("delay", &self.delay).finish_non_exhaustive()
    }
}

impl CannedRunner {
    /// Completes every run at once.
    pub fn completing(name: &str) -> Self {
        Self::with_rule(name, |_| RunOutcome::Completed)
    }

    pub fn with_rule(name: &str, outcome: impl Fn(&RunAssignment) -> RunOutcome + Send + Sync + 'static) -> Self {
        Self { seen: Seen::new(), name: name.to_owned(), delay: Duration::ZERO, outcome: Box::new(outcome) }
    }

    pub fn taking(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The patch this runner reports for `run_id`.
    pub fn patch(&self, run_id: &RunId) -> Vec<u8> {
        patch_for(run_id, &self.name)
    }
}

#[async_trait::async_trait]
impl Executor for CannedRunner {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
        let Assignment::Run(run) = assignment else { panic!("a runner was sent a grade: {assignment:?}") };
        self.seen.push(run.clone());
        tokio::select! {
            () = cancel.cancelled() => {}
            () = tokio::time::sleep(self.delay) => {}
        }
        let outcome = (self.outcome)(&run);
        let completed = matches!(outcome, RunOutcome::Completed | RunOutcome::TimedOut);
        Report::Run(RunReport {
            run_id: run.run_id.clone(),
            outcome,
            patch: if completed { self.patch(&run.run_id) } else { Vec::new() },
            exit_code: if completed { 0 } else { -1 },
            log: format!("canned run by {}", self.name),
            duration: self.delay,
            error: if outcome == RunOutcome::InfraError { "canned: the sandbox engine is down".into() } else { String::new() },
            llm: if completed { canned_llm_usage() } else { LlmUsage::default() },
            sandbox: if completed { CANNED_SANDBOX_TIME } else { Duration::ZERO },
        })
    }
}

/// The claim `request.hotkey`'s dev key makes on the request's package, added to it; the
/// request unchanged when the package does not read.
pub fn with_claim(mut request: pb::SubmitAgentRequest) -> pb::SubmitAgentRequest {
    let Ok(package) = AgentPackage::from_tar(&request.package) else { return request };
    let key = DevKey::of_address(&request.hotkey).unwrap_or(DevKey::Bob);
    let claim = AgentClaim::sign(package.digest().clone(), &key.pair(), 1_700_000_000_000).expect("a dev key signs a claim");
    request.claimed_at_ms = claim.claimed_at_ms;
    request.claim_signature = claim.signature;
    request
}

/// How a canned validator decides a grade.
type VerdictRule = Box<dyn Fn(&GradeAssignment) -> bool + Send + Sync>;

/// A validator that runs no tests: it records the assignment and signs, with its dev key, the
/// verdict its rule gives (resolved or not), as a real validator signs its grading.
pub struct CannedValidator {
    pub seen: Seen<GradeAssignment>,
    key: DevKey,
    rule: VerdictRule,
    delay: Duration,
}

impl std::fmt::Debug for CannedValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CannedValidator").field("key", &self.key).finish_non_exhaustive()
    }
}

impl CannedValidator {
    /// Resolves the given tasks and no others, signing as Bob ([`HOTKEY`]).
    pub fn resolving(tasks: impl IntoIterator<Item = Digest>) -> Self {
        let resolves: HashSet<Digest> = tasks.into_iter().collect();
        Self::with_rule(DevKey::Bob, move |grade| resolves.contains(&grade.task))
    }

    pub fn with_rule(key: DevKey, resolved: impl Fn(&GradeAssignment) -> bool + Send + Sync + 'static) -> Self {
        Self { seen: Seen::new(), key, rule: Box::new(resolved), delay: Duration::ZERO }
    }

    /// Signs as `key` instead.
    pub fn signing_as(mut self, key: DevKey) -> Self {
        self.key = key;
        self
    }

    pub fn taking(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A verdict on `grade` signed by `key`, as a validator reports it.
pub fn signed_report(grade: &GradeAssignment, key: DevKey, resolved: bool) -> GradeReport {
    let status = if resolved { VerdictStatus::Resolved } else { VerdictStatus::Unresolved };
    let tests = vec![TestResult {
        id: "tests/test_fix.py::test_fix".into(),
        status: if resolved { TestStatus::Passed } else { TestStatus::Failed },
    }];
    let statement = VerdictStatement {
        run_id: grade.run_id.clone(),
        task: grade.task.clone(),
        agent: grade.agent.clone(),
        patch: Digest::of_bytes(&grade.patch),
        validator: Hotkey::new(key.address()),
        status,
        tests: tests.clone(),
        grader_version: "canned".into(),
        graded_at_ms: 1_700_000_000_000,
    };
    GradeReport {
        grade_id: grade.grade_id.clone(),
        verdict: Verdict {
            status,
            fail_to_pass_passed: u32::from(resolved),
            fail_to_pass_total: 1,
            pass_to_pass_passed: 0,
            pass_to_pass_total: 0,
            tests,
            notes: "canned".into(),
        },
        log: String::new(),
        duration: Duration::from_millis(1),
        signed: Some(statement.sign(&key.pair()).expect("a dev key signs a verdict")),
    }
}

#[async_trait::async_trait]
impl Executor for CannedValidator {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
        let Assignment::Grade(grade) = assignment else { panic!("a validator was sent a run: {assignment:?}") };
        self.seen.push(grade.clone());
        tokio::select! {
            () = cancel.cancelled() => {}
            () = tokio::time::sleep(self.delay) => {}
        }
        Report::Grade(signed_report(&grade, self.key, (self.rule)(&grade)))
    }
}

// --- raw worker streams ---------------------------------------------------------------------

pub fn hello(worker_id: &str, capabilities: &[pb::Capability], capacity: u32) -> pb::WorkerMessage {
    hello_as(HOTKEY, worker_id, capabilities, capacity)
}

/// A hello naming `hotkey` (sign the session with the same key).
pub fn hello_as(hotkey: &str, worker_id: &str, capabilities: &[pb::Capability], capacity: u32) -> pb::WorkerMessage {
    pb::WorkerMessage {
        kind: Some(pb::worker_message::Kind::Hello(pb::Hello {
            worker_id: worker_id.to_owned(),
            capabilities: capabilities.iter().map(|c| i32::from(*c)).collect(),
            capacity,
            hotkey: hotkey.to_owned(),
            software_version: "integration-test".into(),
            active_job_ids: Vec::new(),
        })),
    }
}

pub fn heartbeat(active: &[&str]) -> pb::WorkerMessage {
    let beat = pb::Heartbeat { active_job_ids: active.iter().map(|id| (*id).to_owned()).collect() };
    pb::WorkerMessage { kind: Some(pb::worker_message::Kind::Heartbeat(beat)) }
}

pub fn run_report(run_id: &str, outcome: pb::RunOutcome, patch: &[u8]) -> pb::WorkerMessage {
    let report = pb::RunReport {
        run_id: run_id.to_owned(),
        outcome: outcome.into(),
        patch: patch.to_vec(),
        exit_code: 0,
        log: "raw report".into(),
        duration_ms: 10,
        error: String::new(),
        ..Default::default()
    };
    pb::WorkerMessage { kind: Some(pb::worker_message::Kind::RunReport(report)) }
}

/// Opens `Worker.Connect` with `first` already queued; returns the coordinator's answer.
pub async fn open_session(
    url: &str,
    first: Vec<pb::WorkerMessage>,
) -> Result<(mpsc::Sender<pb::WorkerMessage>, Streaming<pb::CoordinatorMessage>), tonic::Status> {
    open_session_as(url, signer_for(HOTKEY), first).await
}

/// [`open_session`], signed by `signer`.
pub async fn open_session_as(
    url: &str,
    signer: RequestSigner,
    first: Vec<pb::WorkerMessage>,
) -> Result<(mpsc::Sender<pb::WorkerMessage>, Streaming<pb::CoordinatorMessage>), tonic::Status> {
    let channel = Channel::from_shared(url.to_owned()).expect("valid url").connect().await.expect("coordinator accepts");
    let mut client = pb::worker_client::WorkerClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (outbound, receiver) = mpsc::channel(16);
    // Signed over the first message, as a worker signs its hello.
    let request = match first.first() {
        Some(opening) => signer.signed_stream(WORKER_CONNECT, opening, ReceiverStream::new(receiver)),
        None => tonic::Request::new(ReceiverStream::new(receiver)),
    };
    for message in first {
        outbound.send(message).await.expect("queue an opening message");
    }
    let inbound = client.connect(request).await?.into_inner();
    Ok((outbound, inbound))
}

/// A worker driven by hand: it says what the test tells it to, and nothing else (no
/// heartbeats). Dropping it vanishes from the network mid-job.
#[derive(Debug)]
pub struct RawWorker {
    outbound: mpsc::Sender<pb::WorkerMessage>,
    inbound: Streaming<pb::CoordinatorMessage>,
}

impl RawWorker {
    /// Says hello and reads the welcome.
    pub async fn connect(url: &str, worker_id: &str, capability: pb::Capability, capacity: u32) -> Self {
        Self::connect_as(url, DevKey::of_address(HOTKEY).unwrap_or(DevKey::Bob), worker_id, capability, capacity).await
    }

    /// [`Self::connect`] as the dev key `key`.
    pub async fn connect_as(url: &str, key: DevKey, worker_id: &str, capability: pb::Capability, capacity: u32) -> Self {
        Self::connect_running(url, key, worker_id, capability, capacity, &[]).await
    }

    /// [`Self::connect_as`] by a worker still running `active` from an earlier session.
    pub async fn connect_running(
        url: &str,
        key: DevKey,
        worker_id: &str,
        capability: pb::Capability,
        capacity: u32,
        active: &[&str],
    ) -> Self {
        let signer = RequestSigner::new(key.pair(), Hotkey::new(DevKey::Alice.address()));
        let mut opening = hello_as(key.address(), worker_id, &[capability], capacity);
        if let Some(pb::worker_message::Kind::Hello(hello)) = &mut opening.kind {
            hello.active_job_ids = active.iter().map(|id| (*id).to_owned()).collect();
        }
        let opening = vec![opening];
        let (outbound, inbound) = open_session_as(url, signer, opening).await.expect("session accepted");
        let mut worker = Self { outbound, inbound };
        match worker.next().await {
            pb::coordinator_message::Kind::Welcome(welcome) => assert!(welcome.lease_duration_ms > 0),
            other => panic!("expected a welcome, got {other:?}"),
        }
        worker
    }

    /// The next message from the coordinator if one comes within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<pb::coordinator_message::Kind> {
        let message = tokio::time::timeout(wait, self.inbound.message()).await.ok()?;
        message.expect("stream is healthy").expect("stream is open").kind
    }

    /// The next message from the coordinator, within 10 s.
    pub async fn next(&mut self) -> pb::coordinator_message::Kind {
        let message = tokio::time::timeout(Duration::from_secs(10), self.inbound.message())
            .await
            .expect("a coordinator message within 10 s")
            .expect("stream is healthy")
            .expect("stream is open");
        message.kind.expect("message has a kind")
    }

    pub async fn next_run(&mut self) -> pb::RunAssignment {
        match self.next().await {
            pb::coordinator_message::Kind::Run(run) => run,
            other => panic!("expected a run assignment, got {other:?}"),
        }
    }

    pub async fn next_grade(&mut self) -> GradeAssignment {
        match self.next().await {
            pb::coordinator_message::Kind::Grade(grade) => GradeAssignment::try_from(grade).expect("a well-formed grade assignment"),
            other => panic!("expected a grade assignment, got {other:?}"),
        }
    }

    pub async fn next_ack(&mut self) -> pb::ReportAck {
        match self.next().await {
            pb::coordinator_message::Kind::Ack(ack) => ack,
            other => panic!("expected a report ack, got {other:?}"),
        }
    }

    /// Waits up to 10 s for the coordinator to end the session.
    pub async fn ended(mut self) {
        let deadline = Duration::from_secs(10);
        loop {
            let next = tokio::time::timeout(deadline, self.inbound.message()).await.expect("the session ends within 10 s");
            if !matches!(next, Ok(Some(_))) {
                return;
            }
        }
    }

    pub async fn send(&self, message: pb::WorkerMessage) {
        self.outbound.send(message).await.expect("session is open");
    }
}
