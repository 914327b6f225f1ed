//! What the solve path adds over running the agent directly, on the same task.
//!
//! `cargo run --release --example solve_bench [runs]` (needs Docker; the first run builds the
//! images). The repair agent on the starter task toolz-partitionby-yields-keys, `runs` times
//! each (default 3), interleaved so a busy host slows both alike; medians reported:
//!
//! - **agent test**: what `whetstone agent test` does for one task: [`run_agent`] in the
//!   task's image, then the patch graded in a fresh container (`grade_patch`, the test suite).
//! - **solve**: `whetstone::solve_client` packs the task's repository as a git work tree,
//!   submits it with the task's test command to a coordinator's solve API on loopback, and
//!   follows the event stream until `finished`; the coordinator dispatches it to a real
//!   agent-runner over gRPC, which runs the same agent in the same sandbox and then the test
//!   command on the diff in a fresh container.
//!
//! The difference is the solve path's added latency (target under 1 s: issue 12).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;
use whetstone::dev_keys::DevKey;
use whetstone::solve_client::{SolveClient, SolveEventKind, SolveRequest, pack_worktree};
use whetstone_agent_runner::{RunnerConfig, agent_image, agent_limits, run_agent};
use whetstone_coordinator::solve::keys::{KeyLimits, KeyStore};
use whetstone_coordinator::{Coordinator, CoordinatorConfig};
use whetstone_proto::auth::RequestSigner;
use whetstone_sandbox::{NoProgress, Sandbox};
use whetstone_tasks::{AgentPackage, Hotkey, Task, TaskSet};

const TASK: &str = "toolz-partitionby-yields-keys";

fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn signer(key: DevKey) -> RequestSigner {
    RequestSigner::new(key.pair(), Hotkey::new(whetstone::dev_keys::ALICE))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn starter_repo(task: &Task) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("repo dir");
    task.subtree("repo").write_to(dir.path()).expect("repo written");
    let repo = git2::Repository::init(dir.path()).expect("git init");
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("add");
    index.write().expect("index written");
    dir
}

async fn solve_once(client: &SolveClient, request: &SolveRequest) -> (Duration, String) {
    let started = Instant::now();
    let accepted = client.submit(request).await.expect("accepted");
    let mut events = client.events(&accepted.id, None).await.expect("events");
    while let Some(event) = events.next().await {
        if let SolveEventKind::Finished(finished) = event.expect("event").kind {
            return (started.elapsed(), finished.status);
        }
    }
    panic!("the stream ended before the job finished");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(3).max(1);
    let set = TaskSet::load(&workspace("tasks/sets/starter")).expect("starter set");
    let task = set.tasks.into_iter().find(|t| t.spec.id == TASK).expect("task");
    let agent_dir = workspace("examples/agents/repair");
    let agent = AgentPackage::from_dir(&agent_dir).expect("repair agent");
    let defaults = CoordinatorConfig::default();

    // The subnet: coordinator with its solve API, one agent-runner, a key, the agent submitted.
    let dir = tempfile::tempdir().expect("data dir");
    let mut config = CoordinatorConfig {
        data_dir: dir.path().join("coordinator"),
        listen: ([127, 0, 0, 1], 0).into(),
        auth: whetstone_coordinator::auth::AuthConfig::devnet(),
        ..CoordinatorConfig::default()
    };
    config.solve.listen = Some(([127, 0, 0, 1], 0).into());
    config.solve.rate_per_minute = 1000;
    let coordinator = Coordinator::bind(config).await.expect("coordinator");
    let grpc_url = format!("http://{}", coordinator.local_addr().expect("addr"));
    let solve_url = format!("http://{}", coordinator.solve_addr().expect("solve API"));
    let key = KeyStore::open(&whetstone_coordinator::DatabaseUrl::in_data_dir(&dir.path().join("coordinator")))
        .await
        .expect("keys")
        .create("bench", KeyLimits::default())
        .await
        .expect("key")
        .1;
    let stop = CancellationToken::new();
    let serving = tokio::spawn(coordinator.serve(stop.clone()));
    let runner = tokio::spawn(whetstone_agent_runner::serve(
        RunnerConfig {
            coordinator_urls: vec![grpc_url.clone()],
            worker_id: "solve-bench-runner".into(),
            signer: signer(DevKey::Alice),
            capacity: 1,
            data_dir: dir.path().join("agent-runner"),
            llm: None,
            run_subnets: whetstone_sandbox::RunSubnets::default(),
        },
        stop.clone(),
    ));
    let client = whetstone::client::CoordinatorClient::connect(&grpc_url).await.expect("gRPC");
    let digest = client.submit_agent(&agent_dir, &signer(DevKey::Bob)).await.expect("agent accepted").agent_digest;
    let solve = SolveClient::new(&solve_url, &key).expect("client");
    let repo = starter_repo(&task);
    let request = SolveRequest {
        statement: task.instruction.clone(),
        snapshot: pack_worktree(repo.path()).expect("packs"),
        agent: digest,
        budget_micro_usd: None,
        test_command: Some(task.spec.tests.command.clone()),
    };

    // The direct run, as `agent test` makes it.
    let sandbox = Sandbox::connect("solve-bench-direct").await.expect("Docker");
    let image = agent_image(&sandbox, &task.visible(), &agent, &NoProgress).await.expect("image");
    let limits = agent_limits(defaults.agent_limits.into(), &agent);
    let task_image = sandbox.ensure_environment_image(&task.environment(), &NoProgress).await.expect("task image");
    let grade_limits = whetstone_proto::job::SandboxLimits {
        timeout: Duration::from_secs(task.spec.tests.timeout_secs + defaults.grade_overhead_secs),
        ..defaults.grade_limits.into()
    };

    println!("warming up (images, agent cache)…");
    let _ = run_agent(&sandbox, &image, &task.visible(), &agent, limits, "solve-bench-warm").await;
    let _ = solve_once(&solve, &request).await;

    let (mut direct, mut solved) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let started = Instant::now();
        let report = run_agent(&sandbox, &image, &task.visible(), &agent, limits, &format!("solve-bench-{i}")).await;
        let _ =
            whetstone_validator::grade_patch(&sandbox, &task_image, &task, &report.patch, grade_limits, &format!("solve-bench-grade-{i}"))
                .await;
        direct.push(started.elapsed());
        let (elapsed, status) = solve_once(&solve, &request).await;
        solved.push(elapsed);
        println!(
            "run {}: agent test {:>7.3}s ({} bytes of patch)   solve {:>7.3}s ({status})",
            i + 1,
            direct[i].as_secs_f64(),
            report.patch.len(),
            elapsed.as_secs_f64()
        );
    }
    let (direct, solved) = (median(direct), median(solved));
    println!("\n{TASK}, repair agent, {runs} runs each (medians)");
    println!("  agent test (run + grade) {:>8.3} s", direct.as_secs_f64());
    println!("  solve (run + tests)      {:>8.3} s", solved.as_secs_f64());
    println!("  added by solve path      {:>8.3} s   (target < 1 s)", solved.as_secs_f64() - direct.as_secs_f64());
    stop.cancel();
    let _ = runner.await;
    let _ = serving.await;
}
