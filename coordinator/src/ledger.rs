//! The coordinator's reading of its own verdict ledger: the same public scoring function the
//! validators run ([`whetstone_chain::consensus`]), so the leaderboard shows what their weights
//! will say. Ledger rows never change once written, so each signature is checked once and the
//! result kept by sequence number; a request only verifies the verdicts stored since the last.

use tokio::sync::Mutex;
use whetstone_chain::consensus::{self, Consensus, LedgerEntry, Rules, ValidatorSet, Verified};
use whetstone_chain::epochs::{EpochRules, EpochScores};
use whetstone_chain::verdict::{SignedVerdict, StatementError, VerdictStatement, verify_all};

use crate::store::{Store, StoreError};

/// Rows read per store call while catching up.
const PAGE: u32 = 5000;

/// Verified ledger entries, in ledger order.
#[derive(Debug, Default)]
pub(crate) struct LedgerView {
    checked: Mutex<Checked>,
}

#[derive(Debug, Default)]
struct Checked {
    entries: Vec<LedgerEntry>,
    results: Vec<Result<VerdictStatement, StatementError>>,
}

/// The function's output over the ledger as it stands.
#[derive(Debug, Clone)]
pub(crate) struct Evaluation {
    pub verified: Verified,
    pub consensus: Consensus,
    pub validators: ValidatorSet,
    pub rules: Rules,
    /// With epochs: the epoch function's verdict, already applied to `consensus.agents`.
    pub epochs: Option<(EpochRules, EpochScores)>,
}

impl Evaluation {
    /// The functions behind the scores, as the leaderboard names them.
    pub(crate) fn describe(&self) -> String {
        let runs = self.rules.describe(&self.validators);
        match &self.epochs {
            None => runs,
            Some((rules, _)) => format!("{}: per epoch over {runs}; {}", whetstone_chain::epochs::EPOCH_SCORING, rules.describe()),
        }
    }

    pub(crate) fn current_epoch(&self) -> Option<u64> {
        self.epochs.as_ref().and_then(|(_, scores)| scores.current)
    }
}

impl LedgerView {
    /// Catches up with the store and evaluates the whole ledger. `validators` is the membership
    /// view's permit holders and stake; without one (membership unchecked) every signer counts,
    /// with equal stake.
    pub(crate) async fn evaluate(
        &self,
        store: &dyn Store,
        validators: Option<ValidatorSet>,
        epochs: Option<EpochRules>,
    ) -> Result<Evaluation, StoreError> {
        let mut checked = self.checked.lock().await;
        loop {
            let after = checked.entries.last().map_or(0, |e| e.seq);
            let rows = store.verdicts_after(after, PAGE).await?;
            if rows.is_empty() {
                break;
            }
            let entries: Vec<LedgerEntry> = rows
                .into_iter()
                .map(|row| LedgerEntry {
                    seq: row.seq,
                    run_id: row.run_id,
                    verdict: SignedVerdict { statement: row.statement, signature: row.signature },
                })
                .collect();
            let signed: Vec<SignedVerdict> = entries.iter().map(|e| e.verdict.clone()).collect();
            // Signature checks are CPU work: off the async threads.
            let results = tokio::task::spawn_blocking(move || verify_all(&signed))
                .await
                .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()));
            checked.entries.extend(entries);
            checked.results.extend(results);
        }
        let validators = validators
            .unwrap_or_else(|| ValidatorSet::new(checked.results.iter().filter_map(|r| r.as_ref().ok()).map(|s| (s.validator.clone(), 1))));
        let verified = consensus::admit(&checked.entries, &checked.results, &validators);
        let rules = Rules::for_validators(&validators);
        let mut consensus = consensus::decide(&verified.accepted, &validators, &rules);
        let epochs = match epochs {
            None => None,
            Some(epoch_rules) => {
                let view = crate::epochs::EpochView::load(store, epoch_rules).await?;
                let scores = whetstone_chain::epochs::score_epochs(&consensus, &view.sets, &epoch_rules);
                scores.apply(&mut consensus);
                Some((epoch_rules, scores))
            }
        };
        Ok(Evaluation { verified, consensus, validators, rules, epochs })
    }
}
