//! The validator's own reading of the epochs: the coordinator lists the rules, the pool and
//! the fresh tasks (`Scores.Epochs`); the validator reads every boundary block's hash from the
//! chain itself, recomputes each epoch's set with the public function
//! ([`whetstone_chain::epochs`]) and counts a run only when its task is in its epoch's set.
//! A boundary hash the coordinator recorded differently from the chain is named and the
//! chain's is used.

use std::collections::BTreeMap;

use whetstone_chain::client::{ChainError, SubtensorClient};
use whetstone_chain::consensus::Consensus;
use whetstone_chain::epochs::{self, EpochRules, EpochScores, EpochSeed, EpochSet, FreshTask, PoolTask, parse_block_hash};
use whetstone_proto::pb;
use whetstone_tasks::Digest;

/// What the coordinator says about its epochs; nothing here is trusted but the task lists,
/// which only decide what *can* be drawn (the draw itself is the validator's).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochListing {
    pub rules: EpochRules,
    /// The boundary hashes the coordinator recorded, by epoch.
    pub recorded: BTreeMap<u64, [u8; 32]>,
    pub pool: Vec<PoolTask>,
    pub fresh: Vec<FreshTask>,
    /// Entries that could not be read, with the reason.
    pub unreadable: Vec<String>,
}

impl EpochListing {
    /// `None` when the coordinator runs without epochs.
    pub fn from_wire(response: pb::EpochsResponse) -> Option<Self> {
        let wire = response.rules?;
        let rules = EpochRules {
            genesis_block: wire.genesis_block,
            length_blocks: wire.length_blocks,
            draw: wire.draw,
            fresh: wire.fresh,
            decay: wire.decay,
        };
        let mut unreadable = Vec::new();
        let mut recorded = BTreeMap::new();
        for record in response.epochs {
            match parse_block_hash(&record.block_hash) {
                Some(hash) => {
                    recorded.insert(record.epoch, hash);
                }
                None => unreadable.push(format!("epoch {}: block hash {:?} is not 32 bytes of hex", record.epoch, record.block_hash)),
            }
        }
        let mut digest = |text: &str, what: &str| match text.parse::<Digest>() {
            Ok(digest) => Some(digest),
            Err(error) => {
                unreadable.push(format!("{what}: {error}"));
                None
            }
        };
        let pool = response
            .pool
            .iter()
            .filter_map(|p| digest(&p.task_digest, "pool task").map(|task| PoolTask { task, eligible_from: p.eligible_from }))
            .collect();
        let fresh = response
            .fresh
            .iter()
            .filter_map(|f| {
                digest(&f.task_digest, "fresh task").map(|task| FreshTask { task, epoch: f.epoch, generator_seed: f.generator_seed })
            })
            .collect();
        Some(Self { rules, recorded, pool, fresh, unreadable })
    }
}

/// Reads the boundary hash of every epoch the chain has reached and `hashes` lacks.
pub async fn read_boundary_hashes(
    rules: &EpochRules,
    client: &SubtensorClient,
    hashes: &mut BTreeMap<u64, [u8; 32]>,
) -> Result<(), ChainError> {
    let head = client.current_block().await?;
    let Some(last) = rules.epoch_at(head) else { return Ok(()) };
    for epoch in 0..=last {
        if let std::collections::btree_map::Entry::Vacant(slot) = hashes.entry(epoch) {
            slot.insert(client.block_hash(rules.boundary(epoch)).await?);
        }
    }
    Ok(())
}

/// The epoch function's verdict as this validator computed it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochOutcome {
    pub rules: EpochRules,
    /// `sets[e]` is epoch `e`'s.
    pub sets: Vec<EpochSet>,
    pub scores: EpochScores,
    /// Whether the boundary hashes came from the chain (else from the coordinator's records,
    /// for a validator scoring without a chain).
    pub hashes_from_chain: bool,
    /// Epochs whose boundary hash the coordinator recorded differently from the chain.
    pub mismatched: Vec<u64>,
}

/// Recomputes the sets from `chain_hashes` (or, when empty, the coordinator's records) and
/// scores `consensus` per epoch, rewriting its agent scores.
pub fn apply_epochs(listing: &EpochListing, chain_hashes: &BTreeMap<u64, [u8; 32]>, consensus: &mut Consensus) -> EpochOutcome {
    let hashes_from_chain = !chain_hashes.is_empty();
    let hashes = if hashes_from_chain { chain_hashes } else { &listing.recorded };
    let mismatched: Vec<u64> =
        listing.recorded.iter().filter(|(epoch, hash)| chain_hashes.get(epoch).is_some_and(|own| own != *hash)).map(|(e, _)| *e).collect();
    for epoch in &mismatched {
        tracing::warn!(
            epoch,
            "the coordinator recorded another hash for epoch {epoch}'s boundary block than the chain has; using the chain's"
        );
    }
    for entry in &listing.unreadable {
        tracing::warn!("epoch listing entry left out: {entry}");
    }
    let seeds: Vec<EpochSeed> = hashes
        .iter()
        .enumerate()
        .take_while(|(i, (epoch, _))| **epoch == *i as u64)
        .map(|(_, (epoch, hash))| EpochSeed::derive(*epoch, hash))
        .collect();
    let sets = epochs::epoch_sets(&listing.rules, &seeds, &listing.pool, &listing.fresh);
    for set in &sets {
        for (task, reason) in &set.refused {
            tracing::warn!(epoch = set.epoch, task = %task, "fresh task refused: {reason}");
        }
    }
    let scores = epochs::score_epochs(consensus, &sets, &listing.rules);
    for run in &scores.out_of_epoch {
        tracing::warn!("{run}");
    }
    scores.apply(consensus);
    EpochOutcome { rules: listing.rules, sets, scores, hashes_from_chain, mismatched }
}
