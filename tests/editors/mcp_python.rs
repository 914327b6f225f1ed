//! `whetstone mcp` under the `mcp` package from PyPI: the client negotiates, lists the tools,
//! calls `solve` and gets the diff (with progress), then `cancel` and `status` by job id.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::contract_server::{API_KEY, ContractServer};
use crate::real_coordinator::{HOLD, RealCoordinator};
use crate::repo;

/// What the test installs from PyPI into its virtualenv when it is missing.
const MCP_REQUIREMENT: &str = "mcp>=1.10";

/// A Python with the `mcp` package: `WHETSTONE_MCP_PYTHON`, or a virtualenv under target/
/// made on first use (`python3 -m venv` + `pip install mcp`; .ci/run makes it up front).
fn python_with_mcp() -> PathBuf {
    if let Ok(python) = std::env::var("WHETSTONE_MCP_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mcp-venv");
    let python = venv.join("bin/python");
    let has_mcp = |python: &PathBuf| {
        std::process::Command::new(python).args(["-c", "import mcp.client.stdio"]).output().is_ok_and(|output| output.status.success())
    };
    if has_mcp(&python) {
        return python;
    }
    let created = std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
    assert!(
        created.is_ok_and(|status| status.success()),
        "python3 -m venv {} failed: this test needs Python 3.10+ with venv",
        venv.display()
    );
    let installed = std::process::Command::new(venv.join("bin/pip")).args(["install", "-q", MCP_REQUIREMENT]).status();
    assert!(
        installed.is_ok_and(|status| status.success()),
        "pip install {MCP_REQUIREMENT} into {} failed (network? PIP_CERT?)",
        venv.display()
    );
    assert!(has_mcp(&python), "{} still cannot import mcp", python.display());
    python
}

/// Runs tests/editors/mcp_solve.py against the solve API at `url`; returns its report.
async fn run_client(url: &str, key: &str, agent: Option<&str>, hold: Option<&str>) -> Value {
    let python = tokio::task::spawn_blocking(python_with_mcp).await.expect("python");
    let dir = tempfile::tempdir().expect("tempdir");
    repo::create(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/editors/mcp_solve.py");
    let mut command = tokio::process::Command::new(python);
    if let Some(agent) = agent {
        command.env("AGENT", agent);
    }
    if let Some(statement) = hold {
        command.env("HOLD", statement);
    }
    let child = command
        .arg(script)
        .env("REPO", dir.path())
        .env("WHETSTONE_BIN", env!("CARGO_BIN_EXE_whetstone"))
        .env("SOLVE_URL", url)
        .env("API_KEY", key)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), child).await.expect("the client finished within a minute").expect("python");
    assert!(output.status.success(), "the MCP client failed:\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the client's report")
}

/// Against the contract server: every tool, cancel included, and what reached the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_python_client_solves_and_gets_the_diff() {
    let server = ContractServer::start(repo::FIX).await;
    let report = run_client(&server.url, API_KEY, None, None).await;

    assert_eq!(report["protocol_version"], "2025-06-18", "{report:#}");
    assert_eq!(report["server"], "whetstone");
    assert_eq!(report["tools"], json!(["cancel", "solve", "status"]));
    assert_eq!(report["solve_error"], false, "{report:#}");
    assert_eq!(report["solve_texts"][1], repo::FIX, "the diff is the tool's second text: {report:#}");
    let structured = &report["solve_structured"];
    assert_eq!((&structured["id"], &structured["status"], &structured["diff"]), (&json!("solve-1"), &json!("diff"), &json!(repo::FIX)));
    assert_eq!(structured["agent"]["name"], "repair");
    let progress: Vec<&str> = report["progress"].as_array().expect("progress").iter().filter_map(Value::as_str).collect();
    assert!(progress.contains(&"add subtracts: changing - to +"), "the agent's log arrives as progress: {report:#}");

    assert_eq!(report["submitted"], "solve-2");
    assert_eq!(report["cancel_texts"], json!(["job solve-2: cancelling"]));
    assert_eq!(report["status_structured"]["status"], "cancelled");
    assert_eq!(report["missing_error"], true);
    assert!(
        report["missing_texts"][0].as_str().is_some_and(|text| text.contains("404") && text.contains("no solve job solve-404")),
        "{report:#}"
    );

    let jobs = server.jobs();
    assert_eq!(jobs[0].statement, "add() subtracts; it must add");
    assert_eq!(jobs[0].test_command.as_deref(), Some("pytest -q"));
    assert!(jobs[0].files.iter().any(|(name, text)| name == "notes.txt" && text == "add is broken\n"), "uncommitted files are sent");
    assert!(jobs[1].cancelled, "cancel reached the API");
}

/// Against a real coordinator: the diff of the agent the job named, with its log as progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_python_client_solves_through_a_real_coordinator() {
    let coordinator = RealCoordinator::start(repo::FIX).await;
    let hold = format!("take your time {HOLD}");
    let report = run_client(&coordinator.url, &coordinator.key, Some(&coordinator.agent), Some(&hold)).await;
    assert_eq!(report["solve_error"], false, "{report:#}");
    assert_eq!(report["solve_texts"][1], repo::FIX, "{report:#}");
    let structured = &report["solve_structured"];
    assert_eq!((&structured["status"], &structured["diff"]), (&json!("diff"), &json!(repo::FIX)), "{report:#}");
    assert_eq!((&structured["agent"]["digest"], &structured["agent"]["name"]), (&json!(coordinator.agent), &json!("repair")));
    let progress: Vec<&str> = report["progress"].as_array().expect("progress").iter().filter_map(Value::as_str).collect();
    assert!(progress.contains(&"add subtracts: changing - to +"), "the agent's log arrives as progress: {report:#}");
    assert_eq!(report["status_structured"]["id"], report["submitted"], "{report:#}");
    assert_eq!(report["missing_error"], true, "{report:#}");
    let assignments = coordinator.assignments();
    assert_eq!(assignments[0].statement, "add() subtracts; it must add");
    assert_eq!(assignments[0].test_command, "pytest -q");

    // The abandoned call: notifications/cancelled reached the server, which cancelled the job
    // down to the runner while the session was still open.
    assert_eq!(report["hold_timed_out"], false, "{report:#}");
    let held = &report["held_status"];
    assert_eq!((&held["state"], &held["status"]), (&json!("finished"), &json!("cancelled")), "{report:#}");
    assert_eq!(coordinator.cancelled(), vec![held["id"].as_str().unwrap_or_default().to_owned()]);
}
