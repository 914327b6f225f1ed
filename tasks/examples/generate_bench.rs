//! What the bug generator finds and how fast, on the toolz sources of the starter set
//! (Python) and the vendored semver sources (Rust), or on project trees given as arguments.
//!
//! `cargo run --release -p whetstone-tasks --example generate_bench [runs] [python|rust=<dir> …]`
//!
//! For each tree, `runs` generations (default 5; the median is reported) with the default
//! configuration, then: what the filters kept, candidates per operator, and the rates of
//! mutations checked (each one a tree-sitter re-parse) and candidates kept per second, plus
//! bug and gold patches rendered per second.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use whetstone_tasks::generate::{Generation, Generator, GeneratorConfig, Language, Operator, combine};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BenchResult<()> {
    let mut args = std::env::args().skip(1).peekable();
    let runs: usize = match args.peek().map(|a| a.parse()) {
        Some(Ok(n)) => {
            args.next();
            n
        }
        _ => 5,
    };
    let runs = runs.max(1);
    let mut trees: Vec<(Language, PathBuf)> = Vec::new();
    for arg in args {
        let (language, dir) = arg.split_once('=').ok_or("trees are given as python=<dir> or rust=<dir>")?;
        trees.push((language.parse()?, PathBuf::from(dir)));
    }
    if trees.is_empty() {
        let tasks = Path::new(env!("CARGO_MANIFEST_DIR"));
        trees.push((Language::Python, tasks.join("sets/starter/projects/toolz-1.2.0/base")));
        trees.push((Language::Rust, tasks.join("tests/integration/generate_fixtures/semver")));
    }

    let mut results = Vec::new();
    for (language, root) in &trees {
        let generator = Generator::new(*language, GeneratorConfig::default());
        let mut times = Vec::new();
        let mut generation = None;
        for _ in 0..runs {
            let started = Instant::now();
            generation = Some(generator.generate(root)?);
            times.push(started.elapsed());
        }
        times.sort();
        let generation: Generation = generation.ok_or("no run")?;
        let median = times[times.len() / 2];

        let started = Instant::now();
        let mut patch_bytes = 0;
        for candidate in &generation.candidates {
            patch_bytes += candidate.bug_patch().len() + candidate.gold_patch().len();
        }
        let patch_time = started.elapsed();
        let started = Instant::now();
        let combined = combine(&generation.candidates, 3, 0)?;
        let combine_time = started.elapsed();
        results.push((*language, root.clone(), generation, median, patch_time, patch_bytes, combined.len(), combine_time));
    }

    println!("{runs} runs per tree, median times; default configuration (min 5 statements, 4 per function)\n");
    println!(
        "{:<8} {:>6} {:>6} {:>8} {:>9} {:>8} {:>6} {:>7} {:>10} {:>9} {:>13} {:>12} {:>9}",
        "language",
        "files",
        "funcs",
        "eligible",
        "mutations",
        "rejected",
        "dups",
        "capped",
        "candidates",
        "time",
        "mutations/s",
        "candidates/s",
        "combined"
    );
    for (language, _, generation, median, _, _, combined, _) in &results {
        let r = &generation.report;
        println!(
            "{:<8} {:>6} {:>6} {:>8} {:>9} {:>8} {:>6} {:>7} {:>10} {:>9} {:>13.0} {:>12.0} {:>9}",
            language.name(),
            r.files_scanned,
            r.functions,
            r.eligible_functions,
            r.mutations,
            r.rejected_syntax,
            r.duplicates,
            r.capped,
            generation.candidates.len(),
            format_duration(*median),
            per_second(r.mutations, *median),
            per_second(generation.candidates.len(), *median),
            combined,
        );
    }

    println!("\ncandidates per operator");
    print!("{:<22}", "operator");
    for (language, ..) in &results {
        print!(" {:>8}", language.name());
    }
    println!();
    for operator in Operator::ALL {
        print!("{:<22}", operator.name());
        for (_, _, generation, ..) in &results {
            print!(" {:>8}", generation.report.candidates_per_operator.get(&operator).copied().unwrap_or(0));
        }
        println!();
    }

    println!("\npatches (bug + gold per candidate) and combining");
    for (language, root, generation, _, patch_time, patch_bytes, combined, combine_time) in &results {
        println!(
            "{:<8} {:>6} patch pairs in {:>9} ({:>7.0}/s, {} KiB); {} combined in {} ({})",
            language.name(),
            generation.candidates.len(),
            format_duration(*patch_time),
            per_second(generation.candidates.len(), *patch_time),
            patch_bytes / 1024,
            combined,
            format_duration(*combine_time),
            root.display(),
        );
        for skipped in &generation.report.skipped_files {
            println!("         skipped {} ({:?})", skipped.path, skipped.reason);
        }
    }
    Ok(())
}

fn per_second(count: usize, time: Duration) -> f64 {
    count as f64 / time.as_secs_f64().max(1e-9)
}

fn format_duration(time: Duration) -> String {
    format!("{:.1} ms", time.as_secs_f64() * 1000.0)
}
