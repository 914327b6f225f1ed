//! How many run networks one host holds, and what creating and removing them costs: creates
//! `count` run networks from the default range, `at_once` at a time, all held together, prints
//! the time per batch and in all, then removes them and prints that too. (That each one works
//! is the `docker_fifty_run_networks_*` test's job.)
//!
//! `cargo run --release -p whetstone-sandbox --example run_networks_bench [count] [at_once]`
//! (needs Docker; defaults 250 and 50). Everything it makes carries its own owner label and is
//! removed at the end, also after a failure.

use std::time::{Duration, Instant};

use futures::future::join_all;
use whetstone_sandbox::{OrphanScope, RunNetwork, Sandbox};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(250).max(1);
    let at_once: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(50).max(1);
    let sandbox = Sandbox::connect(&format!("bench-networks-{}", std::process::id())).await?;
    println!("run network range: {} ({} blocks)", sandbox.run_subnets(), sandbox.run_subnets().block_count());
    let result = bench(&sandbox, count, at_once).await;
    let leftovers = sandbox.remove_orphans(OrphanScope::ThisOwner).await?;
    if leftovers > 0 {
        println!("removed {leftovers} leftovers after a failure");
    }
    result
}

async fn bench(sandbox: &Sandbox, count: usize, at_once: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut held: Vec<RunNetwork> = Vec::with_capacity(count);
    let mut batches: Vec<(usize, Duration)> = Vec::new();
    let started = Instant::now();
    while held.len() < count {
        let batch = at_once.min(count - held.len());
        let batch_started = Instant::now();
        let first = held.len();
        let jobs: Vec<String> = (first..first + batch).map(|i| format!("bench-{i}")).collect();
        let created = join_all(jobs.iter().map(|job| sandbox.create_run_network(job))).await;
        let elapsed = batch_started.elapsed();
        let mut failed = None;
        for network in created {
            match network {
                Ok(network) => held.push(network),
                Err(error) => failed = Some(error),
            }
        }
        batches.push((held.len(), elapsed));
        if let Some(error) = failed {
            println!("stopped at {} networks held: {}", held.len(), error_chain(&error));
            break;
        }
    }
    let create_total = started.elapsed();

    println!("\n{:>14} {:>12} {:>16}", "networks held", "batch time", "per network");
    let mut previous = 0;
    for (held_after, elapsed) in &batches {
        let made = held_after - previous;
        previous = *held_after;
        let per = if made > 0 { *elapsed / made as u32 } else { Duration::ZERO };
        println!("{held_after:>14} {:>12} {:>16}", format!("{elapsed:.2?}"), format!("{per:.2?}"));
    }
    println!("\nheld {} run networks at once; created in {create_total:.2?}", held.len());

    let started = Instant::now();
    let held_count = held.len();
    while !held.is_empty() {
        let batch: Vec<RunNetwork> = held.drain(..at_once.min(held.len())).collect();
        for removed in join_all(batch.into_iter().map(RunNetwork::remove)).await {
            removed?;
        }
    }
    println!("removed {held_count} run networks in {:.2?}", started.elapsed());
    Ok(())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
