//! From the ledger to per-uid scores, with nothing taken from the coordinator but signed
//! bytes: the validator set and its stake come from the chain's metagraph, each verdict is
//! checked against it, the public scoring function ([`whetstone_chain::consensus`]) decides
//! every run, and each agent's score goes to the miner whose signed claim owns it.

use std::collections::BTreeMap;

use whetstone_chain::consensus::{self, Consensus, Policy, Rejected, Rules, RunResult, ValidatorSet};
use whetstone_chain::sync::MetagraphSnapshot;
use whetstone_tasks::{Digest, Hotkey};

use super::ledger::{Ledger, RejectedClaim};

/// How a validator applies the scoring function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScoringOptions {
    /// Distinct validators a run needs before it counts; `None` takes
    /// [`Rules::default_quorum`] (two, or one on a subnet with a single permit holder).
    pub quorum: Option<u32>,
    /// Take this validator's own verdict on the runs it graded, and the quorum's on the rest
    /// ([`Policy::OwnFirst`]).
    pub own_first: bool,
}

impl ScoringOptions {
    /// The rules for `own` (the validator applying them) over `validators`.
    pub fn rules(&self, validators: &ValidatorSet, own: &Hotkey) -> Rules {
        Rules {
            quorum: self.quorum.unwrap_or_else(|| Rules::default_quorum(validators)),
            policy: if self.own_first { Policy::OwnFirst(own.clone()) } else { Policy::Consensus },
        }
    }
}

/// What the validator concluded from the ledger at one metagraph block.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The metagraph block the validator set and uids were read at.
    pub block: u64,
    pub rules: Rules,
    /// Hotkeys holding a validator permit: the only signers whose verdicts count.
    pub permit_holders: usize,
    /// Verdicts that passed verification.
    pub accepted: usize,
    /// Verdicts left out, in ledger order; `Display` names each and says why.
    pub rejected: Vec<Rejected>,
    /// Claims left out (unreadable, or a signature that does not verify).
    pub rejected_claims: Vec<RejectedClaim>,
    /// The scoring function's full output: every run's result and votes, every agent's tally,
    /// every validator's agreement.
    pub consensus: Consensus,
    /// Scored agents no valid claim owns: their score goes to nobody.
    pub unowned: Vec<Digest>,
    /// Miners with a score whose hotkey is not registered on the subnet.
    pub unregistered: Vec<Hotkey>,
    /// With epochs: the sets this validator recomputed and the per-epoch scores, already
    /// applied to `consensus.agents`.
    pub epochs: Option<super::EpochOutcome>,
    /// Each owning miner's best agent's score.
    pub miner_scores: BTreeMap<Hotkey, f64>,
    /// The scores by uid, ascending: what becomes the weight vector.
    pub scores: Vec<(u16, f64)>,
}

impl Evaluation {
    /// Verifies `ledger` against the permit holders in `snapshot`, decides every run under
    /// the rules `options` give `own`, and maps miners' scores to uids. Every rejected verdict
    /// and claim is logged with the reason.
    pub fn of(ledger: &Ledger, snapshot: &MetagraphSnapshot, own: &Hotkey, options: &ScoringOptions) -> Self {
        let validators = ValidatorSet::from_snapshot(snapshot);
        let rules = options.rules(&validators, own);
        if usize::try_from(rules.quorum).is_ok_and(|quorum| quorum > validators.len()) {
            tracing::warn!(
                quorum = rules.quorum,
                permit_holders = validators.len(),
                "the quorum is larger than the number of validators with a permit: no run can reach it, so only runs this validator graded itself can count (with --own-verdicts-first)"
            );
        }
        let verified = consensus::verify_ledger(ledger.entries(), &validators);
        let mut rejected: Vec<Rejected> = ledger.unreadable().iter().cloned().chain(verified.rejected).collect();
        rejected.sort_by_key(|r| r.seq);
        for rejection in &rejected {
            tracing::warn!(seq = rejection.seq, run = %rejection.run_id, "{rejection}");
        }
        let mut decided = consensus::decide(&verified.accepted, &validators, &rules);
        let epochs = ledger.epochs().map(|listing| {
            if ledger.epoch_hashes().is_empty() {
                tracing::warn!("no boundary hashes read from the chain: the epoch sets are computed from the coordinator's records");
            }
            super::apply_epochs(listing, ledger.epoch_hashes(), &mut decided)
        });

        let mut rejected_claims: Vec<RejectedClaim> = ledger.unreadable_claims().to_vec();
        for claim in ledger.claims() {
            if let Err(error) = claim.verify() {
                rejected_claims.push(RejectedClaim {
                    agent: claim.agent.to_string(),
                    miner: claim.miner.to_string(),
                    reason: error.to_string(),
                });
            }
        }
        for claim in &rejected_claims {
            tracing::warn!("{claim}");
        }
        let (miner_scores, unowned) = consensus::miner_scores(&decided, ledger.claims());
        for agent in &unowned {
            tracing::warn!(%agent, "a scored agent has no valid claim; its score goes to nobody");
        }
        let mut scores: Vec<(u16, f64)> = Vec::with_capacity(miner_scores.len());
        let mut unregistered = Vec::new();
        for (miner, score) in &miner_scores {
            match snapshot.uid_of(miner) {
                Some(uid) => scores.push((uid, *score)),
                None => {
                    tracing::warn!(%miner, score, "a scored miner is not registered on the subnet; it gets no weight");
                    unregistered.push(miner.clone());
                }
            }
        }
        scores.sort_by_key(|(uid, _)| *uid);
        let evaluation = Self {
            block: snapshot.block,
            rules,
            permit_holders: validators.len(),
            accepted: verified.accepted.len(),
            rejected,
            rejected_claims,
            consensus: decided,
            epochs,
            unowned,
            unregistered,
            miner_scores,
            scores,
        };
        tracing::info!(
            block = evaluation.block,
            quorum = evaluation.rules.quorum,
            own_first = options.own_first,
            accepted = evaluation.accepted,
            rejected = evaluation.rejected.len(),
            decided_runs = evaluation.decided_runs(),
            pending_runs = evaluation.pending_runs(),
            miners = evaluation.scores.len(),
            epoch = ?evaluation.epochs.as_ref().and_then(|e| e.scores.current),
            "scored the verdict ledger"
        );
        evaluation
    }

    /// Runs with a result (resolved or unresolved).
    pub fn decided_runs(&self) -> usize {
        self.consensus.runs.len() - self.pending_runs()
    }

    /// Runs without a result yet: they count for nobody.
    pub fn pending_runs(&self) -> usize {
        self.consensus.runs.iter().filter(|r| matches!(r.result, RunResult::Pending(_))).count()
    }
}
