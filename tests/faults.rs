//! Fault injection: a round of 102 runs (17 agents × the 6 starter tasks, each graded by two
//! validators) with the coordinator (`whetstone coordinator`: one on SQLite, and two at once on
//! one PostgreSQL database, each worker listing both), three agent-runners and three validators
//! as separate processes, while a seeded schedule SIGKILLs one of them every one to three
//! seconds (every third time a coordinator; the two Docker workers below are killed on their
//! own schedule) for the first 40 s and starts it again. At the end every run is done exactly
//! once and each of its two grade slots holds one verdict, from two different validators:
//! nothing lost, nothing counted twice. And the Docker workers left no container and no
//! network behind.
//!
//! Most workers are real worker sessions (`whetstone_proto::worker::run_worker`: signed hello,
//! heartbeats, acks, reports resent after a reconnect) in processes of their own: this test
//! binary started again as [`fault_worker`], with executors that answer in a few hundred
//! milliseconds instead of running Docker, so that a hundred runs and two hundred grades fit
//! the CI budget. Beside them run one real `whetstone agent-runner`, two runs at a time and
//! started first, with an inference proxy (so each of its runs has a run network and a relay
//! beside the agent's container), and one real `whetstone validator`, one grade at a time: a
//! handful of runs go through Docker and a handful of patches are graded in it. Each of the
//! two is also SIGKILLed once in the middle of a job (the runner in its second pair of runs,
//! the validator in its second grade, before the quick validators start), which leaves that
//! job's containers and networks behind; its start-up sweep (`Sandbox::remove_orphans` for its
//! `--worker-id`) must remove them when it comes back. After the round the two are stopped
//! with SIGTERM, as an operator stops them, and the Docker API is asked for anything left with
//! their `whetstone.owner` labels: there must be nothing.
//!
//! The ledger may hold a verdict more than the slots: a validator cut off for longer than its
//! lease may finish a grade that meanwhile went to another validator, and its verdict is kept
//! as one more signed opinion on the run, never a second result (the coordinator's
//! `a_validator_killed_mid_grade_has_its_grade_released_and_no_run_counts_twice`). The round
//! prints how many.
//!
//! The coordinator is the real binary on a real SQLite file, or on a fresh database of the
//! PostgreSQL server `WHETSTONE_TEST_POSTGRES_URL` names (`.ci/run` starts one; elsewhere the
//! PostgreSQL round says it skipped), restarted on it. The round needs Docker and the starter
//! set's images (`whetstone images`; built here first if missing, before the clock starts).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
use tokio_util::sync::CancellationToken;
use whetstone::client::CoordinatorClient;
use whetstone::dev_keys::DevKey;
use whetstone_chain::verdict::VerdictStatement;
use whetstone_coordinator::store::{DatabaseUrl, SqlStore, Store};
use whetstone_proto::auth::RequestSigner;
use whetstone_proto::job::{Assignment, Capability, GradeReport, LlmUsage, Report, RunOutcome, RunReport, SolveReport};
use whetstone_proto::worker::{Executor, WorkerConfig, run_worker};
use whetstone_sandbox::{NoProgress, Sandbox};
use whetstone_tasks::{Digest, Hotkey, TaskSet, TestResult, TestStatus, Verdict, VerdictStatus};

const SEED: u64 = 0x5eed_0013;
const AGENTS: usize = 17;
const TASKS: usize = 6;
const REPLICAS: u32 = 2;
/// Kills happen in this window only; after it the round must finish by itself. Killing until
/// the end would be a race against the machine's speed: on a loaded CI host a round killed
/// every 1 to 3 s forever may never drain its last grade, which says nothing about loss.
const CHAOS_WINDOW: Duration = Duration::from_secs(40);
/// The whole round, kills included, must finish within this.
const ROUND_LIMIT: Duration = Duration::from_secs(150);
/// How long a Docker worker may take to finish after SIGTERM (its jobs are cancelled and
/// their containers removed).
const STOP_GRACE: Duration = Duration::from_secs(30);

/// The worker process's role, id and dev key, and its coordinators in the order it tries
/// them: `runner:runner-1:Dave:http://…,http://…`.
const WORKER_ENV: &str = "WHETSTONE_FAULT_WORKER";

fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn dev_key(name: &str) -> DevKey {
    DevKey::ALL.into_iter().find(|key| format!("{key:?}") == name).unwrap_or_else(|| panic!("no dev key {name}"))
}

fn signer(key: DevKey) -> RequestSigner {
    RequestSigner::new(key.pair(), Hotkey::new(DevKey::Alice.address()))
}

/// splitmix64: the kill schedule from [`SEED`], the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

/// A job's made-up duration, 150 to 650 ms, from its id: long enough that kills land on
/// jobs in flight, short enough for the CI budget.
fn work_time(job_id: &str) -> Duration {
    let hex = Digest::of_bytes(job_id.as_bytes()).as_str().bytes().rev().take(3).fold(0u64, |n, b| n * 31 + u64::from(b));
    Duration::from_millis(150 + hex % 500)
}

/// A well-formed patch that adds a file naming the run: the real validator applies it and runs
/// the task's tests in a container (they still fail), as for any patch.
fn quick_patch(run_id: &str) -> Vec<u8> {
    format!("diff --git a/faults.txt b/faults.txt\nnew file mode 100644\n--- /dev/null\n+++ b/faults.txt\n@@ -0,0 +1 @@\n+{run_id}\n")
        .into_bytes()
}

/// Completes every run with a patch naming it, or signs a verdict (resolved for half the
/// runs, the same for both quick validators; `max_disputes = 0`, so no dispute grade is added
/// when the real validator disagrees).
struct QuickWork {
    key: DevKey,
}

#[async_trait::async_trait]
impl Executor for QuickWork {
    async fn execute(&self, assignment: Assignment, cancel: CancellationToken) -> Report {
        tokio::select! {
            () = cancel.cancelled() => {}
            () = tokio::time::sleep(work_time(assignment.job_id())) => {}
        }
        match assignment {
            Assignment::Run(run) => Report::Run(RunReport {
                patch: quick_patch(run.run_id.as_str()),
                run_id: run.run_id,
                outcome: RunOutcome::Completed,
                exit_code: 0,
                log: "quick run".into(),
                duration: Duration::from_millis(50),
                error: String::new(),
                llm: LlmUsage::default(),
                // No container: the runs with sandbox time are the Docker runner's.
                sandbox: Duration::ZERO,
            }),
            Assignment::Grade(grade) => {
                let resolved =
                    Digest::of_bytes(grade.run_id.as_str().as_bytes()).as_str().ends_with(['0', '2', '4', '6', '8', 'a', 'c', 'e']);
                let status = if resolved { VerdictStatus::Resolved } else { VerdictStatus::Unresolved };
                let tests = vec![TestResult {
                    id: "tests/test_x.py::test_x".into(),
                    status: if resolved { TestStatus::Passed } else { TestStatus::Failed },
                }];
                let statement = VerdictStatement {
                    run_id: grade.run_id.clone(),
                    task: grade.task.clone(),
                    agent: grade.agent.clone(),
                    patch: Digest::of_bytes(&grade.patch),
                    validator: Hotkey::new(self.key.address()),
                    status,
                    tests: tests.clone(),
                    grader_version: "faults".into(),
                    graded_at_ms: 1_700_000_000_000,
                };
                Report::Grade(GradeReport {
                    grade_id: grade.grade_id,
                    verdict: Verdict {
                        status,
                        fail_to_pass_passed: u32::from(resolved),
                        fail_to_pass_total: 1,
                        pass_to_pass_passed: 0,
                        pass_to_pass_total: 0,
                        tests,
                        notes: String::new(),
                    },
                    log: String::new(),
                    duration: Duration::from_millis(50),
                    signed: Some(statement.sign(&self.key.pair()).expect("a dev key signs")),
                })
            }
            Assignment::Solve(solve) => Report::Solve(SolveReport::failed(solve.solve_id, RunOutcome::InfraError, "no solve jobs here")),
        }
    }
}

/// A worker process of [`fault_round`],
/// which starts this binary again with [`WORKER_ENV`] set and this test named; it serves until
/// it is killed.
#[test]
#[ignore = "a worker process the fault injection test starts; not a test on its own"]
fn fault_worker() {
    let spec = std::env::var(WORKER_ENV).expect("started by the fault injection test with WHETSTONE_FAULT_WORKER");
    let mut parts = spec.splitn(4, ':');
    let (Some(role), Some(worker_id), Some(key), Some(url)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        panic!("malformed {WORKER_ENV}: {spec}");
    };
    let key = dev_key(key);
    let capability = if role == "runner" { Capability::RunAgent } else { Capability::Grade };
    let config = WorkerConfig {
        coordinator_urls: url.split(',').map(str::to_owned).collect(),
        worker_id: worker_id.to_owned(),
        signer: signer(key),
        capabilities: vec![capability],
        capacity: 2,
        reconnect_delay: Duration::from_millis(100),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(run_worker(config, Arc::new(QuickWork { key }), CancellationToken::new()));
}

/// One of the round's processes: how to start it, and the running child.
struct Process {
    name: &'static str,
    command: Box<dyn Fn() -> Command>,
    child: Option<Child>,
    kills: u32,
    /// Where a Docker worker's stderr goes (its JSON log, appended across restarts), and the
    /// file's length at its latest start.
    log: Option<(PathBuf, u64)>,
}

impl Process {
    fn new(name: &'static str, command: impl Fn() -> Command + 'static) -> Self {
        Self { name, command: Box::new(command), child: None, kills: 0, log: None }
    }

    fn logging_to(mut self, path: PathBuf) -> Self {
        self.log = Some((path, 0));
        self
    }

    fn start(&mut self) {
        let mut command = (self.command)();
        command.stdin(Stdio::null()).stdout(Stdio::null());
        if let Some((path, start)) = &mut self.log {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(&*path).expect("log file");
            *start = file.metadata().expect("log file").len();
            command.stderr(file);
        }
        let child = command.spawn();
        self.child = Some(child.unwrap_or_else(|e| panic!("start {}: {e}", self.name)));
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What it logged since its latest start.
    fn log_since_start(&self) -> String {
        let Some((path, start)) = &self.log else { return String::new() };
        let text = std::fs::read(path).unwrap_or_default();
        String::from_utf8_lossy(text.get(usize::try_from(*start).expect("small")..).unwrap_or_default()).into_owned()
    }

    /// Stops it as an operator would: once it is up (a worker connected to a coordinator; a
    /// SIGTERM before its signal handler is in place would be a SIGKILL), SIGTERM, then wait
    /// up to [`STOP_GRACE`]. Returns whether it exited by itself.
    async fn stop(&mut self) -> bool {
        let up_by = Instant::now() + Duration::from_secs(30);
        while !self.log_since_start().contains("connected to coordinator") && Instant::now() < up_by {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let Some(child) = &mut self.child else { return true };
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                self.child = None;
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.kill();
        false
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The containers (in any state) and networks carrying one owner's `whetstone.owner` label,
/// as the Docker API lists them.
#[derive(Debug, Default)]
struct Census {
    containers: Vec<String>,
    networks: Vec<String>,
}

async fn census(docker: &Docker, owner: &str) -> Census {
    let filters = HashMap::from([("label", vec!["whetstone.sandbox=1".to_owned(), format!("whetstone.owner={owner}")])]);
    let containers = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
        .await
        .expect("list containers");
    let networks =
        docker.list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build())).await.expect("list networks");
    Census {
        containers: containers
            .into_iter()
            .filter_map(|c| c.names?.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect(),
        networks: networks.into_iter().filter_map(|n| n.name).collect(),
    }
}

/// The jobs (`whetstone.job`) whose `role` container of `owner` is running now.
async fn running_jobs(docker: &Docker, owner: &str, role: &str) -> Vec<String> {
    let filters = HashMap::from([
        ("label", vec![format!("whetstone.owner={owner}"), format!("whetstone.role={role}")]),
        ("status", vec!["running".to_owned()]),
    ]);
    let containers =
        docker.list_containers(Some(ListContainersOptionsBuilder::default().filters(&filters).build())).await.expect("list containers");
    containers.into_iter().filter_map(|c| c.labels?.remove("whetstone.job")).collect()
}

/// One of the round's real Docker workers and what the test saw of it.
struct DockerWorker {
    /// Its index in the round's processes.
    process: usize,
    /// Its `--worker-id`, which its sandbox stamps on everything as `whetstone.owner`.
    owner: String,
    /// The `whetstone.role` of its job containers.
    job_role: &'static str,
    /// It is SIGKILLed once the container of the job it was given this many-th is up (after
    /// its first jobs have shown that it works).
    kill_at_job: usize,
    /// Jobs whose container the test saw running.
    jobs_seen: BTreeSet<String>,
    /// What the SIGKILL in the middle of a job left, right after it.
    orphaned: Option<Census>,
}

/// Force-removes, when dropped, whatever containers and networks the round's Docker workers
/// still have: after the census has counted them, or when a failing round panics, so that no
/// round leaks onto the host (nothing else sweeps these owners: each round has its own).
struct RemoveLeftovers(Vec<String>);

impl Drop for RemoveLeftovers {
    fn drop(&mut self) {
        let list = |what: &[&str], owner: &str| -> Vec<String> {
            let filter = format!("label=whetstone.owner={owner}");
            let output = Command::new("docker").args(what).args(["-q", "--filter", &filter]).output();
            output.map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_owned).collect()).unwrap_or_default()
        };
        for owner in &self.0 {
            let containers = list(&["ps", "-a"], owner);
            if !containers.is_empty() {
                let _ = Command::new("docker").args(["rm", "-f"]).args(&containers).stdout(Stdio::null()).status();
            }
            let networks = list(&["network", "ls"], owner);
            if !networks.is_empty() {
                let _ = Command::new("docker").args(["network", "rm"]).args(&networks).stdout(Stdio::null()).status();
            }
        }
    }
}

/// How many containers and networks the Docker workers removed at their restarts, from their
/// JSON logs' start-up sweep lines.
fn swept_at_start(log: &str) -> u64 {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"]["message"].as_str().is_some_and(|m| m.contains("left by a previous run")))
        .filter_map(|line| line["fields"]["removed"].as_u64())
        .sum()
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr")
}

/// Copies of the noop agent under distinct versions: one agent each.
fn agents(dir: &Path) -> Vec<PathBuf> {
    let noop = workspace("examples/agents/noop");
    (0..AGENTS)
        .map(|n| {
            let agent = dir.join(format!("agent-{n}"));
            std::fs::create_dir_all(&agent).expect("agent dir");
            std::fs::copy(noop.join("agent.py"), agent.join("agent.py")).expect("copy agent.py");
            let manifest = std::fs::read_to_string(noop.join("agent.toml")).expect("agent.toml");
            std::fs::write(agent.join("agent.toml"), manifest.replace("version = \"0.1.0\"", &format!("version = \"0.1.{n}\"")))
                .expect("write");
            agent
        })
        .collect()
}

async fn progress(url: &str) -> Option<whetstone_proto::pb::ProgressResponse> {
    let client = CoordinatorClient::connect(url).await.ok()?;
    client.progress().await.ok()
}

/// The progress any live coordinator reports (they read one database).
async fn any_progress(urls: &[String]) -> Option<whetstone_proto::pb::ProgressResponse> {
    for url in urls {
        if let Some(progress) = progress(url).await {
            return Some(progress);
        }
    }
    None
}

/// Where the PostgreSQL round's server is (an admin URL: the round makes its own database).
const POSTGRES_URL_VAR: &str = "WHETSTONE_TEST_POSTGRES_URL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_faults_sigkill_anywhere_loses_nothing_counts_nothing_twice_leaves_no_containers() {
    fault_round(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_faults_on_postgres_sigkill_anywhere_loses_nothing_counts_nothing_twice_leaves_no_containers() {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{POSTGRES_URL_VAR} is not set: CI must run the PostgreSQL fault round (.ci/run starts a server)"
        );
        eprintln!(
            "SKIPPED the PostgreSQL fault round: {POSTGRES_URL_VAR} is not set. Start a throwaway server with \
             `eval \"$(tools/pg-test-server start /tmp/whetstone-pg)\"`."
        );
        return;
    };
    let database = PostgresDb::create(&admin_url).await;
    fault_round(Some(database.url.clone())).await;
    database.drop_it().await;
}

/// A fresh database on the test server, for one round.
struct PostgresDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDb {
    async fn create(admin_url: &str) -> Self {
        use sqlx::Connection as _;
        let name = format!("whetstone_faults_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap_or_else(|e| panic!("cannot reach {admin_url}: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("create the database");
        admin.close().await.expect("close");
        let mut url = url::Url::parse(admin_url).expect("the server URL parses");
        url.set_path(&format!("/{name}"));
        Self { admin_url: admin_url.to_owned(), name, url: url.to_string() }
    }

    async fn drop_it(self) {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.expect("reach the server");
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await.expect("drop the database");
    }
}

/// Builds the base image and the round's task images if this host has not yet (what
/// `whetstone images` does), so that the round's clock measures runs and not image builds.
async fn ensure_images(tasks: &[whetstone_tasks::Task]) {
    let sandbox = Sandbox::connect("faults-images").await.expect("the fault round needs Docker");
    sandbox.ensure_base_image(&NoProgress).await.expect("the base image");
    for task in tasks {
        sandbox.ensure_environment_image(&task.environment(), &NoProgress).await.expect("a starter task's image");
    }
}

/// The inference proxy's config for the Docker runner: with it every run gets a run network
/// and a relay, as in production. The upstream is never called (the agents are noop).
const PROXY_CONFIG: &str = "upstream_base_url = \"http://127.0.0.1:9/v1\"\nupstream_api_key_env = \"WHETSTONE_FAULTS_LLM_KEY\"\n\
                            [[models]]\nname = \"unused\"\ninput_micro_usd_per_mtok = 1\n";

/// One round on SQLite (`database` `None`) or the PostgreSQL database at `database`.
async fn fault_round(database: Option<String>) {
    let backend = if database.is_some() { "postgres" } else { "sqlite" };
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("coordinator");
    let set = TaskSet::load(&workspace("tasks/sets/starter")).expect("starter set");
    let tasks = &set.tasks[..TASKS];
    ensure_images(tasks).await;
    let docker = Sandbox::connect("faults-census").await.expect("Docker").docker().clone();
    // The real workers' ids, this round's own, so that the census counts only what they made
    // (the SQLite and PostgreSQL rounds run at the same time on one engine). Declared before
    // the processes, so it is dropped after they are killed.
    let round = uuid::Uuid::new_v4().simple().to_string();
    let owner_id = |name: &str| format!("faults-{backend}-{}-{name}", &round[..8]);
    let _leftovers = RemoveLeftovers(vec![owner_id("docker-runner"), owner_id("docker-validator")]);
    // Two coordinators share a PostgreSQL database (and the blob directory); SQLite has one
    // writer, so one coordinator.
    let coordinators = if database.is_some() { 2 } else { 1 };
    let mut urls = Vec::new();
    let mut processes: Vec<Process> = Vec::new();
    for index in 0..coordinators {
        let grpc = free_addr();
        let http = free_addr();
        urls.push(format!("http://{grpc}"));
        let config = dir.path().join(format!("coordinator-{index}.toml"));
        let toml = format!(
            "data_dir = {data_dir:?}\nlisten = \"{grpc}\"\nlease_secs = 2\nheartbeat_ms = 300\ntick_ms = 50\nmax_attempts = 50\n\
             [auth]\nmembership = \"allow_all\"\n[grading]\nreplicas = {REPLICAS}\nmax_disputes = 0\naudit_fraction = 0.0\n\
             [submissions]\nmax = 1000\nwindow_secs = 3600\n[blobs]\ngc_interval_secs = 0\n"
        );
        let toml = match &database {
            Some(url) => format!("database = {url:?}\n{toml}"),
            None => toml,
        };
        std::fs::write(&config, toml).expect("write config");
        let command = move || {
            let mut command = Command::new(env!("CARGO_BIN_EXE_whetstone"));
            command
                .arg("coordinator")
                .arg("--config")
                .arg(&config)
                .arg("--solve-listen")
                .arg(http.to_string())
                .env("WHETSTONE_LOG", "warn");
            command
        };
        processes.push(Process::new(["coordinator-a", "coordinator-b"][index], command));
    }
    // Each worker tries the coordinators from its own first one, so both hand out work.
    let coordinator_list = |first: usize| {
        let mut order = urls.clone();
        order.rotate_left(first % urls.len());
        order.join(",")
    };
    // The runners share one operator's hotkey; each validator has its own (a run is graded by
    // two different validator hotkeys).
    for (name, role, key, first) in [
        ("runner-1", "runner", "Dave", 0),
        ("runner-2", "runner", "Dave", 1),
        ("validator-1", "validator", "Bob", 0),
        ("validator-2", "validator", "Charlie", 1),
    ] {
        let list = coordinator_list(first);
        let command = move || {
            let mut command = Command::new(std::env::current_exe().expect("test binary"));
            command.args(["fault_worker", "--exact", "--ignored", "--nocapture"]).env(WORKER_ENV, format!("{role}:{name}:{key}:{list}"));
            command
        };
        processes.push(Process::new(name, command));
    }
    // The seeded schedule kills these quick workers and the coordinators.
    let quick_workers = processes.len() - coordinators;
    let proxy_config = dir.path().join("proxy.toml");
    std::fs::write(&proxy_config, PROXY_CONFIG).expect("write the proxy config");
    let mut docker_workers = Vec::new();
    // The runner takes two runs at a time (so that it gets a handful before the quick runners
    // drain the queue) and is killed in its second pair; the validator's grades run the
    // task's tests, one at a time.
    for (name, subcommand, key, job_role, first, capacity, kill_at_job) in
        [("docker-runner", "agent-runner", "dave", "agent", 0, "2", 3), ("docker-validator", "validator", "eve", "grade", 1, "1", 2)]
    {
        let owner = owner_id(name);
        let worker_dir = dir.path().join(name);
        let list = coordinator_list(first);
        let proxy = (subcommand == "agent-runner").then(|| proxy_config.clone());
        let command = {
            let owner = owner.clone();
            move || {
                let mut command = Command::new(env!("CARGO_BIN_EXE_whetstone"));
                command.args(["--log-format", "json", subcommand, "--coordinator", &list, "--dev-key", key, "--worker-id", &owner]);
                command.args(["--capacity", capacity, "--data-dir"]).arg(&worker_dir);
                if let Some(proxy) = &proxy {
                    command.arg("--proxy-config").arg(proxy).env("WHETSTONE_FAULTS_LLM_KEY", "unused");
                }
                command.env("WHETSTONE_LOG", "info");
                command
            }
        };
        docker_workers.push(DockerWorker {
            process: processes.len(),
            owner,
            job_role,
            kill_at_job,
            jobs_seen: BTreeSet::new(),
            orphaned: None,
        });
        processes.push(Process::new(name, command).logging_to(dir.path().join(format!("{name}.log"))));
    }

    // The coordinators first, with the round's tasks and agents.
    for process in &mut processes[..coordinators] {
        process.start();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for url in &urls {
        while progress(url).await.is_none() {
            assert!(Instant::now() < deadline, "coordinator {url} did not answer within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let client = CoordinatorClient::connect(&urls[0]).await.expect("connect");
    for task in tasks {
        client.publish_task(task, &signer(DevKey::Alice)).await.expect("publish");
    }
    for agent in agents(dir.path()) {
        client.submit_agent(&agent, &signer(DevKey::Ferdie)).await.expect("submit");
    }
    let runs = u32::try_from(AGENTS * TASKS).expect("small");
    // The Docker workers first, and the quick ones once the Docker runner's first runs are in
    // their containers: the quick runners drain the queue in seconds, and the Docker runner
    // must get its handful (and be killed in the middle of one) before they do.
    for worker in &docker_workers {
        processes[worker.process].start();
    }
    let runner = &docker_workers[0];
    let deadline = Instant::now() + Duration::from_secs(60);
    while running_jobs(&docker, &runner.owner, runner.job_role).await.is_empty() {
        let log = processes[runner.process].log_since_start();
        assert!(Instant::now() < deadline, "the Docker runner started no container within 60 s; its log:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The quick validators wait until the Docker validator has been killed in the middle of a
    // grade: they grade in milliseconds, and with them about the Docker validator, one grade at
    // a time (tens of seconds each on a loaded host), may get a single grade in the whole round.
    // Until then the runs wait for their second validator, so the round cannot end first.
    let mut held_back: Vec<usize> =
        (coordinators..coordinators + quick_workers).filter(|&i| processes[i].name.starts_with("validator-")).collect();
    for (index, process) in processes.iter_mut().enumerate().skip(coordinators) {
        if process.child.is_none() && !held_back.contains(&index) {
            process.start();
        }
    }
    let docker_validator = docker_workers.iter().position(|w| w.job_role == "grade").expect("a Docker validator");

    // Kill one process every 1 to 3 s (the second, fifth, eighth… kill is the coordinator's),
    // start it again 0.2 to 1 s later, until the round is done or the chaos window closes.
    // Each Docker worker is killed once, in the middle of a job, whenever that comes: killed at
    // random as well, a slow Docker validator lost its one grade again and again and never got
    // to a second.
    let mut rng = Rng(SEED);
    let mut scheduled_kills = 0u32;
    let started = Instant::now();
    let mut next_kill = Instant::now() + rng.millis(1000, 3000);
    let finished = loop {
        assert!(started.elapsed() < ROUND_LIMIT, "the round did not finish within {ROUND_LIMIT:?}: {:?}", any_progress(&urls).await);
        if let Some(p) = any_progress(&urls).await
            && p.runs_total == runs
            && p.runs_done == runs
            && p.grades_total == runs * REPLICAS
            && p.grades_done == p.grades_total
        {
            break p;
        }
        let chaos = started.elapsed() < CHAOS_WINDOW;
        if !held_back.is_empty() {
            let validator = &docker_workers[docker_validator];
            if validator.orphaned.is_some() {
                for index in held_back.drain(..) {
                    processes[index].start();
                }
            } else {
                assert!(
                    started.elapsed() < ROUND_LIMIT / 2,
                    "the Docker validator was not caught in its second grade within {:?}; its log:\n{}",
                    ROUND_LIMIT / 2,
                    processes[validator.process].log_since_start()
                );
            }
        }
        if Instant::now() >= next_kill && chaos {
            // Every third kill is a coordinator's, the others a random quick worker's (one still
            // held back is passed over: it has not started).
            let pick = |rng: &mut Rng, n: usize| usize::try_from(rng.next()).expect("index") % n;
            let victim = if scheduled_kills % 3 == 1 { pick(&mut rng, coordinators) } else { coordinators + pick(&mut rng, quick_workers) };
            scheduled_kills += 1;
            if processes[victim].child.is_none() {
                next_kill = Instant::now() + rng.millis(1000, 3000);
                continue;
            }
            let process = &mut processes[victim];
            process.kill();
            process.kills += 1;
            eprintln!("faults on {backend}: {:>5.1} s SIGKILL {}", started.elapsed().as_secs_f64(), process.name);
            tokio::time::sleep(rng.millis(200, 1000)).await;
            process.start();
            next_kill = Instant::now() + rng.millis(1000, 3000);
        }
        for worker in docker_workers.iter_mut().filter(|w| w.orphaned.is_none()) {
            let running = running_jobs(&docker, &worker.owner, worker.job_role).await;
            worker.jobs_seen.extend(running.iter().cloned());
            if running.is_empty() || worker.jobs_seen.len() < worker.kill_at_job {
                continue;
            }
            let process = &mut processes[worker.process];
            process.kill();
            process.kills += 1;
            let left = census(&docker, &worker.owner).await;
            eprintln!(
                "faults on {backend}: {:>5.1} s SIGKILL {} in the middle of job {}: it left {:?} and networks {:?}",
                started.elapsed().as_secs_f64(),
                process.name,
                running[0],
                left.containers,
                left.networks
            );
            worker.orphaned = Some(left);
            // A fixed pause, so that the seeded schedule above stays the same.
            tokio::time::sleep(Duration::from_millis(500)).await;
            process.start();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    // The Docker workers stop as an operator stops them; the rest die as before.
    let mut stopped = Vec::new();
    for worker in &docker_workers {
        let process = &mut processes[worker.process];
        let exited = process.stop().await;
        stopped.push(format!("{} {}", process.name, if exited { "exited" } else { "did not exit" }));
    }
    for process in &mut processes {
        process.kill();
    }
    let mut left = Census::default();
    let mut swept = 0;
    for worker in &docker_workers {
        let census = census(&docker, &worker.owner).await;
        left.containers.extend(census.containers);
        left.networks.extend(census.networks);
        let (log, _) = processes[worker.process].log.as_ref().expect("Docker workers log");
        swept += swept_at_start(&std::fs::read_to_string(log).unwrap_or_default());
    }

    // Count from the store itself.
    let store_url = match &database {
        Some(url) => url.parse().expect("the database URL parses"),
        None => DatabaseUrl::in_data_dir(&data_dir),
    };
    let store = SqlStore::open(&store_url).await.expect("store opens");
    let records = store.run_records(None).await.expect("runs");
    // Who signed each run's verdicts in the ledger.
    let mut signers: HashMap<String, Vec<String>> = HashMap::new();
    for row in store.verdicts_after(0, 100_000).await.expect("ledger") {
        let statement = VerdictStatement::decode(&row.statement).expect("a stored statement decodes");
        signers.entry(row.run_id.to_string()).or_default().push(statement.validator.to_string());
    }
    let docker_validator = Hotkey::new(DevKey::Eve.address());
    let mut done = 0;
    let mut lost = Vec::new();
    let mut twice = Vec::new();
    let mut slot_verdicts = 0;
    let mut late_verdicts = 0;
    let mut docker_runs = 0;
    let mut docker_verdicts = 0;
    for record in &records {
        if record.state == "done" && record.outcome.as_deref() == Some("completed") {
            done += 1;
        } else {
            lost.push(format!("{} {} {:?}", record.run_id, record.state, record.outcome));
        }
        if record.cost.sandbox_ms > 0 {
            docker_runs += 1;
        }
        // Each of the run's grade slots is done once, with a verdict, by its own validator.
        let grades = store.grades_for_run(&record.run_id).await.expect("grades");
        let graded: Vec<&whetstone_coordinator::store::GradeRow> =
            grades.iter().filter(|g| g.state == "done" && g.verdict.is_some()).collect();
        let mut validators: Vec<String> = graded.iter().filter_map(|g| g.validator.as_ref().map(|v| v.to_string())).collect();
        validators.sort();
        validators.dedup();
        slot_verdicts += graded.len();
        // A patch the real validator graded in a container (it rejects none of these).
        docker_verdicts += graded
            .iter()
            .filter(|g| {
                g.validator.as_ref() == Some(&docker_validator)
                    && g.verdict.as_ref().is_some_and(|v| v.status != VerdictStatus::PatchRejected)
            })
            .count();
        // The ledger holds one verdict per validator per run: the slots' and, rarely, a late
        // one from a validator cut off for longer than its lease, which finished a grade that
        // had meanwhile gone to another validator. That one is a further signed opinion on
        // the run, never a second result (coordinator/tests/integration/consensus.rs), so it
        // is counted apart.
        let mut ledger = signers.remove(record.run_id.as_str()).unwrap_or_default();
        ledger.sort();
        let signed_by_slots = validators.iter().all(|v| ledger.binary_search(v).is_ok());
        let ledger_len = ledger.len();
        ledger.dedup();
        late_verdicts += ledger_len.saturating_sub(graded.len());
        if grades.len() != REPLICAS as usize
            || graded.len() != REPLICAS as usize
            || validators.len() != REPLICAS as usize
            || ledger.len() != ledger_len
            || !signed_by_slots
            || u32::try_from(ledger_len).ok() != Some(record.verdicts)
        {
            twice.push(format!(
                "{}: {} slots, {} graded, slot validators {validators:?}, ledger signers {ledger:?} ({ledger_len} verdicts)",
                record.run_id,
                grades.len(),
                graded.len()
            ));
        }
    }
    let verdicts = slot_verdicts + late_verdicts;
    store.close().await;
    let kills: Vec<String> = processes.iter().map(|p| format!("{} {}", p.name, p.kills)).collect();
    let orphaned: Vec<String> = docker_workers
        .iter()
        .map(|w| match &w.orphaned {
            Some(c) => format!("{} left {} containers and {} networks", processes[w.process].name, c.containers.len(), c.networks.len()),
            None => format!("{} was never caught in a job", processes[w.process].name),
        })
        .collect();
    println!("fault injection on {backend} (seed {SEED:#x}), {:.1} s, SIGKILLs: {}", elapsed.as_secs_f64(), kills.join(", "));
    println!(
        "runs {}: finished exactly once {done}, lost {}, counted twice or short of grades {}; grade slots graded once each {slot_verdicts} \
         ({REPLICAS} per run by distinct validators); verdicts in the ledger {verdicts}, of which late {late_verdicts} (a validator past its \
         lease finished a grade another had taken)",
        records.len(),
        lost.len(),
        twice.len()
    );
    println!(
        "Docker: {docker_runs} runs and {docker_verdicts} grades in containers; killed mid-job: {}; \
         removed by their start-up sweeps {swept}; after SIGTERM ({}): containers left {}, networks left {}",
        orphaned.join(", "),
        stopped.join(", "),
        left.containers.len(),
        left.networks.len()
    );
    assert_eq!(finished.runs_total, runs);
    assert_eq!(records.len(), runs as usize, "one run per agent and task, none added");
    assert!(lost.is_empty(), "lost runs: {lost:?}");
    assert!(twice.is_empty(), "runs not graded exactly {REPLICAS} times by distinct validators: {twice:?}");
    assert_eq!(slot_verdicts, (runs * REPLICAS) as usize);
    assert!(signers.is_empty(), "verdicts for runs that do not exist: {signers:?}");
    assert!(processes.iter().map(|p| p.kills).sum::<u32>() >= 5, "the schedule killed at least five times");
    assert!(processes[..coordinators].iter().map(|p| p.kills).sum::<u32>() >= 1, "a coordinator was killed at least once");
    assert!(docker_runs >= 1, "no run went through Docker");
    assert!(docker_verdicts >= 1, "no patch was graded in Docker");
    for worker in &docker_workers {
        let name = processes[worker.process].name;
        let orphaned = worker.orphaned.as_ref().unwrap_or_else(|| panic!("{name} was never SIGKILLed in the middle of a job"));
        assert!(!orphaned.containers.is_empty(), "killing {name} in the middle of a job left no container to clean up");
    }
    let runner_orphans = docker_workers[0].orphaned.as_ref().expect("checked");
    assert!(runner_orphans.networks.len() >= 2, "the runner's kill left its run network and its egress network: {runner_orphans:?}");
    assert!(stopped.iter().all(|s| s.ends_with("exited")), "Docker workers did not stop on SIGTERM: {stopped:?}");
    assert!(left.containers.is_empty() && left.networks.is_empty(), "the round left containers and networks behind: {left:?}");
}
