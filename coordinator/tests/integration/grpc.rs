//! A whole round over gRPC, as an operator runs it.

use std::collections::BTreeMap;
use std::sync::Arc;

use whetstone_proto::job::Capability;

use crate::support::{CANNED_SANDBOX_TIME, CannedRunner, CannedValidator, HOTKEY, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_runs_grades_and_scores_over_grpc() {
    let harness = Harness::start().await;
    let tasks = harness.publish_tasks(2).await;
    let agent = harness.submit_agent("repair").await;

    let runner = Arc::new(CannedRunner::completing("runner-1"));
    let validator = Arc::new(CannedValidator::resolving([tasks[0].clone()]));
    let _runner = harness.spawn_worker("runner-1", Capability::RunAgent, 2, runner.clone());
    let _validator = harness.spawn_worker("validator-1", Capability::Grade, 2, validator.clone());

    let progress = harness
        .wait_for_progress("runs 2/2 and grades 2/2", |p| (p.runs_done, p.runs_total, p.grades_done, p.grades_total) == (2, 2, 2, 2))
        .await;
    assert_eq!(progress.workers_connected, 2);

    // Every run was the agent on one of the tasks, and each was graded on exactly the patch the
    // runner reported for it.
    let runs = runner.seen.all();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.agent == agent && r.attempt == 1), "{runs:?}");
    let mut run_tasks: Vec<_> = runs.iter().map(|r| r.task.clone()).collect();
    run_tasks.sort();
    let mut expected_tasks = tasks.clone();
    expected_tasks.sort();
    assert_eq!(run_tasks, expected_tasks);
    let reported: BTreeMap<_, _> = runs.iter().map(|r| (r.run_id.clone(), runner.patch(&r.run_id))).collect();
    let graded: BTreeMap<_, _> = validator.seen.all().into_iter().map(|g| (g.run_id, g.patch)).collect();
    assert_eq!(graded, reported);

    let board = harness.leaderboard().await;
    assert_eq!(board.len(), 1, "{board:?}");
    let entry = &board[0];
    assert_eq!(entry.agent_digest, agent.to_string());
    assert_eq!((entry.name.as_str(), entry.hotkey.as_str()), ("repair", HOTKEY));
    assert_eq!((entry.resolved, entry.graded, entry.tasks), (1, 2, 2));
    assert_eq!(entry.score, 0.5);
    // Cost: both runs' LLM spend and sandbox time as the runner reported them, over one resolved task.
    let sandbox_ms = 2 * CANNED_SANDBOX_TIME.as_millis() as u64;
    assert_eq!((entry.llm_spent_micro_usd, entry.sandbox_ms), (2 * 412, sandbox_ms));
    assert_eq!((entry.llm_micro_usd_per_resolved, entry.sandbox_ms_per_resolved), (Some(2 * 412), Some(sandbox_ms)));

    let weights = harness.weights().await;
    assert_eq!(weights.hotkeys, vec![HOTKEY.to_owned()]);
    assert_eq!(weights.weights, vec![65535]);

    // The miner can see which task its agent solved, and an unknown agent has no runs.
    let records =
        harness.scores().runs(whetstone_proto::pb::RunsRequest { agent_digest: agent.to_string() }).await.expect("runs").into_inner().runs;
    assert_eq!(records.len(), 2, "{records:?}");
    for record in &records {
        assert_eq!((record.run_state.as_str(), record.run_outcome.as_str(), record.attempts), ("done", "completed", 1));
        assert_eq!((record.llm_spent_micro_usd, record.sandbox_ms), (412, CANNED_SANDBOX_TIME.as_millis() as u64));
        let status = record.verdict.as_ref().map(|v| v.status).expect("graded");
        let resolved = whetstone_proto::pb::VerdictStatus::Resolved as i32;
        assert_eq!(status == resolved, record.task_digest == tasks[0].to_string(), "{record:?}");
    }
    let other = whetstone_tasks::Digest::of_bytes(b"no such agent").to_string();
    let none = harness.scores().runs(whetstone_proto::pb::RunsRequest { agent_digest: other }).await.expect("runs");
    assert!(none.into_inner().runs.is_empty());
    let bad = harness.scores().runs(whetstone_proto::pb::RunsRequest { agent_digest: "xyz".into() }).await;
    assert_eq!(bad.expect_err("malformed digest").code(), tonic::Code::InvalidArgument);
}
