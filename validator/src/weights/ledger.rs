//! The validator's own copy of the verdict ledger. The coordinator serves the ledger
//! append-only, a page at a time (`Scores.Verdicts` with a cursor); [`Ledger::catch_up`]
//! fetches only the pages after the last verdict it holds, so a long-running validator reads
//! each verdict once. It also reads the miners' signed agent claims (`Scores.Claims`).
//!
//! Nothing here is trusted yet: entries keep their signed bytes verbatim and are checked by
//! [`super::Evaluation`]. What this module refuses is a coordinator rewriting history: a page
//! whose sequence numbers do not rise strictly past what the validator already holds. An entry
//! that cannot even be read (no run id, a claim whose digest is not a digest) is kept as a
//! rejection with its reason, so one bad entry never stops the weights.

use std::fmt;

use whetstone_chain::consensus::{LedgerEntry, Rejected, Rejection};
use whetstone_chain::verdict::{AgentClaim, StatementError};
use whetstone_proto::{WireError, pb};
use whetstone_tasks::RunId;

pub(crate) type ScoresClient = pb::scores_client::ScoresClient<tonic::transport::Channel>;

/// Why the ledger could not catch up. What was fetched before the failure is kept.
#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    #[error("failed to read the verdict ledger from the coordinator (verdicts after #{after_seq})")]
    Verdicts {
        after_seq: u64,
        #[source]
        source: tonic::Status,
    },
    #[error("failed to read the agents' ownership claims from the coordinator")]
    Claims(#[source] tonic::Status),
    #[error("failed to read the coordinator's epoch listing (Scores.Epochs)")]
    Epochs(#[source] tonic::Status),
    #[error(
        "the coordinator's verdict ledger is not append-only: after verdict #{previous} it served #{seq}, but sequence numbers must rise strictly past #{cursor}, the last verdict this validator holds; the page is refused (a coordinator that rewrites its ledger cannot be scored from until it serves it append-only again)"
    )]
    Rewritten { cursor: u64, previous: u64, seq: u64 },
    #[error("the coordinator said more verdicts follow #{cursor} but served an empty page; stopping here rather than asking forever")]
    EmptyPage { cursor: u64 },
}

/// A served claim that does not stand, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedClaim {
    /// The agent digest as served (possibly not a digest at all).
    pub agent: String,
    /// The miner hotkey as served.
    pub miner: String,
    pub reason: String,
}

impl fmt::Display for RejectedClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "claim on agent {:?} by {:?} rejected: {}", self.agent, self.miner, self.reason)
    }
}

/// What one [`Ledger::catch_up`] fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// `Scores.Verdicts` pages read.
    pub pages: u32,
    /// Entries new to this ledger.
    pub verdicts: usize,
    /// Claims new to this ledger.
    pub claims: usize,
}

/// The ledger as this validator has read it so far.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    entries: Vec<LedgerEntry>,
    unreadable: Vec<Rejected>,
    claims: Vec<AgentClaim>,
    unreadable_claims: Vec<RejectedClaim>,
    /// The last sequence number held (0: none).
    cursor: u64,
    /// The coordinator's epoch listing, when it runs in epochs.
    epochs: Option<super::epochs::EpochListing>,
    /// Boundary block hashes this validator read from the chain, by epoch (blocks never
    /// change once final, so each is read once).
    epoch_hashes: std::collections::BTreeMap<u64, [u8; 32]>,
    page_limit: u32,
}

impl Ledger {
    /// An empty ledger that asks for the coordinator's default page size.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty ledger that asks for at most `limit` verdicts per page.
    pub fn with_page_limit(limit: u32) -> Self {
        Self { page_limit: limit, ..Self::default() }
    }

    /// Every readable entry, in ledger order.
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    /// Entries that could not be read, as rejections with the reason.
    pub fn unreadable(&self) -> &[Rejected] {
        &self.unreadable
    }

    /// Every distinct readable claim seen, in the order first seen. A claim once served stays
    /// evidence even if the coordinator later stops serving it.
    pub fn claims(&self) -> &[AgentClaim] {
        &self.claims
    }

    /// Claims that could not be read.
    pub fn unreadable_claims(&self) -> &[RejectedClaim] {
        &self.unreadable_claims
    }

    /// The sequence number of the last verdict held; 0 before the first.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The coordinator's epoch listing; `None` when it runs without epochs.
    pub fn epochs(&self) -> Option<&super::epochs::EpochListing> {
        self.epochs.as_ref()
    }

    /// Boundary hashes read from the chain so far.
    pub fn epoch_hashes(&self) -> &std::collections::BTreeMap<u64, [u8; 32]> {
        &self.epoch_hashes
    }

    /// Reads from the chain the boundary hash of every epoch it has reached (with epochs on).
    pub async fn read_epoch_hashes(
        &mut self,
        client: &whetstone_chain::client::SubtensorClient,
    ) -> Result<(), whetstone_chain::client::ChainError> {
        match &self.epochs {
            Some(listing) => super::epochs::read_boundary_hashes(&listing.rules, client, &mut self.epoch_hashes).await,
            None => Ok(()),
        }
    }

    /// Fetches the verdicts after [`Self::cursor`], page by page until the coordinator says
    /// there are no more, then every claim and the epoch listing.
    pub async fn catch_up(&mut self, scores: &mut ScoresClient) -> Result<CatchUp, CatchUpError> {
        let mut fetched = CatchUp::default();
        loop {
            let request = pb::VerdictsRequest { after_seq: self.cursor, limit: self.page_limit };
            let page =
                scores.verdicts(request).await.map_err(|source| CatchUpError::Verdicts { after_seq: self.cursor, source })?.into_inner();
            let more = page.more;
            let added = self.apply_page(page.verdicts)?;
            fetched.pages += 1;
            fetched.verdicts += added;
            if !more {
                break;
            }
            if added == 0 {
                return Err(CatchUpError::EmptyPage { cursor: self.cursor });
            }
        }
        let claims = scores.claims(pb::ClaimsRequest {}).await.map_err(CatchUpError::Claims)?.into_inner().claims;
        fetched.claims = self.apply_claims(claims);
        self.epochs = match scores.epochs(pb::EpochsRequest {}).await {
            Ok(response) => super::epochs::EpochListing::from_wire(response.into_inner()),
            // A coordinator from before epochs: every task in one set.
            Err(status) if status.code() == tonic::Code::Unimplemented => None,
            Err(status) => return Err(CatchUpError::Epochs(status)),
        };
        tracing::debug!(
            pages = fetched.pages,
            new_verdicts = fetched.verdicts,
            new_claims = fetched.claims,
            verdicts = self.entries.len() + self.unreadable.len(),
            cursor = self.cursor,
            "verdict ledger caught up"
        );
        Ok(fetched)
    }

    /// Appends one page, or refuses all of it if its sequence numbers do not rise strictly past
    /// the cursor. Returns how many entries it added.
    pub(crate) fn apply_page(&mut self, page: Vec<pb::LedgerVerdict>) -> Result<usize, CatchUpError> {
        let mut previous = self.cursor;
        for verdict in &page {
            if verdict.seq <= previous {
                return Err(CatchUpError::Rewritten { cursor: self.cursor, previous, seq: verdict.seq });
            }
            previous = verdict.seq;
        }
        let added = page.len();
        for verdict in page {
            let (seq, run_id) = (verdict.seq, verdict.run_id.clone());
            match LedgerEntry::try_from(verdict) {
                Ok(entry) => self.entries.push(entry),
                Err(error) => self.unreadable.push(Rejected { seq, run_id: RunId::new(run_id), reason: unreadable(&error) }),
            }
        }
        self.cursor = previous;
        Ok(added)
    }

    /// Adds the claims not already held. Returns how many were new.
    pub(crate) fn apply_claims(&mut self, claims: Vec<pb::AgentClaim>) -> usize {
        let mut added = 0;
        for wire in claims {
            let (agent, miner) = (wire.agent_digest.clone(), wire.miner_hotkey.clone());
            match AgentClaim::try_from(wire) {
                Ok(claim) if self.claims.contains(&claim) => {}
                Ok(claim) => {
                    self.claims.push(claim);
                    added += 1;
                }
                Err(error) => {
                    let rejected = RejectedClaim { agent, miner, reason: error.to_string() };
                    if !self.unreadable_claims.contains(&rejected) {
                        self.unreadable_claims.push(rejected);
                        added += 1;
                    }
                }
            }
        }
        added
    }
}

fn unreadable(error: &WireError) -> Rejection {
    Rejection::Invalid(StatementError::Malformed { field: "ledger entry", reason: error.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(seq: u64, run: &str) -> pb::LedgerVerdict {
        pb::LedgerVerdict { seq, run_id: run.into(), statement: b"statement".to_vec(), signature: vec![1; 64] }
    }

    #[test]
    fn pages_append_and_move_the_cursor() {
        let mut ledger = Ledger::new();
        assert_eq!(ledger.apply_page(vec![verdict(1, "r1"), verdict(2, "r2")]).ok(), Some(2));
        assert_eq!(ledger.apply_page(vec![verdict(5, "r3")]).ok(), Some(1));
        assert_eq!(ledger.cursor(), 5);
        assert_eq!(ledger.entries().iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 5]);
    }

    #[test]
    fn a_page_that_rewrites_history_is_refused_whole() {
        let mut ledger = Ledger::new();
        ledger.apply_page(vec![verdict(1, "r1"), verdict(2, "r2")]).expect("first page");
        for (page, (previous, seq)) in [
            (vec![verdict(2, "r2")], (2, 2)),
            (vec![verdict(1, "r1-again")], (2, 1)),
            (vec![verdict(3, "r3"), verdict(7, "r7"), verdict(6, "r6")], (7, 6)),
            (vec![verdict(3, "r3"), verdict(3, "r3-again")], (3, 3)),
        ] {
            let error = ledger.apply_page(page).expect_err("refused");
            assert!(matches!(error, CatchUpError::Rewritten { cursor: 2, previous: p, seq: s } if (p, s) == (previous, seq)), "{error:?}");
            let text = error.to_string();
            assert!(text.contains(&format!("after verdict #{previous} it served #{seq}")), "{text}");
        }
        assert_eq!((ledger.cursor(), ledger.entries().len()), (2, 2), "nothing of a refused page is kept");
    }

    #[test]
    fn an_unreadable_entry_is_a_rejection_with_its_reason() {
        let mut ledger = Ledger::new();
        ledger.apply_page(vec![verdict(1, "r1"), verdict(2, ""), verdict(3, "r3")]).expect("page");
        assert_eq!(ledger.entries().len(), 2);
        let rejected: Vec<String> = ledger.unreadable().iter().map(ToString::to_string).collect();
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].starts_with("verdict #2 (run ) rejected:") && rejected[0].contains("run_id"), "{rejected:?}");
        assert_eq!(ledger.cursor(), 3);
    }

    #[test]
    fn claims_are_kept_once_and_bad_text_is_named() {
        let miner = whetstone_chain::wallet::dev::DevKey::Bob;
        let good = pb::AgentClaim {
            agent_digest: whetstone_tasks::Digest::of_bytes(b"agent").to_string(),
            miner_hotkey: miner.address().into(),
            claimed_at_ms: 1,
            signature: vec![2; 64],
        };
        let bad = pb::AgentClaim { agent_digest: "not-a-digest".into(), ..good.clone() };
        let mut ledger = Ledger::new();
        assert_eq!(ledger.apply_claims(vec![good.clone(), bad.clone()]), 2);
        assert_eq!(ledger.apply_claims(vec![good, bad]), 0, "the same claims again add nothing");
        assert_eq!(ledger.claims().len(), 1);
        let text = ledger.unreadable_claims()[0].to_string();
        assert!(text.starts_with("claim on agent \"not-a-digest\"") && text.contains("agent_digest"), "{text}");
    }
}
