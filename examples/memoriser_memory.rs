//! Builds the memoriser agent's memory from the shipped task sets:
//!
//! ```sh
//! cargo run --example memoriser_memory                      # writes examples/agents/memoriser/memory.json
//! cargo run --example memoriser_memory -- DIR SET [SET...]  # another agent directory or other sets
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use whetstone_tasks::TaskSet;

fn main() -> Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let agent_dir = args.next().unwrap_or_else(|| root.join("examples/agents/memoriser"));
    let mut sets: Vec<PathBuf> = args.collect();
    if sets.is_empty() {
        sets = vec![root.join("tasks/sets/starter"), root.join("tasks/sets/curated")];
    }
    let loaded = sets
        .iter()
        .map(|path| TaskSet::load(path).with_context(|| format!("task set {} is invalid", path.display())))
        .collect::<Result<Vec<_>>>()?;
    let (path, count) = whetstone::memoriser::write_memory(&agent_dir, &loaded)
        .with_context(|| format!("failed to write the memory into {}", agent_dir.display()))?;
    println!("{count} gold patches memorised in {}", path.display());
    Ok(())
}
