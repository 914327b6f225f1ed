//! `whetstone agent test`: a miner's agent runs on starter tasks in real Docker sandboxes and
//! is graded as validators grade, several tasks at once, and the results come back in the
//! order the tasks were asked for, whatever order they finish in.

use std::path::Path;
use std::time::Duration;

use whetstone::agent_tools::{AgentTestOptions, Upstream, test_agent};
use whetstone::ui::Spinner;
use whetstone_tasks::VerdictStatus;

fn workspace(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docker_agent_test_runs_tasks_at_once_and_reports_them_in_task_order() {
    let defaults = whetstone_coordinator::CoordinatorConfig::default();
    // One task the repair agent fixes (a single-token bug) and one it cannot (two tokens).
    let tasks = ["toolz-thread-last-argument-order", "toolz-partitionby-yields-keys"];
    let options = AgentTestOptions {
        agent_dir: workspace("examples/agents/repair"),
        task_sets: vec![workspace("tasks/sets/starter")],
        tasks: tasks.iter().map(|id| (*id).to_owned()).collect(),
        upstream: Upstream::None,
        proxy_config: None,
        budget_micro_usd: defaults.llm_budget_micro_usd,
        limits: defaults.agent_limits.into(),
        grade_limits: defaults.grade_limits.into(),
        grade_overhead: Duration::from_secs(defaults.grade_overhead_secs),
        jobs: 2,
    };
    let outcomes = test_agent(&options, &Spinner::new("agent test")).await.expect("agent test runs");

    let results: Vec<(&str, Option<VerdictStatus>)> =
        outcomes.iter().map(|o| (o.task_id.as_str(), o.verdict.as_ref().map(|v| v.status))).collect();
    assert_eq!(
        results,
        [
            ("toolz-thread-last-argument-order", Some(VerdictStatus::Unresolved)),
            ("toolz-partitionby-yields-keys", Some(VerdictStatus::Resolved)),
        ],
        "in the order the tasks were asked for, graded as validators grade"
    );
    assert!(outcomes.iter().all(|o| o.run.llm.spent_micro_usd == 0 && o.run.llm.calls.is_empty()), "no upstream, no LLM calls");
}
