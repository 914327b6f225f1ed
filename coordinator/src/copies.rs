//! Copied agents: on submission, the package's structural fingerprint
//! ([`whetstone_tasks::similarity`]: tree-sitter token streams with names, literals, comments
//! and formatting normalised away, winnowed) is compared with every earlier agent's. A package
//! at or above the threshold against another miner's earlier agent is a copy; by policy it is
//! refused, or accepted and marked on the leaderboard. A miner's new version of its own agent
//! is never a copy.

use serde::Deserialize;
use whetstone_tasks::similarity::{DEFAULT_THRESHOLD, FINGERPRINT_VERSION, Fingerprint, Fingerprinter, Similarity};
use whetstone_tasks::{AgentPackage, Digest, Hotkey};

use crate::store::{CopyMark, StoredFingerprint};

/// What happens to a submission found to copy another miner's agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyPolicy {
    /// Refused, naming the original and the similarity.
    #[default]
    Reject,
    /// Accepted and run, marked on the leaderboard as a copy of the original.
    Flag,
}

/// The `[copies]` table of the coordinator configuration.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CopiesConfig {
    /// Similarity (the larger containment of either agent's fingerprint in the other's) at or
    /// above which a submission copies an earlier agent. Default 0.5.
    pub threshold: f64,
    /// Default `reject`.
    pub policy: CopyPolicy,
}

impl Default for CopiesConfig {
    fn default() -> Self {
        Self { threshold: DEFAULT_THRESHOLD, policy: CopyPolicy::Reject }
    }
}

/// A submission's fingerprint and the closest earlier agent of another miner.
#[derive(Debug, Clone)]
pub(crate) struct Comparison {
    pub fingerprint: Fingerprint,
    /// The earlier agent it copies, when the similarity reaches the threshold.
    pub copy: Option<CopiedFrom>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CopiedFrom {
    pub original: Digest,
    pub original_miner: Hotkey,
    pub similarity: f64,
}

impl CopiedFrom {
    pub(crate) fn mark(&self) -> CopyMark {
        CopyMark { original: self.original.clone(), permille: (self.similarity * 1000.0).round().clamp(0.0, 1000.0) as u32 }
    }
}

/// The fingerprint format stored beside each agent.
pub(crate) const VERSION: u32 = FINGERPRINT_VERSION;

/// Fingerprints `package` and compares it with `earlier` agents not submitted by `miner`.
/// CPU work (tree-sitter parsing): call it off the async threads.
pub(crate) fn compare(
    package: &AgentPackage,
    miner: &Hotkey,
    earlier: &[StoredFingerprint],
    threshold: f64,
) -> Result<Comparison, whetstone_tasks::similarity::SimilarityError> {
    let fingerprint = Fingerprinter::new()?.package(package)?;
    let closest = earlier
        .iter()
        .filter(|other| &other.hotkey != miner)
        .map(|other| (other, Similarity::between(&fingerprint, &Fingerprint::from_hashes(other.hashes.clone())).score()))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let copy = closest.filter(|(_, score)| *score >= threshold).map(|(other, similarity)| CopiedFrom {
        original: other.digest.clone(),
        original_miner: other.hotkey.clone(),
        similarity,
    });
    Ok(Comparison { fingerprint, copy })
}
