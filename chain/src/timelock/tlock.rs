//! Timelock encryption to a beacon round, in the ciphertext format subtensor decrypts: the
//! `tle` crate (ideal-lab5/timelock) with its `AESGCMStreamCipherProvider`, serialised by
//! arkworks' `CanonicalSerialize` in compressed mode.
//!
//! A 32-byte AES key is encrypted to the round's identity with Boneh–Franklin IBE
//! (FullIdent, i.e. with the Fujisaki–Okamoto check), and the message itself with
//! AES-256-GCM under that key. Byte layout (lengths are little-endian `u64`, arkworks' `Vec`
//! encoding):
//!
//! ```text
//! U        96  compressed G2 point r·P
//! len ‖ V  8+32  sigma XOR sha256(compress(e(Q_id, r·P_pub)))
//! len ‖ W  8+32  key XOR sha256(sigma)
//! len ‖ body, where body = len ‖ AES-GCM ciphertext+tag ‖ len ‖ 12-byte nonce
//! len ‖ "AES_GCM_"
//! ```
//!
//! with `r = sha256(sigma ‖ key)` read big-endian modulo the group order. Decryption
//! recomputes `r` and refuses the result unless `r·P == U`, which is how a wrong pulse is told
//! apart from a right one.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ark_bls12_381::{Bls12_381, Fr, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::PrimeField;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use super::TimelockError;
use super::beacon::{BeaconInfo, PUBLIC_KEY_LEN, Pulse, round_identity};

/// The stream-cipher suite tag `tle` writes; the only one subtensor decrypts.
pub const CIPHER_SUITE: &[u8] = b"AES_GCM_";

const NONCE_LEN: usize = 12;
const SECRET_LEN: usize = 32;

/// Encrypts `plaintext` so that only the pulse of `round` from `beacon` opens it.
pub fn encrypt_to_round<R: RngCore + CryptoRng>(
    beacon: &BeaconInfo,
    round: u64,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, TimelockError> {
    let mut key = [0u8; SECRET_LEN];
    rng.fill_bytes(&mut key);
    let mut sigma = [0u8; SECRET_LEN];
    rng.fill_bytes(&mut sigma);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);

    let r = fo_scalar(&sigma, &key);
    let u = (G2Projective::generator() * r).into_affine();
    let shared = Bls12_381::pairing(round_identity(round), (G2Projective::from(*beacon.public_key()) * r).into_affine());
    let v = xor32(&sigma, &hash_gt(&shared.0));
    let w = xor32(&key, &Sha256::digest(sigma).into());

    let body = Aes256Gcm::new(&key.into())
        .encrypt(&Nonce::from(nonce), plaintext)
        .map_err(|_| TimelockError::Malformed("message too long for AES-GCM"))?;

    let mut out = Vec::with_capacity(PUBLIC_KEY_LEN + 3 * 8 + 2 * SECRET_LEN + 3 * 8 + body.len() + NONCE_LEN + CIPHER_SUITE.len());
    u.serialize_compressed(&mut out).expect("writing to a Vec cannot fail");
    put_vec(&mut out, &v);
    put_vec(&mut out, &w);
    let body_len = 8 + body.len() + 8 + NONCE_LEN;
    out.extend_from_slice(&(body_len as u64).to_le_bytes());
    put_vec(&mut out, &body);
    put_vec(&mut out, &nonce);
    put_vec(&mut out, CIPHER_SUITE);
    Ok(out)
}

/// Opens a ciphertext with the pulse of the round it was encrypted to. Like the reference
/// decoder (arkworks reading from a slice), bytes after the cipher-suite field are ignored.
pub fn decrypt_with_pulse(ciphertext: &[u8], pulse: &Pulse) -> Result<Vec<u8>, TimelockError> {
    let parsed = Parsed::read(ciphertext)?;
    let signature = pulse.signature_point()?;

    let shared = Bls12_381::pairing(signature, parsed.u);
    let sigma = xor32(&parsed.v, &hash_gt(&shared.0));
    let key = xor32(&parsed.w, &Sha256::digest(sigma).into());
    if (G2Projective::generator() * fo_scalar(&sigma, &key)).into_affine() != parsed.u {
        return Err(TimelockError::WrongPulse { round: pulse.round });
    }
    Aes256Gcm::new(&key.into())
        .decrypt(&Nonce::from(parsed.nonce), parsed.body.as_slice())
        .map_err(|_| TimelockError::Malformed("AES-GCM body failed authentication"))
}

/// H3 of FullIdent: the encryption randomness, bound to sigma and the message.
fn fo_scalar(sigma: &[u8; SECRET_LEN], key: &[u8; SECRET_LEN]) -> Fr {
    Fr::from_be_bytes_mod_order(&Sha256::new().chain_update(sigma).chain_update(key).finalize())
}

/// H2 of FullIdent: a pairing value to 32 bytes.
fn hash_gt(value: &<Bls12_381 as Pairing>::TargetField) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(576);
    value.serialize_compressed(&mut bytes).expect("writing to a Vec cannot fail");
    Sha256::digest(&bytes).into()
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

fn put_vec(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Parsed {
    u: G2Affine,
    v: [u8; SECRET_LEN],
    w: [u8; SECRET_LEN],
    body: Vec<u8>,
    nonce: [u8; NONCE_LEN],
}

impl Parsed {
    fn read(bytes: &[u8]) -> Result<Self, TimelockError> {
        let mut reader = Reader(bytes);
        let u = G2Affine::deserialize_compressed(reader.take(PUBLIC_KEY_LEN, "header point")?)
            .map_err(|_| TimelockError::Malformed("header point is not a compressed G2 point"))?;
        let v = reader.fixed_vec::<SECRET_LEN>("V")?;
        let w = reader.fixed_vec::<SECRET_LEN>("W")?;
        let mut body = Reader(reader.vec("body")?);
        let sealed = body.vec("AES-GCM ciphertext")?.to_vec();
        let nonce = body.fixed_vec::<NONCE_LEN>("AES-GCM nonce")?;
        let suite = reader.vec("cipher suite")?;
        if suite != CIPHER_SUITE {
            return Err(TimelockError::Malformed("cipher suite is not AES_GCM_"));
        }
        Ok(Self { u, v, w, body: sealed, nonce })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], TimelockError> {
        if self.0.len() < len {
            return Err(TimelockError::Truncated { field });
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn vec(&mut self, field: &'static str) -> Result<&'a [u8], TimelockError> {
        let len = u64::from_le_bytes(self.take(8, field)?.try_into().expect("took 8 bytes"));
        // Checked before use so a forged length cannot make us allocate or slice past the end.
        let len = usize::try_from(len).map_err(|_| TimelockError::Truncated { field })?;
        self.take(len, field)
    }

    fn fixed_vec<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], TimelockError> {
        <[u8; N]>::try_from(self.vec(field)?).map_err(|_| match N {
            NONCE_LEN => TimelockError::Malformed("AES-GCM nonce is not 12 bytes"),
            _ => TimelockError::Malformed("IBE header fields are not 32 bytes"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timelock::beacon::LocalBeacon;

    fn beacon() -> LocalBeacon {
        LocalBeacon::from_seed(&[1; 32], 1_700_000_000, 3).expect("the seed makes a beacon")
    }

    #[test]
    fn opens_with_the_round_pulse_only() {
        let beacon = beacon();
        let ct = encrypt_to_round(beacon.info(), 10, b"weights", &mut rand_core::OsRng).expect("encryption succeeds");
        assert_eq!(decrypt_with_pulse(&ct, &beacon.pulse(10)).expect("the right pulse decrypts"), b"weights");
        assert!(matches!(decrypt_with_pulse(&ct, &beacon.pulse(11)), Err(TimelockError::WrongPulse { round: 11 })));
    }

    #[test]
    fn layout_matches_the_documented_sizes() {
        let beacon = beacon();
        let ct = encrypt_to_round(beacon.info(), 1, b"hello", &mut rand_core::OsRng).expect("encryption succeeds");
        // 96 + (8+32)*2 + 8 + (8+5+16) + (8+12) + (8+8)
        assert_eq!(ct.len(), 96 + 80 + 8 + 29 + 20 + 16);
        assert!(ct.ends_with(b"\x08\0\0\0\0\0\0\0AES_GCM_"));
    }

    #[test]
    fn damage_is_reported_not_panicked_on() {
        let beacon = beacon();
        let ct = encrypt_to_round(beacon.info(), 5, b"payload", &mut rand_core::OsRng).expect("encryption succeeds");
        let pulse = beacon.pulse(5);
        for cut in [0, 50, 96, 120, ct.len() - 1] {
            assert!(matches!(decrypt_with_pulse(&ct[..cut], &pulse), Err(TimelockError::Truncated { .. })), "cut at {cut}");
        }
        // A flipped bit in the AES body fails authentication.
        let mut tampered = ct.clone();
        let body_byte = 96 + 80 + 8 + 8;
        tampered[body_byte] ^= 1;
        assert!(matches!(decrypt_with_pulse(&tampered, &pulse), Err(TimelockError::Malformed(_))));
        // A forged huge length is refused before anything is allocated.
        let mut forged = ct.clone();
        forged[96..104].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(decrypt_with_pulse(&forged, &pulse), Err(TimelockError::Truncated { field: "V" })));
    }
}
