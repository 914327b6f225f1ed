//! What the coordinator records for Prometheus (`whetstone_proto::telemetry` holds the recorder
//! and the metric descriptions) and its `/metrics` route on the HTTP port. Counters and
//! histograms are recorded where things happen (the scheduler); the queue depth is read from
//! the store when scraped, since the store owns the queue.

use std::sync::Arc;

use axum::extract::State;
use whetstone_proto::job::{GradeReport, RunReport};

use crate::scheduler::JobKind;
use crate::store::Store;

/// `GET /metrics` on the coordinator's HTTP port.
pub(crate) fn router(store: Arc<dyn Store>) -> axum::Router {
    whetstone_proto::telemetry::install();
    axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state(store)
}

async fn scrape(State(store): State<Arc<dyn Store>>) -> ([(&'static str, &'static str); 1], String) {
    match store.queue_depth().await {
        Ok((runs, grades)) => {
            metrics::gauge!("whetstone_queue_depth", "kind" => "run").set(f64::from(runs));
            metrics::gauge!("whetstone_queue_depth", "kind" => "grade").set(f64::from(grades));
        }
        // The rest of the page is still worth serving; the gauge keeps its last value.
        Err(error) => tracing::warn!(%error, "failed to read the queue depth for /metrics"),
    }
    ([("content-type", "text/plain; version=0.0.4")], whetstone_proto::telemetry::render())
}

/// A run report the store accepted.
pub(crate) fn run_reported(run: &RunReport) {
    metrics::counter!("whetstone_runs_reported_total", "outcome" => run.outcome.as_str()).increment(1);
    metrics::histogram!("whetstone_run_duration_seconds").record(run.duration.as_secs_f64());
    metrics::counter!("whetstone_llm_spent_micro_usd_total").increment(run.llm.spent_micro_usd);
    metrics::counter!("whetstone_sandbox_milliseconds_total").increment(u64::try_from(run.sandbox.as_millis()).unwrap_or(u64::MAX));
}

/// A verdict the store accepted.
pub(crate) fn verdict_recorded(grade: &GradeReport) {
    metrics::counter!("whetstone_verdicts_total", "status" => grade.verdict.status.as_str()).increment(1);
    metrics::histogram!("whetstone_grade_duration_seconds").record(grade.duration.as_secs_f64());
}

/// A lease taken (`+1`) or ended (`-1`).
pub(crate) fn lease_changed(kind: JobKind, delta: f64) {
    metrics::gauge!("whetstone_leases", "kind" => kind.as_str()).increment(delta);
}

pub(crate) fn lease_expired(kind: JobKind) {
    metrics::counter!("whetstone_leases_expired_total", "kind" => kind.as_str()).increment(1);
}

pub(crate) fn workers_connected(count: usize) {
    metrics::gauge!("whetstone_workers_connected").set(count as f64);
}
