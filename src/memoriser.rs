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

/// The memory as the agent reads it: `{"sets": [...], "patches": {instruction sha256: [gold
/// patch, ...]}}`. Several tasks can share an instruction (generated statements come from the
/// failing tests, and two bugs can break the same tests); the agent applies the first of their
/// patches that applies to the repository it was given.
pub fn memory(sets: &[TaskSet]) -> serde_json::Value {
    let mut patches: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for task in sets.iter().flat_map(|set| &set.tasks) {
        let key = Digest::of_bytes(task.instruction.as_bytes()).to_string();
        patches.entry(key).or_default().push(String::from_utf8_lossy(task.gold_patch()).into_owned());
    }
    let names: Vec<&str> = sets.iter().map(|set| set.name.as_str()).collect();
    serde_json::json!({ "sets": names, "patches": patches })
}

/// Writes `memory.json` into `agent_dir`. Returns its path and how many gold patches it holds.
pub fn write_memory(agent_dir: &Path, sets: &[TaskSet]) -> std::io::Result<(PathBuf, usize)> {
    let memory = memory(sets);
    let count = memory["patches"].as_object().map_or(0, |keys| keys.values().filter_map(serde_json::Value::as_array).map(Vec::len).sum());
    let path = agent_dir.join(MEMORY_FILE);
    std::fs::write(&path, serde_json::to_vec(&memory)?)?;
    Ok((path, count))
}
