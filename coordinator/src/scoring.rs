//! The leaderboard and the coordinator's weight preview, both read off the consensus over the
//! verdict ledger ([`crate::ledger`]): the same public function every validator runs, so what
//! miners see here is what validators' weights will say (docs/scoring.md). Cost orders equal
//! scores on the board only: it is the coordinator's figure, not signed evidence.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use whetstone_chain::consensus::Consensus;
use whetstone_tasks::{Digest, Hotkey};

use crate::store::{AgentRow, RunCost};

#[derive(Debug, Clone, PartialEq)]
pub struct LeaderboardEntry {
    pub agent: AgentRow,
    /// Tasks whose run the consensus decided resolved.
    pub resolved: u32,
    /// Tasks with a decided result, resolved or not.
    pub decided: u32,
    /// Tasks whose runs have verdicts but no consensus yet: they count for nobody.
    pub pending: u32,
    /// Every task in the ledger: the denominator.
    pub tasks: u32,
    pub score: f64,
    /// What the agent's finished runs cost together.
    pub cost: RunCost,
}

impl LeaderboardEntry {
    /// [`Self::cost`] per resolved task; `None` while the agent has resolved nothing.
    pub fn cost_per_resolved(&self) -> Option<RunCost> {
        self.cost.per_resolved(self.resolved)
    }
}

/// One entry per agent, best score first; equal scores go cheaper first (LLM spend per
/// resolved task, then sandbox time per resolved task), and otherwise keep submission order.
/// An agent without a verdict yet scores nothing. `costs` are per agent digest; an agent
/// absent from it cost nothing yet.
pub fn leaderboard(agents: &[AgentRow], consensus: &Consensus, costs: &BTreeMap<Digest, RunCost>) -> Vec<LeaderboardEntry> {
    let mut entries: Vec<_> = agents
        .iter()
        .map(|agent| {
            let cost = costs.get(&agent.digest).copied().unwrap_or_default();
            match consensus.agent(&agent.digest) {
                Some(tally) => LeaderboardEntry {
                    agent: agent.clone(),
                    resolved: tally.resolved,
                    decided: tally.resolved + tally.unresolved,
                    pending: tally.pending,
                    tasks: tally.tasks,
                    score: tally.score,
                    cost,
                },
                None => {
                    LeaderboardEntry { agent: agent.clone(), resolved: 0, decided: 0, pending: 0, tasks: consensus.tasks, score: 0.0, cost }
                }
            }
        })
        .collect();
    entries.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| cheaper_first(a, b)));
    entries
}

/// The displayed tie-break: lower cost per resolved task first. Agents that resolved nothing
/// have no such cost and keep their order.
fn cheaper_first(a: &LeaderboardEntry, b: &LeaderboardEntry) -> Ordering {
    match (a.cost_per_resolved(), b.cost_per_resolved()) {
        (Some(x), Some(y)) => (x.llm_micro_usd, x.sandbox_ms).cmp(&(y.llm_micro_usd, y.sandbox_ms)),
        _ => Ordering::Equal,
    }
}

/// Miners' scores as u16 weights with zeros dropped, in hotkey order.
pub fn weights(scores: &BTreeMap<Hotkey, f64>) -> Vec<(Hotkey, u16)> {
    let hotkeys: Vec<&Hotkey> = scores.keys().collect();
    let indexed: Vec<(u16, f64)> = scores.values().enumerate().map(|(i, s)| (u16::try_from(i).unwrap_or(u16::MAX), *s)).collect();
    let (indices, weights) = whetstone_chain::scores_to_u16_weights(&indexed);
    indices.into_iter().zip(weights).map(|(i, w)| (hotkeys[usize::from(i)].clone(), w)).collect()
}

#[cfg(test)]
mod tests {
    use whetstone_chain::consensus::{self, LedgerEntry, Rules, ValidatorSet};
    use whetstone_chain::verdict::VerdictStatement;
    use whetstone_chain::wallet::HotkeyPair;
    use whetstone_tasks::{Digest, RunId, VerdictStatus};

    use super::*;

    fn agent(n: u8, hotkey: &str) -> AgentRow {
        AgentRow { digest: Digest::of_bytes(&[n]), name: format!("a{n}"), version: "1".into(), hotkey: Hotkey::new(hotkey), copy_of: None }
    }

    /// The consensus of two equal validators voting `status` on each (run, agent, task).
    fn consensus_of(votes: &[(&str, &AgentRow, u8, &[VerdictStatus])]) -> Consensus {
        let keys: Vec<HotkeyPair> = (1..=2).map(|i| HotkeyPair::sr25519_from_seed([i; 32]).expect("key")).collect();
        let mut entries = Vec::new();
        for (run, agent, task, statuses) in votes {
            for (key, status) in keys.iter().zip(statuses.iter()) {
                let statement = VerdictStatement {
                    run_id: RunId::new(*run),
                    task: Digest::of_bytes(&[100 + task]),
                    agent: agent.digest.clone(),
                    patch: Digest::of_bytes(run.as_bytes()),
                    validator: key.hotkey().clone(),
                    status: *status,
                    tests: Vec::new(),
                    grader_version: "test".into(),
                    graded_at_ms: 1,
                };
                let seq = entries.len() as u64 + 1;
                entries.push(LedgerEntry { seq, run_id: RunId::new(*run), verdict: statement.sign(key).expect("signs") });
            }
        }
        let validators = ValidatorSet::new(keys.iter().map(|k| (k.hotkey().clone(), 1)));
        let verified = consensus::verify_ledger(&entries, &validators);
        consensus::decide(&verified.accepted, &validators, &Rules::for_validators(&validators))
    }

    const BOTH_RESOLVED: &[VerdictStatus] = &[VerdictStatus::Resolved, VerdictStatus::Resolved];
    const BOTH_UNRESOLVED: &[VerdictStatus] = &[VerdictStatus::Unresolved, VerdictStatus::Unresolved];

    #[test]
    fn the_board_is_the_consensus_and_a_run_without_quorum_is_pending() {
        let (a, b) = (agent(1, "hk-a"), agent(2, "hk-b"));
        let consensus =
            consensus_of(&[("r1", &a, 1, BOTH_RESOLVED), ("r2", &a, 2, BOTH_UNRESOLVED), ("r3", &b, 1, &[VerdictStatus::Resolved])]);
        let board = leaderboard(&[b.clone(), a.clone()], &consensus, &BTreeMap::new());
        assert_eq!(board[0].agent, a);
        assert_eq!((board[0].resolved, board[0].decided, board[0].pending, board[0].score), (1, 2, 0, 0.5));
        assert_eq!((board[1].resolved, board[1].pending, board[1].score), (0, 1, 0.0), "one verdict of a quorum of two: pending");
    }

    #[test]
    fn equal_scores_rank_cheaper_per_resolved_task_first_and_cost_never_beats_score() {
        let (a, b, c, d) = (agent(1, "hk-a"), agent(2, "hk-b"), agent(3, "hk-c"), agent(4, "hk-d"));
        let consensus = consensus_of(&[
            ("r1", &a, 1, BOTH_RESOLVED),
            ("r2", &b, 1, BOTH_RESOLVED),
            ("r3", &c, 1, BOTH_RESOLVED),
            ("r4", &c, 2, BOTH_RESOLVED),
            ("r5", &d, 1, BOTH_UNRESOLVED),
        ]);
        let cost = |llm, sandbox_ms| RunCost { llm_micro_usd: llm, sandbox_ms };
        let costs: BTreeMap<Digest, RunCost> = [
            (a.digest.clone(), cost(900, 10)),
            (b.digest.clone(), cost(300, 50)),
            (c.digest.clone(), cost(5_000, 10)),
            (d.digest.clone(), cost(1, 1)),
        ]
        .into_iter()
        .collect();
        let board = leaderboard(&[a.clone(), b.clone(), c.clone(), d.clone()], &consensus, &costs);
        let order: Vec<&str> = board.iter().map(|e| e.agent.name.as_str()).collect();
        assert_eq!(order, ["a3", "a2", "a1", "a4"], "c scores more however much it spent; b ties a for less");
        assert_eq!(board[0].cost_per_resolved(), Some(cost(2_500, 5)));
        assert_eq!(board[3].cost_per_resolved(), None, "nothing resolved: no cost per resolved task");
    }

    #[test]
    fn weights_drop_zeros_and_upscale_the_best_to_the_maximum() {
        let scores: BTreeMap<Hotkey, f64> =
            [("hk-a", 0.5), ("hk-b", 0.25), ("hk-c", 0.0)].into_iter().map(|(h, s)| (Hotkey::new(h), s)).collect();
        assert_eq!(weights(&scores), vec![(Hotkey::new("hk-a"), 65535), (Hotkey::new("hk-b"), 32768)]);
    }
}
