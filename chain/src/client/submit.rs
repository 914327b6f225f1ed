//! Weight submission: `set_weights` when the subnet sets weights in the clear,
//! `commit_timelocked_weights` when it runs commit-reveal; each on the subnet's main
//! mechanism through `set_mechanism_weights` / `commit_timelocked_mechanism_weights` when the
//! runtime declares those (finney does), as the Bittensor SDK 11 submits them.
//!
//! Before signing, the client reads what the chain would check (registration, validator
//! permit, version key, rate limit) and refuses locally with a message that says when or how
//! the submission can succeed; a refusal the chain makes anyway (a race, or a rule we do not
//! mirror) is decoded from the pool's or the runtime's error. Transient failures are retried
//! with backoff; every attempt logs its extrinsic hash and outcome.

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::error::{DispatchError, TransactionEventsError, TransactionProgressError, TransactionStatusError};
use subxt::ext::scale_value::{At, Value};
use whetstone_tasks::Hotkey;

use super::call::{WeightCall, WeightsCallData};
use super::error::{ChainError, Rejection, error_text};
use super::shapes;
use super::storage::{self, AtBlock, Hyperparameters, fetch};
use super::{SubtensorClient, SubtensorConfig};
use crate::timelock::{self, BeaconInfo, EpochSchedule, RevealSchedule, WeightsCommit};
use crate::wallet::HotkeyPair;

/// A submission the chain accepted, in a finalized block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeightsReceipt {
    pub call: WeightCall,
    /// The extrinsic that carried it: the plain call, or its mechanism form
    /// (`set_mechanism_weights`, `commit_timelocked_mechanism_weights`, on mechanism 0) when
    /// the runtime has it.
    pub extrinsic_call: &'static str,
    pub netuid: u16,
    pub hotkey: Hotkey,
    /// The submitter's uid.
    pub uid: u16,
    pub uids: Vec<u16>,
    pub weights: Vec<u16>,
    pub version_key: u64,
    /// `0x…`
    pub extrinsic_hash: String,
    pub block_hash: String,
    pub block_number: u64,
    /// For a timelocked commit: the drand round that reveals it.
    pub reveal_round: Option<u64>,
    /// Tries it took, the successful one included.
    pub attempts: u32,
}

/// What a validator's submission depends on, read at one block.
#[derive(Debug, Clone)]
struct Standing {
    block: u64,
    uid: u16,
    validator_permit: bool,
    last_update: u64,
    hyperparameters: Hyperparameters,
}

impl SubtensorClient {
    /// Submits weights the way the subnet wants them: `commit_timelocked_weights` when
    /// commit-reveal is enabled, `set_weights` otherwise. `weights` are u16 values already
    /// normalised as the SDK does (see [`crate::weights`]).
    pub async fn submit_weights(
        &self,
        signer: &HotkeyPair,
        netuid: u16,
        uids: &[u16],
        weights: &[u16],
        version_key: u64,
    ) -> Result<WeightsReceipt, ChainError> {
        let at = self.at_head().await?;
        storage::ensure_subnet(&at, netuid).await?;
        if fetch(&at, &shapes::COMMIT_REVEAL_WEIGHTS_ENABLED, (netuid,)).await? {
            self.commit_timelocked_weights(signer, netuid, uids, weights, version_key).await
        } else {
            self.set_weights(signer, netuid, uids, weights, version_key).await
        }
    }

    /// `SubtensorModule.set_weights(netuid, dests, weights, version_key)`, waiting for
    /// finalization. Refused locally when commit-reveal is on, the hotkey is unregistered or
    /// has no permit, the version key is too low, or the rate limit has not passed.
    pub async fn set_weights(
        &self,
        signer: &HotkeyPair,
        netuid: u16,
        uids: &[u16],
        weights: &[u16],
        version_key: u64,
    ) -> Result<WeightsReceipt, ChainError> {
        check_vectors(uids, weights)?;
        let call = WeightCall::SetWeights;
        self.with_retry(call, |attempt| async move {
            let at = self.at_head().await?;
            let standing = self.standing(&at, signer.hotkey(), netuid).await?;
            if self.local_checks() {
                if standing.hyperparameters.commit_reveal_enabled {
                    return Err(ChainError::Rejected {
                        call: call.name(),
                        extrinsic: None,
                        rejection: Rejection::module(shapes::SUBTENSOR, "CommitRevealEnabled"),
                    });
                }
                check_standing(netuid, signer.hotkey(), &standing, uids, version_key, self.block_time())?;
            }
            let data = WeightsCallData::SetWeights { netuid, uids: uids.to_vec(), weights: weights.to_vec(), version_key };
            let (extrinsic_hash, block_hash, block_number, extrinsic_call) = self.sign_and_watch(at, call, data, signer, attempt).await?;
            Ok(WeightsReceipt {
                call,
                extrinsic_call,
                netuid,
                hotkey: signer.hotkey().clone(),
                uid: standing.uid,
                uids: uids.to_vec(),
                weights: weights.to_vec(),
                version_key,
                extrinsic_hash,
                block_hash,
                block_number,
                reveal_round: None,
                attempts: attempt,
            })
        })
        .await
    }

    /// `SubtensorModule.commit_timelocked_weights(netuid, commit, reveal_round,
    /// commit_reveal_version)`: the weights encrypted to the drand round the chain will
    /// reveal them at, using the beacon the chain's Drand pallet is configured with.
    pub async fn commit_timelocked_weights(
        &self,
        signer: &HotkeyPair,
        netuid: u16,
        uids: &[u16],
        weights: &[u16],
        version_key: u64,
    ) -> Result<WeightsReceipt, ChainError> {
        check_vectors(uids, weights)?;
        let call = WeightCall::CommitTimelockedWeights;
        self.with_retry(call, |attempt| async move {
            let at = self.at_head().await?;
            let standing = self.standing(&at, signer.hotkey(), netuid).await?;
            if self.local_checks() {
                if !standing.hyperparameters.commit_reveal_enabled {
                    return Err(ChainError::Rejected {
                        call: call.name(),
                        extrinsic: None,
                        rejection: Rejection::module(shapes::SUBTENSOR, "CommitRevealDisabled"),
                    });
                }
                check_standing(netuid, signer.hotkey(), &standing, uids, version_key, self.block_time())?;
            }
            let beacon = beacon_at(&at).await?;
            let schedule = RevealSchedule {
                epoch: epoch_schedule_at(&at, netuid, standing.hyperparameters.tempo).await?,
                reveal_period_epochs: standing.hyperparameters.reveal_period_epochs,
                block_time_secs: self.block_time().as_secs_f64(),
                now: SystemTime::now(),
            };
            let commit =
                WeightsCommit { hotkey_public_key: signer.public_key(), uids: uids.to_vec(), values: weights.to_vec(), version_key };
            let sealed =
                timelock::encrypt_weights_commit_for(&beacon, &commit, &schedule).map_err(|e| ChainError::Timelock(error_text(&e)))?;
            tracing::info!(
                netuid,
                reveal_round = sealed.reveal_round,
                bytes = sealed.ciphertext.len(),
                "weights encrypted to a drand round"
            );
            let data = WeightsCallData::CommitTimelockedWeights {
                netuid,
                commit: sealed.ciphertext,
                reveal_round: sealed.reveal_round,
                commit_reveal_version: standing.hyperparameters.commit_reveal_version,
            };
            let (extrinsic_hash, block_hash, block_number, extrinsic_call) = self.sign_and_watch(at, call, data, signer, attempt).await?;
            Ok(WeightsReceipt {
                call,
                extrinsic_call,
                netuid,
                hotkey: signer.hotkey().clone(),
                uid: standing.uid,
                uids: uids.to_vec(),
                weights: weights.to_vec(),
                version_key,
                extrinsic_hash,
                block_hash,
                block_number,
                reveal_round: Some(sealed.reveal_round),
                attempts: attempt,
            })
        })
        .await
    }

    /// Reads what the chain will check: registration, permit, hyperparameters, last update.
    async fn standing(&self, at: &AtBlock, hotkey: &Hotkey, netuid: u16) -> Result<Standing, ChainError> {
        storage::ensure_subnet(at, netuid).await?;
        let Some(uid) = storage::uid_at(at, netuid, hotkey).await? else {
            return Err(ChainError::NotRegistered { hotkey: hotkey.to_string(), netuid });
        };
        let permits: Vec<bool> = fetch(at, &shapes::VALIDATOR_PERMIT, (netuid,)).await?;
        let last_updates: Vec<u64> = fetch(at, &shapes::LAST_UPDATE, (netuid,)).await?;
        Ok(Standing {
            block: at.block_number(),
            uid,
            validator_permit: permits.get(usize::from(uid)).copied().unwrap_or(false),
            last_update: last_updates.get(usize::from(uid)).copied().unwrap_or(0),
            hyperparameters: storage::hyperparameters_at(at, netuid).await?,
        })
    }

    /// Signs `data` as `signer`, submits it and waits until it is finalized and succeeded.
    /// Returns the extrinsic hash, block hash and block number.
    async fn sign_and_watch(
        &self,
        at: AtBlock,
        call: WeightCall,
        data: WeightsCallData,
        signer: &HotkeyPair,
        attempt: u32,
    ) -> Result<(String, String, u64, &'static str), ChainError> {
        // Mechanism 0 through the mechanism extrinsic where the runtime has it, as the SDK does.
        let data = data.for_runtime(at.metadata_ref());
        let extrinsic_call = data.extrinsic_name();
        let keypair = signer.sr25519_signer().ok_or_else(|| ChainError::CannotSign { hotkey: signer.hotkey().to_string() })?;
        let params = DefaultExtrinsicParamsBuilder::<SubtensorConfig>::new().build();
        let mut transactions = at.tx();
        let signed =
            transactions.create_signed(&data.payload(), keypair, params).await.map_err(|e| self.submit_error(call, None, e.into()))?;
        let extrinsic_hash = format!("{:?}", signed.hash());
        tracing::info!(call = extrinsic_call, extrinsic = %extrinsic_hash, attempt, "submitting");
        let progress = signed.submit_and_watch().await.map_err(|e| self.submit_error(call, Some(&extrinsic_hash), e.into()))?;
        let in_block = progress.wait_for_finalized().await.map_err(|e| progress_error(call, &extrinsic_hash, e))?;
        let block_hash = in_block.block_hash();
        match in_block.wait_for_success().await {
            Ok(_) => {}
            Err(TransactionEventsError::ExtrinsicFailed(dispatch)) => {
                let rejection = dispatch_rejection(&dispatch);
                tracing::warn!(call = call.name(), extrinsic = %extrinsic_hash, block = ?block_hash, %rejection, "extrinsic failed");
                return Err(ChainError::Rejected { call: call.name(), extrinsic: Some(extrinsic_hash), rejection });
            }
            Err(e) => return Err(ChainError::rpc(format!("read the events of {extrinsic_hash}"), e)),
        }
        let block_number = self
            .api()
            .at_block(block_hash)
            .await
            .map(|b| b.block_number())
            .map_err(|e| ChainError::rpc(format!("read block {block_hash:?}"), e))?;
        tracing::info!(call = extrinsic_call, extrinsic = %extrinsic_hash, block = block_number, "extrinsic finalized and succeeded");
        Ok((extrinsic_hash, format!("{block_hash:?}"), block_number, extrinsic_call))
    }

    /// A failure to create or submit: the pool's refusal, or connection trouble.
    fn submit_error(&self, call: WeightCall, extrinsic: Option<&str>, error: subxt::Error) -> ChainError {
        let text = error_text(&error);
        if is_pool_refusal(&text) {
            let rejection = Rejection::pool(&pool_message(&text));
            tracing::warn!(call = call.name(), extrinsic = ?extrinsic, %rejection, "transaction refused by the pool");
            return ChainError::Rejected { call: call.name(), extrinsic: extrinsic.map(str::to_owned), rejection };
        }
        self.connection_error(&format!("submit {}", call.name()), error)
    }

    /// Runs `attempt` until it succeeds, fails for good, or runs out of tries; transient
    /// failures wait with exponential backoff (and reconnect when the connection dropped).
    async fn with_retry<'a, F, Fut>(&'a self, call: WeightCall, attempt: F) -> Result<WeightsReceipt, ChainError>
    where
        F: Fn(u32) -> Fut,
        Fut: Future<Output = Result<WeightsReceipt, ChainError>> + 'a,
    {
        let policy = self.retry_policy();
        let attempts = policy.attempts.max(1);
        let mut backoff = policy.first_backoff;
        for number in 1..=attempts {
            let error = match attempt(number).await {
                Ok(receipt) => return Ok(receipt),
                Err(error) => error,
            };
            if !error.is_transient() {
                return Err(error);
            }
            if number == attempts {
                return Err(ChainError::GaveUp { call: call.name(), attempts, last: Box::new(error) });
            }
            tracing::warn!(call = call.name(), attempt = number, retry_in = ?backoff, error = %error_text(&error), "transient failure; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(policy.max_backoff);
            if matches!(error, ChainError::Unreachable { .. })
                && let Err(reconnect) = self.reconnect().await
            {
                tracing::warn!(error = %error_text(&reconnect), "reconnecting failed");
            }
        }
        unreachable!("the loop returns on its last attempt")
    }
}

fn check_vectors(uids: &[u16], weights: &[u16]) -> Result<(), ChainError> {
    if uids.len() != weights.len() {
        return Err(ChainError::InvalidWeights(format!("{} uids but {} weights", uids.len(), weights.len())));
    }
    if uids.is_empty() {
        return Err(ChainError::InvalidWeights("no weights to set; every weight is zero".into()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(uid) = uids.iter().find(|uid| !seen.insert(**uid)) {
        return Err(ChainError::InvalidWeights(format!("uid {uid} appears twice")));
    }
    Ok(())
}

/// Subtensor's rules for who may set these weights now: a validator permit (unless the
/// neuron weights only itself), a version key at least the subnet's, and the rate limit.
fn check_standing(
    netuid: u16,
    hotkey: &Hotkey,
    standing: &Standing,
    uids: &[u16],
    version_key: u64,
    block_time: Duration,
) -> Result<(), ChainError> {
    let self_weight = uids == [standing.uid];
    if !standing.validator_permit && !self_weight {
        return Err(ChainError::NoValidatorPermit { hotkey: hotkey.to_string(), uid: standing.uid, netuid });
    }
    let required = standing.hyperparameters.weights_version_key;
    if required != 0 && version_key < required {
        return Err(ChainError::VersionKeyTooLow { netuid, given: version_key, required });
    }
    check_rate_limit(netuid, standing, block_time)
}

/// The chain's `check_rate_limit`: a neuron that has set weights before (last update > 0)
/// may again once `rate_limit` blocks have passed. The extrinsic runs in the block after
/// the head we read, so that is the block compared.
fn check_rate_limit(netuid: u16, standing: &Standing, block_time: Duration) -> Result<(), ChainError> {
    let Standing { block, uid, last_update, hyperparameters, .. } = standing;
    let rate_limit = hyperparameters.weights_rate_limit;
    let executes_at = block + 1;
    if *last_update == 0 || executes_at.saturating_sub(*last_update) >= rate_limit {
        return Ok(());
    }
    let allowed_at = last_update + rate_limit;
    let wait_blocks = allowed_at.saturating_sub(executes_at);
    Err(ChainError::RateLimited {
        netuid,
        uid: *uid,
        last_update: *last_update,
        rate_limit,
        current: *block,
        allowed_at,
        wait: block_time * u32::try_from(wait_blocks).unwrap_or(u32::MAX),
    })
}

fn progress_error(call: WeightCall, extrinsic: &str, error: TransactionProgressError) -> ChainError {
    match error {
        TransactionProgressError::TransactionStatusError(status) => {
            let message = match &status {
                TransactionStatusError::Error(m) | TransactionStatusError::Invalid(m) => m.clone(),
                TransactionStatusError::Dropped(m) => format!("dropped: {m}"),
                other => other.to_string(),
            };
            let mut rejection = Rejection::pool(&message);
            rejection.transient |= matches!(status, TransactionStatusError::Dropped(_));
            ChainError::Rejected { call: call.name(), extrinsic: Some(extrinsic.to_owned()), rejection }
        }
        other => ChainError::unreachable(format!("(watching {extrinsic})"), other),
    }
}

fn dispatch_rejection(error: &DispatchError) -> Rejection {
    match error {
        DispatchError::Module(module) => match module.details() {
            Ok(details) => Rejection::module(details.pallet.name(), &details.variant.name),
            Err(_) => Rejection { reason: module.to_string(), advice: "", transient: false },
        },
        other => Rejection { reason: other.to_string(), advice: "", transient: false },
    }
}

/// Node messages that mean the pool refused the transaction (JSON-RPC 1010–1016).
fn is_pool_refusal(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "invalid transaction",
        "priority is too low",
        "temporarily banned",
        "immediately dropped",
        "pool is full",
        "custom error",
        "1010",
        "1014",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// The interesting part of a pool refusal: from "Invalid Transaction" or the priority note
/// onwards, without subxt's wrapping.
fn pool_message(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    for marker in ["invalid transaction", "priority is too low", "temporarily banned", "immediately dropped", "pool is full"] {
        if let Some(index) = lower.find(marker) {
            return text[index..].to_owned();
        }
    }
    text.to_owned()
}

/// The drand beacon the chain reveals commits with: pallet-drand's `BeaconConfig` (drand
/// quicknet on finney, the local beacon on a localnet).
async fn beacon_at(at: &AtBlock) -> Result<BeaconInfo, ChainError> {
    let config: Value = fetch(at, &shapes::BEACON_CONFIG, ()).await?;
    let unusable = |why: String| ChainError::Timelock(format!("the chain's drand beacon configuration is unusable: {why}"));
    let number = |field: &str| config.at(field).and_then(|v| v.as_u128()).ok_or_else(|| unusable(format!("no numeric `{field}`")));
    let period = number("period")?;
    let genesis_time = number("genesis_time")?;
    let public_key = config.at("public_key").map(bytes_of).unwrap_or_default();
    if public_key.is_empty() || period == 0 {
        return Err(unusable(
            "no beacon is configured (empty public key or zero period); the chain cannot reveal timelocked commits".into(),
        ));
    }
    BeaconInfo::new(&public_key, genesis_time as u64, period as u64).map_err(|e| unusable(error_text(&e)))
}

/// The bytes of a (possibly wrapped) byte vector value.
fn bytes_of<T>(value: &Value<T>) -> Vec<u8> {
    use subxt::ext::scale_value::{Composite as C, ValueDef};
    match &value.value {
        ValueDef::Composite(C::Unnamed(items)) if items.len() == 1 && !matches!(items[0].value, ValueDef::Primitive(_)) => {
            bytes_of(&items[0])
        }
        ValueDef::Composite(composite) => composite.values().filter_map(|v| v.as_u128()).map(|b| b as u8).collect(),
        _ => Vec::new(),
    }
}

/// The subnet's epoch schedule at the head, for predicting the reveal block. Runtimes with
/// owner-triggered epochs store it; older ones (and localnet) run an epoch whenever
/// `(block + netuid + 1) % (tempo + 1) == 0`, which [`legacy_epoch_schedule`] restates.
async fn epoch_schedule_at(at: &AtBlock, netuid: u16, tempo: u16) -> Result<EpochSchedule, ChainError> {
    let head = at.block_number();
    if !shapes::has_storage(at.metadata_ref(), &shapes::LAST_EPOCH_BLOCK) {
        return Ok(legacy_epoch_schedule(netuid, tempo, head));
    }
    let key = (netuid,);
    Ok(EpochSchedule {
        last_epoch_block: fetch(at, &shapes::LAST_EPOCH_BLOCK, key).await?,
        pending_epoch_at: fetch(at, &shapes::PENDING_EPOCH_AT, key).await?,
        subnet_epoch_index: fetch(at, &shapes::SUBNET_EPOCH_INDEX, key).await?,
        tempo,
        blocks_since_last_step: fetch(at, &shapes::BLOCKS_SINCE_LAST_STEP, key).await?,
        current_block: head,
    })
}

/// The legacy schedule in the stateful model's terms: epochs `tempo + 1` blocks apart, the
/// last one at the latest block `b <= head` with `(b + netuid + 1) % (tempo + 1) == 0`, the
/// next one pending, and the epoch index `(head + netuid + 1) / (tempo + 1)`.
fn legacy_epoch_schedule(netuid: u16, tempo: u16, head: u64) -> EpochSchedule {
    if tempo == 0 {
        return EpochSchedule {
            last_epoch_block: 0,
            pending_epoch_at: 0,
            subnet_epoch_index: 0,
            tempo: 0,
            blocks_since_last_step: 0,
            current_block: head,
        };
    }
    let period = u64::from(tempo) + 1;
    let position = (head + u64::from(netuid) + 1) % period;
    EpochSchedule {
        last_epoch_block: head.saturating_sub(position),
        // The next epoch block, stated outright: near genesis the last epoch block would be
        // negative, which `last_epoch_block` cannot say.
        pending_epoch_at: head + period - position,
        subnet_epoch_index: (head + u64::from(netuid) + 1) / period,
        tempo: u16::try_from(period).unwrap_or(u16::MAX),
        blocks_since_last_step: position,
        current_block: head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWELVE: Duration = Duration::from_secs(12);

    fn standing(block: u64, last_update: u64, rate_limit: u64) -> Standing {
        Standing {
            block,
            uid: 3,
            validator_permit: true,
            last_update,
            hyperparameters: Hyperparameters { weights_rate_limit: rate_limit, ..Hyperparameters::for_tests() },
        }
    }

    #[test]
    fn rate_limit_follows_the_chain_rule() {
        // Never set: allowed at once.
        assert!(check_rate_limit(1, &standing(5, 0, 100), TWELVE).is_ok());
        // Set at 100, limit 100: the extrinsic runs in block head+1, so head 199 is enough.
        assert!(check_rate_limit(1, &standing(199, 100, 100), TWELVE).is_ok());
        match check_rate_limit(1, &standing(150, 100, 100), TWELVE) {
            Err(ChainError::RateLimited { allowed_at, current, wait, .. }) => {
                assert_eq!((allowed_at, current), (200, 150));
                assert_eq!(wait, Duration::from_secs(49 * 12));
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
    }

    #[test]
    fn permit_and_version_key_follow_the_chain_rules() {
        let hotkey = Hotkey::new(crate::wallet::dev::DAVE);
        let mut miner = standing(10, 0, 100);
        miner.validator_permit = false;
        miner.hyperparameters.weights_version_key = 5;
        let refused = check_standing(1, &hotkey, &miner, &[0, 3], 5, TWELVE).expect_err("no permit");
        assert!(matches!(refused, ChainError::NoValidatorPermit { uid: 3, .. }), "{refused}");
        // A neuron weighting only itself needs no permit, as on chain.
        check_standing(1, &hotkey, &miner, &[3], 5, TWELVE).expect("self weight");
        let old = check_standing(1, &hotkey, &miner, &[3], 4, TWELVE).expect_err("old version key");
        assert!(matches!(old, ChainError::VersionKeyTooLow { given: 4, required: 5, .. }), "{old}");
    }

    #[test]
    fn legacy_schedule_predicts_the_legacy_reveal_block() {
        // The block a commit made against `head` is revealed at: the first block whose
        // legacy epoch index is the commit epoch (that of head + 1) plus the reveal period.
        let legacy_index = |netuid: u16, tempo: u16, block: u64| (block + u64::from(netuid) + 1) / (u64::from(tempo) + 1);
        for netuid in [1u16, 3, 17] {
            for tempo in [1u16, 5, 10, 360] {
                for reveal_period in [1u64, 2, 3] {
                    for head in [0u64, 1, 9, 10, 11, 359, 360, 361, 1000, 12_345] {
                        let target = legacy_index(netuid, tempo, head + 1) + reveal_period;
                        let expected = (head + 1..).find(|b| legacy_index(netuid, tempo, *b) == target).expect("some block");
                        let schedule = RevealSchedule {
                            epoch: legacy_epoch_schedule(netuid, tempo, head),
                            reveal_period_epochs: reveal_period,
                            block_time_secs: 12.0,
                            now: SystemTime::UNIX_EPOCH,
                        };
                        assert_eq!(
                            schedule.first_reveal_block().expect("predictable"),
                            expected,
                            "netuid {netuid} tempo {tempo} reveal period {reveal_period} head {head}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bytes_are_read_through_wrappers() {
        let raw = Value::unnamed_composite([Value::u128(1), Value::u128(2), Value::u128(255)]);
        assert_eq!(bytes_of(&raw), vec![1, 2, 255]);
        let wrapped = Value::unnamed_composite([raw]);
        assert_eq!(bytes_of(&wrapped), vec![1, 2, 255]);
    }

    #[test]
    fn bad_vectors_are_refused_before_signing() {
        assert!(check_vectors(&[0, 1], &[1]).is_err());
        assert!(check_vectors(&[], &[]).is_err());
        let duplicate = check_vectors(&[2, 2], &[1, 1]).expect_err("duplicate");
        assert!(duplicate.to_string().contains("uid 2 appears twice"));
        assert!(check_vectors(&[0, 4], &[65535, 9]).is_ok());
    }

    #[test]
    fn pool_refusals_are_told_from_connection_trouble() {
        let text = "Cannot submit extrinsic: RPC error: User error: Invalid Transaction (1010): Some(\"Custom error: 6\")";
        assert!(is_pool_refusal(text));
        assert!(pool_message(text).starts_with("Invalid Transaction"));
        assert!(!is_pool_refusal("Cannot submit extrinsic: RPC error: connection closed"));
    }
}
