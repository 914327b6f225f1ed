//! Scores from verdicts: a public, deterministic function of the ledger. An agent's score on a
//! task set is the share of its tasks resolved; a hotkey's score is its best agent's. Weights
//! are those scores through the SDK's u16 normalisation.

use std::collections::BTreeMap;

use whetstone_tasks::{Digest, Hotkey, VerdictStatus};

use crate::store::{AgentRow, RunSummary};

#[derive(Debug, Clone, PartialEq)]
pub struct LeaderboardEntry {
    pub agent: AgentRow,
    pub resolved: u32,
    /// Runs with a final result (graded, or failed before grading).
    pub finished: u32,
    pub tasks: u32,
    pub score: f64,
}

/// One entry per agent, best score first; ties keep submission order.
pub fn leaderboard(agents: &[AgentRow], task_count: u32, runs: &[RunSummary]) -> Vec<LeaderboardEntry> {
    let mut per_agent: BTreeMap<&Digest, (u32, u32)> = BTreeMap::new();
    for run in runs {
        let entry = per_agent.entry(&run.agent).or_default();
        let graded = run.grade_done && run.verdict.is_some_and(|v| v != VerdictStatus::InfraError);
        // A run the runners gave up on (infra_error) is the network's failure, not a result.
        let failed_before_grading = run.run_done && run.run_outcome.as_deref() == Some("agent_error");
        if graded || failed_before_grading {
            entry.1 += 1;
        }
        if run.verdict == Some(VerdictStatus::Resolved) {
            entry.0 += 1;
        }
    }
    let mut entries: Vec<_> = agents
        .iter()
        .map(|agent| {
            let (resolved, finished) = per_agent.get(&agent.digest).copied().unwrap_or_default();
            let score = if task_count == 0 { 0.0 } else { f64::from(resolved) / f64::from(task_count) };
            LeaderboardEntry { agent: agent.clone(), resolved, finished, tasks: task_count, score }
        })
        .collect();
    entries.sort_by(|a, b| b.score.total_cmp(&a.score));
    entries
}

/// Each hotkey's best score, then u16 weights with zeros dropped, in hotkey order.
pub fn weights(entries: &[LeaderboardEntry]) -> Vec<(Hotkey, u16)> {
    let mut best: BTreeMap<&Hotkey, f64> = BTreeMap::new();
    for entry in entries {
        let score = best.entry(&entry.agent.hotkey).or_insert(0.0);
        *score = score.max(entry.score);
    }
    let hotkeys: Vec<&Hotkey> = best.keys().copied().collect();
    let indexed: Vec<(u16, f64)> = best.values().enumerate().map(|(i, s)| (u16::try_from(i).unwrap_or(u16::MAX), *s)).collect();
    let (indices, weights) = whetstone_chain::scores_to_u16_weights(&indexed);
    indices.into_iter().zip(weights).map(|(i, w)| (hotkeys[usize::from(i)].clone(), w)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(n: u8, hotkey: &str) -> AgentRow {
        AgentRow { digest: Digest::of_bytes(&[n]), name: format!("a{n}"), version: "1".into(), hotkey: Hotkey::new(hotkey) }
    }

    fn run(agent: &AgentRow, task: u8, verdict: Option<VerdictStatus>, outcome: &str) -> RunSummary {
        RunSummary {
            agent: agent.digest.clone(),
            task: Digest::of_bytes(&[100 + task]),
            run_done: true,
            run_outcome: Some(outcome.into()),
            grade_done: verdict.is_some(),
            verdict,
        }
    }

    #[test]
    fn scores_count_resolved_over_all_tasks() {
        let (a, b) = (agent(1, "hk-a"), agent(2, "hk-b"));
        let runs = vec![
            run(&a, 1, Some(VerdictStatus::Resolved), "completed"),
            run(&a, 2, Some(VerdictStatus::Unresolved), "completed"),
            run(&b, 1, None, "agent_error"),
            run(&b, 2, Some(VerdictStatus::InfraError), "completed"),
            run(&b, 3, None, "infra_error"),
        ];
        let board = leaderboard(&[b.clone(), a.clone()], 4, &runs);
        assert_eq!(board[0].agent, a);
        assert_eq!((board[0].resolved, board[0].finished, board[0].score), (1, 2, 0.25));
        // An infrastructure failure is not a finished result; an agent error is.
        assert_eq!((board[1].resolved, board[1].finished), (0, 1));
    }

    #[test]
    fn weights_take_each_hotkeys_best_agent_and_drop_zeros() {
        let (a1, a2, b, c) = (agent(1, "hk-a"), agent(2, "hk-a"), agent(3, "hk-b"), agent(4, "hk-c"));
        let entry = |agent: &AgentRow, score: f64| LeaderboardEntry { agent: agent.clone(), resolved: 0, finished: 0, tasks: 4, score };
        let entries = vec![entry(&a1, 0.25), entry(&a2, 0.5), entry(&b, 0.25), entry(&c, 0.0)];
        assert_eq!(weights(&entries), vec![(Hotkey::new("hk-a"), 65535), (Hotkey::new("hk-b"), 32768)]);
    }
}
