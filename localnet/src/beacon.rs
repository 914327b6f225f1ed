//! The randomness beacon the node stores drand pulses from and reveals timelocked weight
//! commits with. On finney the Drand pallet pulls pulses from the drand quicknet network;
//! localnet runs a local beacon with the same round schedule instead.

use whetstone_chain::timelock::{self, LocalBeacon, Pulse};

use crate::config::ConfigError;

/// A drand-style beacon: round `r` is published at `genesis_time + (r - 1) * period`, and its
/// BLS signature over the round number is the timelock decryption key for that round.
pub trait Beacon: Send + Sync + std::fmt::Debug + 'static {
    /// Public parameters, stored in `Drand.BeaconConfig` for clients to encrypt against.
    fn info(&self) -> BeaconInfo;
    /// The pulse of `round`, or `None` if the beacon cannot produce it.
    fn pulse(&self, round: u64) -> Option<BeaconPulse>;
    /// Timelock-decrypts `ciphertext` (a compressed TLE ciphertext, as committed on chain)
    /// with a round's signature.
    fn decrypt(&self, ciphertext: &[u8], signature: &[u8]) -> Result<Vec<u8>, String>;
}

/// A beacon's public parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconInfo {
    /// Compressed BLS public key (G2 for quicknet's scheme).
    pub public_key: Vec<u8>,
    /// Seconds between rounds.
    pub period: u32,
    /// Unix time of round 1.
    pub genesis_time: u32,
    /// The beacon's chain hash.
    pub hash: Vec<u8>,
    pub scheme_id: String,
    pub beacon_id: String,
}

impl BeaconInfo {
    /// The latest round published at `unix_time` (0 before genesis).
    pub fn round_at(&self, unix_time: u64) -> u64 {
        let genesis = u64::from(self.genesis_time);
        if unix_time < genesis || self.period == 0 {
            return 0;
        }
        (unix_time - genesis) / u64::from(self.period) + 1
    }
}

/// The chain crate's [`LocalBeacon`]: drand quicknet's scheme (`bls-unchained-g1-rfc9380`)
/// with a key derived from a seed, so a devnet can publish pulses and open commits encrypted
/// with `whetstone_chain::timelock` without reaching drand.
#[derive(Debug, Clone)]
pub struct LocalDrand {
    beacon: LocalBeacon,
    seed: String,
}

impl LocalDrand {
    /// A beacon whose key derives from `seed` (sha256 of its bytes), with round 1 at
    /// `genesis_time` and a round every `period_secs`.
    pub fn new(seed: &str, genesis_time: u64, period_secs: u32) -> Result<Self, ConfigError> {
        let key_seed = sp_crypto_hashing::sha2_256(seed.as_bytes());
        let beacon =
            LocalBeacon::from_seed(&key_seed, genesis_time, u64::from(period_secs)).map_err(|e| ConfigError::Beacon(e.to_string()))?;
        Ok(LocalDrand { beacon, seed: seed.to_owned() })
    }

    /// The underlying beacon, for encrypting commits to it.
    pub fn beacon(&self) -> &LocalBeacon {
        &self.beacon
    }
}

impl Beacon for LocalDrand {
    fn info(&self) -> BeaconInfo {
        let info = self.beacon.info();
        BeaconInfo {
            public_key: info.public_key_bytes().to_vec(),
            period: u32::try_from(info.period_secs()).unwrap_or(u32::MAX),
            genesis_time: u32::try_from(info.genesis_time()).unwrap_or(u32::MAX),
            // A local beacon has no drand chain; its "chain hash" names the key instead.
            hash: sp_crypto_hashing::sha2_256(&info.public_key_bytes()).to_vec(),
            scheme_id: "bls-unchained-g1-rfc9380".into(),
            beacon_id: format!("whetstone-localnet:{}", self.seed),
        }
    }

    fn pulse(&self, round: u64) -> Option<BeaconPulse> {
        let pulse = self.beacon.pulse(round);
        // drand's randomness is the sha256 of the signature.
        Some(BeaconPulse { randomness: sp_crypto_hashing::sha2_256(&pulse.signature).to_vec(), signature: pulse.signature.to_vec() })
    }

    fn decrypt(&self, ciphertext: &[u8], signature: &[u8]) -> Result<Vec<u8>, String> {
        let signature = <[u8; timelock::SIGNATURE_LEN]>::try_from(signature)
            .map_err(|_| format!("a pulse signature has {} bytes, not {}", timelock::SIGNATURE_LEN, signature.len()))?;
        // The signature alone opens the ciphertext; the round only labels errors.
        timelock::decrypt_with_pulse(ciphertext, &Pulse { round: 0, signature }).map_err(|e| e.to_string())
    }
}

/// One round's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconPulse {
    pub randomness: Vec<u8>,
    pub signature: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_drand_opens_what_the_chain_crate_encrypts_to_its_rounds() {
        let drand = LocalDrand::new("test", 1_700_000_000, 3).expect("beacon");
        let info = drand.beacon().info().clone();
        let ciphertext = timelock::encrypt_to_round(&info, 42, b"weights", &mut rand_core::OsRng).expect("encrypts");
        let pulse = drand.pulse(42).expect("pulse");
        assert_eq!(drand.decrypt(&ciphertext, &pulse.signature).expect("opens"), b"weights");
        let other = drand.pulse(43).expect("pulse");
        assert!(drand.decrypt(&ciphertext, &other.signature).is_err(), "another round's pulse does not open it");
        assert_eq!(drand.info().round_at(1_700_000_003), 2);
    }

    #[test]
    fn rounds_start_at_one_on_genesis_and_advance_each_period() {
        let info = BeaconInfo {
            public_key: Vec::new(),
            period: 3,
            genesis_time: 1_000,
            hash: Vec::new(),
            scheme_id: String::new(),
            beacon_id: String::new(),
        };
        assert_eq!(info.round_at(999), 0);
        assert_eq!(info.round_at(1_000), 1);
        assert_eq!(info.round_at(1_002), 1);
        assert_eq!(info.round_at(1_003), 2);
    }
}
