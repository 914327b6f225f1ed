//! One module per page; each handler reads the store and the consensus and renders HTML.

pub(super) mod agent;
pub(super) mod leaderboard;
pub(super) mod run;
pub(super) mod tasks;
pub(super) mod validators;

use std::collections::BTreeMap;

use whetstone_tasks::Digest;

use crate::store::RunRecord;

/// Every task that has runs, by task id: the heat maps' columns.
pub(super) fn tasks_of(records: &[RunRecord]) -> Vec<(Digest, String)> {
    let tasks: BTreeMap<&str, &Digest> = records.iter().map(|r| (r.task_id.as_str(), &r.task)).collect();
    tasks.into_iter().map(|(id, digest)| (digest.clone(), id.to_owned())).collect()
}
