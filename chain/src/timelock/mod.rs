//! Timelocked weight commits (commit-reveal v3/v4), built byte-for-byte as the Bittensor SDK
//! builds them for `commit_timelocked_weights`: the SCALE `WeightsTlockPayload` is encrypted
//! with drand timelock encryption (Boneh–Franklin IBE on BLS12-381, quicknet's
//! `bls-unchained-g1-rfc9380` scheme) to the round whose pulse the chain will have when it
//! reveals, and subtensor decrypts it with that pulse.
//!
//! The reference is bittensor-drand 2.0.0 / bittensor-core 0.1.5 (the `tle` crate at
//! ideal-lab5/timelock 5416406); `tests/integration/timelock.rs` checks this module against
//! ciphertexts, rounds and payloads recorded from it (`tools/sdk_vectors/timelock_vectors.py`).
//!
//! ```no_run
//! # use std::time::SystemTime;
//! # use whetstone_chain::timelock::*;
//! # fn main() -> Result<(), TimelockError> {
//! let commit = WeightsCommit { hotkey_public_key: [0; 32], uids: vec![0, 1], values: vec![65535, 1000], version_key: 0 };
//! let schedule = RevealSchedule {
//!     epoch: EpochSchedule { last_epoch_block: 1000, pending_epoch_at: 0, subnet_epoch_index: 7, tempo: 360, blocks_since_last_step: 20, current_block: 1020 },
//!     reveal_period_epochs: 1,
//!     block_time_secs: 12.0,
//!     now: SystemTime::now(),
//! };
//! let TimelockCommit { ciphertext, reveal_round } = encrypt_weights_commit(&commit, &schedule)?;
//! // submit `commit_timelocked_weights(netuid, ciphertext, reveal_round, commit_reveal_version)`
//! # Ok(()) }
//! ```

mod beacon;
mod payload;
mod schedule;
mod tlock;

pub use beacon::{
    BeaconInfo, LocalBeacon, PUBLIC_KEY_LEN, Pulse, QUICKNET_CHAIN_HASH, QUICKNET_DST, QUICKNET_GENESIS_TIME, QUICKNET_PERIOD_SECS,
    QUICKNET_PUBLIC_KEY_HEX, SIGNATURE_LEN,
};
pub use payload::WeightsCommit;
pub use schedule::{COMMIT_INCLUSION_BLOCK_OFFSET, EpochSchedule, MAX_TEMPO, RevealSchedule, SECURITY_BLOCK_OFFSET};
pub use tlock::{CIPHER_SUITE, decrypt_with_pulse, encrypt_to_round};

/// What `commit_timelocked_weights` takes besides the netuid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelockCommit {
    pub ciphertext: Vec<u8>,
    pub reveal_round: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TimelockError {
    #[error("uids and values differ in length ({uids} vs {values}); the chain would reject the reveal")]
    LengthMismatch { uids: usize, values: usize },
    #[error("tempo is zero: the subnet runs no epochs, so a commit would never be revealed")]
    TempoIsZero,
    #[error("no reveal block within {reveal_period_epochs} epochs of maximum tempo; check the subnet's epoch schedule storage")]
    RevealNotFound { reveal_period_epochs: u64 },
    #[error("the system clock is before 1970; fix the clock to compute a reveal round")]
    ClockBeforeEpoch,
    #[error("invalid beacon: {0}")]
    InvalidBeacon(&'static str),
    #[error("pulse signature for round {round} is not a compressed BLS12-381 G1 point")]
    InvalidSignature { round: u64 },
    #[error("pulse for round {round} is not signed by this beacon's key")]
    UnverifiedPulse { round: u64 },
    #[error("the pulse of round {round} does not open this ciphertext; it was encrypted to another round or beacon")]
    WrongPulse { round: u64 },
    #[error("timelock ciphertext ends inside its {field}; it was cut short or is not a tlock ciphertext")]
    Truncated { field: &'static str },
    #[error("malformed timelock ciphertext: {0}")]
    Malformed(&'static str),
    #[error("decrypted payload is not a SCALE WeightsTlockPayload")]
    Payload(#[source] parity_scale_codec::Error),
    #[error("decrypted payload carries a {0}-byte hotkey; expected a 32-byte public key")]
    HotkeyLength(usize),
}

/// Encrypts `commit` to drand quicknet for the round `schedule` says the chain will reveal
/// it at. This is what the SDK's `get_encrypted_commit_v2` returns.
pub fn encrypt_weights_commit(commit: &WeightsCommit, schedule: &RevealSchedule) -> Result<TimelockCommit, TimelockError> {
    encrypt_weights_commit_for(&BeaconInfo::quicknet(), commit, schedule)
}

/// [`encrypt_weights_commit`] for another beacon, e.g. a devnet's [`LocalBeacon::info`].
pub fn encrypt_weights_commit_for(
    beacon: &BeaconInfo,
    commit: &WeightsCommit,
    schedule: &RevealSchedule,
) -> Result<TimelockCommit, TimelockError> {
    commit.check_lengths()?;
    let reveal_round = schedule.reveal_round(beacon)?;
    let ciphertext = encrypt_to_round(beacon, reveal_round, &commit.to_scale(), &mut rand_core::OsRng)?;
    Ok(TimelockCommit { ciphertext, reveal_round })
}

/// What the chain does at reveal: open the ciphertext with the pulse and decode the payload.
/// The pulse is not checked against a beacon key here (the IBE check already refuses a pulse
/// of another round); call [`BeaconInfo::verify`] on pulses from untrusted sources.
pub fn decrypt_weights_commit(ciphertext: &[u8], pulse: &Pulse) -> Result<WeightsCommit, TimelockError> {
    WeightsCommit::from_scale(&decrypt_with_pulse(ciphertext, pulse)?)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn devnet_round_trip_with_a_local_beacon() {
        let beacon = LocalBeacon::from_seed(&[3; 32], 1_700_000_000, 2).expect("the seed makes a beacon");
        let commit = WeightsCommit { hotkey_public_key: [9; 32], uids: vec![0, 4], values: vec![65535, 7], version_key: 2 };
        let schedule = RevealSchedule {
            epoch: EpochSchedule {
                last_epoch_block: 100,
                pending_epoch_at: 0,
                subnet_epoch_index: 3,
                tempo: 10,
                blocks_since_last_step: 0,
                current_block: 105,
            },
            reveal_period_epochs: 1,
            block_time_secs: 6.0,
            now: UNIX_EPOCH + Duration::from_secs(1_700_000_600),
        };
        let sealed = encrypt_weights_commit_for(beacon.info(), &commit, &schedule).expect("encryption succeeds");
        // Reveal block 110, +3 margin: 8 blocks * 6 s after t = 600 s → round (600 + 48) / 2.
        assert_eq!(sealed.reveal_round, 324);
        let pulse = beacon.pulse(sealed.reveal_round);
        beacon.info().verify(&pulse).expect("the pulse verifies");
        assert_eq!(decrypt_weights_commit(&sealed.ciphertext, &pulse).expect("the right pulse decrypts"), commit);
        assert!(decrypt_weights_commit(&sealed.ciphertext, &beacon.pulse(sealed.reveal_round - 1)).is_err());
    }

    #[test]
    fn mismatched_lengths_are_refused_before_encrypting() {
        let commit = WeightsCommit { hotkey_public_key: [0; 32], uids: vec![0, 1], values: vec![1], version_key: 0 };
        let schedule = RevealSchedule {
            epoch: EpochSchedule {
                last_epoch_block: 0,
                pending_epoch_at: 0,
                subnet_epoch_index: 0,
                tempo: 10,
                blocks_since_last_step: 0,
                current_block: 1,
            },
            reveal_period_epochs: 1,
            block_time_secs: 12.0,
            now: UNIX_EPOCH,
        };
        assert!(matches!(encrypt_weights_commit(&commit, &schedule), Err(TimelockError::LengthMismatch { uids: 2, values: 1 })));
    }
}
