//! How many assignments a coordinator hands out and takes back per second, and how fast.
//!
//! `cargo run -p whetstone-coordinator --example load_bench [-- --workers 1000 --seconds 20]`
//!
//! The coordinator runs as its own process (this example started again with `serve`), so its
//! resident memory is its own. The bench seeds its store with agents × tasks (tens of
//! thousands of queued runs), starts it on loopback gRPC, then connects `--workers` simulated
//! workers, each a real worker session (`whetstone_proto::worker::run_worker`, hello signed
//! with its own sr25519 hotkey, heartbeats, acks, capacity 1): a share of them agent-runners
//! that report a completed run with a small patch at once, the rest validators that report a
//! signed verdict at once (each run is graded by `[grading] replicas` = 2 distinct validators,
//! plus the random audits, exactly as in production). After a warm-up it measures two windows
//! of `--seconds` each:
//!
//! 1. **Saturated**: every worker answers at once, so the coordinator is the only limit.
//!    **max round trips/s** is what it then stores per second (runs and grades done, from its
//!    own `Scores.Progress`): assignment sent, result reported, stored, acknowledged.
//! 2. **Paced**: every job takes `--work-ms` (default 200 ms), so the workers offer
//!    `workers / work` round trips per second (5,000/s for 1,000 workers): **round trips/s** is
//!    what the coordinator keeps up with, and **assignment latency p50/p99** is, for each
//!    worker, the time from handing back a result to receiving its next assignment (the time
//!    a worker with free capacity sits idle). Latency is measured under a given load, not at
//!    saturation: there every worker queues behind all the others (Little's law: 1,000
//!    workers at N round trips/s wait about 1,000/N s each), which says nothing about the
//!    coordinator's own delay.
//!
//! **coordinator RSS** is the child process's peak resident set (`VmHWM`; with two
//! coordinators the larger); a PostgreSQL server's own memory is not in it. **CPU µs/trip** is
//! the coordinators' CPU time (user and system, every thread) per round trip in the saturated
//! window: the cost that does not depend on how many cores the machine has or how much of
//! them the bench's own workers take (a PostgreSQL server's CPU is not in it either).
//!
//! The Postgres rows run when `WHETSTONE_BENCH_POSTGRES_URL` names a PostgreSQL server the
//! bench may create databases on (`tools/pg-test-server start DIR` makes a throwaway one):
//! for each row the bench makes a fresh database, seeds it the same way, and drops it after.
//! With two coordinators both serve the one database at once and the workers are spread over
//! them. Otherwise those rows print "skipped". Targets (issue 13): ≥ 5,000 round trips/s, p99
//! under 25 ms and under 200 MB on SQLite.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use whetstone_chain::verdict::VerdictStatement;
use whetstone_chain::wallet::HotkeyPair;
use whetstone_coordinator::store::{DatabaseUrl, NewAgent, NewTask, SqlStore, Store};
use whetstone_coordinator::{Coordinator, CoordinatorConfig};
use whetstone_proto::auth::RequestSigner;
use whetstone_proto::job::{Assignment, Capability, GradeReport, LlmUsage, Report, RunOutcome, RunReport};
use whetstone_proto::pb;
use whetstone_proto::worker::{Executor, WorkerConfig, run_worker};
use whetstone_tasks::{Digest, Hotkey, TestResult, TestStatus, Verdict, VerdictStatus};

#[derive(Parser)]
#[command(about = "Load benchmark: simulated workers against a coordinator on loopback gRPC; prints a table")]
struct Args {
    #[command(subcommand)]
    serve: Option<Serve>,
    /// Simulated workers (each its own gRPC connection and session, capacity 1).
    #[arg(long, default_value_t = 1000)]
    workers: u32,
    /// The share of workers that are agent-runners; the rest are validators. Each run needs
    /// about 2.05 grades (2 replicas and 5 % audits), so a third keeps both queues moving.
    #[arg(long, default_value_t = 0.33)]
    runner_share: f64,
    /// Seconds measured in each window (saturated, then paced), after the warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// How long each job takes in the paced window, in milliseconds: the workers then offer
    /// `workers × 1000 / work_ms` round trips per second.
    #[arg(long, default_value_t = 200)]
    work_ms: u64,
    /// Seconds of warm-up (all workers connected and busy) before measuring.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Queued runs to seed (agents × tasks); enough that the queue never runs dry.
    #[arg(long, default_value_t = 80_000)]
    runs: u32,
}

#[derive(Subcommand)]
enum Serve {
    /// Internal: runs the coordinator on `data_dir` and prints `listening <addr>` (the bench
    /// starts this itself).
    Serve {
        data_dir: PathBuf,
        /// The database (default: SQLite in `data_dir`).
        #[arg(long)]
        database: Option<DatabaseUrl>,
    },
}

/// The coordinator under test: hotkeys signed and checked, anyone admitted, production leases,
/// ticks, heartbeats and grading (2 replicas, 5 % audits).
fn coordinator_config(data_dir: &Path, database: Option<DatabaseUrl>) -> CoordinatorConfig {
    CoordinatorConfig {
        database,
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: data_dir.to_owned(),
        auth: whetstone_coordinator::auth::AuthConfig::allow_all(),
        ..CoordinatorConfig::default()
    }
}

/// The coordinator's own hotkey (dev key Alice, the default): requests are signed for it.
fn coordinator_hotkey() -> Hotkey {
    Hotkey::new(whetstone_chain::wallet::dev::DevKey::Alice.address())
}

/// A hotkey of the bench's own, one per (role, index).
fn key(role: u8, index: u32) -> HotkeyPair {
    let mut seed = [0x5a; 32];
    seed[0] = role;
    seed[1..5].copy_from_slice(&index.to_le_bytes());
    HotkeyPair::sr25519_from_seed(seed).expect("a seed makes a key")
}

const MINER: u8 = 0;
const RUNNER: u8 = 1;
const VALIDATOR: u8 = 2;

fn serve(data_dir: &Path, database: Option<DatabaseUrl>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let coordinator = Coordinator::bind(coordinator_config(data_dir, database)).await?;
        println!("listening {}", coordinator.local_addr()?);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        // The bench closes our stdin when it is done (or dies): then stop.
        tokio::task::spawn_blocking(move || {
            let _ = std::io::stdin().lines().count();
            stop.cancel();
        });
        coordinator.serve(shutdown).await?;
        anyhow::Ok(())
    })
}

/// Queues `runs` runs: agents × tasks with made-up digests (the simulated workers fetch nothing).
async fn seed(database: &DatabaseUrl, runs: u32) -> anyhow::Result<u32> {
    let tasks = 200u32;
    let agents = runs.div_ceil(tasks);
    let store = SqlStore::open(database).await?;
    let miner = key(MINER, 0);
    for task in 0..tasks {
        let digest = Digest::of_bytes(format!("task {task}").as_bytes());
        store.insert_task(&NewTask { digest, task_id: format!("bench-task-{task:03}"), timeout_secs: 60 }).await?;
    }
    for agent in 0..agents {
        let digest = Digest::of_bytes(format!("agent {agent}").as_bytes());
        let new = NewAgent {
            digest,
            name: format!("bench-agent-{agent}"),
            version: "1".into(),
            hotkey: miner.hotkey().clone(),
            claimed_at_ms: 1,
            claim_signature: vec![0; 64],
        };
        store.insert_agent(&new).await?;
    }
    let queued = store.schedule_missing_runs(None).await?;
    store.close().await;
    Ok(queued)
}

/// One coordinator child process; killed when dropped.
struct CoordinatorProcess {
    child: Child,
    url: String,
}

impl CoordinatorProcess {
    /// `database`: a PostgreSQL URL as given (its password unredacted), or SQLite in `data_dir`.
    fn start(data_dir: &Path, database: Option<&str>) -> anyhow::Result<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("serve").arg(data_dir);
        if let Some(url) = database {
            command.arg("--database").arg(url);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line.trim().strip_prefix("listening ").ok_or_else(|| anyhow::anyhow!("the coordinator did not start: {line:?}"))?;
        Ok(Self { url: format!("http://{addr}"), child })
    }

    /// CPU time used so far, user and system, all threads: `utime` and `stime` of
    /// `/proc/<pid>/stat`, in Linux's fixed 100 ticks per second (`USER_HZ`).
    fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may hold spaces, so split after its ')').
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    }

    /// Peak resident set in bytes, from `/proc/<pid>/status`.
    fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

impl Drop for CoordinatorProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if self.child.wait_timeout_secs(10).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

trait WaitTimeout {
    fn wait_timeout_secs(&mut self, secs: u64) -> Option<std::process::ExitStatus>;
}

impl WaitTimeout for Child {
    fn wait_timeout_secs(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// What the workers do (how long a job takes) and the assignment latencies they saw while
/// measuring.
#[derive(Default)]
struct Samples {
    /// Milliseconds each job takes.
    work_ms: AtomicU64,
    measuring: AtomicBool,
    latencies: Mutex<Vec<Duration>>,
}

/// A worker that does no work: it answers each assignment at once with a completed run (a
/// runner) or a signed verdict (a validator), and times how long it waits for the next.
struct InstantWorker {
    key: HotkeyPair,
    /// When this worker last handed back a result.
    idle_since: Mutex<Option<Instant>>,
    samples: Arc<Samples>,
}

#[async_trait::async_trait]
impl Executor for InstantWorker {
    async fn execute(&self, assignment: Assignment, _cancel: CancellationToken) -> Report {
        let assigned = Instant::now();
        if let Some(since) = self.idle_since.lock().expect("lock").take()
            && self.samples.measuring.load(Ordering::Relaxed)
        {
            self.samples.latencies.lock().expect("lock").push(assigned - since);
        }
        let work = self.samples.work_ms.load(Ordering::Relaxed);
        if work > 0 {
            tokio::time::sleep(Duration::from_millis(work)).await;
        }
        let report = match assignment {
            Assignment::Run(run) => Report::Run(RunReport {
                patch: format!("diff --git a/x b/x\n# {}\n", run.run_id).into_bytes(),
                run_id: run.run_id,
                outcome: RunOutcome::Completed,
                exit_code: 0,
                log: "load bench".into(),
                duration: Duration::from_millis(1),
                error: String::new(),
                llm: LlmUsage::default(),
                sandbox: Duration::from_millis(1),
            }),
            Assignment::Grade(grade) => {
                let resolved = grade.patch.len() % 2 == 0;
                let status = if resolved { VerdictStatus::Resolved } else { VerdictStatus::Unresolved };
                let tests = vec![TestResult {
                    id: "tests/test_x.py::test_x".into(),
                    status: if resolved { TestStatus::Passed } else { TestStatus::Failed },
                }];
                let statement = VerdictStatement {
                    run_id: grade.run_id.clone(),
                    task: grade.task.clone(),
                    agent: grade.agent.clone(),
                    patch: Digest::of_bytes(&grade.patch),
                    validator: self.key.hotkey().clone(),
                    status,
                    tests: tests.clone(),
                    grader_version: "load-bench".into(),
                    graded_at_ms: 1_700_000_000_000,
                };
                Report::Grade(GradeReport {
                    grade_id: grade.grade_id,
                    verdict: Verdict {
                        status,
                        fail_to_pass_passed: u32::from(resolved),
                        fail_to_pass_total: 1,
                        pass_to_pass_passed: 0,
                        pass_to_pass_total: 0,
                        tests,
                        notes: String::new(),
                    },
                    log: String::new(),
                    duration: Duration::from_millis(1),
                    signed: Some(statement.sign(&self.key).expect("sr25519 signs")),
                })
            }
            Assignment::Solve(solve) => Report::Solve(whetstone_proto::job::SolveReport::failed(
                solve.solve_id,
                RunOutcome::InfraError,
                "the load bench runs no solve jobs",
            )),
        };
        *self.idle_since.lock().expect("lock") = Some(Instant::now());
        report
    }
}

async fn progress(url: &str) -> anyhow::Result<pb::ProgressResponse> {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())?.connect().await?;
    let mut scores = pb::scores_client::ScoresClient::new(channel);
    Ok(scores.progress(pb::ProgressRequest {}).await?.into_inner())
}

/// One row of the table.
struct Row {
    store: &'static str,
    coordinators: u32,
    outcome: Result<Figures, String>,
}

struct Figures {
    /// Saturated: workers answer at once.
    max_round_trips_per_sec: f64,
    /// Paced: workers take `--work-ms` per job.
    round_trips_per_sec: f64,
    p50: Duration,
    p99: Duration,
    rss_mib: f64,
    /// Saturated: the coordinators' CPU time (user and system, all threads) per round trip.
    cpu_per_round_trip: Option<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// `coordinators` coordinators on SQLite (`postgres` `None`; one only) or on the PostgreSQL
/// database at `postgres`, each with a data directory of its own.
async fn run_one(args: &Args, postgres: Option<&str>, coordinators: u32) -> anyhow::Result<Figures> {
    let dirs: Vec<tempfile::TempDir> = (0..coordinators.max(1)).map(|_| tempfile::tempdir()).collect::<Result<_, _>>()?;
    let database = match postgres {
        Some(url) => url.parse()?,
        None => DatabaseUrl::in_data_dir(dirs[0].path()),
    };
    let started = Instant::now();
    let queued = seed(&database, args.runs).await?;
    eprintln!("seeded {queued} queued runs in {:.1?}", started.elapsed());
    let processes = dirs.iter().map(|dir| CoordinatorProcess::start(dir.path(), postgres)).collect::<anyhow::Result<Vec<_>>>()?;
    let urls: Vec<String> = processes.iter().map(|p| p.url.clone()).collect();
    let cpu = || processes.iter().map(CoordinatorProcess::cpu_time).sum::<Option<Duration>>();
    measure(args, &urls, || processes.iter().filter_map(CoordinatorProcess::peak_rss).max(), cpu).await
}

/// A fresh database on the server at `admin_url` for one bench, dropped after `run`.
async fn on_fresh_postgres(admin_url: &str, run: impl AsyncFnOnce(&str) -> anyhow::Result<Figures>) -> anyhow::Result<Figures> {
    use sqlx::Connection as _;
    let name = format!("whetstone_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    let figures = run(url.as_str()).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut admin).await?;
    figures
}

/// Connects the workers (spread over `urls`), warms up, measures.
async fn measure(
    args: &Args,
    urls: &[String],
    peak_rss: impl Fn() -> Option<u64>,
    cpu_time: impl Fn() -> Option<Duration>,
) -> anyhow::Result<Figures> {
    let samples = Arc::new(Samples::default());
    let shutdown = CancellationToken::new();
    let runners = ((f64::from(args.workers) * args.runner_share).round() as u32).clamp(1, args.workers.saturating_sub(1).max(1));
    let mut sessions = Vec::new();
    for index in 0..args.workers {
        let (role, name, capability) =
            if index < runners { (RUNNER, "runner", Capability::RunAgent) } else { (VALIDATOR, "validator", Capability::Grade) };
        let key = key(role, index);
        let signer = RequestSigner::new(key.clone(), coordinator_hotkey());
        let config = WorkerConfig {
            coordinator_urls: vec![urls[index as usize % urls.len()].clone()],
            worker_id: format!("{name}-{index}"),
            signer,
            capabilities: vec![capability],
            capacity: 1,
            reconnect_delay: Duration::from_millis(200),
        };
        let executor = Arc::new(InstantWorker { key, idle_since: Mutex::new(None), samples: Arc::clone(&samples) });
        sessions.push(tokio::spawn(run_worker(config, executor, shutdown.clone())));
    }
    eprintln!("{} workers ({runners} runners, {} validators) connecting to {}", args.workers, args.workers - runners, urls.join(", "));
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let warm = progress(&urls[0]).await?;
    eprintln!(
        "warm: {} workers connected to the first coordinator, {} runs and {} grades done",
        warm.workers_connected, warm.runs_done, warm.grades_done
    );
    let cpu_before = cpu_time();
    let (saturated, round_trips) = window(args, urls, "saturated").await?;
    let cpu_per_round_trip =
        cpu_before.zip(cpu_time()).map(|(before, after)| (after - before) / u32::try_from(round_trips.max(1)).unwrap_or(u32::MAX));
    samples.work_ms.store(args.work_ms, Ordering::Relaxed);
    // Let every worker's instant job end and the paced ones start before timing.
    tokio::time::sleep(Duration::from_millis(args.work_ms.saturating_mul(3).max(500))).await;
    samples.measuring.store(true, Ordering::Relaxed);
    let (paced, _) = window(args, urls, &format!("paced at {} ms per job", args.work_ms)).await?;
    samples.measuring.store(false, Ordering::Relaxed);
    let rss = peak_rss().unwrap_or(0);
    shutdown.cancel();
    for session in sessions {
        let _ = session.await;
    }
    let mut latencies = std::mem::take(&mut *samples.latencies.lock().expect("lock"));
    latencies.sort_unstable();
    eprintln!("{} latency samples", latencies.len());
    Ok(Figures {
        max_round_trips_per_sec: saturated,
        round_trips_per_sec: paced,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        rss_mib: rss as f64 / (1024.0 * 1024.0),
        cpu_per_round_trip,
    })
}

/// Round trips per second over one window of `--seconds`, and how many there were.
async fn window(args: &Args, urls: &[String], name: &str) -> anyhow::Result<(f64, u64)> {
    let done = |p: &pb::ProgressResponse| u64::from(p.runs_done) + u64::from(p.grades_done);
    let before = progress(&urls[0]).await?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let after = progress(&urls[0]).await?;
    let elapsed = started.elapsed();
    if after.runs_done >= after.runs_total {
        eprintln!("warning: the queue ran dry during the window; seed more with --runs");
    }
    let round_trips = done(&after) - done(&before);
    let rate = round_trips as f64 / elapsed.as_secs_f64();
    eprintln!(
        "{name}: {} runs and {} grades stored in {:.1?}: {rate:.0} round trips/s",
        after.runs_done - before.runs_done,
        after.grades_done - before.grades_done,
        elapsed
    );
    Ok((rate, round_trips))
}

fn print_table(args: &Args, rows: &[Row]) {
    let offered = f64::from(args.workers) * 1000.0 / args.work_ms.max(1) as f64;
    println!(
        "{:<10} {:>12} {:>18} {:>22} {:>8} {:>8} {:>8} {:>13}",
        "store",
        "coordinators",
        "max round trips/s",
        format!("round trips/s @ {offered:.0}"),
        "p50 ms",
        "p99 ms",
        "RSS MiB",
        "CPU µs/trip"
    );
    for row in rows {
        match &row.outcome {
            Ok(f) => println!(
                "{:<10} {:>12} {:>18.0} {:>22.0} {:>8.1} {:>8.1} {:>8.0} {:>13}",
                row.store,
                row.coordinators,
                f.max_round_trips_per_sec,
                f.round_trips_per_sec,
                f.p50.as_secs_f64() * 1000.0,
                f.p99.as_secs_f64() * 1000.0,
                f.rss_mib,
                f.cpu_per_round_trip.map_or("?".to_owned(), |cpu| format!("{:.0}", cpu.as_secs_f64() * 1e6))
            ),
            Err(why) => println!("{:<10} {:>12} {why}", row.store, row.coordinators),
        }
    }
    println!(
        "{} workers ({:.0} % runners); latency at {offered:.0} round trips/s offered ({} ms per job); targets on SQLite: >= 5000 round trips/s, p99 < 25 ms, RSS < 200 MiB",
        args.workers,
        args.runner_share * 100.0,
        args.work_ms
    );
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Serve::Serve { data_dir, database }) = &args.serve {
        return serve(data_dir, database.clone());
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let mut rows = Vec::new();
    let sqlite = runtime.block_on(run_one(&args, None, 1)).map_err(|e| format!("failed: {e:#}"));
    rows.push(Row { store: "sqlite", coordinators: 1, outcome: sqlite });
    for coordinators in [1, 2] {
        let outcome = match std::env::var("WHETSTONE_BENCH_POSTGRES_URL") {
            Ok(admin_url) => runtime
                .block_on(on_fresh_postgres(&admin_url, async |url| run_one(&args, Some(url), coordinators).await))
                .map_err(|e| format!("failed: {e:#}")),
            Err(_) => Err("skipped (set WHETSTONE_BENCH_POSTGRES_URL to a server the bench may create a database on)".to_owned()),
        };
        rows.push(Row { store: "postgres", coordinators, outcome });
    }
    print_table(&args, &rows);
    Ok(())
}
