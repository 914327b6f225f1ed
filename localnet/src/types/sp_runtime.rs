//! `sp_runtime` types: dispatch errors, signatures, addresses, eras and block headers.

use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use super::sp_arithmetic::ArithmeticError;

/// Why a dispatched call failed; `Module` carries the pallet index and the error's variant
/// index in its first byte, which is how clients turn it back into `SettingWeightsTooFast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum DispatchError {
    Other,
    CannotLookup,
    BadOrigin,
    Module(ModuleError),
    ConsumerRemaining,
    NoProviders,
    TooManyConsumers,
    Token(TokenError),
    Arithmetic(ArithmeticError),
    Transactional(TransactionalError),
    Exhausted,
    Corruption,
    Unavailable,
    RootNotAllowed,
    Trie(proving_trie::TrieError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ModuleError {
    pub index: u8,
    pub error: [u8; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum TokenError {
    FundsUnavailable,
    OnlyProvider,
    BelowMinimum,
    CannotCreate,
    UnknownAsset,
    Frozen,
    Unsupported,
    CannotCreateHold,
    NotExpendable,
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum TransactionalError {
    LimitReached,
    NoLayer,
}

pub mod proving_trie {
    use parity_scale_codec::{Decode, Encode};
    use scale_info::TypeInfo;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub enum TrieError {
        InvalidStateRoot,
        IncompleteDatabase,
        ValueAtIncompleteKey,
        DecoderError,
        InvalidHash,
        DuplicateKey,
        ExtraneousNode,
        ExtraneousValue,
        ExtraneousHashReference,
        InvalidChildReference,
        ValueMismatch,
        IncompleteProof,
        RootMismatch,
        DecodeError,
    }
}

/// The signature of a signed extrinsic. Localnet verifies `Sr25519`, the scheme Bittensor
/// wallets use; the other schemes decode but are rejected as a bad proof.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum MultiSignature {
    Ed25519([u8; 64]),
    Sr25519([u8; 64]),
    Ecdsa([u8; 65]),
}

pub mod multiaddress {
    use parity_scale_codec::{Decode, Encode};
    use scale_info::TypeInfo;

    /// The sender of a signed extrinsic. Subtensor's account index is `()`, so `Index` carries
    /// nothing; localnet accepts `Id` and `Address32` (both name a 32-byte account).
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub enum MultiAddress<AccountId, AccountIndex: parity_scale_codec::HasCompact> {
        Id(AccountId),
        Index(#[codec(compact)] AccountIndex),
        Raw(Vec<u8>),
        Address32([u8; 32]),
        Address20([u8; 20]),
    }
}

pub mod traits {
    use scale_info::TypeInfo;

    /// The chain's hashing: blake2-256 for blocks and extrinsics. Its path is how clients
    /// (subxt's `DynamicHasher256`) learn which hash function the chain uses.
    #[derive(Debug, Clone, Copy, TypeInfo)]
    pub struct BlakeTwo256;
}

pub mod generic {
    pub mod digest {
        use parity_scale_codec::{Decode, Encode};
        use scale_info::TypeInfo;

        #[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
        pub struct Digest {
            pub logs: Vec<DigestItem>,
        }

        #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
        pub enum DigestItem {
            #[codec(index = 6)]
            PreRuntime([u8; 4], Vec<u8>),
            #[codec(index = 4)]
            Consensus([u8; 4], Vec<u8>),
            #[codec(index = 5)]
            Seal([u8; 4], Vec<u8>),
            #[codec(index = 0)]
            Other(Vec<u8>),
            #[codec(index = 8)]
            RuntimeEnvironmentUpdated,
        }
    }

    pub mod header {
        use parity_scale_codec::{Decode, Encode};
        use scale_info::TypeInfo;

        use super::digest::Digest;
        use crate::types::H256;

        /// A block header; its blake2-256 is the block hash.
        #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
        pub struct Header {
            pub parent_hash: H256,
            #[codec(compact)]
            pub number: u32,
            pub state_root: H256,
            pub extrinsics_root: H256,
            pub digest: Digest,
        }

        impl Header {
            pub fn hash(&self) -> H256 {
                H256(sp_crypto_hashing::blake2_256(&self.encode()))
            }
        }
    }

    pub mod era {
        use parity_scale_codec::{Decode, Encode, Input, Output};
        use scale_info::{Path, Type, TypeInfo, build::Variants};

        /// How long a transaction stays valid. `Mortal(period, phase)` transactions name a
        /// recent block (their birth) and expire `period` blocks after it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Era {
            Immortal,
            Mortal { period: u64, phase: u64 },
        }

        impl Era {
            /// The block a mortal transaction was created at, given the current block.
            pub fn birth(self, current: u64) -> u64 {
                match self {
                    Era::Immortal => 0,
                    Era::Mortal { period, phase } => (current.max(phase) - phase) / period * period + phase,
                }
            }

            /// The first block at which the transaction is no longer valid.
            pub fn death(self, current: u64) -> u64 {
                match self {
                    Era::Immortal => u64::MAX,
                    Era::Mortal { period, .. } => self.birth(current) + period,
                }
            }
        }

        // The two-byte mortal encoding of sp_runtime: the low 4 bits hold log2(period) - 1,
        // the high 12 bits the phase divided by the quantization factor.
        impl Encode for Era {
            fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
                match self {
                    Era::Immortal => dest.push_byte(0),
                    Era::Mortal { period, phase } => {
                        let quantize_factor = (*period >> 12).max(1);
                        let low = (period.trailing_zeros().saturating_sub(1).clamp(1, 15)) as u16;
                        let high = ((*phase / quantize_factor) << 4) as u16;
                        (low | high).encode_to(dest);
                    }
                }
            }
        }

        impl Decode for Era {
            fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
                let first = input.read_byte()?;
                if first == 0 {
                    return Ok(Era::Immortal);
                }
                let encoded = u64::from(first) + (u64::from(input.read_byte()?) << 8);
                let period = 2u64 << (encoded % (1 << 4));
                let quantize_factor = (period >> 12).max(1);
                let phase = (encoded >> 4) * quantize_factor;
                if period >= 4 && phase < period {
                    Ok(Era::Mortal { period, phase })
                } else {
                    Err("invalid mortal era: the phase must be smaller than the period".into())
                }
            }
        }

        // On the real runtime the era is an enum of `Immortal` and `Mortal1..Mortal255`, each
        // variant's index being the first byte and its single u8 field the second.
        impl TypeInfo for Era {
            type Identity = Self;
            fn type_info() -> Type {
                // Variant names must be `&'static str`; build the 255 of them once per process.
                static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
                let names = NAMES.get_or_init(|| (1..=255u8).map(|i| &*Box::leak(format!("Mortal{i}").into_boxed_str())).collect());
                let mut variants = Variants::new().variant("Immortal", |v| v.index(0));
                for (index, name) in (1..=255u8).zip(names.iter().copied()) {
                    variants =
                        variants.variant(name, |v| v.index(index).fields(scale_info::build::Fields::unnamed().field(|f| f.ty::<u8>())));
                }
                Type::builder().path(Path::new("Era", module_path!())).variant(variants)
            }
        }

        #[cfg(test)]
        mod tests {
            use super::*;

            #[test]
            fn mortal_eras_round_trip_and_locate_their_birth_block() {
                for (period, current) in [(64u64, 1000u64), (32, 5), (4096, 100_000), (128, 3)] {
                    let phase = current % period;
                    let era = Era::Mortal { period, phase };
                    let decoded = Era::decode(&mut &era.encode()[..]).expect("decodes");
                    assert_eq!(decoded, era);
                    assert_eq!(era.birth(current), current, "born at the block it was made for");
                    assert_eq!(era.death(current), current + period);
                }
                assert_eq!(Era::decode(&mut &[0u8][..]).expect("decodes"), Era::Immortal);
            }

            #[test]
            fn era_type_has_the_runtime_shape() {
                let ty = Era::type_info();
                let scale_info::TypeDef::Variant(v) = ty.type_def else { panic!("not an enum") };
                assert_eq!(v.variants.len(), 256);
                assert_eq!(v.variants[255].name, "Mortal255");
                assert_eq!(v.variants[255].index, 255);
            }
        }
    }
}
