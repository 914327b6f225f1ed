//! The scoring function: from a ledger of signed verdicts to each agent's score, one public,
//! deterministic function that every validator runs itself (docs/scoring.md states it in
//! words). Nothing in it comes from the coordinator but the signed verdicts: stake and permits
//! come from the metagraph, ownership from the miners' signed claims.
//!
//! 1. [`verify_ledger`] keeps a verdict only if its signature verifies, its signer holds a
//!    validator permit, the run id it was served under is the one signed, and it is the
//!    signer's first verdict on that run. Everything else is [`Rejected`] with the reason.
//! 2. [`decide`] groups the kept verdicts by run. A run's result is the stake-weighted
//!    majority of "resolved" against "not resolved" among at least `quorum` validators; fewer
//!    votes, an exact tie, or verdicts that graded different tasks, agents or patches under one
//!    run id leave it pending, and a pending run counts for nobody. Under
//!    [`Policy::OwnFirst`] a validator takes its own verdict on the runs it graded.
//! 3. An agent's score is resolved tasks over every task in the ledger; a task where any of
//!    its runs is decided unresolved is unresolved. A miner's score ([`miner_scores`]) is its
//!    best claimed agent's.
//!
//! Per-validator agreement falls out of the same pass: each vote on a decided run agrees with
//! the result or not, and a dissent whose every differing test is known to be flaky (tests on
//! which at least two different validators have dissented) is counted as flakiness.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use whetstone_tasks::{Digest, Hotkey, RunId, TestStatus, VerdictStatus};

use crate::sync::MetagraphSnapshot;
use crate::verdict::{AgentClaim, SignedVerdict, StatementError, VerdictStatement, verify_all};

/// The validators whose verdicts count, with the stake each vote carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidatorSet {
    stake: BTreeMap<Hotkey, u64>,
}

impl ValidatorSet {
    /// Permit holders and their stake, as the chain shows them.
    pub fn from_snapshot(snapshot: &MetagraphSnapshot) -> Self {
        Self::new(snapshot.neurons.iter().filter(|n| n.validator_permit).map(|n| (n.hotkey.clone(), n.stake)))
    }

    pub fn new(members: impl IntoIterator<Item = (Hotkey, u64)>) -> Self {
        Self { stake: members.into_iter().collect() }
    }

    pub fn contains(&self, hotkey: &Hotkey) -> bool {
        self.stake.contains_key(hotkey)
    }

    pub fn stake(&self, hotkey: &Hotkey) -> u64 {
        self.stake.get(hotkey).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.stake.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stake.is_empty()
    }

    pub fn hotkeys(&self) -> impl Iterator<Item = &Hotkey> {
        self.stake.keys()
    }
}

/// One verdict as the coordinator served it: its place in the ledger and the run id it was
/// filed under, beside the signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub seq: u64,
    pub run_id: RunId,
    pub verdict: SignedVerdict,
}

/// A verdict that passed [`verify_ledger`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub seq: u64,
    pub statement: VerdictStatement,
}

/// Why a ledger entry does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Invalid(#[from] StatementError),
    #[error("its signer {0} holds no validator permit on the subnet")]
    NoPermit(Hotkey),
    #[error("it was served under run {served} but signed for run {signed}")]
    MislabelledRun { served: RunId, signed: RunId },
    #[error("its signer already has verdict #{first} on this run; only the first counts")]
    Repeated { first: u64 },
}

/// A ledger entry left out, and why; `Display` names the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub seq: u64,
    pub run_id: RunId,
    pub reason: Rejection,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "verdict #{} (run {}) rejected: {}", self.seq, self.run_id, self.reason)
    }
}

/// What [`verify_ledger`] kept and what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    pub accepted: Vec<Accepted>,
    pub rejected: Vec<Rejected>,
}

/// Checks every entry (signatures in parallel batches) and keeps those that stand, in ledger
/// order.
pub fn verify_ledger(entries: &[LedgerEntry], validators: &ValidatorSet) -> Verified {
    let signed: Vec<SignedVerdict> = entries.iter().map(|e| e.verdict.clone()).collect();
    admit(entries, &verify_all(&signed), validators)
}

/// The admission half of [`verify_ledger`], for callers that checked the signatures already
/// (and cache them): `checked[i]` is what `entries[i].verdict.verify()` returned. Keeps an
/// entry whose signature verified, whose signer holds a permit, whose served run id is the
/// signed one, and which is its signer's first on the run.
pub fn admit(entries: &[LedgerEntry], checked: &[Result<VerdictStatement, StatementError>], validators: &ValidatorSet) -> Verified {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries[i].seq);
    let mut first: HashMap<(RunId, Hotkey), u64> = HashMap::new();
    let mut out = Verified::default();
    for i in order {
        let entry = &entries[i];
        let reject = |reason: Rejection| Rejected { seq: entry.seq, run_id: entry.run_id.clone(), reason };
        let statement = match &checked[i] {
            Ok(statement) => statement.clone(),
            Err(error) => {
                out.rejected.push(reject(Rejection::Invalid(error.clone())));
                continue;
            }
        };
        if statement.run_id != entry.run_id {
            out.rejected.push(reject(Rejection::MislabelledRun { served: entry.run_id.clone(), signed: statement.run_id }));
            continue;
        }
        if !validators.contains(&statement.validator) {
            out.rejected.push(reject(Rejection::NoPermit(statement.validator)));
            continue;
        }
        match first.entry((statement.run_id.clone(), statement.validator.clone())) {
            std::collections::hash_map::Entry::Occupied(seen) => {
                out.rejected.push(reject(Rejection::Repeated { first: *seen.get() }));
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(entry.seq);
                out.accepted.push(Accepted { seq: entry.seq, statement });
            }
        }
    }
    out
}

/// Whose verdicts decide a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Policy {
    /// The stake-weighted majority of a quorum, for every run.
    #[default]
    Consensus,
    /// A cautious validator's: its own verdict on the runs it graded, the quorum's majority on
    /// the rest.
    OwnFirst(Hotkey),
}

/// The function's two parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Distinct validators a run needs before it has a result.
    pub quorum: u32,
    pub policy: Policy,
}

/// The name and version of this scoring function, as leaderboards and logs cite it.
pub const SCORING_FUNCTION: &str = "consensus/1";

impl Rules {
    /// Two verdicts, or one on a subnet with a single validator.
    pub fn default_quorum(validators: &ValidatorSet) -> u32 {
        u32::try_from(validators.len()).unwrap_or(u32::MAX).clamp(1, 2)
    }

    /// The rules with the default quorum for `validators` and the consensus policy.
    pub fn for_validators(validators: &ValidatorSet) -> Self {
        Self { quorum: Self::default_quorum(validators), policy: Policy::Consensus }
    }

    /// One line naming the function and its parameters, e.g. "consensus/1: stake-weighted
    /// majority, quorum 2 of 2 validators".
    pub fn describe(&self, validators: &ValidatorSet) -> String {
        let policy = match &self.policy {
            Policy::Consensus => String::new(),
            Policy::OwnFirst(hotkey) => format!(", own verdicts first for {hotkey}"),
        };
        format!(
            "{SCORING_FUNCTION}: stake-weighted majority, quorum {} of {} validator{}{policy}",
            self.quorum,
            validators.len(),
            if validators.len() == 1 { "" } else { "s" }
        )
    }
}

/// A run's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunResult {
    Resolved,
    Unresolved,
    Pending(Pending),
}

impl RunResult {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::Unresolved => "unresolved",
            Self::Pending(_) => "pending",
        }
    }

    fn decided(&self) -> Option<bool> {
        match self {
            Self::Resolved => Some(true),
            Self::Unresolved => Some(false),
            Self::Pending(_) => None,
        }
    }
}

/// Why a run has no result yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// Fewer distinct validators than the quorum.
    NoQuorum { votes: u32, quorum: u32 },
    /// Resolved and not-resolved carry equal stake.
    Tie,
    /// Verdicts under this run id graded different tasks, agents or patches.
    Conflicting,
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoQuorum { votes, quorum } => write!(f, "{votes} of {quorum} verdicts"),
            Self::Tie => f.write_str("tied"),
            Self::Conflicting => f.write_str("verdicts graded different patches"),
        }
    }
}

/// One validator's verdict on a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub validator: Hotkey,
    pub seq: u64,
    pub status: VerdictStatus,
    /// Agrees with the run's result; `None` while the run is pending.
    pub agrees: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTally {
    pub run_id: RunId,
    pub task: Digest,
    pub agent: Digest,
    pub votes: Vec<Vote>,
    pub result: RunResult,
    /// Tests whose outcome (passed or not) differs between verdicts, in id order.
    pub disputed_tests: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentTally {
    pub agent: Digest,
    pub resolved: u32,
    pub unresolved: u32,
    /// Tasks whose runs are all pending.
    pub pending: u32,
    /// Every task in the ledger: the denominator.
    pub tasks: u32,
    /// resolved / tasks.
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorTally {
    pub hotkey: Hotkey,
    /// Verdicts kept from this validator.
    pub verdicts: u32,
    /// Of those, votes on decided runs.
    pub on_decided: u32,
    /// Of those, votes that match the result.
    pub agreed: u32,
    /// Runs where it dissented on tests not known to be flaky.
    pub flagged: Vec<RunId>,
    /// Dissents explained by known-flaky tests.
    pub flaky: u32,
}

impl ValidatorTally {
    /// Share of its votes on decided runs that agree with the result; `None` with none.
    pub fn agreement(&self) -> Option<f64> {
        (self.on_decided > 0).then(|| f64::from(self.agreed) / f64::from(self.on_decided))
    }
}

/// Everything the function concludes from one ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Consensus {
    /// By run id.
    pub runs: Vec<RunTally>,
    /// Best score first; equal scores by agent digest.
    pub agents: Vec<AgentTally>,
    /// By hotkey.
    pub validators: Vec<ValidatorTally>,
    pub tasks: u32,
    /// `(task, test id)` on which two or more validators have dissented.
    pub flaky_tests: BTreeSet<(Digest, String)>,
}

impl Consensus {
    pub fn run(&self, run_id: &RunId) -> Option<&RunTally> {
        self.runs.binary_search_by(|r| r.run_id.cmp(run_id)).ok().map(|i| &self.runs[i])
    }

    pub fn agent(&self, agent: &Digest) -> Option<&AgentTally> {
        self.agents.iter().find(|a| &a.agent == agent)
    }
}

/// The scoring function over verified verdicts.
pub fn decide(accepted: &[Accepted], validators: &ValidatorSet, rules: &Rules) -> Consensus {
    let mut by_run: BTreeMap<&RunId, Vec<&Accepted>> = BTreeMap::new();
    for verdict in accepted {
        by_run.entry(&verdict.statement.run_id).or_default().push(verdict);
    }
    let tasks: BTreeSet<&Digest> = accepted.iter().map(|v| &v.statement.task).collect();

    // First pass: each run's result, and per test who dissented from the test's majority.
    let mut runs: Vec<RunTally> = Vec::with_capacity(by_run.len());
    let mut dissents: Vec<Vec<(usize, String)>> = Vec::with_capacity(by_run.len());
    let mut dissenters: BTreeMap<(Digest, String), BTreeSet<Hotkey>> = BTreeMap::new();
    for (run_id, mut verdicts) in by_run {
        verdicts.sort_by_key(|v| v.seq);
        let head = &verdicts[0].statement;
        let conflicting =
            verdicts.iter().any(|v| v.statement.task != head.task || v.statement.agent != head.agent || v.statement.patch != head.patch);
        let weight = |hotkey: &Hotkey| -> u128 { u128::from(validators.stake(hotkey)) };
        let total: u128 = verdicts.iter().map(|v| weight(&v.statement.validator)).sum();
        // With no stake among the voters (a fresh devnet), each vote weighs one.
        let vote_weight = |hotkey: &Hotkey| if total == 0 { 1 } else { weight(hotkey) };
        let resolved_weight: u128 =
            verdicts.iter().filter(|v| v.statement.status == VerdictStatus::Resolved).map(|v| vote_weight(&v.statement.validator)).sum();
        let all_weight: u128 = verdicts.iter().map(|v| vote_weight(&v.statement.validator)).sum();
        let votes = u32::try_from(verdicts.len()).unwrap_or(u32::MAX);
        let own = match &rules.policy {
            Policy::OwnFirst(me) => verdicts.iter().find(|v| &v.statement.validator == me),
            Policy::Consensus => None,
        };
        let result = if conflicting {
            RunResult::Pending(Pending::Conflicting)
        } else if let Some(own) = own {
            if own.statement.status == VerdictStatus::Resolved { RunResult::Resolved } else { RunResult::Unresolved }
        } else if votes < rules.quorum {
            RunResult::Pending(Pending::NoQuorum { votes, quorum: rules.quorum })
        } else if resolved_weight * 2 > all_weight {
            RunResult::Resolved
        } else if resolved_weight * 2 < all_weight {
            RunResult::Unresolved
        } else {
            RunResult::Pending(Pending::Tie)
        };

        // Per test: passed or not, weighed the same way.
        let mut per_test: BTreeMap<&str, Vec<(usize, bool)>> = BTreeMap::new();
        for (index, verdict) in verdicts.iter().enumerate() {
            for test in &verdict.statement.tests {
                per_test.entry(test.id.as_str()).or_default().push((index, test.status == TestStatus::Passed));
            }
        }
        let mut disputed = Vec::new();
        let mut run_dissents = Vec::new();
        for (test, outcomes) in per_test {
            let passed = outcomes.iter().filter(|(_, p)| *p).count();
            if passed == 0 || passed == outcomes.len() {
                continue;
            }
            disputed.push(test.to_owned());
            let passed_weight: u128 =
                outcomes.iter().filter(|(_, p)| *p).map(|(i, _)| vote_weight(&verdicts[*i].statement.validator)).sum();
            let test_weight: u128 = outcomes.iter().map(|(i, _)| vote_weight(&verdicts[*i].statement.validator)).sum();
            let majority_passed = match (passed_weight * 2).cmp(&test_weight) {
                std::cmp::Ordering::Greater => Some(true),
                std::cmp::Ordering::Less => Some(false),
                std::cmp::Ordering::Equal => None,
            };
            for &(index, outcome) in &outcomes {
                if majority_passed.is_none_or(|majority| majority != outcome) {
                    let hotkey = verdicts[index].statement.validator.clone();
                    run_dissents.push((index, test.to_owned()));
                    dissenters.entry((head.task.clone(), test.to_owned())).or_default().insert(hotkey);
                }
            }
        }
        let decided = result.decided();
        let votes = verdicts
            .iter()
            .map(|v| Vote {
                validator: v.statement.validator.clone(),
                seq: v.seq,
                status: v.statement.status,
                agrees: decided.map(|d| d == (v.statement.status == VerdictStatus::Resolved)),
            })
            .collect();
        runs.push(RunTally {
            run_id: run_id.clone(),
            task: head.task.clone(),
            agent: head.agent.clone(),
            votes,
            result,
            disputed_tests: disputed,
        });
        dissents.push(run_dissents);
    }

    let flaky_tests: BTreeSet<(Digest, String)> = dissenters.into_iter().filter(|(_, who)| who.len() >= 2).map(|(key, _)| key).collect();

    // Second pass: each validator's agreement, with known-flaky dissent set apart.
    let mut tallies: BTreeMap<Hotkey, ValidatorTally> = BTreeMap::new();
    for (run, run_dissents) in runs.iter().zip(&dissents) {
        for (index, vote) in run.votes.iter().enumerate() {
            let tally = tallies.entry(vote.validator.clone()).or_insert_with(|| ValidatorTally {
                hotkey: vote.validator.clone(),
                verdicts: 0,
                on_decided: 0,
                agreed: 0,
                flagged: Vec::new(),
                flaky: 0,
            });
            tally.verdicts += 1;
            let Some(agrees) = vote.agrees else { continue };
            tally.on_decided += 1;
            if agrees {
                tally.agreed += 1;
                continue;
            }
            let mine: Vec<&String> = run_dissents.iter().filter(|(i, _)| *i == index).map(|(_, t)| t).collect();
            let explained = !mine.is_empty() && mine.iter().all(|t| flaky_tests.contains(&(run.task.clone(), (*t).clone())));
            if explained {
                tally.flaky += 1;
            } else {
                tally.flagged.push(run.run_id.clone());
            }
        }
    }

    // Agents: every task in the ledger is the denominator.
    let task_count = u32::try_from(tasks.len()).unwrap_or(u32::MAX);
    let mut pairs: BTreeMap<(&Digest, &Digest), Vec<&RunResult>> = BTreeMap::new();
    for run in &runs {
        pairs.entry((&run.agent, &run.task)).or_default().push(&run.result);
    }
    let mut agents: BTreeMap<&Digest, AgentTally> = BTreeMap::new();
    for ((agent, _task), results) in pairs {
        let tally = agents.entry(agent).or_insert_with(|| AgentTally {
            agent: agent.clone(),
            resolved: 0,
            unresolved: 0,
            pending: 0,
            tasks: task_count,
            score: 0.0,
        });
        *task_counter(&results, &mut tally.resolved, &mut tally.unresolved, &mut tally.pending) += 1;
    }
    let mut agents: Vec<AgentTally> = agents
        .into_values()
        .map(|mut a| {
            a.score = if task_count == 0 { 0.0 } else { f64::from(a.resolved) / f64::from(task_count) };
            a
        })
        .collect();
    agents.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.agent.cmp(&b.agent)));

    Consensus { runs, agents, validators: tallies.into_values().collect(), tasks: task_count, flaky_tests }
}

/// Which of an agent's counters one task adds to, from the results of its runs on the task:
/// resolved only if none is decided otherwise, so re-running a task cannot buy a second
/// chance; pending while every run is. Shared with the epoch function
/// ([`crate::epochs::score_epochs`]).
pub(crate) fn task_counter<'a>(
    results: &[&RunResult],
    resolved: &'a mut u32,
    unresolved: &'a mut u32,
    pending: &'a mut u32,
) -> &'a mut u32 {
    if results.iter().any(|r| **r == RunResult::Unresolved) {
        unresolved
    } else if results.iter().any(|r| **r == RunResult::Resolved) {
        resolved
    } else {
        pending
    }
}

/// Each miner's best agent's score, for agents whose claim verifies. The earliest valid claim
/// on a digest owns it. Returns the scores and the agents left without an owner.
pub fn miner_scores(consensus: &Consensus, claims: &[AgentClaim]) -> (BTreeMap<Hotkey, f64>, Vec<Digest>) {
    let mut owners: BTreeMap<&Digest, &AgentClaim> = BTreeMap::new();
    for claim in claims.iter().filter(|c| c.verify().is_ok()) {
        let slot = owners.entry(&claim.agent).or_insert(claim);
        if (claim.claimed_at_ms, claim.miner.as_str()) < (slot.claimed_at_ms, slot.miner.as_str()) {
            *slot = claim;
        }
    }
    let mut best: BTreeMap<Hotkey, f64> = BTreeMap::new();
    let mut unowned = Vec::new();
    for agent in &consensus.agents {
        match owners.get(&agent.agent) {
            Some(claim) => {
                let score = best.entry(claim.miner.clone()).or_insert(0.0);
                *score = score.max(agent.score);
            }
            None => unowned.push(agent.agent.clone()),
        }
    }
    (best, unowned)
}

#[cfg(test)]
mod tests {
    use whetstone_tasks::TestResult;

    use super::*;
    use crate::wallet::HotkeyPair;

    struct Fixture {
        validators: Vec<HotkeyPair>,
        entries: Vec<LedgerEntry>,
    }

    impl Fixture {
        fn new(n: u8) -> Self {
            Self { validators: (1..=n).map(|i| HotkeyPair::sr25519_from_seed([i; 32]).expect("seed")).collect(), entries: Vec::new() }
        }

        fn set(&self, stakes: &[u64]) -> ValidatorSet {
            ValidatorSet::new(self.validators.iter().zip(stakes).map(|(v, s)| (v.hotkey().clone(), *s)))
        }

        /// Validator `who` grades run `run` (agent `agent`, task `task`); `tests` is each
        /// test's passed flag.
        fn grade(&mut self, who: usize, run: &str, agent: u8, task: u8, tests: &[bool]) {
            let signer = &self.validators[who];
            let resolved = tests.iter().all(|p| *p);
            let statement = VerdictStatement {
                run_id: RunId::new(run),
                task: Digest::of_bytes(&[task]),
                agent: Digest::of_bytes(&[agent]),
                patch: Digest::of_bytes(run.as_bytes()),
                validator: signer.hotkey().clone(),
                status: if resolved { VerdictStatus::Resolved } else { VerdictStatus::Unresolved },
                tests: tests
                    .iter()
                    .enumerate()
                    .map(|(i, p)| TestResult { id: format!("t{i}"), status: if *p { TestStatus::Passed } else { TestStatus::Failed } })
                    .collect(),
                grader_version: "test".into(),
                graded_at_ms: 1,
            };
            let seq = self.entries.len() as u64 + 1;
            self.entries.push(LedgerEntry { seq, run_id: RunId::new(run), verdict: statement.sign(signer).expect("sign") });
        }

        fn decide(&self, stakes: &[u64], policy: Policy) -> Consensus {
            let set = self.set(stakes);
            let verified = verify_ledger(&self.entries, &set);
            assert!(verified.rejected.is_empty(), "{:?}", verified.rejected);
            decide(&verified.accepted, &set, &Rules { quorum: 2, policy })
        }
    }

    #[test]
    fn two_agreeing_validators_decide_and_one_alone_is_pending() {
        let mut f = Fixture::new(2);
        f.grade(0, "r1", 1, 1, &[true, true]);
        f.grade(1, "r1", 1, 1, &[true, true]);
        f.grade(0, "r2", 1, 2, &[false, true]);
        f.grade(1, "r2", 1, 2, &[false, true]);
        f.grade(0, "r3", 1, 3, &[true]);
        let c = f.decide(&[10, 10], Policy::Consensus);
        let results: Vec<&str> = c.runs.iter().map(|r| r.result.as_str()).collect();
        assert_eq!(results, ["resolved", "unresolved", "pending"]);
        assert_eq!(c.runs[2].result, RunResult::Pending(Pending::NoQuorum { votes: 1, quorum: 2 }));
        let agent = c.agent(&Digest::of_bytes(&[1])).expect("agent");
        assert_eq!((agent.resolved, agent.unresolved, agent.pending, agent.tasks), (1, 1, 1, 3));
        assert!((agent.score - 1.0 / 3.0).abs() < 1e-12);
        // The cautious policy counts the run the first validator graded alone.
        let cautious = f.decide(&[10, 10], Policy::OwnFirst(f.validators[0].hotkey().clone()));
        assert_eq!(cautious.agent(&Digest::of_bytes(&[1])).map(|a| a.resolved), Some(2));
    }

    #[test]
    fn stake_decides_and_a_liar_loses_agreement() {
        let mut f = Fixture::new(3);
        for run in 0..4u8 {
            let name = format!("r{run}");
            // Honest validators 0 and 1 see the patch fail; liar 2 always says resolved.
            f.grade(0, &name, 1, run, &[false]);
            f.grade(1, &name, 1, run, &[false]);
            f.grade(2, &name, 1, run, &[true]);
        }
        let c = f.decide(&[10, 10, 15], Policy::Consensus);
        assert!(c.runs.iter().all(|r| r.result == RunResult::Unresolved));
        let liar = &c.validators.iter().find(|v| &v.hotkey == f.validators[2].hotkey()).expect("liar");
        assert_eq!((liar.agreement(), liar.flagged.len()), (Some(0.0), 4));
        assert!(c.validators.iter().filter(|v| &v.hotkey != f.validators[2].hotkey()).all(|v| v.agreement() == Some(1.0)));
        // With more stake than both honest validators together, the liar would carry the vote.
        let captured = f.decide(&[10, 10, 25], Policy::Consensus);
        assert!(captured.runs.iter().all(|r| r.result == RunResult::Resolved));
    }

    #[test]
    fn a_tie_and_conflicting_patches_stay_pending() {
        let mut f = Fixture::new(2);
        f.grade(0, "r1", 1, 1, &[true]);
        f.grade(1, "r1", 1, 1, &[false]);
        // The same run id, but validator 1 was given another agent's patch.
        f.grade(0, "r2", 1, 2, &[true]);
        f.grade(1, "r2", 2, 2, &[true]);
        let c = f.decide(&[5, 5], Policy::Consensus);
        assert_eq!(c.runs[0].result, RunResult::Pending(Pending::Tie));
        assert_eq!(c.runs[0].disputed_tests, ["t0"]);
        assert_eq!(c.runs[1].result, RunResult::Pending(Pending::Conflicting));
    }

    #[test]
    fn dissent_on_a_test_many_validators_dispute_is_flakiness() {
        let mut f = Fixture::new(3);
        // Test t1 of task 1 flips: validator 2 sees it fail on r1, validator 1 on r2.
        f.grade(0, "r1", 1, 1, &[true, true]);
        f.grade(1, "r1", 1, 1, &[true, true]);
        f.grade(2, "r1", 1, 1, &[true, false]);
        f.grade(0, "r2", 2, 1, &[true, true]);
        f.grade(1, "r2", 2, 1, &[true, false]);
        f.grade(2, "r2", 2, 1, &[true, true]);
        let c = f.decide(&[1, 1, 1], Policy::Consensus);
        assert!(c.flaky_tests.contains(&(Digest::of_bytes(&[1]), "t1".to_owned())));
        assert!(c.validators.iter().all(|v| v.flagged.is_empty()), "{:?}", c.validators);
        assert_eq!(c.validators.iter().map(|v| v.flaky).sum::<u32>(), 2);
    }

    #[test]
    fn the_ledger_rejects_forgery_and_says_which_verdict() {
        let mut f = Fixture::new(2);
        f.grade(0, "r1", 1, 1, &[true]);
        f.grade(1, "r1", 1, 1, &[true]);
        f.grade(0, "r2", 1, 2, &[true]);
        f.grade(0, "r1", 1, 1, &[true]);
        let mut entries = f.entries.clone();
        // Entry 2: one stored byte flipped (unresolved → resolved would be the same trick).
        let last = entries[1].verdict.statement.len() - 1;
        entries[1].verdict.statement[last] ^= 1;
        // Entry 3: served under another run id.
        entries[2].run_id = RunId::new("r9");
        let outsider = HotkeyPair::sr25519_from_seed([99; 32]).expect("seed");
        let set = ValidatorSet::new([(f.validators[0].hotkey().clone(), 1)]);
        let mut foreign = f.entries[0].clone();
        foreign.seq = 5;
        let mut statement = VerdictStatement::decode(&foreign.verdict.statement).expect("decode");
        statement.validator = outsider.hotkey().clone();
        foreign.verdict = statement.sign(&outsider).expect("sign");
        entries.push(foreign);
        let verified = verify_ledger(&entries, &set);
        assert_eq!(verified.accepted.iter().map(|a| a.seq).collect::<Vec<_>>(), [1]);
        let reasons: Vec<String> = verified.rejected.iter().map(ToString::to_string).collect();
        assert!(reasons[0].starts_with("verdict #2 (run r1) rejected: the signature does not verify"), "{reasons:?}");
        assert_eq!(reasons[1], "verdict #3 (run r9) rejected: it was served under run r9 but signed for run r2");
        assert!(reasons[2].contains("already has verdict #1"), "{reasons:?}");
        assert!(reasons[3].contains("holds no validator permit"), "{reasons:?}");
    }

    #[test]
    fn miners_score_through_verified_claims_only() {
        let mut f = Fixture::new(2);
        f.grade(0, "r1", 1, 1, &[true]);
        f.grade(1, "r1", 1, 1, &[true]);
        f.grade(0, "r2", 2, 1, &[true]);
        f.grade(1, "r2", 2, 1, &[true]);
        let c = f.decide(&[1, 1], Policy::Consensus);
        let miner = HotkeyPair::sr25519_from_seed([50; 32]).expect("seed");
        let thief = HotkeyPair::sr25519_from_seed([51; 32]).expect("seed");
        let mine = AgentClaim::sign(Digest::of_bytes(&[1]), &miner, 10).expect("sign");
        let late = AgentClaim::sign(Digest::of_bytes(&[1]), &thief, 20).expect("sign");
        let mut forged = AgentClaim::sign(Digest::of_bytes(&[2]), &miner, 10).expect("sign");
        forged.miner = thief.hotkey().clone();
        let (scores, unowned) = miner_scores(&c, &[late, mine, forged]);
        assert_eq!(scores.into_iter().collect::<Vec<_>>(), [(miner.hotkey().clone(), 1.0)]);
        assert_eq!(unowned, [Digest::of_bytes(&[2])]);
    }
}
