//! `whetstone solve`'s path end to end with real parts: a coordinator with its solve API on
//! loopback, a real agent-runner running agents in Docker, and `whetstone::solve_client` as
//! the developer's side. A solve with the repair agent on a starter task's repository comes
//! back with a diff that makes the task's hidden test pass (graded as validators grade), and
//! cancelling a running job leaves no container behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;
use whetstone::dev_keys::DevKey;
use whetstone::solve_client::{Finished, SolveClient, SolveEventKind, SolveRequest, pack_worktree};
use whetstone_agent_runner::RunnerConfig;
use whetstone_coordinator::solve::keys::{KeyLimits, KeyStore};
use whetstone_coordinator::{Coordinator, CoordinatorConfig};
use whetstone_proto::auth::RequestSigner;
use whetstone_sandbox::{LogProgress, OrphanScope, Sandbox};
use whetstone_tasks::{Hotkey, Task, TaskSet, VerdictStatus};

fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn signer(key: DevKey) -> RequestSigner {
    RequestSigner::new(key.pair(), Hotkey::new(whetstone::dev_keys::ALICE))
}

/// A coordinator with its solve API, one agent-runner (`runner_id`), and a key.
struct Subnet {
    grpc_url: String,
    client: SolveClient,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Subnet {
    async fn start(runner_id: &str) -> Self {
        let dir = tempfile::tempdir().expect("data dir");
        let mut config = CoordinatorConfig {
            data_dir: dir.path().join("coordinator"),
            listen: ([127, 0, 0, 1], 0).into(),
            auth: whetstone_coordinator::auth::AuthConfig::devnet(),
            ..CoordinatorConfig::default()
        };
        config.solve.listen = Some(([127, 0, 0, 1], 0).into());
        let coordinator = Coordinator::bind(config).await.expect("coordinator binds");
        let grpc_url = format!("http://{}", coordinator.local_addr().expect("addr"));
        let solve_url = format!("http://{}", coordinator.solve_addr().expect("solve API"));
        let key = KeyStore::open(&whetstone_coordinator::DatabaseUrl::in_data_dir(&dir.path().join("coordinator")))
            .await
            .expect("keys")
            .create("test", KeyLimits::default())
            .await
            .expect("key")
            .1;
        let stop = CancellationToken::new();
        let serving = tokio::spawn({
            let stop = stop.clone();
            async move { coordinator.serve(stop).await.expect("coordinator serves") }
        });
        let runner = tokio::spawn({
            let config = RunnerConfig {
                coordinator_urls: vec![grpc_url.clone()],
                worker_id: runner_id.to_owned(),
                signer: signer(DevKey::Alice),
                capacity: 1,
                data_dir: dir.path().join("agent-runner"),
                llm: None,
                run_subnets: whetstone_sandbox::RunSubnets::default(),
            };
            let stop = stop.clone();
            async move { whetstone_agent_runner::serve(config, stop).await.expect("runner serves") }
        });
        let client = SolveClient::new(&solve_url, &key).expect("client");
        Self { grpc_url, client, stop, tasks: vec![serving, runner], _dir: dir }
    }

    async fn submit_agent(&self, dir: &Path) -> String {
        let coordinator = whetstone::client::CoordinatorClient::connect(&self.grpc_url).await.expect("gRPC");
        coordinator.submit_agent(dir, &signer(DevKey::Bob)).await.expect("agent accepted").agent_digest
    }

    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            tokio::time::timeout(Duration::from_secs(60), task).await.expect("stops within a minute").expect("no panic");
        }
    }
}

/// A starter task's repository as a developer's git work tree.
fn starter_repo(task: &Task) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("repo dir");
    task.subtree("repo").write_to(dir.path()).expect("repo written");
    let repo = git2::Repository::init(dir.path()).expect("git init");
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("add");
    index.write().expect("index written");
    dir
}

fn starter_task(id: &str) -> Task {
    let set = TaskSet::load(&workspace("tasks/sets/starter")).expect("starter set");
    set.tasks.into_iter().find(|t| t.spec.id == id).expect("task in the starter set")
}

async fn follow(client: &SolveClient, id: &str, mut on_event: impl FnMut(&SolveEventKind)) -> Finished {
    let mut events = client.events(id, None).await.expect("events");
    while let Some(event) = events.next().await {
        let event = event.expect("event");
        on_event(&event.kind);
        if let SolveEventKind::Finished(finished) = event.kind {
            return finished;
        }
    }
    panic!("the stream ended without a finished event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docker_solve_with_the_repair_agent_makes_the_hidden_test_pass() {
    let task = starter_task("toolz-partitionby-yields-keys");
    let subnet = Subnet::start("solve-test-runner").await;
    let agent = subnet.submit_agent(&workspace("examples/agents/repair")).await;
    let repo = starter_repo(&task);

    let request = SolveRequest {
        statement: task.instruction.clone(),
        snapshot: pack_worktree(repo.path()).expect("packs"),
        agent: agent.clone(),
        budget_micro_usd: None,
        test_command: Some(task.spec.tests.command.clone()),
    };
    let accepted = subnet.client.submit(&request).await.expect("accepted");
    assert_eq!(accepted.agent.digest, agent);
    let mut log_lines = 0;
    let mut tests = None;
    let finished = tokio::time::timeout(
        Duration::from_secs(900),
        follow(&subnet.client, &accepted.id, |kind| match kind {
            SolveEventKind::Log { .. } => log_lines += 1,
            SolveEventKind::Tests { command, exit_code, output_tail } => tests = Some((command.clone(), *exit_code, output_tail.clone())),
            _ => {}
        }),
    )
    .await
    .expect("the job finishes within 15 minutes");
    assert_eq!(finished.status, "diff", "{finished:?}");
    assert!(log_lines > 0, "the agent's log came back as events");
    // The developer's test command ran on the agent's work, in a fresh container, and passed.
    let (command, exit_code, output_tail) = tests.expect("a tests event");
    assert_eq!((command.as_str(), exit_code), (task.spec.tests.command.as_str(), 0), "{output_tail}");
    assert!(output_tail.contains("passed"), "{output_tail}");
    assert_eq!(subnet.client.status(&accepted.id).await.expect("status").diff.as_deref(), Some(finished.diff.as_str()));

    // Graded as a validator grades: the hidden test, in a fresh container from the task image.
    let sandbox = Sandbox::connect("solve-test-grader").await.expect("Docker");
    let image = sandbox.ensure_environment_image(&task.environment(), &LogProgress).await.expect("task image");
    let limits =
        whetstone_proto::job::SandboxLimits { timeout: Duration::from_secs(task.spec.tests.timeout_secs + 60), ..Default::default() };
    let graded = whetstone_validator::grade_patch(&sandbox, &image, &task, finished.diff.as_bytes(), limits, "solve-test-grade").await;
    assert_eq!(graded.verdict.status, VerdictStatus::Resolved, "{:?}\n{}", graded.verdict, finished.diff);
    subnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docker_a_running_solve_streams_its_log_and_cancelling_it_leaves_no_container() {
    const RUNNER: &str = "solve-cancel-runner";
    let subnet = Subnet::start(RUNNER).await;
    let sleeper = tempfile::tempdir().expect("agent dir");
    std::fs::write(
        sleeper.path().join("agent.toml"),
        "name = \"sleeper\"\nversion = \"0.1.0\"\nentrypoint = [\"sh\", \"-c\", \"echo waiting for the cancel; sleep 600\"]\n",
    )
    .expect("manifest");
    let agent = subnet.submit_agent(sleeper.path()).await;
    let task = starter_task("toolz-partitionby-yields-keys");
    let repo = starter_repo(&task);
    let request = SolveRequest {
        statement: "take your time".into(),
        snapshot: pack_worktree(repo.path()).expect("packs"),
        agent,
        budget_micro_usd: None,
        test_command: None,
    };
    let accepted = subnet.client.submit(&request).await.expect("accepted");

    // The agent's first line arrives while it still runs: the log is live, not sent at the end.
    let mut events = subnet.client.events(&accepted.id, None).await.expect("events");
    let line = tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(event) = events.next().await {
            if let SolveEventKind::Log { line } = event.expect("event").kind {
                return line;
            }
        }
        panic!("the stream ended without a log line");
    })
    .await
    .expect("a log line while the agent runs");
    assert_eq!(line, "waiting for the cancel");
    let docker = Sandbox::connect(RUNNER).await.expect("Docker");
    assert!(!docker.list_ours(OrphanScope::ThisOwner).await.expect("list").is_empty(), "the agent is still running");
    let answer = subnet.client.cancel(&accepted.id).await.expect("cancel");
    assert_eq!(answer.state, "cancelling");
    let finished = tokio::time::timeout(Duration::from_secs(60), follow(&subnet.client, &accepted.id, |_| {})).await.expect("finishes");
    assert_eq!(finished.status, "cancelled", "{finished:?}");
    let gone = tokio::time::Instant::now();
    loop {
        let left = docker.list_ours(OrphanScope::ThisOwner).await.expect("list");
        if left.is_empty() {
            break;
        }
        assert!(gone.elapsed() < Duration::from_secs(30), "containers left after the cancel: {left:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    subnet.stop().await;
}
