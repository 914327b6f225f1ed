//! `whetstone lsp` in a real Neovim: the code action on a diagnostic, progress while the job
//! runs, and the agent's diff landing in the buffers (calc.py changed, test_calc.py created).

use std::time::Duration;

use serde_json::Value;

use crate::contract_server::{API_KEY, ContractServer};
use crate::real_coordinator::{HOLD, RealCoordinator};
use crate::repo;

fn neovim() -> String {
    let nvim = std::env::var("WHETSTONE_NVIM").unwrap_or_else(|_| "nvim".to_owned());
    let found = std::process::Command::new(&nvim).arg("--version").output().is_ok_and(|output| output.status.success());
    assert!(found, "this test drives Neovim: install it (apt-get install neovim; .ci/run does) or point WHETSTONE_NVIM at one");
    nvim
}

/// Runs tests/editors/neovim_fix.lua in a headless Neovim on a fresh repository, with `key`;
/// returns its report.
async fn run_neovim(url: &str, key: &str, agent: Option<&str>) -> Value {
    run_neovim_with(url, key, agent, &[]).await
}

/// [`run_neovim`] with more environment for the script (`DIAGNOSTIC`, `CANCEL`).
async fn run_neovim_with(url: &str, key: &str, agent: Option<&str>, env: &[(&str, &str)]) -> Value {
    let nvim = neovim();
    let dir = tempfile::tempdir().expect("tempdir");
    let repo_dir = dir.path().join("repo");
    std::fs::create_dir(&repo_dir).expect("mkdir repo");
    repo::create(&repo_dir);
    let out = dir.path().join("out.json");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/editors/neovim_fix.lua");
    let mut command = tokio::process::Command::new(nvim);
    if let Some(agent) = agent {
        command.env("AGENT", agent);
    }
    command.envs(env.iter().copied());
    let mut child = command
        .args(["--headless", "--clean", "-n", "-c", &format!("luafile {script}")])
        .env("REPO", &repo_dir)
        .env("OUT", &out)
        .env("WHETSTONE_BIN", env!("CARGO_BIN_EXE_whetstone"))
        .env("SOLVE_URL", url)
        .env("API_KEY", key)
        .env("HOME", dir.path())
        .env_remove("WHETSTONE_SOLVE_URL")
        .env_remove("WHETSTONE_API_KEY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start nvim");
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait()).await.expect("nvim finished within a minute").expect("nvim");
    assert!(status.success(), "nvim exited with {status}");
    serde_json::from_str(&std::fs::read_to_string(&out).expect("the script's report")).expect("report JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neovim_applies_the_fix_asked_for_on_a_diagnostic() {
    let server = ContractServer::start(repo::FIX).await;
    let report = run_neovim(&server.url, API_KEY, None).await;
    assert_fixed(&report);

    // What reached the solve API: the statement names the place and the problem, the snapshot
    // holds the tracked and untracked files but not the ignored ones.
    let jobs = server.jobs();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_statement(&job.statement);
    let mut names: Vec<&str> = job.files.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, [".gitignore", "calc.py", "notes.txt"]);
    assert_eq!(job.agent, "best");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neovim_applies_the_fix_from_a_real_coordinator() {
    let coordinator = RealCoordinator::start(repo::FIX).await;
    let report = run_neovim(&coordinator.url, &coordinator.key, Some(&coordinator.agent)).await;
    assert_fixed(&report);
    let assignments = coordinator.assignments();
    assert_eq!(assignments.len(), 1, "one job reached the runner");
    assert_statement(&assignments[0].statement);
    assert_eq!(assignments[0].agent.to_string(), coordinator.agent);
    let mut archive = tar::Archive::new(assignments[0].snapshot.as_slice());
    let mut names: Vec<String> =
        archive.entries().expect("tar").map(|entry| entry.expect("entry").path().expect("path").display().to_string()).collect();
    names.sort_unstable();
    assert_eq!(names, [".gitignore", "calc.py", "notes.txt"]);
}

/// The statement names the place, the problem and the code.
fn assert_statement(statement: &str) {
    assert!(
        statement
            .starts_with("Fix this problem in calc.py at line 2, column 5: test_add: assert add(2, 3) == 5, got -1 (reported by pytest)"),
        "{statement}"
    );
    assert!(statement.contains("    return a - b\n"), "{statement}");
}

/// The code action was offered and its edit landed, with progress along the way.
fn assert_fixed(report: &Value) {
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["actions"], serde_json::json!(["Ask Whetstone to fix this"]), "{report:#}");
    assert_eq!(
        report["calc"],
        serde_json::json!(["def add(a, b):", "    return a + b", "", "", "def mul(a, b):", "    return a * b"]),
        "{report:#}"
    );
    // The new file's text ends in a newline, which Neovim shows as one more (empty) line in
    // the buffer it created for it.
    assert_eq!(
        report["test_calc"],
        serde_json::json!(["from calc import add", "", "", "def test_add():", "    assert add(2, 3) == 5", ""]),
        "{report:#}"
    );
    let progress: Vec<&str> = report["progress"].as_array().expect("progress").iter().filter_map(Value::as_str).collect();
    assert_eq!(progress.first().copied(), Some("begin: packing the repository"), "{report:#}");
    assert!(progress.contains(&"report: add subtracts: changing - to +"), "the agent's log shows as progress: {report:#}");
    assert!(progress.last().is_some_and(|last| last.starts_with("end: repair ") && last.contains("proposed a change")), "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neovim_shows_why_when_the_api_refuses_the_key() {
    let coordinator = RealCoordinator::start(repo::FIX).await;
    let report = run_neovim(&coordinator.url, "ws_wrong", Some(&coordinator.agent)).await;
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    let messages = report["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{report:#}");
    let message = messages[0].as_str().unwrap_or_default();
    assert!(message.contains("401") && message.contains("keys create"), "the refusal and what to do: {message}");
    assert_eq!(report["calc"][1], "    return a - b", "nothing changed: {report:#}");
    assert!(
        report["progress"]
            .as_array()
            .is_some_and(|progress| progress.last().and_then(Value::as_str).is_some_and(|last| last.starts_with("end: "))),
        "{report:#}"
    );
    assert!(coordinator.assignments().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_progress_cancels_the_job_on_the_runner() {
    let coordinator = RealCoordinator::start(repo::FIX).await;
    let diagnostic = format!("slow to fix {HOLD}");
    let report =
        run_neovim_with(&coordinator.url, &coordinator.key, Some(&coordinator.agent), &[("DIAGNOSTIC", &diagnostic), ("CANCEL", "1")])
            .await;
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["calc"][1], "    return a - b", "nothing changed: {report:#}");
    let assignments = coordinator.assignments();
    assert_eq!(assignments.len(), 1);
    let id = &assignments[0].solve_id;
    assert_eq!(report["messages"], serde_json::json!([format!("Whetstone: job {id} cancelled")]), "{report:#}");
    assert_eq!(coordinator.cancelled(), vec![assignments[0].solve_id.clone()], "the cancel reached the runner");
}
