//! Agent-runner integration tests. Those named `docker_*` use the real Docker engine: the
//! example agents on shipped tasks, exactly as production runs them, with the resulting
//! patches graded by the real validator. The `proxy` module needs no Docker: the inference
//! proxy against a scripted upstream over loopback. The `hostile` module runs agents built to
//! break out, and checks that the sandbox holds and the runner reports them right.

mod hostile;
mod llm;
mod proxy;

use std::path::PathBuf;
use std::time::Duration;

use whetstone_agent_runner::run_agent;
use whetstone_proto::job::{RunOutcome, SandboxLimits};
use whetstone_sandbox::{NoProgress, OrphanScope, Sandbox};
use whetstone_tasks::{AgentPackage, Task, TaskSet, VerdictStatus};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn task(id: &str) -> Task {
    let set = TaskSet::load(&root().join("tasks/sets/starter")).expect("starter set loads");
    set.tasks.into_iter().find(|t| t.spec.id == id).unwrap_or_else(|| panic!("no task {id}"))
}

fn example_agent(name: &str) -> AgentPackage {
    AgentPackage::from_dir(&root().join("examples/agents").join(name)).expect("example agent loads")
}

async fn sandbox(test: &str) -> Sandbox {
    Sandbox::connect(&format!("test-runner-{test}-{}", uuid::Uuid::new_v4().simple())).await.expect("Docker engine reachable")
}

fn limits(timeout_secs: u64) -> SandboxLimits {
    SandboxLimits { timeout: Duration::from_secs(timeout_secs), ..SandboxLimits::default() }
}

/// No container and no network of this sandbox's owner is left.
async fn assert_nothing_left(sandbox: &Sandbox) {
    let containers = sandbox.list_ours(OrphanScope::ThisOwner).await.expect("list containers");
    let networks = sandbox.list_our_networks(OrphanScope::ThisOwner).await.expect("list networks");
    assert!(containers.is_empty() && networks.is_empty(), "left behind: containers {containers:?}, networks {networks:?}");
}

/// An agent package written inline: `agent.toml` with `entrypoint`, plus `files`.
fn inline_agent(name: &str, entrypoint: &[&str], files: &[(&str, &str)]) -> AgentPackage {
    let entrypoint: Vec<String> = entrypoint.iter().map(|arg| format!("{arg:?}")).collect();
    let manifest = format!("name = \"{name}\"\nversion = \"1\"\nentrypoint = [{}]\n", entrypoint.join(", "));
    let mut tree = vec![whetstone_tasks::digest::TreeFile { path: "agent.toml".into(), executable: false, bytes: manifest.into_bytes() }];
    tree.extend(files.iter().map(|(path, text)| whetstone_tasks::digest::TreeFile {
        path: (*path).into(),
        executable: false,
        bytes: text.as_bytes().to_vec(),
    }));
    let bundle = whetstone_tasks::bundle::Bundle { digest: whetstone_tasks::digest::digest_files(&tree), files: tree };
    AgentPackage::from_bundle(bundle).expect("valid agent")
}

/// The repair agent finds a single-token bug by real work; its patch resolves the task.
#[tokio::test]
async fn docker_repair_agent_produces_a_patch_that_resolves_the_task() {
    let sandbox = sandbox("repair").await;
    let task = task("toolz-merge-with-single-mapping");
    let image = sandbox.ensure_task_image(task.dockerfile(), &NoProgress).await.expect("image");
    let report = run_agent(&sandbox, &image, &task.visible(), &example_agent("repair"), limits(240), "repair").await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{}\n{}", report.error, report.log);
    let patch = String::from_utf8_lossy(&report.patch);
    assert!(patch.starts_with("diff --git a/toolz/dicttoolz.py"), "{patch}\n{}", report.log);

    let graded = whetstone_validator::grade_patch(&sandbox, &image, &task, &report.patch, limits(180), "grade").await;
    assert_eq!(graded.verdict.status, VerdictStatus::Resolved, "{}\n{}", graded.verdict.notes, graded.log);
    assert_nothing_left(&sandbox).await;
}

/// An agent that changes nothing yields an empty patch, and the run still completes.
#[tokio::test]
async fn docker_noop_agent_yields_an_empty_patch() {
    let sandbox = sandbox("noop").await;
    let task = task("toolz-get-single-index-tuple");
    let image = sandbox.ensure_task_image(task.dockerfile(), &NoProgress).await.expect("image");
    let report = run_agent(&sandbox, &image, &task.visible(), &example_agent("noop"), limits(60), "noop").await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{}", report.error);
    assert_eq!(report.exit_code, 0);
    assert!(report.patch.is_empty(), "{}", String::from_utf8_lossy(&report.patch));
    assert_nothing_left(&sandbox).await;
}

/// The agent sees the contract: a one-commit repo it owns, the instruction, no network; new
/// files and deletions land in the patch, ignored files do not; its deadline kills it.
#[tokio::test]
async fn docker_agent_contract_and_deadline() {
    let sandbox = sandbox("contract").await;
    let task = task("toolz-get-single-index-tuple");
    let image = sandbox.ensure_task_image(task.dockerfile(), &NoProgress).await.expect("image");
    let script = r#"
set -e
cd "$WHETSTONE_REPO"
test "$(git rev-list --count HEAD)" = 1
test -s "$WHETSTONE_INSTRUCTION_FILE"
test "$(id -u)" = 1000
ls /sys/class/net > /tmp/ifaces
test "$(cat /tmp/ifaces)" = lo
echo 'print("new")' > brand_new.py
rm LICENSE.txt
mkdir -p __pycache__ && echo junk > __pycache__/x.pyc
echo contract-ok
sleep 600
"#;
    let files = vec![
        whetstone_tasks::digest::TreeFile {
            path: "agent.toml".into(),
            executable: false,
            bytes: b"name = \"contract\"\nversion = \"1\"\nentrypoint = [\"sh\", \"run.sh\"]\n".to_vec(),
        },
        whetstone_tasks::digest::TreeFile { path: "run.sh".into(), executable: false, bytes: script.as_bytes().to_vec() },
    ];
    let bundle = whetstone_tasks::bundle::Bundle { digest: whetstone_tasks::digest::digest_files(&files), files };
    let agent = AgentPackage::from_bundle(bundle).expect("valid agent");

    let started = std::time::Instant::now();
    let report = run_agent(&sandbox, &image, &task.visible(), &agent, limits(8), "contract").await;
    assert_eq!(report.outcome, RunOutcome::TimedOut, "{}\n{}", report.error, report.log);
    assert!(started.elapsed() < Duration::from_secs(60), "deadline not enforced: {:?}", started.elapsed());
    assert!(report.log.contains("contract-ok"), "the agent's checks failed:\n{}", report.log);
    let patch = String::from_utf8_lossy(&report.patch);
    assert!(patch.contains("+++ b/brand_new.py"), "{patch}");
    assert!(patch.contains("deleted file mode") && patch.contains("LICENSE.txt"), "{patch}");
    assert!(!patch.contains("__pycache__"), "ignored files must not be in the patch: {patch}");
    assert_nothing_left(&sandbox).await;
}
