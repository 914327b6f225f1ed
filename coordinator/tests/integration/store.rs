//! Durable state: the real migrations on a real SQLite file and a real PostgreSQL database,
//! and what survives a restart. Every test here runs on both (`backends`).

use std::sync::Arc;
use std::time::Duration;

use whetstone_coordinator::store::{Counts, NewAgent, NewTask, Recorded, RunCost, SqlStore, Store};
use whetstone_proto::job::{Capability, RunOutcome, RunReport};
use whetstone_proto::pb;
use whetstone_tasks::{Digest, Hotkey, RunId};

use crate::backends::on_each_backend;
use crate::support::{CannedRunner, CannedValidator, HOTKEY, Harness, RawWorker, within};

on_each_backend! {
    async fn migrations_apply_to_a_fresh_database_and_state_survives_reopening(db) {
        let dir = tempfile::tempdir().expect("temporary dir");
        let url = db.url(&dir.path().join("not-yet"));
        let store = SqlStore::open(&url).await.expect("a fresh database opens and migrates");
        assert_eq!(store.counts().await.expect("counts"), Counts::default());
        assert_eq!(store.task_count().await.expect("task count"), 0);
        assert!(store.agents().await.expect("agents").is_empty());

        let agent = NewAgent {
            digest: Digest::of_bytes(b"agent"),
            name: "noop".into(),
            version: "0.1.0".into(),
            hotkey: Hotkey::parse(HOTKEY).expect("valid hotkey"),
            claimed_at_ms: 1,
            claim_signature: vec![7; 64],
        };
        assert!(store.insert_agent(&agent).await.expect("insert agent"));
        assert!(!store.insert_agent(&agent).await.expect("insert agent again"), "an agent is stored once");
        let task = NewTask { digest: Digest::of_bytes(b"task"), task_id: "some-task".into(), timeout_secs: 60 };
        assert!(store.insert_task(&task).await.expect("insert task"));
        assert_eq!(store.schedule_missing_runs(None).await.expect("schedule"), 1);
        assert_eq!(store.schedule_missing_runs(None).await.expect("schedule again"), 0, "one run per agent and task");
        assert_eq!(store.queue_depth().await.expect("queue depth"), (1, 0));
        let run = store.queued_runs(10).await.expect("queued runs").remove(0);
        assert_eq!(store.lease_run(&run.run_id, "runner-1").await.expect("lease"), Some(1));
        assert_eq!(store.queue_depth().await.expect("queue depth"), (0, 0), "a leased run waits for nobody");
        assert_eq!(store.lease_run(&run.run_id, "runner-2").await.expect("lease again"), None, "a leased run is not leased twice");
        store.close().await;

        // Reopening applies no migration twice and keeps everything, including the lease to requeue.
        let store = SqlStore::open(&url).await.expect("the database reopens");
        assert_eq!(store.agents().await.expect("agents").len(), 1);
        assert_eq!(store.counts().await.expect("counts").runs_total, 1);
        assert_eq!(store.requeue_all_leased().await.expect("requeue"), 1);
        assert_eq!(store.lease_run(&run.run_id, "runner-2").await.expect("lease"), Some(2), "attempts are durable");

        let report = RunReport {
            run_id: run.run_id.clone(),
            outcome: RunOutcome::Completed,
            patch: b"diff".to_vec(),
            exit_code: 0,
            log: String::new(),
            duration: Duration::from_secs(1),
            error: String::new(),
            llm: whetstone_proto::job::LlmUsage { spent_micro_usd: 1_250, ..Default::default() },
            sandbox: Duration::from_millis(700),
        };
        let runner = Hotkey::parse(HOTKEY).expect("valid hotkey");
        assert_eq!(store.complete_run(&report, "runner-2", &runner, 2).await.expect("complete"), Recorded::Accepted);
        assert_eq!(store.complete_run(&report, "runner-1", &runner, 2).await.expect("complete again"), Recorded::Duplicate);
        let unknown = RunReport { run_id: RunId::new("run-unknown"), ..report };
        assert_eq!(store.complete_run(&unknown, "runner-1", &runner, 2).await.expect("complete unknown"), Recorded::Unknown);
        let counts = store.counts().await.expect("counts");
        assert_eq!(counts, Counts { runs_total: 1, runs_done: 1, grades_total: 2, grades_done: 0 }, "one grade slot per replica");
        assert_eq!(store.queue_depth().await.expect("queue depth"), (0, 2), "both grade slots wait");
        let spent = RunCost { llm_micro_usd: 1_250, sandbox_ms: 700 };
        assert_eq!(store.agent_costs().await.expect("costs"), vec![(run.agent.clone(), spent)], "the first report's cost, once");
        assert_eq!(store.run_records(None).await.expect("records")[0].cost, spent);

        // A validator holds at most one slot of a run; the other slot goes to another validator.
        let slots = store.queued_grades(10).await.expect("queued grades");
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].runner.as_ref(), Some(&runner));
        let (alice, ferdie) = (Hotkey::new(whetstone_chain::wallet::dev::ALICE), Hotkey::new(whetstone_chain::wallet::dev::FERDIE));
        let (attempt, patch) = store.lease_grade(&slots[0].grade_id, "validator-a", &alice).await.expect("lease").expect("leased");
        assert_eq!((attempt, patch.as_slice()), (1, b"diff".as_slice()), "the lease carries the run's patch");
        assert_eq!(store.lease_grade(&slots[1].grade_id, "validator-a2", &alice).await.expect("lease"), None, "not twice to one hotkey");
        assert_eq!(store.queued_grades(10).await.expect("queued")[0].taken_by, vec![alice.clone()]);
        assert!(store.lease_grade(&slots[1].grade_id, "validator-f", &ferdie).await.expect("lease").is_some());
        // A grade lease is what opens a task's grading part to its holder, for that task only.
        assert!(store.holds_grade_lease(&alice, &task.digest).await.expect("lease lookup"));
        assert!(!store.holds_grade_lease(&alice, &Digest::of_bytes(b"another task")).await.expect("lease lookup"));
        assert!(!store.holds_grade_lease(&runner, &task.digest).await.expect("lease lookup"), "running is not grading");
        // A requeued slot is free for anyone again.
        assert!(store.requeue_grade(&slots[0].grade_id, 3, "lease expired").await.expect("requeue"));
        assert!(!store.holds_grade_lease(&alice, &task.digest).await.expect("lease lookup"), "the lease is gone");
        assert!(store.grades_for_run(&run.run_id).await.expect("grades").iter().all(|g| g.validator.as_ref() != Some(&alice)));
        store.close().await;
    }
}

on_each_backend! {
    async fn results_survive_a_coordinator_restart(db) {
        let mut harness = Harness::start_on(db, |_| {}).await;
        let tasks = harness.publish_tasks(2).await;
        harness.submit_agent("noop").await;
        let runner = harness.spawn_worker("runner-1", Capability::RunAgent, 2, Arc::new(CannedRunner::completing("runner-1")));
        let validator = harness.spawn_worker("validator-1", Capability::Grade, 2, Arc::new(CannedValidator::resolving([tasks[1].clone()])));
        let before = harness.wait_for_progress("the round", |p| (p.runs_done, p.grades_done) == (2, 2)).await;
        let board = harness.leaderboard().await;
        let weights = harness.weights().await;
        assert_eq!((board[0].resolved, board[0].graded), (1, 2), "{board:?}");
        runner.stop().await;
        validator.stop().await;

        harness.restart().await;

        assert_eq!(harness.leaderboard().await, board);
        assert_eq!(harness.weights().await, weights);
        let after = harness.progress().await;
        let counts = |p: &pb::ProgressResponse| (p.runs_total, p.runs_done, p.grades_total, p.grades_done);
        assert_eq!(counts(&after), counts(&before));
    }
}

on_each_backend! {
    async fn a_run_leased_at_shutdown_is_dispatched_again_after_restart(db) {
        // Leases far longer than the test: only the restart can free the run.
        let mut harness = Harness::start_on(db, |config| config.lease_secs = 600).await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        // The worker is still connected, mid-run, when the coordinator stops.
        let mut holder = RawWorker::connect(harness.url(), "runner-a", pb::Capability::RunAgent, 1).await;
        let leased = holder.next_run().await;
        assert_eq!(leased.attempt, 1);

        // Stopping does not wait on the worker to hang up: the coordinator ends the session itself.
        harness.restart().await;
        holder.ended().await;

        let runner = Arc::new(CannedRunner::completing("runner-b"));
        let _runner = harness.spawn_worker("runner-b", Capability::RunAgent, 1, runner.clone());
        let again = within(Duration::from_secs(5), "the requeued run", || async { runner.seen.all().into_iter().next() }).await;
        assert_eq!(again.run_id.as_str(), leased.run_id);
        assert_eq!(again.attempt, 2);
        let progress = harness.wait_for_progress("the requeued run to finish", |p| p.runs_done == 1).await;
        assert_eq!((progress.runs_total, progress.grades_total), (1, 1));
    }
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_a_clear_error_without_the_password() {
    // Port 1 on loopback: nothing listens there.
    let url: whetstone_coordinator::DatabaseUrl = "postgres://whetstone:hunter2@127.0.0.1:1/whetstone".parse().expect("valid URL");
    let error = SqlStore::open(&url).await.expect_err("nothing listens on port 1");
    let chain = whetstone_proto::error_chain(&error);
    assert!(chain.contains("failed to connect to the database at postgres://whetstone:***@127.0.0.1:1/whetstone"), "{chain}");
    assert!(chain.to_lowercase().contains("refused"), "the cause is named: {chain}");
    assert!(!chain.contains("hunter2"), "{chain}");
}
