//! Which drand round a weights commit must be encrypted to. Subtensor reveals a commit made
//! in epoch `e` during the block step that starts epoch `e + reveal_period_epochs`, using the
//! newest pulse pallet-drand has ingested by then. The SDK (bittensor-drand 2.0 /
//! bittensor-core 0.1.5, `get_encrypted_commit_v2`) predicts that block by replaying the
//! chain's epoch schedule block by block — owner-triggered pending epochs and tempo changes
//! make plain modulo arithmetic wrong — then turns "that block plus a safety margin" into
//! wall-clock time and the drand round of that time. This module is that computation, with
//! the clock injected.

use std::time::{SystemTime, UNIX_EPOCH};

use super::TimelockError;
use super::beacon::BeaconInfo;

/// The longest tempo a subnet owner may set (≈ 7 days at 12 s blocks).
pub const MAX_TEMPO: u64 = 50_400;

/// Blocks added after the predicted reveal block so the targeted pulse has been ingested on
/// chain by the time the reveal runs.
pub const SECURITY_BLOCK_OFFSET: u64 = 3;

/// A commit extrinsic lands in the block after the head it was built against.
pub const COMMIT_INCLUSION_BLOCK_OFFSET: u64 = 1;

/// A subnet's epoch-schedule storage at one block, read together (`LastEpochBlock`,
/// `PendingEpochAt`, `SubnetEpochIndex`, `Tempo`, `BlocksSinceLastStep`) at `current_block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochSchedule {
    pub last_epoch_block: u64,
    /// An owner-triggered epoch due at this block; 0 when none is pending.
    pub pending_epoch_at: u64,
    pub subnet_epoch_index: u64,
    pub tempo: u16,
    pub blocks_since_last_step: u64,
    /// The chain head the storage was read at.
    pub current_block: u64,
}

/// Everything that decides a commit's reveal round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RevealSchedule {
    pub epoch: EpochSchedule,
    /// The subnet's `RevealPeriodEpochs`.
    pub reveal_period_epochs: u64,
    /// Real seconds per block on this chain (12 on mainnet, 0.25 on fast-block chains).
    pub block_time_secs: f64,
    /// Wall-clock time the commit is made at; `SystemTime::now()` outside tests.
    pub now: SystemTime,
}

impl RevealSchedule {
    /// The block whose step will reveal a commit built against `epoch.current_block`.
    pub fn first_reveal_block(&self) -> Result<u64, TimelockError> {
        predict_first_reveal_block(&self.epoch, self.reveal_period_epochs)
    }

    /// The round to encrypt to, for `beacon`'s clock: the round current when the reveal block
    /// (plus [`SECURITY_BLOCK_OFFSET`]) is expected to be produced, never below 1.
    pub fn reveal_round(&self, beacon: &BeaconInfo) -> Result<u64, TimelockError> {
        let target_block = self.first_reveal_block()?.saturating_add(SECURITY_BLOCK_OFFSET);
        let blocks_ahead = target_block.saturating_sub(self.epoch.current_block);
        let now = self.now.duration_since(UNIX_EPOCH).map_err(|_| TimelockError::ClockBeforeEpoch)?.as_secs_f64();
        // Same f64 operations in the same order as the reference, so rounding agrees.
        let target_secs = now + blocks_ahead as f64 * self.block_time_secs;
        let round = ((target_secs - beacon.genesis_time() as f64) / beacon.period_secs() as f64).floor();
        // `as` saturates: a target before genesis gives 0, then the floor of 1 applies.
        Ok((round as u64).max(1))
    }
}

/// Subtensor's `should_run_epoch` for the schedule state after `block`'s coinbase.
fn should_run_epoch(state: &EpochSchedule, block: u64) -> bool {
    if state.tempo == 0 {
        return false;
    }
    if state.pending_epoch_at > 0 && block >= state.pending_epoch_at {
        return true;
    }
    if state.blocks_since_last_step > MAX_TEMPO {
        return true;
    }
    block.saturating_sub(state.last_epoch_block) >= u64::from(state.tempo)
}

/// The epoch index a reveal sees at `block`: reveals run before `run_coinbase` in the block
/// step, so an epoch firing in this block already counts.
fn epoch_before_coinbase(state: &EpochSchedule, block: u64) -> u64 {
    state.subnet_epoch_index.saturating_add(u64::from(should_run_epoch(state, block)))
}

/// The effect of `run_coinbase` at `block` on the schedule (without `MaxEpochsPerBlock`
/// deferral, as in the reference).
fn run_coinbase(state: &EpochSchedule, block: u64) -> EpochSchedule {
    let mut next = *state;
    next.blocks_since_last_step = next.blocks_since_last_step.saturating_add(1);
    next.current_block = block;
    if should_run_epoch(&next, block) {
        next.last_epoch_block = block;
        next.pending_epoch_at = 0;
        next.subnet_epoch_index = next.subnet_epoch_index.saturating_add(1);
        next.blocks_since_last_step = 0;
    }
    next
}

fn predict_first_reveal_block(head: &EpochSchedule, reveal_period_epochs: u64) -> Result<u64, TimelockError> {
    if head.tempo == 0 {
        return Err(TimelockError::TempoIsZero);
    }
    let extrinsic_block = head.current_block.saturating_add(COMMIT_INCLUSION_BLOCK_OFFSET);
    let mut state = *head;
    for block in head.current_block.saturating_add(1)..extrinsic_block {
        state = run_coinbase(&state, block);
    }
    let target_epoch = epoch_before_coinbase(&state, extrinsic_block).saturating_add(reveal_period_epochs);
    let budget = reveal_period_epochs.saturating_mul(MAX_TEMPO).saturating_add(MAX_TEMPO);
    for block in extrinsic_block..=extrinsic_block.saturating_add(budget) {
        if epoch_before_coinbase(&state, block) == target_epoch {
            return Ok(block);
        }
        state = run_coinbase(&state, block);
    }
    Err(TimelockError::RevealNotFound { reveal_period_epochs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(last_epoch_block: u64, pending_epoch_at: u64, tempo: u16, current_block: u64) -> EpochSchedule {
        EpochSchedule { last_epoch_block, pending_epoch_at, subnet_epoch_index: 0, tempo, blocks_since_last_step: 0, current_block }
    }

    /// The first two are the reference's own pinned cases (bittensor-drand
    /// `epoch_schedule_vectors.rs`); the third follows by hand from the first.
    #[test]
    fn first_reveal_block_matches_reference_vectors() {
        let cases = [
            // tempo 50, epoch just ran at 10: the next one starts at 60.
            (state(10, 0, 50, 10), 1, 60),
            // An owner-triggered epoch at 95 fires before the automatic one at 100.
            (state(80, 95, 20, 91), 1, 95),
            // Two epochs: 60, then 110.
            (state(10, 0, 50, 10), 2, 110),
        ];
        for (epoch, period, expected) in cases {
            let schedule = RevealSchedule { epoch, reveal_period_epochs: period, block_time_secs: 12.0, now: UNIX_EPOCH };
            assert_eq!(schedule.first_reveal_block().expect("a reveal block exists"), expected, "{epoch:?} period {period}");
        }
    }

    #[test]
    fn zero_tempo_has_no_reveal() {
        let schedule = RevealSchedule { epoch: state(10, 0, 0, 10), reveal_period_epochs: 1, block_time_secs: 12.0, now: UNIX_EPOCH };
        assert!(matches!(schedule.first_reveal_block(), Err(TimelockError::TempoIsZero)));
    }

    #[test]
    fn round_is_wall_clock_at_reveal_plus_margin() {
        let beacon = BeaconInfo::quicknet();
        let now = UNIX_EPOCH + std::time::Duration::from_secs(beacon.genesis_time() + 3000);
        let schedule = RevealSchedule { epoch: state(10, 0, 50, 10), reveal_period_epochs: 1, block_time_secs: 12.0, now };
        // Reveal block 60 + 3 = 53 blocks ahead = 636 s; (3000 + 636) / 3 = 1212.
        assert_eq!(schedule.reveal_round(&beacon).expect("a reveal round exists"), 1212);
        let before_genesis = RevealSchedule { now: UNIX_EPOCH, ..schedule };
        assert_eq!(before_genesis.reveal_round(&beacon).expect("a reveal round exists"), 1);
    }
}
