//! Workers given several coordinators (sharing one database) move to another when theirs goes
//! away, keep the job they were running, and every run still counts once. SQLite has one
//! writer, so the second coordinator starts on the same file once the first has stopped.

use std::sync::Arc;
use std::time::Duration;

use whetstone_proto::job::Capability;

use crate::support::{CannedRunner, HOTKEY, Harness, Server, WorkerSession, free_addr, signer_for, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_moves_to_the_standby_coordinator_and_its_running_job_still_counts_once() {
    let mut harness = Harness::start().await;
    let standby = free_addr();
    harness.publish_tasks(3).await;
    harness.submit_agent("noop").await;

    let runner = Arc::new(CannedRunner::completing("runner").taking(Duration::from_millis(800)));
    let urls = [harness.url().to_owned(), format!("http://{standby}")];
    let _worker = WorkerSession::spawn_to(&urls, "runner-1", signer_for(HOTKEY), Capability::RunAgent, 1, runner.clone());
    let first = within(Duration::from_secs(10), "the runner to take a run", || async { runner.seen.all().into_iter().next() }).await;

    // The first coordinator goes away while the run is in flight; the standby takes over the
    // same database on the address the worker was given.
    harness.server.stop().await;
    harness.config.listen = standby;
    harness.server = Server::start(harness.config.clone()).await;

    let progress = within(Duration::from_secs(20), "every run done through the standby", || async {
        let progress = harness.progress().await;
        (progress.runs_done == 3).then_some(progress)
    })
    .await;
    assert_eq!(progress.runs_total, 3, "no run was added or lost: {progress:?}");
    assert_eq!(progress.workers_connected, 1, "the runner is connected to the standby");
    let runs = harness.scores().runs(whetstone_proto::pb::RunsRequest::default()).await.expect("runs").into_inner().runs;
    assert_eq!(runs.len(), 3);
    for run in &runs {
        assert_eq!(run.run_outcome, "completed", "{run:?}");
    }
    // The run in flight at the switch finished, with the report made on the first coordinator's
    // assignment (the standby may also have handed it out again: only one report counts).
    assert!(runs.iter().any(|run| run.run_id == first.run_id.as_str()), "the in-flight run is among the done ones");
    let handed_out = runner.seen.all();
    assert!((3..=4).contains(&handed_out.len()), "each run handed out once, the in-flight one at most twice: {}", handed_out.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_skips_a_coordinator_that_does_not_answer() {
    let harness = Harness::start().await;
    harness.publish_tasks(1).await;
    harness.submit_agent("noop").await;

    let runner = Arc::new(CannedRunner::completing("runner"));
    // The first address refuses connections: the worker goes on to the second.
    let urls = [format!("http://{}", free_addr()), harness.url().to_owned()];
    let _worker = WorkerSession::spawn_to(&urls, "runner-1", signer_for(HOTKEY), Capability::RunAgent, 1, runner.clone());
    let progress = within(Duration::from_secs(5), "the run done through the second coordinator", || async {
        let progress = harness.progress().await;
        (progress.runs_done == 1).then_some(progress)
    })
    .await;
    assert_eq!(progress.workers_connected, 1);
}
