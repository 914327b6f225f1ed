//! Metrics and logs of a real subnet, each part its own process as operators run them:
//! `whetstone coordinator`, `whetstone agent-runner --metrics-addr` and `whetstone validator
//! --metrics-addr`, all with `--log-format json`. One agent runs on one starter task in Docker
//! and is graded; then each process's `/metrics` is scraped and parsed with a Prometheus text
//! parser, and the counters must show that work, and the runner's JSON log lines must carry
//! the run's id in their span.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use whetstone::dev_keys::DevKey;
use whetstone_proto::auth::RequestSigner;
use whetstone_tasks::{Hotkey, TaskSet};

fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A loopback port free right now (the process that gets it binds it a moment later).
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port")
}

/// A `whetstone` process, killed when dropped; its stderr goes to a file to read afterwards.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(dir: &Path, name: &str, args: &[&str]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_whetstone"))
            .arg("--log-format")
            .arg("json")
            .args(args)
            .env("WHETSTONE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start whetstone {name}: {e}"));
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGTERM first, so the workers remove their containers; then make sure.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET http://addr/metrics`, parsed.
async fn scrape(addr: SocketAddr) -> prometheus_parse::Scrape {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect to /metrics");
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.expect("send");
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/plain"), "{head}");
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("Prometheus text format")
}

/// The sum of a counter's or gauge's samples whose labels include every `(name, value)`.
fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// How many observations a histogram holds (its `+Inf` bucket).
fn observations(scrape: &prometheus_parse::Scrape, metric: &str) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter_map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => buckets.iter().find(|b| b.less_than.is_infinite()).map(|b| b.count),
            _ => None,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_each_process_serves_metrics_that_move_with_a_round_and_logs_json_with_the_run_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (grpc, http, runner_metrics, validator_metrics) = (free_port(), free_port(), free_port(), free_port());
    let config = dir.path().join("coordinator.toml");
    std::fs::write(&config, "[auth]\nmembership = \"dev\"\n\n[grading]\nreplicas = 1\nmax_disputes = 0\naudit_fraction = 0.0\n")
        .expect("config");
    let data = |name: &str| dir.path().join(name).display().to_string();
    let url = format!("http://{grpc}");
    let coordinator = Process::start(
        dir.path(),
        "coordinator",
        &[
            "coordinator",
            "--config",
            &config.display().to_string(),
            "--listen",
            &grpc.to_string(),
            "--solve-listen",
            &http.to_string(),
            "--data-dir",
            &data("coordinator"),
        ],
    );
    let client = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match whetstone::client::CoordinatorClient::connect(&url).await {
                Ok(client) if client.progress().await.is_ok() => break client,
                _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                _ => panic!("the coordinator did not come up:\n{}", coordinator.log()),
            }
        }
    };
    let before = scrape(http).await;
    assert_eq!(value(&before, "whetstone_runs_reported_total", &[]), 0.0);

    let worker = |role: &str, key: &str, metrics: SocketAddr| {
        let args = [role, "--coordinator", &url, "--dev-key", key, "--worker-id", &format!("obs-{role}"), "--capacity", "1"];
        let extra = ["--data-dir".to_owned(), data(role), "--metrics-addr".to_owned(), metrics.to_string()];
        let all: Vec<&str> = args.iter().copied().chain(extra.iter().map(String::as_str)).collect();
        Process::start(dir.path(), role, &all)
    };
    let runner = worker("agent-runner", "alice", runner_metrics);
    let validator = worker("validator", "ferdie", validator_metrics);

    let alice = RequestSigner::new(DevKey::Alice.pair(), Hotkey::new(whetstone::dev_keys::ALICE));
    let bob = RequestSigner::new(DevKey::Bob.pair(), Hotkey::new(whetstone::dev_keys::ALICE));
    let set = TaskSet::load(&workspace("tasks/sets/starter")).expect("starter set");
    client.publish_task(&set.tasks[0], &alice).await.expect("task published");
    client.submit_agent(&workspace("examples/agents/repair"), &bob).await.expect("agent accepted");

    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let progress = client.progress().await.expect("progress");
        if (progress.runs_done, progress.grades_done, progress.grades_total) == (1, 1, 1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no graded run after 10 minutes: {progress:?}\n--- runner\n{}\n--- validator\n{}",
            runner.log(),
            validator.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let runs = client.runs(None).await.expect("runs");
    let run_id = runs[0].run_id.clone();

    let coordinator_metrics = scrape(http).await;
    assert_eq!(value(&coordinator_metrics, "whetstone_runs_reported_total", &[("outcome", "completed")]), 1.0);
    assert_eq!(value(&coordinator_metrics, "whetstone_verdicts_total", &[]), 1.0);
    assert_eq!(observations(&coordinator_metrics, "whetstone_run_duration_seconds"), 1.0);
    assert_eq!(observations(&coordinator_metrics, "whetstone_grade_duration_seconds"), 1.0);
    assert_eq!(value(&coordinator_metrics, "whetstone_queue_depth", &[("kind", "run")]), 0.0);
    assert_eq!(value(&coordinator_metrics, "whetstone_queue_depth", &[("kind", "grade")]), 0.0);
    assert_eq!(value(&coordinator_metrics, "whetstone_leases", &[]), 0.0, "every lease ended with its report");
    assert_eq!(value(&coordinator_metrics, "whetstone_workers_connected", &[]), 2.0);
    assert!(value(&coordinator_metrics, "whetstone_sandbox_milliseconds_total", &[]) > 0.0, "the run's container time is counted");

    let runner_scrape = scrape(runner_metrics).await;
    assert_eq!(value(&runner_scrape, "whetstone_worker_jobs_total", &[("kind", "run"), ("outcome", "completed")]), 1.0);
    assert_eq!(observations(&runner_scrape, "whetstone_worker_job_duration_seconds"), 1.0);
    assert!(value(&runner_scrape, "whetstone_sandbox_containers_started_total", &[("role", "agent")]) >= 1.0);
    assert_eq!(value(&runner_scrape, "whetstone_sandbox_container_failures_total", &[]), 0.0);

    let validator_scrape = scrape(validator_metrics).await;
    assert_eq!(value(&validator_scrape, "whetstone_worker_jobs_total", &[("kind", "grade")]), 1.0);
    assert!(value(&validator_scrape, "whetstone_sandbox_containers_started_total", &[("role", "grade")]) >= 1.0);
    assert_eq!(value(&validator_scrape, "whetstone_worker_jobs_total", &[("kind", "run")]), 0.0, "each process has its own numbers");

    // Every line is one JSON object, and the run's lines name it in their span, on both sides.
    for (name, process) in [("agent-runner", &runner), ("coordinator", &coordinator)] {
        let log = process.log();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{name} logged a line that is not JSON ({e}): {line}")))
            .collect();
        let of_run: Vec<&serde_json::Value> = lines.iter().filter(|l| l["span"]["run_id"] == run_id.as_str()).collect();
        assert!(!of_run.is_empty(), "no {name} line carries run_id {run_id}:\n{log}");
    }
    let finished = runner.log().lines().any(|l| l.contains("job finished") && l.contains(&run_id) && l.contains("\"agent\""));
    assert!(finished, "the runner's end-of-job line names the run and its agent:\n{}", runner.log());
    drop((runner, validator, coordinator));
}
