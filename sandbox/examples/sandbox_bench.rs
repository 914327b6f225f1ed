//! Measures what a sandbox costs: the base image lookup and the per-container overhead
//! (create, start, wait, inspect, remove) around a process that does nothing.
//!
//! `cargo run -p whetstone-sandbox --example sandbox_bench [runs]` (needs Docker; builds the
//! base image first if it is missing, which needs root).

use std::time::{Duration, Instant};

use whetstone_sandbox::{NoProgress, OrphanScope, Role, RunSpec, Sandbox};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20)
        .max(1);
    let sandbox = Sandbox::connect(&format!("bench-{}", std::process::id())).await?;

    let started = Instant::now();
    let base = sandbox.ensure_base_image(&NoProgress).await?;
    println!("ensure_base_image({base}): {:?}", started.elapsed());

    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let spec = RunSpec::new(
            base.clone(),
            vec!["true".to_owned()],
            Role::Probe,
            format!("bench-{i}"),
        );
        let outcome = sandbox.run(spec).await?;
        let t = outcome.timings;
        samples.push([t.create, t.run, t.total, t.total.saturating_sub(t.run)]);
    }
    sandbox.remove_orphans(OrphanScope::ThisOwner).await?;

    println!("{runs} runs of `true`");
    println!("{:<10} {:>10} {:>10} {:>10}", "", "min", "median", "max");
    for (column, name) in ["create", "run", "total", "overhead"].iter().enumerate() {
        let mut values: Vec<Duration> = samples.iter().map(|s| s[column]).collect();
        values.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{name:<10} {:>10} {:>10} {:>10}",
            ms(values[0]),
            ms(values[values.len() / 2]),
            ms(values[values.len() - 1])
        );
    }
    Ok(())
}
