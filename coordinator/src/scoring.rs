//! The leaderboard and the coordinator's weight preview, both read off the consensus over the
//! verdict ledger ([`crate::ledger`]): the same public function every validator runs, so what
//! miners see here is what validators' weights will say (docs/scoring.md).

use std::collections::BTreeMap;

use whetstone_chain::consensus::Consensus;
use whetstone_tasks::Hotkey;

use crate::store::AgentRow;

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
}

/// One entry per agent, best score first; ties keep submission order. An agent without a
/// verdict yet scores nothing.
pub fn leaderboard(agents: &[AgentRow], consensus: &Consensus) -> Vec<LeaderboardEntry> {
    let mut entries: Vec<_> = agents
        .iter()
        .map(|agent| match consensus.agent(&agent.digest) {
            Some(tally) => LeaderboardEntry {
                agent: agent.clone(),
                resolved: tally.resolved,
                decided: tally.resolved + tally.unresolved,
                pending: tally.pending,
                tasks: tally.tasks,
                score: tally.score,
            },
            None => LeaderboardEntry { agent: agent.clone(), resolved: 0, decided: 0, pending: 0, tasks: consensus.tasks, score: 0.0 },
        })
        .collect();
    entries.sort_by(|a, b| b.score.total_cmp(&a.score));
    entries
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

    #[test]
    fn the_board_is_the_consensus_and_a_run_without_quorum_is_pending() {
        let keys: Vec<HotkeyPair> = (1..=2).map(|i| HotkeyPair::sr25519_from_seed([i; 32]).expect("key")).collect();
        let (a, b) = (agent(1, "hk-a"), agent(2, "hk-b"));
        let mut entries = Vec::new();
        let mut vote = |run: &str, agent: &AgentRow, task: u8, key: &HotkeyPair, status| {
            let statement = VerdictStatement {
                run_id: RunId::new(run),
                task: Digest::of_bytes(&[100 + task]),
                agent: agent.digest.clone(),
                patch: Digest::of_bytes(run.as_bytes()),
                validator: key.hotkey().clone(),
                status,
                tests: Vec::new(),
                grader_version: "test".into(),
                graded_at_ms: 1,
            };
            let seq = entries.len() as u64 + 1;
            entries.push(LedgerEntry { seq, run_id: RunId::new(run), verdict: statement.sign(key).expect("signs") });
        };
        vote("r1", &a, 1, &keys[0], VerdictStatus::Resolved);
        vote("r1", &a, 1, &keys[1], VerdictStatus::Resolved);
        vote("r2", &a, 2, &keys[0], VerdictStatus::Unresolved);
        vote("r2", &a, 2, &keys[1], VerdictStatus::Unresolved);
        vote("r3", &b, 1, &keys[0], VerdictStatus::Resolved);
        let validators = ValidatorSet::new(keys.iter().map(|k| (k.hotkey().clone(), 1)));
        let verified = consensus::verify_ledger(&entries, &validators);
        let consensus = consensus::decide(&verified.accepted, &validators, &Rules::for_validators(&validators));
        let board = leaderboard(&[b.clone(), a.clone()], &consensus);
        assert_eq!(board[0].agent, a);
        assert_eq!((board[0].resolved, board[0].decided, board[0].pending, board[0].score), (1, 2, 0, 0.5));
        assert_eq!((board[1].resolved, board[1].pending, board[1].score), (0, 1, 0.0), "one verdict of a quorum of two: pending");
    }

    #[test]
    fn weights_drop_zeros_and_upscale_the_best_to_the_maximum() {
        let scores: BTreeMap<Hotkey, f64> =
            [("hk-a", 0.5), ("hk-b", 0.25), ("hk-c", 0.0)].into_iter().map(|(h, s)| (Hotkey::new(h), s)).collect();
        assert_eq!(weights(&scores), vec![(Hotkey::new("hk-a"), 65535), (Hotkey::new("hk-b"), 32768)]);
    }
}
