//! Measures what a sandbox costs: the base image lookup and the per-container overhead
//! (create, start, fill, run, stop, empty, remove) around a process that does nothing, in three
//! shapes: a bare run, a small tree uploaded to and downloaded from the image's own
//! filesystem (how grading runs), and the same tree in a tmpfs on a read-only root (how agent
//! runs go).
//!
//! `cargo run -p whetstone-sandbox --example sandbox_bench [runs]` (needs Docker; builds the
//! base image first if it is missing, which needs root).

use std::path::Path;
use std::time::Duration;

use whetstone_sandbox::archive::pack_dir;
use whetstone_sandbox::{ImageRef, NoProgress, OrphanScope, Role, RunSpec, Sandbox, Timings, Tmpfs, Upload};

/// The starter set's toolz tree: about 200 KiB of Python in 40 files.
const TREE: &str = "../tasks/sets/starter/projects/toolz-1.2.0/base";

/// Makes the spec of run `i` of one shape.
type Shape = fn(&ImageRef, &Path, usize) -> std::io::Result<RunSpec>;
/// One column of the printed table.
type Column = (&'static str, fn(&Timings) -> Duration);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(20).max(1);
    let sandbox = Sandbox::connect(&format!("bench-{}", std::process::id())).await?;

    let started = std::time::Instant::now();
    let base = sandbox.ensure_base_image(&NoProgress).await?;
    println!("ensure_base_image({base}): {:?}", started.elapsed());
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join(TREE);

    let shapes: [(&str, Shape); 3] = [("bare `true`", bare), ("tree via image fs", via_image), ("tree via tmpfs, ro root", via_tmpfs)];
    for (label, make) in shapes {
        let mut samples = Vec::with_capacity(runs);
        for i in 0..runs {
            let outcome = sandbox.run(make(&base, &tree, i)?).await?;
            assert!(outcome.exit.is_success(), "{label}: {}", outcome.output);
            samples.push(outcome.timings);
        }
        print_table(&format!("{runs} runs, {label}"), &samples);
    }
    sandbox.remove_orphans(OrphanScope::ThisOwner).await?;
    Ok(())
}

fn bare(base: &ImageRef, _tree: &Path, i: usize) -> std::io::Result<RunSpec> {
    Ok(RunSpec::new(base.clone(), vec!["true".to_owned()], Role::Probe, format!("bench-{i}")))
}

fn via_image(base: &ImageRef, tree: &Path, i: usize) -> std::io::Result<RunSpec> {
    let mut spec = bare(base, tree, i)?;
    spec.user = Some("1000:1000".to_owned());
    spec.uploads = vec![Upload { dest_dir: "/".to_owned(), tar: pack_dir(tree, "work", (1000, 1000))? }];
    spec.downloads = vec!["/work".to_owned()];
    Ok(spec)
}

fn via_tmpfs(base: &ImageRef, tree: &Path, i: usize) -> std::io::Result<RunSpec> {
    let mut spec = bare(base, tree, i)?;
    spec.user = Some("1000:1000".to_owned());
    spec.read_only_root = true;
    spec.tmpfs.push(Tmpfs::owned_by("/work", 64 * 1024 * 1024, (1000, 1000)));
    spec.uploads = vec![Upload { dest_dir: "/work".to_owned(), tar: pack_dir(tree, "", (1000, 1000))? }];
    spec.downloads = vec!["/work".to_owned()];
    Ok(spec)
}

fn print_table(title: &str, samples: &[Timings]) {
    println!("{title}");
    println!("{:<10} {:>10} {:>10} {:>10}", "", "min", "median", "max");
    let columns: [Column; 4] =
        [("create", |t| t.create), ("run", |t| t.run), ("total", |t| t.total), ("overhead", |t| t.total.saturating_sub(t.run))];
    for (name, column) in columns {
        let mut values: Vec<Duration> = samples.iter().map(column).collect();
        values.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!("{name:<10} {:>10} {:>10} {:>10}", ms(values[0]), ms(values[values.len() / 2]), ms(values[values.len() - 1]));
    }
}
