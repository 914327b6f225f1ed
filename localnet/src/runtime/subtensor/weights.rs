//! Setting, committing and revealing weights, with subtensor's checks in subtensor's order so
//! a client sees the same error for the same mistake.

use parity_scale_codec::{Decode, Encode};

use super::items::*;
use crate::storage::State;
use crate::types::bounded_collections::bounded_vec::BoundedVec;
use crate::types::node_subtensor_runtime::RuntimeEvent;
use crate::types::pallet_subtensor::{Error, Event};
use crate::types::{AccountId32, H256};

/// The root network; weights there mean something else and are refused.
pub(crate) const ROOT_NETUID: u16 = 0;

/// Most unrevealed timelocked commits one hotkey may hold in one epoch.
const MAX_UNREVEALED_COMMITS: usize = 10;

/// What a timelocked commit decrypts to (subtensor's `WeightsTlockPayload`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct WeightsTlockPayload {
    /// The committing hotkey's 32 account bytes; the reveal checks it against the committer.
    pub hotkey: Vec<u8>,
    pub uids: Vec<u16>,
    pub values: Vec<u16>,
    pub version_key: u64,
}

/// The payload of older clients, without the hotkey.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
struct LegacyWeightsTlockPayload {
    uids: Vec<u16>,
    values: Vec<u16>,
    version_key: u64,
}

/// The epoch a block belongs to: subnets are offset by their netuid so their epochs do not
/// all end on the same block.
pub(crate) fn epoch_index(state: &State, netuid: u16, block: u64) -> u64 {
    let tempo_plus_one = u64::from(state.value::<Tempo>((netuid,))) + 1;
    (block + u64::from(netuid) + 1) / tempo_plus_one
}

pub(crate) fn uid_of(state: &State, netuid: u16, hotkey: &AccountId32) -> Option<u16> {
    state.get::<Uids>((netuid, *hotkey))
}

fn uid_exists(state: &State, netuid: u16, uid: u16) -> bool {
    uid < state.value::<SubnetworkN>((netuid,))
}

/// The `set_weights` extrinsic: refused while the subnet requires commit-reveal.
#[expect(clippy::too_many_arguments, reason = "mirrors the extrinsic's arguments")]
pub(crate) fn set_weights(
    state: &mut State,
    events: &mut Vec<RuntimeEvent>,
    hotkey: &AccountId32,
    netuid: u16,
    uids: Vec<u16>,
    values: Vec<u16>,
    version_key: u64,
    block: u64,
) -> Result<(), Error> {
    if state.value::<CommitRevealWeightsEnabled>((netuid,)) {
        return Err(Error::CommitRevealEnabled);
    }
    do_set_weights(state, events, hotkey, netuid, uids, values, version_key, block)
}

/// Subtensor's `do_set_weights`, shared by `set_weights` and the timelocked reveal.
#[expect(clippy::too_many_arguments, reason = "mirrors the extrinsic's arguments")]
pub(crate) fn do_set_weights(
    state: &mut State,
    events: &mut Vec<RuntimeEvent>,
    hotkey: &AccountId32,
    netuid: u16,
    uids: Vec<u16>,
    values: Vec<u16>,
    version_key: u64,
    block: u64,
) -> Result<(), Error> {
    if netuid == ROOT_NETUID {
        return Err(Error::CanNotSetRootNetworkWeights);
    }
    if uids.len() != values.len() {
        return Err(Error::WeightVecNotEqualSize);
    }
    if !state.value::<NetworksAdded>((netuid,)) {
        return Err(Error::SubnetNotExists);
    }
    let subnet_n = state.value::<SubnetworkN>((netuid,));
    if uids.len() > usize::from(subnet_n) {
        return Err(Error::UidsLengthExceedUidsInSubNet);
    }
    let uid = uid_of(state, netuid, hotkey).ok_or(Error::HotKeyNotRegisteredInSubNet)?;
    if state.value::<TotalHotkeyAlpha>((*hotkey, netuid)) < state.value::<StakeThreshold>(()) {
        return Err(Error::NotEnoughStakeToSetWeights);
    }
    let network_version_key = state.value::<WeightsVersionKey>((netuid,));
    if network_version_key != 0 && version_key < network_version_key {
        return Err(Error::IncorrectWeightVersionKey);
    }
    // With commit-reveal on, the commit was rate limited; its reveal is not.
    if !state.value::<CommitRevealWeightsEnabled>((netuid,)) && !rate_limit_passed(state, netuid, uid, block) {
        return Err(Error::SettingWeightsTooFast);
    }
    let self_weight = is_self_weight(uid, &uids, &values);
    let permit = state.value::<ValidatorPermit>((netuid,)).get(usize::from(uid)).copied().unwrap_or(false);
    if !self_weight && !permit {
        return Err(Error::NeuronNoValidatorPermit);
    }
    if has_duplicates(&uids) {
        return Err(Error::DuplicateUids);
    }
    if uids.iter().any(|&u| !uid_exists(state, netuid, u)) {
        return Err(Error::UidVecContainInvalidOne);
    }
    let min_allowed = usize::from(subnet_n.min(state.value::<MinAllowedWeights>((netuid,))));
    if !self_weight && values.len() < min_allowed {
        return Err(Error::WeightVecLengthIsLow);
    }
    let upscaled = max_upscale_to_u16(&values);
    let max_weight = state.value::<MaxWeightsLimit>((netuid,));
    if !self_weight && max_weight != u16::MAX && !max_weight_limited(&upscaled, max_weight) {
        return Err(Error::MaxWeightExceeded);
    }
    let row: Vec<(u16, u16)> = uids.into_iter().zip(upscaled).collect();
    state.insert::<Weights>((netuid, uid), &row);
    // Under commit-reveal the commit stamped `LastUpdate`; the reveal leaves it, as subtensor's
    // `do_set_weights` does, so the rate limit and activity count from the commit.
    if !state.value::<CommitRevealWeightsEnabled>((netuid,)) {
        set_last_update(state, netuid, uid, block);
    }
    events.push(RuntimeEvent::SubtensorModule(Event::WeightsSet(netuid, uid)));
    Ok(())
}

fn rate_limit_passed(state: &State, netuid: u16, uid: u16, block: u64) -> bool {
    let last = state.value::<LastUpdate>((netuid,)).get(usize::from(uid)).copied().unwrap_or(0);
    // Never set before (the storage default) always passes.
    last == 0 || block.saturating_sub(last) >= state.value::<WeightsSetRateLimit>((netuid,))
}

fn set_last_update(state: &mut State, netuid: u16, uid: u16, block: u64) {
    state.mutate::<LastUpdate, _>((netuid,), |updates| {
        if let Some(slot) = updates.get_mut(usize::from(uid)) {
            *slot = block;
        }
    });
}

fn is_self_weight(uid: u16, uids: &[u16], values: &[u16]) -> bool {
    values.len() == 1 && uids.first() == Some(&uid)
}

fn has_duplicates(uids: &[u16]) -> bool {
    let mut seen = std::collections::HashSet::new();
    !uids.iter().all(|u| seen.insert(*u))
}

const FRACTION_BITS: u32 = 32;
const HALF: u64 = 1 << (FRACTION_BITS - 1);

/// Scales weights so the largest becomes u16::MAX, rounding as subtensor's I32F32 fixed-point
/// arithmetic does (emulated here with 32 fractional bits in integers).
pub(crate) fn max_upscale_to_u16(values: &[u16]) -> Vec<u16> {
    let max = values.iter().copied().max().map(u64::from).unwrap_or(0);
    if max == 0 {
        return values.to_vec();
    }
    let u16_max = u64::from(u16::MAX);
    let round = |bits: u64| -> u16 { u16::try_from((bits + HALF) >> FRACTION_BITS).unwrap_or(u16::MAX) };
    if max > 32768 {
        // ratio = u16::MAX / max, truncated to 32 fractional bits, then e * ratio.
        let ratio_bits = (u16_max << FRACTION_BITS) / max;
        values.iter().map(|&e| round(u64::from(e) * ratio_bits)).collect()
    } else {
        // (e * u16::MAX) / max, the quotient truncated to 32 fractional bits.
        values.iter().map(|&e| round(((u64::from(e) * u16_max) << FRACTION_BITS) / max)).collect()
    }
}

/// Whether the largest normalised weight is at most `max_limit / u16::MAX`.
fn max_weight_limited(values: &[u16], max_limit: u16) -> bool {
    let sum: u64 = values.iter().map(|&v| u64::from(v)).sum();
    let Some(max) = values.iter().copied().max() else { return true };
    if sum == 0 {
        return true;
    }
    let max_normalised = (u64::from(max) << FRACTION_BITS) / sum;
    let limit = (u64::from(max_limit) << FRACTION_BITS) / u64::from(u16::MAX);
    max_normalised <= limit
}

/// The `commit_timelocked_weights` extrinsic: stores the ciphertext under the current epoch.
#[expect(clippy::too_many_arguments, reason = "mirrors the extrinsic's arguments")]
pub(crate) fn commit_timelocked_weights(
    state: &mut State,
    events: &mut Vec<RuntimeEvent>,
    hotkey: &AccountId32,
    netuid: u16,
    commit: BoundedVec<u8>,
    reveal_round: u64,
    commit_reveal_version: u16,
    block: u64,
) -> Result<(), Error> {
    if commit_reveal_version != state.value::<CommitRevealWeightsVersion>(()) {
        return Err(Error::IncorrectCommitRevealVersion);
    }
    if !state.value::<CommitRevealWeightsEnabled>((netuid,)) {
        return Err(Error::CommitRevealDisabled);
    }
    let uid = uid_of(state, netuid, hotkey).ok_or(Error::HotKeyNotRegisteredInSubNet)?;
    if !rate_limit_passed(state, netuid, uid, block) {
        return Err(Error::CommittingWeightsTooFast);
    }
    let epoch = epoch_index(state, netuid, block);
    let mut commits = state.value::<TimelockedWeightCommits>((netuid, epoch));
    if commits.iter().filter(|(who, ..)| who == hotkey).count() >= MAX_UNREVEALED_COMMITS {
        return Err(Error::TooManyUnrevealedCommits);
    }
    let commit_hash = H256(sp_crypto_hashing::blake2_256(&commit.0));
    commits.push((*hotkey, block, commit, reveal_round));
    state.insert::<TimelockedWeightCommits>((netuid, epoch), &commits);
    events.push(RuntimeEvent::SubtensorModule(Event::TimelockedWeightsCommitted(*hotkey, netuid, commit_hash, reveal_round)));
    set_last_update(state, netuid, uid, block);
    Ok(())
}

/// Decrypts a timelocked commit with the drand signature of its round.
pub(crate) trait Decryptor {
    /// The pulse signature stored on chain for `round`, if the round has been published.
    fn pulse_signature(&self, state: &State, round: u64) -> Option<Vec<u8>>;
    fn decrypt(&self, ciphertext: &[u8], signature: &[u8]) -> Option<Vec<u8>>;
}

/// Reveals the commits of epoch `current - RevealPeriodEpochs` whose drand pulse is on chain,
/// applying them as weights. Runs at the start of every block: commits whose pulse is still
/// missing are retried next block, and dropped once their epoch is older than the reveal epoch.
pub(crate) fn reveal_timelocked_commits(
    state: &mut State,
    events: &mut Vec<RuntimeEvent>,
    netuid: u16,
    block: u64,
    decryptor: &dyn Decryptor,
) {
    let reveal_period = state.value::<RevealPeriodEpochs>((netuid,));
    let current_epoch = epoch_index(state, netuid, block);
    let reveal_epoch = current_epoch.saturating_sub(reveal_period);
    for (epoch, _) in state.iter_prefix::<TimelockedWeightCommits, u16, u64>(&netuid) {
        if epoch < reveal_epoch {
            tracing::debug!(netuid, epoch, "dropping timelocked commits never revealed");
            state.remove::<TimelockedWeightCommits>((netuid, epoch));
        }
    }
    if current_epoch < reveal_period {
        return;
    }
    let entries = state.value::<TimelockedWeightCommits>((netuid, reveal_epoch));
    if entries.is_empty() {
        return;
    }
    state.remove::<TimelockedWeightCommits>((netuid, reveal_epoch));
    let mut unrevealed = Vec::new();
    for (who, commit_block, ciphertext, round) in entries {
        let Some(signature) = decryptor.pulse_signature(state, round) else {
            unrevealed.push((who, commit_block, ciphertext, round));
            continue;
        };
        let Some(plaintext) = decryptor.decrypt(&ciphertext.0, &signature) else {
            tracing::info!(netuid, hotkey = %who, round, "timelocked commit does not decrypt with its round's pulse; dropped");
            continue;
        };
        let Some((uids, values, version_key)) = decode_payload(&plaintext, &who) else {
            tracing::info!(netuid, hotkey = %who, "timelocked commit payload is malformed or names another hotkey; dropped");
            continue;
        };
        match do_set_weights(state, events, &who, netuid, uids, values, version_key, block) {
            Ok(()) => events.push(RuntimeEvent::SubtensorModule(Event::TimelockedWeightsRevealed(netuid, who))),
            Err(error) => tracing::info!(netuid, hotkey = %who, ?error, "revealed weights refused"),
        }
    }
    if !unrevealed.is_empty() {
        state.insert::<TimelockedWeightCommits>((netuid, reveal_epoch), &unrevealed);
    }
}

fn decode_payload(plaintext: &[u8], committer: &AccountId32) -> Option<(Vec<u16>, Vec<u16>, u64)> {
    if let Ok(payload) = WeightsTlockPayload::decode(&mut &plaintext[..]) {
        return match AccountId32::decode(&mut payload.hotkey.as_slice()) {
            Ok(hotkey) if hotkey == *committer => Some((payload.uids, payload.values, payload.version_key)),
            Ok(_) => None,
            Err(_) => {
                LegacyWeightsTlockPayload::decode(&mut &plaintext[..]).ok().map(|legacy| (legacy.uids, legacy.values, legacy.version_key))
            }
        };
    }
    LegacyWeightsTlockPayload::decode(&mut &plaintext[..]).ok().map(|legacy| (legacy.uids, legacy.values, legacy.version_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upscaling_matches_subtensor_fixed_point_rounding() {
        // (input, expected) pairs worked out from subtensor's I32F32 arithmetic.
        let cases: &[(&[u16], &[u16])] = &[
            (&[0, 0], &[0, 0]),
            (&[1], &[65535]),
            (&[1, 2], &[32768, 65535]),
            (&[1, 3], &[21845, 65535]),
            (&[10, 20, 30], &[21845, 43690, 65535]),
            (&[65535, 1], &[65535, 1]),
            // 20000 * trunc(65535 / 40000) lands just under 32767.5 and rounds down.
            (&[40000, 20000], &[65535, 32767]),
        ];
        for (input, expected) in cases {
            assert_eq!(max_upscale_to_u16(input), expected.to_vec(), "input {input:?}");
        }
    }

    #[test]
    fn max_weight_limit_compares_the_normalised_maximum() {
        assert!(max_weight_limited(&[65535, 65535], u16::MAX / 2 + 1));
        assert!(!max_weight_limited(&[65535, 1], u16::MAX / 2));
        assert!(max_weight_limited(&[], 0));
    }

    #[test]
    fn epochs_are_offset_by_netuid() {
        let mut state = State::default();
        state.insert::<Tempo>((1,), &9);
        // (block + netuid + 1) / (tempo + 1)
        assert_eq!(epoch_index(&state, 1, 0), 0);
        assert_eq!(epoch_index(&state, 1, 7), 0);
        assert_eq!(epoch_index(&state, 1, 8), 1);
        assert_eq!(epoch_index(&state, 1, 18), 2);
    }
}
