//! Randomness beacons in drand's `bls-unchained-g1-rfc9380` scheme: the beacon key lives in
//! G2, the pulse for round `r` is the BLS signature (in G1) over `sha256(r as big-endian u64)`
//! hashed to G1 with the RFC 9380 suite `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_`. That
//! signature is exactly the identity secret key of round `r` in Boneh–Franklin IBE, which is
//! why a timelock ciphertext opens once the pulse is published.
//!
//! [`BeaconInfo::quicknet`] is drand's public network, the one subtensor's pallet-drand
//! ingests. [`LocalBeacon`] is the offline devnet's stand-in: the same scheme with a locally
//! generated key, so a local chain can emit pulses and reveal commits without the internet.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use ark_bls12_381::{Bls12_381, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::hashing::HashToCurve;
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::PrimeField;
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha2::{Digest, Sha256};

use super::TimelockError;

/// Domain separation tag of drand quicknet's hash to G1 (RFC 9380 suite id plus `NUL_`).
pub const QUICKNET_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// drand quicknet's group public key (compressed G2), as published at
/// `https://api.drand.sh/52db9ba7…84e971/info` and pinned by the Bittensor SDK.
pub const QUICKNET_PUBLIC_KEY_HEX: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";

/// drand quicknet's chain hash, the id its HTTP API is addressed by.
pub const QUICKNET_CHAIN_HASH: &str = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";

/// Unix time of quicknet's round 1.
pub const QUICKNET_GENESIS_TIME: u64 = 1_692_803_367;

/// Seconds between quicknet rounds.
pub const QUICKNET_PERIOD_SECS: u64 = 3;

/// Length of a compressed G1 point: a pulse signature.
pub const SIGNATURE_LEN: usize = 48;

/// Length of a compressed G2 point: a beacon public key.
pub const PUBLIC_KEY_LEN: usize = 96;

/// What an encrypter needs to know about a beacon: its key and its clock.
#[derive(Clone, PartialEq, Eq)]
pub struct BeaconInfo {
    public_key: G2Affine,
    genesis_time: u64,
    period_secs: u64,
}

impl fmt::Debug for BeaconInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BeaconInfo")
            .field("public_key", &hex::encode(self.public_key_bytes()))
            .field("genesis_time", &self.genesis_time)
            .field("period_secs", &self.period_secs)
            .finish()
    }
}

impl BeaconInfo {
    /// drand quicknet, the beacon mainnet and testnet subtensor reveal commits with.
    pub fn quicknet() -> Self {
        let key = hex::decode(QUICKNET_PUBLIC_KEY_HEX).expect("the pinned quicknet key is valid hex");
        Self::new(&key, QUICKNET_GENESIS_TIME, QUICKNET_PERIOD_SECS).expect("the pinned quicknet key is a valid G2 point")
    }

    /// A beacon from its compressed G2 public key, its round-1 Unix time and its period.
    pub fn new(public_key: &[u8], genesis_time: u64, period_secs: u64) -> Result<Self, TimelockError> {
        if period_secs == 0 {
            return Err(TimelockError::InvalidBeacon("period must be at least one second"));
        }
        let public_key = G2Affine::deserialize_compressed(public_key)
            .map_err(|_| TimelockError::InvalidBeacon("public key is not a compressed BLS12-381 G2 point"))?;
        Ok(Self { public_key, genesis_time, period_secs })
    }

    /// The compressed G2 public key.
    pub fn public_key_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut out = [0u8; PUBLIC_KEY_LEN];
        self.public_key.serialize_compressed(&mut out[..]).expect("a G2 point compresses to exactly 96 bytes");
        out
    }

    pub fn genesis_time(&self) -> u64 {
        self.genesis_time
    }

    pub fn period_secs(&self) -> u64 {
        self.period_secs
    }

    pub(crate) fn public_key(&self) -> &G2Affine {
        &self.public_key
    }

    /// The newest round whose pulse exists at `now` (drand's numbering: round 1 at genesis).
    /// Zero before genesis.
    pub fn latest_round_at(&self, now: SystemTime) -> u64 {
        let secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        match secs.checked_sub(self.genesis_time) {
            Some(elapsed) => elapsed / self.period_secs + 1,
            None => 0,
        }
    }

    /// Checks that `pulse` is this beacon's signature for its round:
    /// `e(signature, g2) == e(H(round), public_key)`.
    pub fn verify(&self, pulse: &Pulse) -> Result<(), TimelockError> {
        let signature = pulse.signature_point()?;
        let lhs = Bls12_381::pairing(signature, G2Affine::generator());
        let rhs = Bls12_381::pairing(round_identity(pulse.round), self.public_key);
        if lhs == rhs { Ok(()) } else { Err(TimelockError::UnverifiedPulse { round: pulse.round }) }
    }
}

/// One beacon output: the round number and the BLS signature that opens ciphertexts
/// encrypted to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulse {
    pub round: u64,
    /// Compressed G1 point.
    pub signature: [u8; SIGNATURE_LEN],
}

impl Pulse {
    /// A pulse from drand's JSON fields (`round`, hex `signature`).
    pub fn from_hex(round: u64, signature_hex: &str) -> Result<Self, TimelockError> {
        let bytes = hex::decode(signature_hex.trim()).map_err(|_| TimelockError::InvalidSignature { round })?;
        let signature = <[u8; SIGNATURE_LEN]>::try_from(bytes.as_slice()).map_err(|_| TimelockError::InvalidSignature { round })?;
        Ok(Self { round, signature })
    }

    pub(crate) fn signature_point(&self) -> Result<G1Affine, TimelockError> {
        G1Affine::deserialize_compressed(&self.signature[..]).map_err(|_| TimelockError::InvalidSignature { round: self.round })
    }
}

/// The IBE identity of a round: `sha256(round as big-endian u64)` hashed to G1. A pulse is
/// this point multiplied by the beacon's secret key.
pub(crate) fn round_identity(round: u64) -> G1Affine {
    let message = Sha256::digest(round.to_be_bytes());
    let hasher =
        MapToCurveBasedHasher::<G1Projective, DefaultFieldHasher<Sha256, 128>, WBMap<ark_bls12_381::g1::Config>>::new(QUICKNET_DST)
            .expect("the quicknet hash-to-curve suite is well formed");
    hasher.hash(&message).expect("hashing to G1 with a fixed suite cannot fail")
}

/// A drand-like beacon with a locally held key, for the offline devnet: the local chain
/// emits pulses with it and reveals commits encrypted to [`LocalBeacon::info`]. It is *not*
/// a timelock in any security sense — whoever holds the seed can open every commit at once —
/// which is fine for a devnet and is why mainnet uses drand's threshold network instead.
#[derive(Clone)]
pub struct LocalBeacon {
    secret: Fr,
    info: BeaconInfo,
}

impl fmt::Debug for LocalBeacon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBeacon").field("info", &self.info).finish_non_exhaustive()
    }
}

impl LocalBeacon {
    /// Derives the beacon key from `seed`, so a devnet restarted with the same seed reveals
    /// commits made before the restart.
    pub fn from_seed(seed: &[u8; 32], genesis_time: u64, period_secs: u64) -> Result<Self, TimelockError> {
        if period_secs == 0 {
            return Err(TimelockError::InvalidBeacon("period must be at least one second"));
        }
        // 64 bytes reduced modulo r leave a bias below 2^-250.
        let mut wide = [0u8; 64];
        wide[..32].copy_from_slice(&Sha256::new().chain_update(b"whetstone-local-beacon/0").chain_update(seed).finalize());
        wide[32..].copy_from_slice(&Sha256::new().chain_update(b"whetstone-local-beacon/1").chain_update(seed).finalize());
        let secret = Fr::from_le_bytes_mod_order(&wide);
        if secret == Fr::from(0u8) {
            return Err(TimelockError::InvalidBeacon("seed derives the zero key"));
        }
        let public_key = (G2Projective::generator() * secret).into_affine();
        Ok(Self { secret, info: BeaconInfo { public_key, genesis_time, period_secs } })
    }

    /// What commit encrypters need: the key and the clock of this beacon.
    pub fn info(&self) -> &BeaconInfo {
        &self.info
    }

    /// The pulse of `round`.
    pub fn pulse(&self, round: u64) -> Pulse {
        let point = (G1Projective::from(round_identity(round)) * self.secret).into_affine();
        let mut signature = [0u8; SIGNATURE_LEN];
        point.serialize_compressed(&mut signature[..]).expect("a G1 point compresses to exactly 48 bytes");
        Pulse { round, signature }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // https://api.drand.sh/52db9ba7…84e971/public/1000, also pinned by ideal-lab5/timelock.
    const ROUND_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

    #[test]
    fn quicknet_pulse_verifies_only_for_its_round() {
        let quicknet = BeaconInfo::quicknet();
        let pulse = Pulse::from_hex(1000, ROUND_1000).expect("the pulse hex is valid");
        quicknet.verify(&pulse).expect("the pulse verifies");
        let shifted = Pulse { round: 1001, ..pulse };
        assert!(matches!(quicknet.verify(&shifted), Err(TimelockError::UnverifiedPulse { round: 1001 })));
    }

    #[test]
    fn local_beacon_pulses_verify_against_its_own_key_only() {
        let beacon = LocalBeacon::from_seed(&[7; 32], 1_700_000_000, 3).expect("the seed makes a beacon");
        let pulse = beacon.pulse(42);
        beacon.info().verify(&pulse).expect("the pulse verifies");
        assert!(BeaconInfo::quicknet().verify(&pulse).is_err());
        // Same seed, same key: a restarted devnet can still reveal old commits.
        let again = LocalBeacon::from_seed(&[7; 32], 1_700_000_000, 3).expect("the seed makes a beacon");
        assert_eq!(again.pulse(42), pulse);
        assert_ne!(LocalBeacon::from_seed(&[8; 32], 1_700_000_000, 3).expect("the seed makes a beacon").pulse(42), pulse);
    }

    #[test]
    fn latest_round_follows_drand_numbering() {
        let quicknet = BeaconInfo::quicknet();
        let at = |secs: u64| quicknet.latest_round_at(UNIX_EPOCH + std::time::Duration::from_secs(secs));
        assert_eq!(at(QUICKNET_GENESIS_TIME - 1), 0);
        assert_eq!(at(QUICKNET_GENESIS_TIME), 1);
        assert_eq!(at(QUICKNET_GENESIS_TIME + 2), 1);
        assert_eq!(at(QUICKNET_GENESIS_TIME + 3), 2);
    }

    #[test]
    fn malformed_keys_and_signatures_are_refused() {
        assert!(BeaconInfo::new(&[0u8; 96], 0, 3).is_err());
        assert!(BeaconInfo::new(&BeaconInfo::quicknet().public_key_bytes(), 0, 0).is_err());
        assert!(Pulse::from_hex(1, "abcd").is_err());
        let garbage = Pulse { round: 1, signature: [0xff; SIGNATURE_LEN] };
        assert!(matches!(BeaconInfo::quicknet().verify(&garbage), Err(TimelockError::InvalidSignature { round: 1 })));
    }
}
