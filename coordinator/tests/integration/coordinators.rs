//! Several coordinators on one database, serving workers at the same time (on PostgreSQL, the
//! deployment docs/deploy.md describes; on SQLite too, where one file can be shared on one
//! host): a run is never handed out twice across them, and a lease that ran out under one is
//! picked up through another.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use whetstone_proto::job::Capability;
use whetstone_proto::pb;

use crate::backends::on_each_backend;
use crate::support::{CannedRunner, HOTKEY, Harness, RawWorker, WorkerSession, signer_for, within};

on_each_backend! {
    async fn two_coordinators_on_one_database_never_hand_out_a_run_twice(db) {
        let harness = Harness::start_on(db, |_| {}).await;
        let other = harness.start_another().await;
        harness.publish_tasks(6).await;
        harness.submit_agent("noop").await;

        // Two runners on each coordinator, two runs at a time each, every run taking a while:
        // the first coordinator's runners cannot take all six, so both hand runs out at once.
        let mut runners = Vec::new();
        let mut sessions = Vec::new();
        for (url, names) in [(harness.url().to_owned(), ["a-1", "a-2"]), (other.url.clone(), ["b-1", "b-2"])] {
            for name in names {
                let runner = Arc::new(CannedRunner::completing(name).taking(Duration::from_millis(400)));
                sessions.push(WorkerSession::spawn(&url, name, signer_for(HOTKEY), Capability::RunAgent, 2, runner.clone()));
                runners.push((name, runner));
            }
        }
        let progress = harness.wait_for_progress("all six runs", |p| p.runs_done == 6).await;
        assert_eq!(progress.runs_total, 6);

        let mut seen = Vec::new();
        for (name, runner) in &runners {
            for run in runner.seen.all() {
                seen.push((run.run_id.clone(), run.attempt, *name));
            }
        }
        let distinct: BTreeSet<_> = seen.iter().map(|(run, _, _)| run.clone()).collect();
        assert_eq!((seen.len(), distinct.len()), (6, 6), "each run handed out exactly once: {seen:?}");
        assert!(seen.iter().all(|(_, attempt, _)| *attempt == 1), "{seen:?}");
        assert!(seen.iter().any(|(_, _, name)| name.starts_with("b-")), "the second coordinator handed runs out too: {seen:?}");
        assert!(seen.iter().any(|(_, _, name)| name.starts_with("a-")), "{seen:?}");
        drop(sessions);
    }
}

on_each_backend! {
    async fn a_lease_expired_under_one_coordinator_is_picked_up_through_another(db) {
        let mut harness = Harness::start_on(db, |_| {}).await;
        let other = harness.start_another().await;
        harness.publish_tasks(1).await;
        harness.submit_agent("noop").await;

        // A runner takes the run through coordinator A; then A dies and the runner with it.
        let mut vanishing = RawWorker::connect(harness.url(), "runner-a", pb::Capability::RunAgent, 1).await;
        let first = vanishing.next_run().await;
        assert_eq!(first.attempt, 1);
        harness.server.stop().await;
        drop(vanishing);

        // B requeues the run when its one-second lease runs out and hands it to its runner.
        let runner = Arc::new(CannedRunner::completing("runner-b"));
        let _session = WorkerSession::spawn(&other.url, "runner-b", signer_for(HOTKEY), Capability::RunAgent, 1, runner.clone());
        let second = within(Duration::from_secs(5), "the run through coordinator B", || async { runner.seen.all().into_iter().next() }).await;
        assert_eq!((second.run_id.as_str(), second.attempt), (first.run_id.as_str(), 2));

        harness.server = other;
        let progress = harness.wait_for_progress("runner B's report", |p| p.runs_done == 1).await;
        assert_eq!((progress.runs_total, progress.grades_total), (1, 1));
    }
}
