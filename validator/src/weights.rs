//! Setting weights: the validator reads the leaderboard, maps hotkeys to uids through the
//! metagraph, normalises as the SDK does and submits through its [`WeightLedger`].

use std::time::{SystemTime, UNIX_EPOCH};

use whetstone_chain::{LedgerError, Metagraph, WeightLedger, WeightSubmission, scores_to_u16_weights};
use whetstone_proto::pb;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("failed to read the leaderboard from the coordinator: {0}")]
    Leaderboard(#[source] tonic::Status),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Reads scores, builds the weight vector over registered hotkeys and submits it. Returns the
/// submission and its identifier in the ledger.
pub async fn set_weights(
    scores: &mut pb::scores_client::ScoresClient<tonic::transport::Channel>,
    metagraph: &Metagraph,
    ledger: &dyn WeightLedger,
    validator_hotkey: &str,
    version_key: u64,
) -> Result<(WeightSubmission, String), WeightsError> {
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
    let (uids, weights) = scores_to_u16_weights(&best);
    let submission = WeightSubmission {
        netuid: metagraph.netuid,
        validator: validator_hotkey.to_owned(),
        uids,
        weights,
        version_key,
        submitted_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
    };
    let id = ledger.set_weights(&submission)?;
    Ok((submission, id))
}
