//! Prometheus metrics for every Whetstone process: one global recorder (the `metrics` facade
//! with `metrics-exporter-prometheus` rendering the text format), installed on first use, and
//! a small HTTP listener for the workers (the coordinator serves the same text on its own HTTP
//! port). Code anywhere records through `metrics::counter!`/`gauge!`/`histogram!`; what is not
//! installed costs nothing. The metric names are listed in [`describe`] with their help text.

use std::net::SocketAddr;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::job::Report;

/// Bucket bounds for every `*_seconds` histogram: sub-second gRPC work up to 20-minute runs.
const SECONDS_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's metrics in Prometheus text format. The first call installs the recorder;
/// if another recorder was installed first (a library user's), this renders nothing.
pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

/// Installs the recorder now, so that what is recorded from here on is kept. Idempotent.
pub fn install() {
    let _ = handle();
}

fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS).ok()?;
            let handle = builder.install_recorder().map_err(|error| tracing::warn!(%error, "metrics are off")).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

/// Help text for every metric Whetstone records, shown by `/metrics`.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("whetstone_queue_depth", "Jobs waiting for a worker, by kind (run, grade).");
    describe_gauge!("whetstone_leases", "Jobs leased to a worker and not yet reported, by kind.");
    describe_gauge!("whetstone_workers_connected", "Worker sessions open on the coordinator.");
    describe_counter!("whetstone_runs_reported_total", "Run reports the coordinator stored, by outcome.");
    describe_counter!("whetstone_verdicts_total", "Verdicts the coordinator stored, by status.");
    describe_counter!("whetstone_leases_expired_total", "Leases that ran out and were requeued or failed, by kind.");
    describe_histogram!("whetstone_run_duration_seconds", Unit::Seconds, "How long runs took, as their agent-runners reported.");
    describe_histogram!("whetstone_grade_duration_seconds", Unit::Seconds, "How long grading took, as the validators reported.");
    describe_counter!("whetstone_llm_spent_micro_usd_total", "LLM spend through the inference proxy, in micro-dollars.");
    describe_counter!("whetstone_sandbox_milliseconds_total", "Agent container time of finished runs, in milliseconds.");
    describe_counter!("whetstone_worker_jobs_total", "Jobs this worker finished, by kind and outcome.");
    describe_histogram!("whetstone_worker_job_duration_seconds", Unit::Seconds, "How long this worker's jobs took, by kind.");
    describe_counter!("whetstone_sandbox_containers_started_total", "Sandbox containers started, by role.");
    describe_counter!("whetstone_sandbox_container_failures_total", "Sandbox containers that failed to run (engine errors), by role.");
    describe_counter!("whetstone_llm_calls_total", "Calls through the inference proxy, by model and HTTP status.");
    describe_counter!("whetstone_llm_refused_total", "LLM calls the inference proxy refused (429) as over a run's budget.");
    describe_counter!("whetstone_llm_tokens_total", "Tokens metered by the inference proxy, by model and kind (prompt, completion).");
    describe_counter!("whetstone_weight_submissions_total", "Weight submissions to the chain, by result (set, failed, nothing_to_set).");
}

/// A worker's record of a finished job: its kind, outcome and duration.
pub fn record_job(report: &Report) {
    let (kind, outcome, duration) = match report {
        Report::Run(run) => ("run", run.outcome.as_str(), run.duration),
        Report::Grade(grade) => ("grade", grade.verdict.status.as_str(), grade.duration),
        Report::Solve(solve) => ("solve", if solve.cancelled { "cancelled" } else { solve.outcome.as_str() }, solve.duration),
    };
    metrics::counter!("whetstone_worker_jobs_total", "kind" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!("whetstone_worker_job_duration_seconds", "kind" => kind).record(duration.as_secs_f64());
}

/// The `/metrics` route, for any axum router.
pub fn router() -> axum::Router {
    install();
    axum::Router::new().route("/metrics", axum::routing::get(|| async { ([("content-type", "text/plain; version=0.0.4")], render()) }))
}

/// Serves `/metrics` on `addr` until `shutdown`; returns the bound address (port 0 picks one).
/// Workers call this for `--metrics-addr`.
pub async fn serve(addr: SocketAddr, shutdown: CancellationToken) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let served = axum::serve(listener, router()).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        if let Err(error) = served {
            tracing::warn!(%error, "the metrics listener stopped");
        }
    });
    tracing::info!(address = %bound, "serving Prometheus metrics at /metrics");
    Ok(bound)
}
