//! Setting weights from evidence: the validator keeps its own copy of the coordinator's signed
//! verdict ledger ([`Ledger`]), verifies every verdict against the chain's metagraph, applies
//! the public scoring function and turns each miner's score into its uid's weight
//! ([`Evaluation`]). No number the coordinator computed enters the weights: the coordinator
//! only stores and serves signed bytes, which a validator checks itself.
//!
//! Two destinations: [`set_weights_on_chain`] submits through the subxt client
//! (`set_weights`, or a timelocked commit when the subnet runs commit-reveal) and appends
//! every accepted submission, with its extrinsic hash, to a [`WeightLedger`] kept as an audit
//! log; [`set_weights`] writes to an audit ledger alone, for rounds without a chain.
//! [`run_weight_loop`] repeats the chain path on a timer for a long-running validator,
//! fetching only the ledger pages it has not seen.

mod epochs;
mod evaluation;
mod ledger;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use epochs::{EpochListing, EpochOutcome, apply_epochs};
pub use evaluation::{Evaluation, ScoringOptions};
use ledger::ScoresClient;
pub use ledger::{CatchUp, CatchUpError, Ledger, RejectedClaim};
use tokio_util::sync::CancellationToken;
use whetstone_chain::client::{ChainError, SubtensorClient, WeightsReceipt};
use whetstone_chain::sync::MetagraphSnapshot;
use whetstone_chain::wallet::HotkeyPair;
use whetstone_chain::weights::{self as sdk, Summation, WeightRules};
use whetstone_chain::{LedgerError, WeightLedger, WeightSubmission, scores_to_u16_weights};
use whetstone_tasks::Hotkey;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("failed to catch up with the verdict ledger")]
    VerdictLedger(#[from] CatchUpError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("failed to set weights on chain")]
    Chain(#[from] ChainError),
    #[error("the scores do not make a weight vector the subnet accepts")]
    Rules(#[source] sdk::WeightsError),
}

/// Catches `ledger` up through `scores`, evaluates it against `snapshot` as `validator`, and
/// records the resulting weight vector in `audit` (no chain). Returns the submission, its id
/// in the audit ledger and the evaluation behind it.
pub async fn set_weights(
    ledger: &mut Ledger,
    scores: &mut ScoresClient,
    snapshot: &MetagraphSnapshot,
    audit: &dyn WeightLedger,
    validator: &Hotkey,
    version_key: u64,
    options: &ScoringOptions,
) -> Result<(WeightSubmission, String, Evaluation), WeightsError> {
    ledger.catch_up(scores).await?;
    let evaluation = Evaluation::of(ledger, snapshot, validator, options);
    let (uids, weights) = scores_to_u16_weights(&evaluation.scores);
    let submission = submission(snapshot.netuid, validator.as_str(), uids, weights, version_key, None);
    let id = audit.set_weights(&submission)?;
    Ok((submission, id, evaluation))
}

/// What [`set_weights_on_chain`] did.
#[derive(Debug, Clone)]
pub struct OnChainWeights {
    /// What was submitted (as recorded in the audit ledger), or the empty vector when no
    /// miner scored.
    pub submission: WeightSubmission,
    /// The chain's receipt; `None` when there was nothing to set.
    pub receipt: Option<WeightsReceipt>,
    /// The submission's id in the audit ledger; `None` when nothing was submitted.
    pub audit_id: Option<String>,
}

/// Catches `ledger` up through `scores`, evaluates it against the chain's metagraph (the
/// validator set, stake and uids at the head), conforms the scores to the subnet's rules
/// exactly as the SDK does, submits them as `signer` and records the accepted submission in
/// `audit`. `version_key` defaults to the subnet's. Returns the evaluation too, so a caller
/// can show which verdicts counted and which were rejected.
#[expect(clippy::too_many_arguments, reason = "each is a distinct input the caller owns; a struct would only rename them")]
pub async fn set_weights_on_chain(
    ledger: &mut Ledger,
    scores: &mut ScoresClient,
    client: &SubtensorClient,
    signer: &HotkeyPair,
    netuid: u16,
    audit: &dyn WeightLedger,
    version_key: Option<u64>,
    options: &ScoringOptions,
) -> Result<(OnChainWeights, Evaluation), WeightsError> {
    ledger.catch_up(scores).await?;
    ledger.read_epoch_hashes(client).await?;
    let snapshot = MetagraphSnapshot::fetch(client, netuid).await?;
    let own_uid =
        snapshot.uid_of(signer.hotkey()).ok_or_else(|| ChainError::NotRegistered { hotkey: signer.hotkey().to_string(), netuid })?;
    let params = snapshot.hyperparameters;
    let version_key = version_key.unwrap_or(params.weights_version_key);
    let evaluation = Evaluation::of(ledger, &snapshot, signer.hotkey(), options);
    let rules = WeightRules { own_uid, min_allowed_weights: params.min_allowed_weights, max_weight_limit: params.max_weights_limit };
    let (uids, weights) = match sdk::conform(&evaluation.scores, &rules, Summation::default()) {
        Ok(conformed) => conformed,
        Err(sdk::WeightsError::AllZero) => {
            tracing::info!(netuid, "no registered miner has a score from the verdict ledger yet; no weights set");
            metrics::counter!("whetstone_weight_submissions_total", "result" => "nothing_to_set").increment(1);
            let empty = submission(netuid, signer.hotkey().as_str(), Vec::new(), Vec::new(), version_key, None);
            return Ok((OnChainWeights { submission: empty, receipt: None, audit_id: None }, evaluation));
        }
        Err(other) => return Err(WeightsError::Rules(other)),
    };
    let receipt = client.submit_weights(signer, netuid, &uids, &weights, version_key).await.inspect_err(|_| {
        metrics::counter!("whetstone_weight_submissions_total", "result" => "failed").increment(1);
    })?;
    metrics::counter!("whetstone_weight_submissions_total", "result" => "set").increment(1);
    let submission = submission(netuid, signer.hotkey().as_str(), uids, weights, version_key, Some(receipt.extrinsic_hash.clone()));
    let audit_id = audit.set_weights(&submission)?;
    tracing::info!(
        netuid,
        call = receipt.extrinsic_call,
        extrinsic = %receipt.extrinsic_hash,
        block = receipt.block_number,
        uids = submission.uids.len(),
        "weights submitted on chain"
    );
    Ok((OnChainWeights { submission, receipt: Some(receipt), audit_id: Some(audit_id) }, evaluation))
}

/// Sets weights on chain every `interval` until `shutdown`, the first time after one
/// interval (verdicts need a round to exist). One [`Ledger`] lives as long as the loop, so
/// each round fetches only the verdicts added since the last. A refusal that waiting fixes
/// (the rate limit) or a failure is logged and retried at the next tick; the loop itself never
/// gives up.
#[expect(clippy::too_many_arguments, reason = "each is a distinct input the caller owns; a struct would only rename them")]
pub async fn run_weight_loop(
    mut scores: ScoresClient,
    client: &SubtensorClient,
    signer: &HotkeyPair,
    netuid: u16,
    audit: &dyn WeightLedger,
    interval: Duration,
    options: ScoringOptions,
    shutdown: CancellationToken,
) {
    let mut ledger = Ledger::new();
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match set_weights_on_chain(&mut ledger, &mut scores, client, signer, netuid, audit, None, &options).await {
            Ok((OnChainWeights { receipt: Some(receipt), .. }, _)) => {
                tracing::info!(netuid, extrinsic = %receipt.extrinsic_hash, block = receipt.block_number, "weights set")
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(netuid, error = %whetstone_proto::error_chain(&error), "setting weights failed; retrying next interval")
            }
        }
    }
}

fn submission(
    netuid: u16,
    validator: &str,
    uids: Vec<u16>,
    weights: Vec<u16>,
    version_key: u64,
    extrinsic: Option<String>,
) -> WeightSubmission {
    WeightSubmission {
        netuid,
        validator: validator.to_owned(),
        uids,
        weights,
        version_key,
        submitted_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
        extrinsic,
    }
}
