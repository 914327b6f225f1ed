//! Curation throughput on this machine: adds projects to a compact set (when asked), runs
//! generation (the tree-sitter generator, `whetstone_tasks::generate`) + validation on each,
//! and prints a table of the generator's candidates, the candidates validated, valid tasks,
//! yield, time per valid task and validated tasks per hour.
//!
//! ```text
//! cargo run -p whetstone-tasks --release --example curation_bench -- \
//!     --set /tmp/bench-set [--add pypi:toolz==1.2.0 ...] [--candidates 24] [--project toolz-1.2.0 ...]
//! ```
//!
//! Without `--project`, every project of the set is generated for. Needs Docker.

use std::path::PathBuf;
use std::time::Instant;

use whetstone_sandbox::Sandbox;
use whetstone_tasks::curate::{self, AddOptions, GenerateOptions, ValidationConfig};

struct Stderr;

impl curate::CurateProgress for Stderr {
    fn message(&self, text: &str) {
        eprintln!("  {text}");
    }

    fn start(&self, total: u64) {
        eprintln!("  validating {total} candidates");
    }

    fn advance(&self, label: &str, valid: bool) {
        eprintln!("    {} {label}", if valid { "valid   " } else { "rejected" });
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: curation_bench --set DIR [--pin] [--add SOURCE]... [--project NAME-VERSION]... [--candidates N] [--combined N] [--seed N] [--parallel N]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut set = None;
    let mut adds = Vec::new();
    let mut projects = Vec::new();
    let mut candidates = 24_usize;
    let mut combined = 2_usize;
    let mut seed = 1_u64;
    let mut parallel = None;
    let mut pin_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--set" => set = Some(PathBuf::from(value())),
            "--add" => adds.push(value()),
            "--project" => projects.push(value()),
            "--candidates" => candidates = value().parse().unwrap_or_else(|_| usage()),
            "--combined" => combined = value().parse().unwrap_or_else(|_| usage()),
            "--seed" => seed = value().parse().unwrap_or_else(|_| usage()),
            "--parallel" => parallel = Some(value().parse().unwrap_or_else(|_| usage())),
            "--pin" => pin_only = true,
            _ => usage(),
        }
    }
    let Some(set) = set else { usage() };
    if pin_only {
        // Re-pins DIGESTS after a curated edit, without Docker.
        match curate::pipeline::pin_digests(&set) {
            Ok(()) => println!("pinned the digests of {}", set.display()),
            Err(error) => {
                eprintln!("error: {error}");
                std::process::exit(1);
            }
        }
        return;
    }
    let sandbox = match Sandbox::connect("curation-bench").await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!("error: Docker is needed: {error}");
            std::process::exit(1);
        }
    };
    for source in adds {
        let started = Instant::now();
        eprintln!("adding {source}");
        let options = AddOptions {
            set_dir: set.clone(),
            source: match source.parse() {
                Ok(source) => source,
                Err(error) => {
                    eprintln!("error: {error}");
                    std::process::exit(1);
                }
            },
            test_command: None,
            timeout_secs: 120,
            runs: 3,
            allow_unlicensed: false,
            extra_pip: Vec::new(),
        };
        match curate::pipeline::add(&sandbox, &options, &Stderr).await {
            Ok(record) => println!(
                "added {}: {} stable tests, {} unstable, slowest baseline run {:.1}s, licence {}, {:.0}s",
                record.key(),
                record.stable_tests.len(),
                record.unstable_tests.len(),
                record.suite_secs,
                record.license,
                started.elapsed().as_secs_f64()
            ),
            Err(error) => {
                eprintln!("error: adding {source} failed: {error}");
                let mut cause = std::error::Error::source(&error);
                while let Some(inner) = cause {
                    eprintln!("  caused by: {inner}");
                    cause = inner.source();
                }
            }
        }
    }
    if projects.is_empty() {
        projects = std::fs::read_dir(set.join("projects"))
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        projects.sort();
    }
    let mut rows = Vec::new();
    for project in projects {
        eprintln!("generating for {project}");
        let mut validation = ValidationConfig::default();
        if let Some(parallel) = parallel {
            validation.parallel = parallel;
        }
        let options = GenerateOptions {
            set_dir: set.clone(),
            project: project.clone(),
            max_candidates: candidates,
            max_combined: combined,
            seed,
            validation,
        };
        match curate::pipeline::generate(&sandbox, &options, &Stderr).await {
            Ok(summary) => {
                eprintln!("  rejected: {:?}", summary.rejected);
                eprintln!("  valid single bugs by operator: {:?}", summary.valid_by_operator);
                rows.push((project, summary));
            }
            Err(error) => {
                eprintln!("error: generating for {project} failed: {error}");
                let mut cause = std::error::Error::source(&error);
                while let Some(inner) = cause {
                    eprintln!("  caused by: {inner}");
                    cause = inner.source();
                }
            }
        }
    }
    println!(
        "\n{:<28} {:>9} {:>10} {:>6} {:>7} {:>9} {:>14} {:>12}",
        "project", "generated", "candidates", "valid", "yield", "time (s)", "s / valid task", "valid / hour"
    );
    for (project, summary) in &rows {
        let secs = summary.elapsed.as_secs_f64();
        println!(
            "{:<28} {:>9} {:>10} {:>6} {:>6.0}% {:>9.0} {:>14} {:>12.0}",
            project,
            summary.generated,
            summary.candidates,
            summary.valid,
            summary.yield_ratio() * 100.0,
            secs,
            summary.secs_per_valid().map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into()),
            summary.valid as f64 * 3600.0 / secs.max(1.0),
        );
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("(machine: {cores} cores, shared; candidates per container batch: {})", ValidationConfig::default().batch_size);
}
