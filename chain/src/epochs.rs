//! Evaluation epochs, `epochs/1`: which tasks each epoch's evaluation set holds, and how an
//! agent's per-epoch scores carry over into its score (docs/scoring.md, "Epochs").
//!
//! An epoch is a fixed run of chain blocks. Its evaluation set is fixed by a value nobody
//! knows before the epoch starts and everybody can check afterwards: the hash of the block at
//! the epoch's boundary, hashed into an [`EpochSeed`]. The seed
//! - **draws** up to [`EpochRules::draw`] tasks from the pool (tasks curators published ahead
//!   of time), each pool task at most once over the subnet's life, so a task an agent met in one
//!   epoch never scores again: [`epoch_sets`] ranks the eligible, undrawn pool tasks by
//!   `sha256(seed ‖ task digest)` and takes the lowest;
//! - seeds the **bug generator** ([`EpochSeed::generator_seed`], what `whetstone tasks
//!   generate --seed` takes) for up to [`EpochRules::fresh`] tasks made during the epoch;
//!   a fresh task whose recorded generator seed is not its epoch's is refused.
//!
//! Every run is made for one epoch and says so in its id (`run-e<epoch>-<uuid>`,
//! [`epoch_run_id`]), which validators sign with their verdicts. [`score_epochs`] counts a
//! run only when its task is in its epoch's set; an agent's score in an epoch is the tasks of
//! the set it resolved over the set's size, and its standing is the average of its per-epoch
//! scores weighted by [`EpochRules::decay`] to the power of each epoch's age.
//!
//! The coordinator and every validator compute the sets with these functions from the same
//! inputs (the rules, the chain's block hashes, the pool as the coordinator lists it), so a
//! validator needs no number the coordinator computed; `tests` pins the function.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use whetstone_tasks::{Digest, RunId};

use crate::consensus::{AgentTally, Consensus, RunResult};

/// The name and version of the epoch function, as leaderboards and logs cite it.
pub const EPOCH_FUNCTION: &str = "epochs/1";

/// The whole scoring function when epochs are on: `consensus/1` decides each run, `epochs/1`
/// scores each epoch and carries scores over. Weights differ from `consensus/1`'s, hence the
/// new name.
pub const EPOCH_SCORING: &str = "consensus/2";

const SEED_DOMAIN: &[u8] = b"whetstone-epoch/1\0";

/// The epoch function's parameters. The coordinator's `[epochs]` table; validators read them
/// from the coordinator (`Scores.Epochs`) and may pin them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpochRules {
    /// The block at which epoch 0 starts. Default 0.
    pub genesis_block: u64,
    /// Blocks per epoch. Default 7200 (a day of 12-second blocks).
    pub length_blocks: u64,
    /// Pool tasks drawn into each epoch's set. Default 50.
    pub draw: u32,
    /// Most freshly generated tasks one epoch's set takes. Default 20.
    pub fresh: u32,
    /// What an epoch's score weighs, relative to the next epoch's: a score `k` epochs old
    /// weighs `decay^k`. In (0, 1]; 1 averages every epoch alike. Default 0.5.
    pub decay: f64,
}

impl Default for EpochRules {
    fn default() -> Self {
        Self { genesis_block: 0, length_blocks: 7200, draw: 50, fresh: 20, decay: 0.5 }
    }
}

/// Rules that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    #[error("epochs.length_blocks must be at least 1")]
    ZeroLength,
    #[error("epochs.decay must be in (0, 1], not {0}")]
    Decay(f64),
    #[error("epochs.draw and epochs.fresh are both 0: every epoch's set would be empty")]
    Empty,
}

impl EpochRules {
    pub fn check(&self) -> Result<(), RulesError> {
        if self.length_blocks == 0 {
            return Err(RulesError::ZeroLength);
        }
        if !(self.decay > 0.0 && self.decay <= 1.0) {
            return Err(RulesError::Decay(self.decay));
        }
        if self.draw == 0 && self.fresh == 0 {
            return Err(RulesError::Empty);
        }
        Ok(())
    }

    /// The epoch `block` belongs to; `None` before the genesis block.
    pub fn epoch_at(&self, block: u64) -> Option<u64> {
        block.checked_sub(self.genesis_block).map(|offset| offset / self.length_blocks.max(1))
    }

    /// The first block of `epoch`: the block whose hash seeds it.
    pub fn boundary(&self, epoch: u64) -> u64 {
        self.genesis_block.saturating_add(epoch.saturating_mul(self.length_blocks.max(1)))
    }

    /// One line naming the function and its parameters.
    pub fn describe(&self) -> String {
        format!(
            "{EPOCH_FUNCTION}: {} blocks from block {}, {} pool + {} fresh tasks, decay {}",
            self.length_blocks, self.genesis_block, self.draw, self.fresh, self.decay
        )
    }
}

/// An epoch's randomness: sha256 of the domain, the epoch number and its boundary block's hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EpochSeed([u8; 32]);

impl EpochSeed {
    pub fn derive(epoch: u64, boundary_hash: &[u8; 32]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(SEED_DOMAIN);
        hasher.update(epoch.to_be_bytes());
        hasher.update(boundary_hash);
        Self(hasher.finalize().into())
    }

    /// The bug generator's seed for the epoch's fresh tasks: the seed's first 8 bytes.
    pub fn generator_seed(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(first)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim_start_matches("0x")).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// Where `task` falls in this epoch's draw order: lower is drawn first.
    fn rank(&self, task: &Digest) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(task.as_str().as_bytes());
        hasher.finalize().into()
    }
}

impl fmt::Debug for EpochSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EpochSeed({})", self.to_hex())
    }
}

/// Parses a 32-byte block hash written as hex (with or without `0x`).
pub fn parse_block_hash(text: &str) -> Option<[u8; 32]> {
    hex::decode(text.trim_start_matches("0x")).ok()?.try_into().ok()
}

/// A pool task as the coordinator lists it: drawable from epoch `eligible_from` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTask {
    pub task: Digest,
    pub eligible_from: u64,
}

/// A task generated for one epoch, with the generator seed it was made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreshTask {
    pub task: Digest,
    pub epoch: u64,
    pub generator_seed: u64,
}

/// One epoch's evaluation set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochSet {
    pub epoch: u64,
    pub seed: EpochSeed,
    /// Pool tasks, in draw order.
    pub drawn: Vec<Digest>,
    /// Fresh tasks admitted, by digest.
    pub fresh: Vec<Digest>,
    /// Fresh tasks listed for this epoch but refused, and why.
    pub refused: Vec<(Digest, String)>,
}

impl EpochSet {
    pub fn contains(&self, task: &Digest) -> bool {
        self.drawn.contains(task) || self.fresh.contains(task)
    }

    pub fn len(&self) -> usize {
        self.drawn.len() + self.fresh.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn tasks(&self) -> impl Iterator<Item = &Digest> {
        self.drawn.iter().chain(&self.fresh)
    }
}

/// Every epoch's set, from 0 through `seeds.len() - 1` (`seeds[e]` is epoch `e`'s seed): the
/// draws depend on every earlier draw, since a pool task is drawn at most once.
pub fn epoch_sets(rules: &EpochRules, seeds: &[EpochSeed], pool: &[PoolTask], fresh: &[FreshTask]) -> Vec<EpochSet> {
    let mut drawn_before: BTreeSet<&Digest> = BTreeSet::new();
    let mut sets = Vec::with_capacity(seeds.len());
    for (epoch, seed) in (0u64..).zip(seeds) {
        let mut eligible: Vec<&Digest> =
            pool.iter().filter(|p| p.eligible_from <= epoch && !drawn_before.contains(&p.task)).map(|p| &p.task).collect();
        eligible.sort();
        eligible.dedup();
        eligible.sort_by_cached_key(|task| seed.rank(task));
        eligible.truncate(usize::try_from(rules.draw).unwrap_or(usize::MAX));
        drawn_before.extend(eligible.iter().copied());
        let drawn: Vec<Digest> = eligible.into_iter().cloned().collect();

        let mut candidates: Vec<&FreshTask> = fresh.iter().filter(|f| f.epoch == epoch).collect();
        candidates.sort_by(|a, b| a.task.cmp(&b.task));
        candidates.dedup_by(|a, b| a.task == b.task);
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for candidate in candidates {
            if candidate.generator_seed != seed.generator_seed() {
                refused.push((
                    candidate.task.clone(),
                    format!(
                        "generated with seed {} but epoch {epoch}'s generator seed is {}",
                        candidate.generator_seed,
                        seed.generator_seed()
                    ),
                ));
            } else if drawn.contains(&candidate.task) || drawn_before.contains(&candidate.task) {
                refused.push((candidate.task.clone(), "it is a pool task, drawn in this or an earlier epoch".to_owned()));
            } else if admitted.len() >= usize::try_from(rules.fresh).unwrap_or(usize::MAX) {
                refused.push((candidate.task.clone(), format!("epoch {epoch} takes at most {} fresh tasks", rules.fresh)));
            } else {
                admitted.push(candidate.task.clone());
            }
        }
        sets.push(EpochSet { epoch, seed: *seed, drawn, fresh: admitted, refused });
    }
    sets
}

/// How far the pool reaches past the epochs whose sets are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// Pool tasks not drawn yet.
    pub undrawn: u64,
    /// Whole epochs those fill at `draw` tasks each.
    pub epochs: u64,
}

/// The pool's reach after `sets`.
pub fn coverage(rules: &EpochRules, sets: &[EpochSet], pool: &[PoolTask]) -> Coverage {
    let drawn: BTreeSet<&Digest> = sets.iter().flat_map(|s| s.drawn.iter()).collect();
    let undrawn = pool.iter().map(|p| &p.task).collect::<BTreeSet<_>>().into_iter().filter(|t| !drawn.contains(t)).count() as u64;
    Coverage { undrawn, epochs: if rules.draw == 0 { 0 } else { undrawn / u64::from(rules.draw) } }
}

/// A run id made for `epoch`: `run-e<epoch>-<unique>`.
pub fn epoch_run_id(epoch: u64, unique: &str) -> RunId {
    RunId::new(format!("run-e{epoch}-{unique}"))
}

/// The epoch a run was made for, from its id; `None` for ids made without epochs.
pub fn run_epoch(run: &RunId) -> Option<u64> {
    let rest = run.as_str().strip_prefix("run-e")?;
    let (number, unique) = rest.split_once('-')?;
    if number.is_empty() || unique.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// One agent's result in one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochTally {
    pub epoch: u64,
    pub resolved: u32,
    pub unresolved: u32,
    pub pending: u32,
    /// The epoch's set size: the denominator.
    pub tasks: u32,
    /// resolved / tasks.
    pub score: f64,
}

/// An agent's per-epoch results and its carried-over score.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub agent: Digest,
    /// Epochs in which it has a decided run, oldest first.
    pub epochs: Vec<EpochTally>,
    /// The decay-weighted average of `epochs`' scores as of the current epoch.
    pub score: f64,
}

impl Standing {
    /// Its tally in `epoch`, if it took part.
    pub fn in_epoch(&self, epoch: u64) -> Option<&EpochTally> {
        self.epochs.iter().find(|t| t.epoch == epoch)
    }
}

/// A run whose verdicts count for nobody under the epoch function, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfEpoch {
    pub run_id: RunId,
    pub task: Digest,
    pub reason: String,
}

impl fmt::Display for OutOfEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run {} (task {}) does not count: {}", self.run_id, self.task.short(), self.reason)
    }
}

/// What [`score_epochs`] concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochScores {
    /// The latest epoch with a known set; `None` when no set is known.
    pub current: Option<u64>,
    /// By agent digest.
    pub standings: Vec<Standing>,
    pub out_of_epoch: Vec<OutOfEpoch>,
}

impl EpochScores {
    pub fn standing(&self, agent: &Digest) -> Option<&Standing> {
        self.standings.binary_search_by(|s| s.agent.cmp(agent)).ok().map(|i| &self.standings[i])
    }

    /// Rewrites `consensus.agents` with the epoch scores: each agent's score becomes its
    /// carried-over score and its counts those of the latest epoch it took part in, so
    /// everything downstream of the run-level function (miner scores, weights, the
    /// leaderboard) reads the epoch function's result.
    pub fn apply(&self, consensus: &mut Consensus) {
        for tally in &mut consensus.agents {
            let latest = self.standing(&tally.agent).and_then(|s| s.epochs.last().map(|e| (s.score, e)));
            *tally = match latest {
                Some((score, epoch)) => AgentTally {
                    agent: tally.agent.clone(),
                    resolved: epoch.resolved,
                    unresolved: epoch.unresolved,
                    pending: epoch.pending,
                    tasks: epoch.tasks,
                    score,
                },
                None => AgentTally { agent: tally.agent.clone(), resolved: 0, unresolved: 0, pending: 0, tasks: 0, score: 0.0 },
            };
        }
        consensus.agents.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.agent.cmp(&b.agent)));
        consensus.tasks = self.current.and_then(|_| consensus.agents.first().map(|a| a.tasks)).unwrap_or(0);
    }
}

/// The epoch function over the run-level consensus: keeps the runs whose task is in their
/// epoch's set (`sets[e]` is epoch `e`'s), scores each agent per epoch, and carries scores over
/// with `rules.decay`.
pub fn score_epochs(consensus: &Consensus, sets: &[EpochSet], rules: &EpochRules) -> EpochScores {
    let current = sets.last().map(|s| s.epoch);
    let mut out_of_epoch = Vec::new();
    // (agent, epoch) → task → results of its runs.
    let mut results: BTreeMap<(&Digest, u64), BTreeMap<&Digest, Vec<&RunResult>>> = BTreeMap::new();
    for run in &consensus.runs {
        let refuse = |reason: String| OutOfEpoch { run_id: run.run_id.clone(), task: run.task.clone(), reason };
        let Some(epoch) = run_epoch(&run.run_id) else {
            out_of_epoch.push(refuse("its run id names no epoch (made before epochs were on)".to_owned()));
            continue;
        };
        let Some(set) = usize::try_from(epoch).ok().and_then(|e| sets.get(e)) else {
            out_of_epoch.push(refuse(format!("epoch {epoch} has not started at the chain head read")));
            continue;
        };
        if !set.contains(&run.task) {
            out_of_epoch.push(refuse(format!("the task is not in epoch {epoch}'s set")));
            continue;
        }
        results.entry((&run.agent, epoch)).or_default().entry(&run.task).or_default().push(&run.result);
    }

    let mut standings: BTreeMap<&Digest, Standing> = BTreeMap::new();
    for ((agent, epoch), tasks) in results {
        let mut tally = EpochTally { epoch, resolved: 0, unresolved: 0, pending: 0, tasks: 0, score: 0.0 };
        for runs in tasks.values() {
            // As in consensus/1: one run decided unresolved makes the task unresolved.
            *crate::consensus::task_counter(runs, &mut tally.resolved, &mut tally.unresolved, &mut tally.pending) += 1;
        }
        if tally.resolved + tally.unresolved == 0 {
            continue;
        }
        let size = sets[usize::try_from(epoch).unwrap_or(usize::MAX)].len();
        tally.tasks = u32::try_from(size).unwrap_or(u32::MAX);
        tally.score = if size == 0 { 0.0 } else { f64::from(tally.resolved) / f64::from(tally.tasks) };
        standings.entry(agent).or_insert_with(|| Standing { agent: agent.clone(), epochs: Vec::new(), score: 0.0 }).epochs.push(tally);
    }
    let standings = standings
        .into_values()
        .map(|mut standing| {
            standing.score = carried_score(&standing.epochs, current.unwrap_or(0), rules.decay);
            standing
        })
        .collect();
    EpochScores { current, standings, out_of_epoch }
}

/// `Σ decay^(current−e)·score_e / Σ decay^(current−e)` over the epochs an agent took part in.
fn carried_score(epochs: &[EpochTally], current: u64, decay: f64) -> f64 {
    let (mut weighted, mut total) = (0.0, 0.0);
    for tally in epochs {
        let age = i32::try_from(current.saturating_sub(tally.epoch)).unwrap_or(i32::MAX);
        let weight = decay.powi(age);
        weighted += weight * tally.score;
        total += weight;
    }
    if total > 0.0 { weighted / total } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{RunTally, Vote};

    fn task(n: u8) -> Digest {
        Digest::of_bytes(&[n])
    }

    fn seeds(count: u64) -> Vec<EpochSeed> {
        (0..count).map(|e| EpochSeed::derive(e, &[e as u8; 32])).collect()
    }

    #[test]
    fn epochs_are_fixed_runs_of_blocks_from_genesis() {
        let rules = EpochRules { genesis_block: 100, length_blocks: 10, ..EpochRules::default() };
        let cases = [(99, None), (100, Some(0)), (109, Some(0)), (110, Some(1)), (1_000, Some(90))];
        for (block, epoch) in cases {
            assert_eq!(rules.epoch_at(block), epoch, "block {block}");
        }
        assert_eq!(rules.boundary(3), 130);
        assert!(EpochRules { decay: 0.0, ..rules }.check().is_err());
        assert!(EpochRules { length_blocks: 0, ..rules }.check().is_err());
    }

    #[test]
    fn the_seed_is_pinned_to_the_boundary_hash() {
        // A change to the derivation changes every set: this pins it.
        let seed = EpochSeed::derive(0, &[0; 32]);
        assert_eq!(EpochSeed::from_hex(&seed.to_hex()), Some(seed));
        assert_ne!(seed, EpochSeed::derive(1, &[0; 32]));
        assert_ne!(seed, EpochSeed::derive(0, &[1; 32]));
        let again = EpochSeed::derive(0, &[0; 32]);
        assert_eq!(seed.generator_seed(), again.generator_seed());
    }

    #[test]
    fn each_pool_task_is_drawn_once_and_late_tasks_wait() {
        let rules = EpochRules { draw: 3, fresh: 1, ..EpochRules::default() };
        let mut pool: Vec<PoolTask> = (0..7).map(|n| PoolTask { task: task(n), eligible_from: 0 }).collect();
        pool.push(PoolTask { task: task(50), eligible_from: 2 });
        let sets = epoch_sets(&rules, &seeds(4), &pool, &[]);
        let sizes: Vec<usize> = sets.iter().map(EpochSet::len).collect();
        assert_eq!(sizes, [3, 3, 2, 0], "7 tasks then the late one, each once");
        let all: Vec<&Digest> = sets.iter().flat_map(|s| s.drawn.iter()).collect();
        assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 8);
        assert!(sets[2].contains(&task(50)) && !sets[0].contains(&task(50)) && !sets[1].contains(&task(50)));
        // The draw does not depend on the order the pool was listed in.
        let mut reversed = pool.clone();
        reversed.reverse();
        assert_eq!(epoch_sets(&rules, &seeds(4), &reversed, &[]), sets);
        // Another boundary hash draws another set.
        let other: Vec<EpochSeed> = (0..4).map(|e| EpochSeed::derive(e, &[e as u8 + 100; 32])).collect();
        assert_ne!(epoch_sets(&rules, &other, &pool, &[])[0].drawn, sets[0].drawn);
        let covered = coverage(&rules, &sets[..1], &pool);
        assert_eq!((covered.undrawn, covered.epochs), (5, 1));
    }

    #[test]
    fn fresh_tasks_need_their_epochs_generator_seed() {
        let rules = EpochRules { draw: 0, fresh: 1, ..EpochRules::default() };
        let seeds = seeds(2);
        let right = seeds[1].generator_seed();
        let fresh = [
            FreshTask { task: task(1), epoch: 1, generator_seed: right },
            FreshTask { task: task(2), epoch: 1, generator_seed: right.wrapping_add(1) },
            FreshTask { task: task(3), epoch: 1, generator_seed: right },
        ];
        let sets = epoch_sets(&rules, &seeds, &[], &fresh);
        assert!(sets[0].is_empty());
        let admitted = if task(1) < task(3) { task(1) } else { task(3) };
        assert_eq!(sets[1].fresh, [admitted]);
        let reasons: Vec<&str> = sets[1].refused.iter().map(|(_, r)| r.as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("generator seed")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("at most 1 fresh")), "{reasons:?}");
    }

    #[test]
    fn run_ids_carry_their_epoch() {
        assert_eq!(run_epoch(&epoch_run_id(12, "abc")), Some(12));
        for legacy in ["run-abc", "run-e-abc", "run-e12", "run-e1x-abc", "grade-e1-abc"] {
            assert_eq!(run_epoch(&RunId::new(legacy)), None, "{legacy}");
        }
    }

    fn run(epoch: Option<u64>, agent: u8, task_n: u8, result: RunResult) -> RunTally {
        let unique = format!("{agent}-{task_n}");
        RunTally {
            run_id: epoch.map_or_else(|| RunId::new(format!("run-{unique}")), |e| epoch_run_id(e, &unique)),
            task: task(task_n),
            agent: Digest::of_bytes(&[100 + agent]),
            votes: Vec::<Vote>::new(),
            result,
            disputed_tests: Vec::new(),
        }
    }

    #[test]
    fn a_memoriser_tops_the_old_epoch_falls_in_the_fresh_one_and_out_of_set_runs_do_not_count() {
        let rules = EpochRules { draw: 2, fresh: 2, decay: 0.5, ..EpochRules::default() };
        let seeds = seeds(2);
        let pool = [PoolTask { task: task(1), eligible_from: 0 }, PoolTask { task: task(2), eligible_from: 0 }];
        let fresh = [
            FreshTask { task: task(11), epoch: 1, generator_seed: seeds[1].generator_seed() },
            FreshTask { task: task(12), epoch: 1, generator_seed: seeds[1].generator_seed() },
        ];
        let sets = epoch_sets(&rules, &seeds, &pool, &fresh);
        let (memoriser, solver) = (1, 2);
        let runs = vec![
            run(Some(0), memoriser, 1, RunResult::Resolved),
            run(Some(0), memoriser, 2, RunResult::Resolved),
            run(Some(1), memoriser, 11, RunResult::Unresolved),
            run(Some(1), memoriser, 12, RunResult::Unresolved),
            // A run of epoch 1 on a task of epoch 0: a second go at a memorised task.
            run(Some(1), memoriser, 2, RunResult::Resolved),
            run(Some(0), solver, 1, RunResult::Resolved),
            run(Some(0), solver, 2, RunResult::Unresolved),
            run(Some(1), solver, 11, RunResult::Resolved),
            run(Some(1), solver, 12, RunResult::Pending(crate::consensus::Pending::Tie)),
            run(None, solver, 2, RunResult::Resolved),
        ];
        let consensus = Consensus { runs, agents: Vec::new(), validators: Vec::new(), tasks: 0, flaky_tests: BTreeSet::new() };
        let scores = score_epochs(&consensus, &sets, &rules);
        assert_eq!(scores.current, Some(1));
        let reasons: Vec<String> = scores.out_of_epoch.iter().map(ToString::to_string).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].ends_with("the task is not in epoch 1's set"), "{reasons:?}");
        assert!(reasons[1].ends_with("its run id names no epoch (made before epochs were on)"), "{reasons:?}");

        let m = scores.standing(&Digest::of_bytes(&[101])).expect("memoriser");
        assert_eq!(m.epochs.iter().map(|e| e.score).collect::<Vec<_>>(), [1.0, 0.0]);
        // (0.5 · 1 + 1 · 0) / 1.5
        assert!((m.score - 1.0 / 3.0).abs() < 1e-12, "{}", m.score);
        let s = scores.standing(&Digest::of_bytes(&[102])).expect("solver");
        assert_eq!(s.epochs.iter().map(|e| (e.resolved, e.pending, e.score)).collect::<Vec<_>>(), [(1, 0, 0.5), (1, 1, 0.5)]);
        assert!((s.score - 0.5).abs() < 1e-12);

        let mut applied = consensus.clone();
        applied.agents = [101u8, 102]
            .iter()
            .map(|a| AgentTally { agent: Digest::of_bytes(&[*a]), resolved: 9, unresolved: 0, pending: 0, tasks: 9, score: 1.0 })
            .collect();
        scores.apply(&mut applied);
        assert_eq!(applied.agents[0].agent, Digest::of_bytes(&[102]), "the solver leads once the fresh epoch counts");
        assert_eq!((applied.agents[1].resolved, applied.agents[1].tasks), (0, 2));
    }
}
