//! The memoriser's memory (`examples/agents/memoriser`): every shipped task's gold patch,
//! keyed by the sha256 of its instruction, written as the agent's `memory.json`. It is built
//! from the task sets rather than committed (the gold patches of the shipped sets are close
//! to a megabyte), by `cargo run --example memoriser_memory` or by the memorisation test.
//! The agent exists to show what epochs with fresh tasks defend against: it tops any fixed
//! set it was built from and resolves nothing it has not seen (docs/scoring.md, "Epochs").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use whetstone_tasks::{Digest, TaskSet};

/// The file the agent reads, next to its `agent.py`.
pub const MEMORY_FILE: &str = "memory.json";

/// The memory as the agent reads it: `{"sets": [...], "patches": {instruction sha256: gold patch}}`.
pub fn memory(sets: &[TaskSet]) -> serde_json::Value {
    let patches: BTreeMap<String, String> = sets
        .iter()
        .flat_map(|set| &set.tasks)
        .map(|task| (Digest::of_bytes(task.instruction.as_bytes()).to_string(), String::from_utf8_lossy(task.gold_patch()).into_owned()))
        .collect();
    let names: Vec<&str> = sets.iter().map(|set| set.name.as_str()).collect();
    serde_json::json!({ "sets": names, "patches": patches })
}

/// Writes `memory.json` into `agent_dir`. Returns its path and how many tasks it remembers.
pub fn write_memory(agent_dir: &Path, sets: &[TaskSet]) -> std::io::Result<(PathBuf, usize)> {
    let memory = memory(sets);
    let count = memory["patches"].as_object().map_or(0, serde_json::Map::len);
    let path = agent_dir.join(MEMORY_FILE);
    std::fs::write(&path, serde_json::to_vec(&memory)?)?;
    Ok((path, count))
}
