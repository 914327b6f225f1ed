//! Leases and reports: work is never lost to a vanished worker, never taken from a live one,
//! and never counted twice; infrastructure failures are retried and never held against the
//! miner.

use std::sync::Arc;
use std::time::Duration;

use whetstone_coordinator::store::{SqlStore, Store};
use whetstone_proto::job::{Capability, RunOutcome};
use whetstone_proto::pb;
use whetstone_tasks::RunId;

use crate::backends::on_each_backend;
use crate::support::{CannedRunner, CannedValidator, Harness, RawWorker, patch_for, run_report, within};

/// The outcome stored for the round's only run, read after the coordinator has stopped.
async fn stored_run_outcome(harness: &mut Harness) -> Option<String> {
    harness.server.stop().await;
    let store = SqlStore::open(&harness.database()).await.expect("store opens");
    let runs = store.run_records(None).await.expect("run records");
    store.close().await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].outcome.clone()
}

on_each_backend! {
    async fn a_vanished_workers_run_is_redispatched_and_its_late_report_is_refused(db) {
        let harness = Harness::start_on(db, |_| {}).await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        // Worker A takes the run, then drops off the network without a word.
        let mut vanishing = RawWorker::connect(harness.url(), "runner-a", pb::Capability::RunAgent, 1).await;
        let first = vanishing.next_run().await;
        assert_eq!(first.attempt, 1);
        drop(vanishing);

        // A healthy runner gets the same run once A's one-second lease runs out.
        let runner = Arc::new(CannedRunner::completing("runner-b"));
        let _runner = harness.spawn_worker("runner-b", Capability::RunAgent, 1, runner.clone());
        let second = within(Duration::from_secs(5), "the run to be re-dispatched", || async { runner.seen.all().into_iter().next() }).await;
        assert_eq!(second.run_id.as_str(), first.run_id);
        assert_eq!(second.attempt, 2);
        let progress = harness.wait_for_progress("runner B's report to be recorded", |p| p.runs_done == 1).await;
        assert_eq!((progress.runs_total, progress.grades_total), (1, 1));

        // A comes back late with its own result: acknowledged, but it changes nothing.
        let mut late = RawWorker::connect(harness.url(), "runner-a", pb::Capability::RunAgent, 1).await;
        late.send(run_report(&first.run_id, pb::RunOutcome::Completed, &patch_for(&RunId::new(&first.run_id), "runner-a"))).await;
        let ack = late.next_ack().await;
        assert_eq!((ack.job_id.as_str(), ack.accepted), (first.run_id.as_str(), false));
        let progress = harness.progress().await;
        assert_eq!((progress.runs_done, progress.runs_total, progress.grades_total), (1, 1, 1));

        // The one grade is of B's work.
        let validator = Arc::new(CannedValidator::resolving([]));
        let _validator = harness.spawn_worker("validator-1", Capability::Grade, 1, validator.clone());
        harness.wait_for_progress("the run's grade", |p| p.grades_done == 1).await;
        let grades = validator.seen.all();
        assert_eq!(grades.len(), 1, "{grades:?}");
        assert_eq!(grades[0].patch, runner.patch(&second.run_id));
    }
}

on_each_backend! {
    async fn heartbeats_keep_a_lease_longer_than_its_duration(db) {
        let harness = Harness::start_on(db, |_| {}).await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        // Three seconds of work on a one-second lease: only the session's heartbeats keep it.
        let runner = Arc::new(CannedRunner::completing("slow-runner").taking(Duration::from_secs(3)));
        let _runner = harness.spawn_worker("slow-runner", Capability::RunAgent, 1, runner.clone());
        harness.wait_for_progress("the slow run to finish", |p| p.runs_done == 1).await;

        let runs = runner.seen.all();
        assert_eq!(runs.len(), 1, "the run was re-dispatched while its worker was alive: {runs:?}");
        assert_eq!(runs[0].attempt, 1);
    }
}

on_each_backend! {
    async fn a_duplicate_report_is_acknowledged_but_not_counted(db) {
        let harness = Harness::start_on(db, |config| config.lease_secs = 30).await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        let mut worker = RawWorker::connect(harness.url(), "runner-1", pb::Capability::RunAgent, 1).await;
        let run = worker.next_run().await;
        let report = run_report(&run.run_id, pb::RunOutcome::Completed, b"diff --git a/x b/x\n");
        worker.send(report.clone()).await;
        worker.send(report).await;

        let first = worker.next_ack().await;
        let second = worker.next_ack().await;
        assert_eq!((first.job_id.as_str(), first.accepted), (run.run_id.as_str(), true));
        assert_eq!((second.job_id.as_str(), second.accepted), (run.run_id.as_str(), false));
        let progress = harness.progress().await;
        assert_eq!((progress.runs_total, progress.runs_done, progress.grades_total), (1, 1, 1));
    }
}

on_each_backend! {
    async fn infra_errors_are_retried_until_the_run_completes(db) {
        let mut harness = Harness::start_on(db, |_| {}).await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        let runner =
            Arc::new(CannedRunner::with_rule(
                "flaky-runner",
                |run| {
                    if run.attempt < 3 { RunOutcome::InfraError } else { RunOutcome::Completed }
                },
            ));
        let _runner = harness.spawn_worker("flaky-runner", Capability::RunAgent, 1, runner.clone());
        let progress = harness.wait_for_progress("the run to complete", |p| p.runs_done == 1).await;
        assert_eq!(progress.grades_total, 1, "a completed run is queued for grading");

        let attempts: Vec<u32> = runner.seen.all().iter().map(|r| r.attempt).collect();
        assert_eq!(attempts, vec![1, 2, 3]);
        assert_eq!(stored_run_outcome(&mut harness).await.as_deref(), Some("completed"));
    }
}

on_each_backend! {
    async fn infra_errors_past_max_attempts_end_the_run_without_counting_against_the_miner(db) {
        let mut harness = Harness::start_on(db, |_| {}).await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        let runner = Arc::new(CannedRunner::with_rule("broken-runner", |_| RunOutcome::InfraError));
        let _runner = harness.spawn_worker("broken-runner", Capability::RunAgent, 1, runner.clone());
        let progress = harness.wait_for_progress("the run to be given up", |p| p.runs_done == 1).await;
        assert_eq!(progress.grades_total, 0, "nothing to grade");

        let attempts: Vec<u32> = runner.seen.all().iter().map(|r| r.attempt).collect();
        assert_eq!(attempts, vec![1, 2, 3], "max_attempts is 3");
        let board = harness.leaderboard().await;
        assert_eq!(board.len(), 1, "{board:?}");
        assert_eq!((board[0].resolved, board[0].graded, board[0].score), (0, 0, 0.0), "{board:?}");
        assert!(harness.weights().await.hotkeys.is_empty());
        assert_eq!(stored_run_outcome(&mut harness).await.as_deref(), Some("infra_error"));
    }
}

on_each_backend! {
    async fn a_late_infra_error_does_not_take_the_run_from_its_new_worker(db) {
        let harness = Harness::start_on(db, |_| {}).await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        let mut vanishing = RawWorker::connect(harness.url(), "runner-a", pb::Capability::RunAgent, 1).await;
        let first = vanishing.next_run().await;
        drop(vanishing);

        // B holds the run (heartbeating) while A comes back and reports that it failed.
        let runner = Arc::new(CannedRunner::completing("runner-b").taking(Duration::from_secs(2)));
        let _runner = harness.spawn_worker("runner-b", Capability::RunAgent, 1, runner.clone());
        within(Duration::from_secs(5), "the run to be re-dispatched", || async { runner.seen.all().into_iter().next() }).await;

        let mut late = RawWorker::connect(harness.url(), "runner-a", pb::Capability::RunAgent, 1).await;
        let mut failed = run_report(&first.run_id, pb::RunOutcome::InfraError, b"");
        if let Some(pb::worker_message::Kind::RunReport(report)) = &mut failed.kind {
            report.error = "docker daemon went away".into();
        }
        late.send(failed).await;
        let ack = late.next_ack().await;
        assert_eq!((ack.job_id.as_str(), ack.accepted), (first.run_id.as_str(), false));

        harness.wait_for_progress("runner B's report", |p| p.runs_done == 1).await;
        let runs = runner.seen.all();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].attempt, 2);
        let progress = harness.progress().await;
        assert_eq!((progress.runs_total, progress.grades_total), (1, 1));
    }
}
