//! Setting weights: the validator reads the leaderboard, maps hotkeys to uids through the
//! metagraph, normalises as the SDK does and submits.
//!
//! Two destinations: [`set_weights_on_chain`] submits through the subxt client
//! (`set_weights`, or a timelocked commit when the subnet runs commit-reveal) and appends
//! every accepted submission, with its extrinsic hash, to a [`WeightLedger`] kept as an audit
//! log; [`set_weights`] writes to a ledger alone, for rounds without a chain.
//! [`run_weight_loop`] repeats the chain path on a timer for a long-running validator.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use whetstone_chain::client::{ChainError, SubtensorClient, WeightsReceipt};
use whetstone_chain::sync::MetagraphSnapshot;
use whetstone_chain::wallet::HotkeyPair;
use whetstone_chain::weights::{self as sdk, Summation, WeightRules};
use whetstone_chain::{LedgerError, Metagraph, WeightLedger, WeightSubmission, scores_to_u16_weights};
use whetstone_proto::pb;

type ScoresClient = pb::scores_client::ScoresClient<tonic::transport::Channel>;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("failed to read the leaderboard from the coordinator: {0}")]
    Leaderboard(#[source] tonic::Status),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("failed to set weights on chain")]
    Chain(#[from] ChainError),
    #[error("the scores do not make a weight vector the subnet accepts")]
    Rules(#[source] sdk::WeightsError),
}

/// Reads scores, builds the weight vector over registered hotkeys and submits it. Returns the
/// submission and its identifier in the ledger.
pub async fn set_weights(
    scores: &mut ScoresClient,
    metagraph: &Metagraph,
    ledger: &dyn WeightLedger,
    validator_hotkey: &str,
    version_key: u64,
) -> Result<(WeightSubmission, String), WeightsError> {
    let best = best_scores(scores, metagraph).await?;
    let (uids, weights) = scores_to_u16_weights(&best);
    let submission = submission(metagraph.netuid, validator_hotkey, uids, weights, version_key, None);
    let id = ledger.set_weights(&submission)?;
    Ok((submission, id))
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

/// Reads scores, maps them to uids through the chain's metagraph, conforms them to the
/// subnet's rules exactly as the SDK does, submits them as `signer` and records the accepted
/// submission in `audit`. `version_key` defaults to the subnet's.
pub async fn set_weights_on_chain(
    scores: &mut ScoresClient,
    client: &SubtensorClient,
    signer: &HotkeyPair,
    netuid: u16,
    audit: &dyn WeightLedger,
    version_key: Option<u64>,
) -> Result<OnChainWeights, WeightsError> {
    let snapshot = MetagraphSnapshot::fetch(client, netuid).await?;
    let own_uid =
        snapshot.uid_of(signer.hotkey()).ok_or_else(|| ChainError::NotRegistered { hotkey: signer.hotkey().to_string(), netuid })?;
    let params = snapshot.hyperparameters;
    let version_key = version_key.unwrap_or(params.weights_version_key);
    let best = best_scores(scores, &snapshot.metagraph()).await?;
    let rules = WeightRules { own_uid, min_allowed_weights: params.min_allowed_weights, max_weight_limit: params.max_weights_limit };
    let (uids, weights) = match sdk::conform(&best, &rules, Summation::default()) {
        Ok(conformed) => conformed,
        Err(sdk::WeightsError::AllZero) => {
            tracing::info!(netuid, "no registered miner has a score yet; no weights set");
            let empty = submission(netuid, signer.hotkey().as_str(), Vec::new(), Vec::new(), version_key, None);
            return Ok(OnChainWeights { submission: empty, receipt: None, audit_id: None });
        }
        Err(other) => return Err(WeightsError::Rules(other)),
    };
    let receipt = client.submit_weights(signer, netuid, &uids, &weights, version_key).await?;
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
    Ok(OnChainWeights { submission, receipt: Some(receipt), audit_id: Some(audit_id) })
}

/// Sets weights on chain every `interval` until `shutdown`, the first time after one
/// interval (scores need a round to exist). A refusal that waiting fixes (the rate limit)
/// or a failure is logged and retried at the next tick; the loop itself never gives up.
pub async fn run_weight_loop(
    mut scores: ScoresClient,
    client: &SubtensorClient,
    signer: &HotkeyPair,
    netuid: u16,
    audit: &dyn WeightLedger,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match set_weights_on_chain(&mut scores, client, signer, netuid, audit, None).await {
            Ok(OnChainWeights { receipt: Some(receipt), .. }) => {
                tracing::info!(netuid, extrinsic = %receipt.extrinsic_hash, block = receipt.block_number, "weights set")
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(netuid, error = %whetstone_proto::error_chain(&error), "setting weights failed; retrying next interval")
            }
        }
    }
}

/// The best leaderboard score of each registered hotkey, by uid.
async fn best_scores(scores: &mut ScoresClient, metagraph: &Metagraph) -> Result<Vec<(u16, f64)>, WeightsError> {
    let board = scores.leaderboard(pb::LeaderboardRequest {}).await.map_err(WeightsError::Leaderboard)?.into_inner();
    let mut best: Vec<(u16, f64)> = Vec::new();
    for entry in board.entries {
        let Some(uid) = metagraph.uid_of(&entry.hotkey) else {
            tracing::warn!(hotkey = %entry.hotkey, "scored hotkey is not registered; it gets no weight");
            continue;
        };
        match best.iter_mut().find(|(u, _)| *u == uid) {
            Some((_, score)) => *score = score.max(entry.score),
            None => best.push((uid, entry.score)),
        }
    }
    best.sort_by_key(|(uid, _)| *uid);
    Ok(best)
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
