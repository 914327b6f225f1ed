//! The plaintext of a timelocked weights commit: subtensor's `WeightsTlockPayload`, SCALE
//! encoded with the fields in this order (the chain decodes it at reveal and checks that
//! `hotkey` is the committer).

use parity_scale_codec::{Decode, Encode};

use super::TimelockError;

/// The weights a validator commits to, as they will be revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsCommit {
    /// The committing hotkey's public key (sr25519 or ed25519, 32 bytes).
    pub hotkey_public_key: [u8; 32],
    pub uids: Vec<u16>,
    /// u16 weights, one per uid (see [`crate::scores_to_u16_weights`]).
    pub values: Vec<u16>,
    pub version_key: u64,
}

/// Field order and types are the wire format; they must stay as subtensor declares them.
#[derive(Encode, Decode)]
struct WeightsTlockPayload {
    hotkey: Vec<u8>,
    uids: Vec<u16>,
    values: Vec<u16>,
    version_key: u64,
}

impl WeightsCommit {
    /// The SCALE bytes that get encrypted.
    pub fn to_scale(&self) -> Vec<u8> {
        WeightsTlockPayload {
            hotkey: self.hotkey_public_key.to_vec(),
            uids: self.uids.clone(),
            values: self.values.clone(),
            version_key: self.version_key,
        }
        .encode()
    }

    /// Reads a revealed payload. Like the chain, trailing bytes after the payload are ignored.
    pub fn from_scale(mut bytes: &[u8]) -> Result<Self, TimelockError> {
        let payload = WeightsTlockPayload::decode(&mut bytes).map_err(TimelockError::Payload)?;
        let hotkey_public_key =
            <[u8; 32]>::try_from(payload.hotkey.as_slice()).map_err(|_| TimelockError::HotkeyLength(payload.hotkey.len()))?;
        Ok(Self { hotkey_public_key, uids: payload.uids, values: payload.values, version_key: payload.version_key })
    }

    pub(crate) fn check_lengths(&self) -> Result<(), TimelockError> {
        if self.uids.len() == self.values.len() {
            Ok(())
        } else {
            Err(TimelockError::LengthMismatch { uids: self.uids.len(), values: self.values.len() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_layout_is_compact_lengths_then_little_endian() {
        let commit = WeightsCommit { hotkey_public_key: [0xaa; 32], uids: vec![1, 258], values: vec![65535, 2], version_key: 3 };
        let bytes = commit.to_scale();
        let mut expected = vec![32 << 2];
        expected.extend([0xaa; 32]);
        expected.extend([2 << 2, 1, 0, 2, 1]);
        expected.extend([2 << 2, 0xff, 0xff, 2, 0]);
        expected.extend(3u64.to_le_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(WeightsCommit::from_scale(&bytes).expect("the payload decodes"), commit);
    }

    #[test]
    fn short_hotkeys_and_garbage_are_refused() {
        let short = WeightsTlockPayload { hotkey: vec![1; 31], uids: vec![], values: vec![], version_key: 0 }.encode();
        assert!(matches!(WeightsCommit::from_scale(&short), Err(TimelockError::HotkeyLength(31))));
        assert!(matches!(WeightsCommit::from_scale(&[0xff, 0xff]), Err(TimelockError::Payload(_))));
    }
}
