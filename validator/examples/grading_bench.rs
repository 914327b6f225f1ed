//! What grading costs over just running the tests, on the starter tasks.
//!
//! `cargo run --release -p whetstone-validator --example grading_bench [runs]` (needs Docker;
//! the first run builds the images). For each task, `runs` times each (default 5, medians
//! reported):
//!
//! - **bare**: the task's test command run by `docker exec` in one already-started container
//!   of the task image, with the gold patch applied and the hidden tests in place beforehand,
//!   and the same limits, environment and pytest flags as grading: only the tests.
//! - **grading**: [`grade_patch`] of the gold patch, end to end, broken down with the
//!   sandbox's [`Timings`](whetstone_sandbox::Timings) and the supervisor's phases.
//! - **lifecycle**: a sandbox run of `true` in the task image (create, start, exec, stop,
//!   remove): the floor under any grading.
//!
//! The three are interleaved run by run, so a busy host slows them alike. Columns: `prepare`
//! is host work before the container (patch filtering, the repository's commit, tars);
//! `create*` is create + start + uploads; `run` is the supervisor's exec; `after*` is stopping,
//! downloading and removal; `apply`, `overlay` and `tests` are the supervisor's own phases
//! and `super` its whole run.
//! The target (issue 3) is grading ≤ 1.2× bare at the median.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use futures::StreamExt;
use whetstone_proto::job::SandboxLimits;
use whetstone_sandbox::archive::{pack_dir, pack_files};
use whetstone_sandbox::{ImageRef, NoProgress, OrphanScope, Role, RunSpec, Sandbox};
use whetstone_tasks::{Task, TaskSet, VerdictStatus};
use whetstone_validator::{Graded, grade_patch};

/// The environment the grading supervisor gives the tests (`grade.py`, `TEST_ENV`).
const TEST_ENV: &[(&str, &str)] = &[
    ("HOME", "/tmp"),
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("PYTHONPYCACHEPREFIX", "/tmp/whetstone-pycache"),
    ("PYTHONSAFEPATH", "1"),
    ("PYTHONNOUSERSITE", "1"),
    ("PYTHONUNBUFFERED", "1"),
];

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> BenchResult<()> {
    let runs: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(5).max(1);
    let sandbox = Sandbox::connect(&format!("bench-grading-{}", std::process::id())).await?;
    let set = TaskSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tasks/sets/starter"))?;
    let limits = SandboxLimits::default();
    println!(
        "{} starter tasks, {runs} runs each, limits: {} MiB, {} mCPU, {} pids\n",
        set.tasks.len(),
        limits.memory_mib,
        limits.cpu_millis,
        limits.pids
    );

    let mut rows = Vec::new();
    for task in &set.tasks {
        let image = sandbox.ensure_task_image(task.dockerfile(), &NoProgress).await?;
        let bare = BareContainer::start(&sandbox, &image, task, limits).await?;
        // Interleaved, so that a busy host slows all three alike.
        let samples = async {
            let (mut bare_runs, mut exec_floor, mut lifecycle, mut gradings) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for i in 0..runs {
                bare_runs.push(bare.run_tests().await?);
                exec_floor.push(bare.exec_true().await?);
                let spec = RunSpec::new(image.clone(), vec!["true".into()], Role::Probe, format!("bench-true-{i}"));
                lifecycle.push(sandbox.run(spec).await?.timings.total);
                let graded = grade_patch(&sandbox, &image, task, task.gold_patch(), limits, &format!("bench-gold-{i}")).await;
                if graded.verdict.status != VerdictStatus::Resolved {
                    return Err(format!(
                        "{}: gold patch graded {}: {}",
                        task.spec.id,
                        graded.verdict.status.as_str(),
                        graded.verdict.notes
                    )
                    .into());
                }
                gradings.push(graded);
            }
            BenchResult::Ok(Row::new(&task.spec.id, &bare_runs, &exec_floor, &lifecycle, &gradings))
        }
        .await;
        bare.remove().await?;
        let row = samples?;
        row.print_if_first(rows.is_empty());
        rows.push(row);
    }

    let median_of = |f: fn(&Row) -> Duration| median(&rows.iter().map(f).collect::<Vec<_>>());
    let ratios: Vec<f64> = rows.iter().map(Row::ratio).collect();
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "\nmedian over tasks: bare {}, grading {}, lifecycle {}, in-container tests {}, docker exec floor {}",
        secs(median_of(|r| r.bare)),
        secs(median_of(|r| r.grading)),
        secs(median_of(|r| r.lifecycle)),
        secs(median_of(|r| r.tests)),
        secs(median_of(|r| r.exec_floor)),
    );
    println!(
        "grading / bare: median {:.2}x (min {:.2}x, max {:.2}x); target ≤ 1.20x",
        median_f64(&sorted),
        sorted[0],
        sorted[sorted.len() - 1]
    );
    println!("overhead at the median: {} per grading", secs(median_of(|r| r.grading.saturating_sub(r.bare))));
    sandbox.remove_orphans(OrphanScope::ThisOwner).await?;
    Ok(())
}

/// Medians for one task.
struct Row {
    task: String,
    bare: Duration,
    exec_floor: Duration,
    grading: Duration,
    lifecycle: Duration,
    prepare: Duration,
    create: Duration,
    run: Duration,
    after: Duration,
    apply: Duration,
    overlay: Duration,
    tests: Duration,
    supervisor: Duration,
}

impl Row {
    fn new(task: &str, bare: &[Duration], exec_floor: &[Duration], lifecycle: &[Duration], gradings: &[Graded]) -> Self {
        let of = |f: fn(&Graded) -> Duration| median(&gradings.iter().map(f).collect::<Vec<_>>());
        let phase = |f: fn(&whetstone_validator::Phases) -> Duration| {
            median(&gradings.iter().map(|g| g.phases.as_ref().map_or(Duration::ZERO, f)).collect::<Vec<_>>())
        };
        Self {
            task: task.to_owned(),
            bare: median(bare),
            exec_floor: median(exec_floor),
            grading: of(|g| g.duration),
            lifecycle: median(lifecycle),
            prepare: of(|g| g.prepare),
            create: of(|g| g.timings.create),
            run: of(|g| g.timings.run),
            after: of(|g| g.timings.total.saturating_sub(g.timings.create + g.timings.run)),
            apply: phase(|p| p.apply),
            overlay: phase(|p| p.overlay),
            tests: phase(|p| p.tests),
            supervisor: phase(|p| p.supervisor),
        }
    }

    fn ratio(&self) -> f64 {
        self.grading.as_secs_f64() / self.bare.as_secs_f64()
    }

    fn print_if_first(&self, first: bool) {
        if first {
            println!(
                "{:<34} {:>7} {:>8} {:>6} | {:>7} {:>8} {:>7} {:>7} | {:>6} {:>7} {:>6} {:>6} | {:>9}",
                "task",
                "bare",
                "grading",
                "ratio",
                "prepare",
                "create*",
                "run",
                "after*",
                "apply",
                "overlay",
                "tests",
                "super",
                "lifecycle"
            );
        }
        println!(
            "{:<34} {:>7} {:>8} {:>5.2}x | {:>7} {:>8} {:>7} {:>7} | {:>6} {:>7} {:>6} {:>6} | {:>9}",
            self.task,
            secs(self.bare),
            secs(self.grading),
            self.ratio(),
            secs(self.prepare),
            secs(self.create),
            secs(self.run),
            secs(self.after),
            secs(self.apply),
            secs(self.overlay),
            secs(self.tests),
            secs(self.supervisor),
            secs(self.lifecycle),
        );
    }
}

/// One started container of the task image with the gold-patched tree and the hidden tests
/// in place, the same limits and environment as grading: the tests and nothing else.
struct BareContainer<'a> {
    docker: &'a bollard::Docker,
    id: String,
    command: String,
    task: String,
}

impl<'a> BareContainer<'a> {
    async fn start(sandbox: &'a Sandbox, image: &ImageRef, task: &Task, limits: SandboxLimits) -> BenchResult<Self> {
        let docker = sandbox.docker();
        let labels = HashMap::from([
            ("whetstone.sandbox".to_owned(), "1".to_owned()),
            ("whetstone.owner".to_owned(), sandbox.owner().to_owned()),
            ("whetstone.role".to_owned(), "bench".to_owned()),
        ]);
        let memory = i64::try_from(limits.memory_mib * 1024 * 1024)?;
        let config = ContainerCreateBody {
            image: Some(image.as_str().to_owned()),
            entrypoint: Some(vec!["sleep".into(), "infinity".into()]),
            user: Some("1000:1000".into()),
            working_dir: Some("/repo".into()),
            env: Some(TEST_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                memory: Some(memory),
                memory_swap: Some(memory),
                nano_cpus: Some(i64::try_from(limits.cpu_millis * 1_000_000)?),
                pids_limit: Some(i64::try_from(limits.pids)?),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                init: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = format!("whetstone-bench-bare-{}-{}", task.spec.id, std::process::id());
        let id = docker.create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), config).await?.id;
        let command = format!("{} -p no:cacheprovider --junitxml=/tmp/bare.xml", task.spec.tests.command);
        let bare = Self { docker, id, command, task: task.spec.id.clone() };
        if let Err(error) = bare.fill(task).await {
            bare.remove().await?;
            return Err(error);
        }
        Ok(bare)
    }

    async fn fill(&self, task: &Task) -> BenchResult<()> {
        let workspace = tempfile::tempdir()?;
        let pristine = workspace.path().join("repo");
        whetstone_tasks::repo::materialize(&task.subtree("repo"), &pristine)?;
        let mut files = vec![("bench/gold.patch".to_owned(), task.gold_patch().to_vec(), 0o644)];
        for file in task.subtree("hidden").files {
            files.push((format!("bench/hidden/{}", file.path), file.bytes, 0o644));
        }
        for tar in [pack_dir(&pristine, "repo", (1000, 1000))?, pack_files(&files, (1000, 1000))?] {
            let options = UploadToContainerOptionsBuilder::default().path("/").build();
            self.docker.upload_to_container(&self.id, Some(options), bollard::body_full(tar.into())).await?;
        }
        self.docker.start_container(&self.id, None).await?;
        let (code, output) = exec(self.docker, &self.id, "git apply /bench/gold.patch && cp -R /bench/hidden/. /repo/").await?;
        if code != 0 {
            return Err(format!("{}: preparing the bare run failed: {output}", task.spec.id).into());
        }
        Ok(())
    }

    /// One run of the test command, timed from the exec's creation to its reported end.
    async fn run_tests(&self) -> BenchResult<Duration> {
        let started = Instant::now();
        let (code, output) = exec(self.docker, &self.id, &self.command).await?;
        if code > 1 {
            return Err(format!("{}: the bare test run failed ({code}): {output}", self.task).into());
        }
        Ok(started.elapsed())
    }

    /// What `docker exec` itself costs, for scale.
    async fn exec_true(&self) -> BenchResult<Duration> {
        let started = Instant::now();
        exec(self.docker, &self.id, "true").await?;
        Ok(started.elapsed())
    }

    async fn remove(&self) -> BenchResult<()> {
        let remove = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        self.docker.remove_container(&self.id, Some(remove)).await?;
        Ok(())
    }
}

/// `sh -c command` by `docker exec`, to its end: exit code and the output's tail.
async fn exec(docker: &bollard::Docker, id: &str, command: &str) -> BenchResult<(i64, String)> {
    let options = CreateExecOptions {
        cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), command.to_owned()]),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = docker.create_exec(id, options).await?;
    let mut output = Vec::new();
    if let StartExecResults::Attached { output: mut stream, .. } = docker.start_exec(&created.id, Some(StartExecOptions::default())).await?
    {
        while let Some(chunk) = stream.next().await {
            output.extend_from_slice(chunk?.as_ref());
        }
    }
    let code = loop {
        let inspected = docker.inspect_exec(&created.id).await?;
        if inspected.running != Some(true)
            && let Some(code) = inspected.exit_code
        {
            break code;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let text = String::from_utf8_lossy(&output);
    Ok((code, text.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect()))
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

fn median_f64(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

fn secs(duration: Duration) -> String {
    format!("{:.2}s", duration.as_secs_f64())
}
