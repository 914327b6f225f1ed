//! Fault injection: a round of 102 runs (17 agents × the 6 starter tasks, each graded by two
//! validators) with the coordinator (`whetstone coordinator`: one on SQLite, and two at once on
//! one PostgreSQL database, each worker listing both), two agent-runners and two validators as
//! separate processes, while a seeded schedule SIGKILLs one of them every one to three seconds
//! (every third time a coordinator) for the first 40 s and starts it again. At the end every run is done exactly once, with
//! exactly its two verdicts from two different validators: nothing lost, nothing counted
//! twice.
//!
//! The workers are real worker sessions (`whetstone_proto::worker::run_worker`: signed hello,
//! heartbeats, acks, reports resent after a reconnect) in processes of their own: this test
//! binary started again as [`fault_worker`], with executors that answer in tens of
//! a few hundred milliseconds instead of running Docker, so that a hundred runs and two hundred grades fit
//! the CI budget. The coordinator is the real binary on a real SQLite file, or on a fresh
//! database of the PostgreSQL server `WHETSTONE_TEST_POSTGRES_URL` names (`.ci/run` starts one;
//! elsewhere the PostgreSQL round says it skipped), restarted on it.
//!
//! Not yet: real Docker runs among the quick ones (so "no containers or networks left" is
//! trivially true here).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use whetstone::client::CoordinatorClient;
use whetstone::dev_keys::DevKey;
use whetstone_chain::verdict::VerdictStatement;
use whetstone_coordinator::store::{DatabaseUrl, SqlStore, Store};
use whetstone_proto::auth::RequestSigner;
use whetstone_proto::job::{Assignment, Capability, GradeReport, LlmUsage, Report, RunOutcome, RunReport, SolveReport};
use whetstone_proto::worker::{Executor, WorkerConfig, run_worker};
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

/// Completes every run with a patch naming it, or signs a verdict (resolved for half the
/// runs, the same for both validators, so they agree and no dispute grade is added).
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
                patch: format!("diff --git a/x b/x\n# {}\n", run.run_id).into_bytes(),
                run_id: run.run_id,
                outcome: RunOutcome::Completed,
                exit_code: 0,
                log: "quick run".into(),
                duration: Duration::from_millis(50),
                error: String::new(),
                llm: LlmUsage::default(),
                sandbox: Duration::from_millis(50),
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

/// A worker process of [`faults_sigkill_anywhere_loses_nothing_and_counts_nothing_twice`],
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
}

impl Process {
    fn start(&mut self) {
        let child = (self.command)().stdin(Stdio::null()).stdout(Stdio::null()).spawn();
        self.child = Some(child.unwrap_or_else(|e| panic!("start {}: {e}", self.name)));
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
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
async fn faults_sigkill_anywhere_loses_nothing_and_counts_nothing_twice() {
    fault_round(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_postgres_sigkill_anywhere_loses_nothing_and_counts_nothing_twice() {
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

/// One round on SQLite (`database` `None`) or the PostgreSQL database at `database`.
async fn fault_round(database: Option<String>) {
    let backend = if database.is_some() { "postgres" } else { "sqlite" };
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("coordinator");
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
            command.arg("coordinator").arg("--config").arg(&config).arg("--solve-listen").arg(http.to_string()).env("RUST_LOG", "warn");
            command
        };
        let name = ["coordinator-a", "coordinator-b"][index];
        processes.push(Process { name, command: Box::new(command), child: None, kills: 0 });
    }
    // Each worker tries the coordinators from its own first one, so both hand out work.
    let worker_command = |role: &'static str, id: &'static str, key: &'static str, first: usize| {
        let mut order = urls.clone();
        order.rotate_left(first % urls.len());
        let list = order.join(",");
        move || {
            let mut command = Command::new(std::env::current_exe().expect("test binary"));
            command.args(["fault_worker", "--exact", "--ignored", "--nocapture"]).env(WORKER_ENV, format!("{role}:{id}:{key}:{list}"));
            command.env("RUST_LOG", "warn");
            command
        }
    };
    for (name, role, key, first) in [
        ("runner-1", "runner", "Dave", 0),
        ("runner-2", "runner", "Eve", 1),
        ("validator-1", "validator", "Bob", 0),
        ("validator-2", "validator", "Charlie", 1),
    ] {
        processes.push(Process { name, command: Box::new(worker_command(role, name, key, first)), child: None, kills: 0 });
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
    let set = TaskSet::load(&workspace("tasks/sets/starter")).expect("starter set");
    for task in set.tasks.iter().take(TASKS) {
        client.publish_task(task, &signer(DevKey::Alice)).await.expect("publish");
    }
    for agent in agents(dir.path()) {
        client.submit_agent(&agent, &signer(DevKey::Ferdie)).await.expect("submit");
    }
    let runs = u32::try_from(AGENTS * TASKS).expect("small");
    for process in &mut processes[coordinators..] {
        process.start();
    }

    // Kill one process every 1 to 3 s (the second, fifth, eighth… kill is the coordinator's),
    // start it again 0.2 to 1 s later, until the round is done or the chaos window closes.
    let mut rng = Rng(SEED);
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
        if Instant::now() >= next_kill && started.elapsed() < CHAOS_WINDOW {
            // Every third kill is a coordinator's, the others a random worker's.
            let kills: u32 = processes.iter().map(|p| p.kills).sum();
            let pick = |rng: &mut Rng, n: usize| usize::try_from(rng.next()).expect("index") % n;
            let victim = if kills % 3 == 1 { pick(&mut rng, coordinators) } else { coordinators + pick(&mut rng, 4) };
            let process = &mut processes[victim];
            process.kill();
            process.kills += 1;
            eprintln!("faults on {backend}: {:>5.1} s SIGKILL {}", started.elapsed().as_secs_f64(), process.name);
            tokio::time::sleep(rng.millis(200, 1000)).await;
            process.start();
            next_kill = Instant::now() + rng.millis(1000, 3000);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    for process in &mut processes {
        process.kill();
    }

    // Count from the store itself.
    let store_url = match &database {
        Some(url) => url.parse().expect("the database URL parses"),
        None => DatabaseUrl::in_data_dir(&data_dir),
    };
    let store = SqlStore::open(&store_url).await.expect("store opens");
    let records = store.run_records(None).await.expect("runs");
    let mut done = 0;
    let mut lost = Vec::new();
    let mut twice = Vec::new();
    let mut verdicts = 0;
    for record in &records {
        if record.state == "done" && record.outcome.as_deref() == Some("completed") {
            done += 1;
        } else {
            lost.push(format!("{} {} {:?}", record.run_id, record.state, record.outcome));
        }
        let grades = store.grades_for_run(&record.run_id).await.expect("grades");
        let mut validators: Vec<String> = grades.iter().filter_map(|g| g.validator.as_ref().map(|v| v.to_string())).collect();
        validators.sort();
        validators.dedup();
        verdicts += record.verdicts;
        if record.verdicts != REPLICAS || grades.len() != REPLICAS as usize || validators.len() != REPLICAS as usize {
            twice.push(format!("{}: {} verdicts, {} slots, validators {validators:?}", record.run_id, record.verdicts, grades.len()));
        }
    }
    store.close().await;
    let kills: Vec<String> = processes.iter().map(|p| format!("{} {}", p.name, p.kills)).collect();
    println!("fault injection on {backend} (seed {SEED:#x}), {:.1} s, SIGKILLs: {}", elapsed.as_secs_f64(), kills.join(", "));
    println!(
        "runs {}: finished exactly once {done}, lost {}, counted twice or short of grades {}; verdicts {verdicts} ({REPLICAS} per run expected); \
         containers and networks left: 0 (no Docker in this round)",
        records.len(),
        lost.len(),
        twice.len()
    );
    assert_eq!(finished.runs_total, runs);
    assert_eq!(records.len(), runs as usize, "one run per agent and task, none added");
    assert!(lost.is_empty(), "lost runs: {lost:?}");
    assert!(twice.is_empty(), "runs not graded exactly {REPLICAS} times by distinct validators: {twice:?}");
    assert_eq!(verdicts, runs * REPLICAS);
    assert!(processes.iter().map(|p| p.kills).sum::<u32>() >= 5, "the schedule killed at least five times");
    assert!(processes[..coordinators].iter().map(|p| p.kills).sum::<u32>() >= 1, "a coordinator was killed at least once");
}
