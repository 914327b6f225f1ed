//! Decoding and checking signed extrinsics: the v4 format, the transaction extensions finney
//! declares, the sr25519 signature over the signed payload, the nonce and the mortality era.

use parity_scale_codec::{Compact, Decode, Encode};

use crate::runtime::system;
use crate::storage::State;
use crate::types::frame_metadata_hash_extension::Mode;
use crate::types::node_subtensor_runtime::{Extra, RuntimeCall};
use crate::types::sp_runtime::MultiSignature;
use crate::types::sp_runtime::generic::era::Era;
use crate::types::sp_runtime::multiaddress::MultiAddress;
use crate::types::{AccountId32, H256};

/// Signed payloads longer than this are signed as their blake2-256 hash.
const MAX_UNHASHED_PAYLOAD: usize = 256;

/// A decoded extrinsic whose signature, nonce and era were valid when it was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedExtrinsic {
    pub signer: AccountId32,
    pub nonce: u32,
    pub call: RuntimeCall,
    /// blake2-256 of the encoded bytes: the hash clients track the transaction by.
    pub hash: H256,
    pub encoded: Vec<u8>,
}

/// Why a transaction is refused before it enters a block. The messages start with the
/// strings substrate's RPC reports, so clients matching on them behave as with a real node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransaction {
    #[error("Could not decode the extrinsic: {0}")]
    Undecodable(String),
    #[error("Transaction call is not expected: {0}")]
    Call(String),
    #[error("Transaction has a bad signature")]
    BadProof,
    #[error("Invalid signing address: {0}")]
    BadSigner(String),
    #[error("Transaction is outdated: nonce {got} is already used; the account's next nonce is {expected}")]
    Stale { expected: u32, got: u32 },
    #[error(
        "Transaction will be valid in the future: nonce {got} is ahead of the account's next nonce {expected}, and localnet keeps no queue of future transactions"
    )]
    Future { expected: u32, got: u32 },
    #[error("Transaction has an ancient birth block: block {0} is unknown or too old")]
    AncientBirthBlock(u64),
}

impl InvalidTransaction {
    /// substrate's `InvalidTransaction` variant index, for the `TaggedTransactionQueue` API.
    pub(crate) fn code(&self) -> u8 {
        match self {
            InvalidTransaction::Undecodable(_) | InvalidTransaction::Call(_) => 0,
            InvalidTransaction::Future { .. } => 2,
            InvalidTransaction::Stale { .. } => 3,
            InvalidTransaction::BadProof => 4,
            InvalidTransaction::AncientBirthBlock(_) => 5,
            InvalidTransaction::BadSigner(_) => 10,
        }
    }
}

/// What a signature commits to besides the extrinsic's own bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainContext {
    pub genesis_hash: H256,
    pub spec_version: u32,
    pub transaction_version: u32,
}

fn undecodable(what: &'static str) -> impl Fn(parity_scale_codec::Error) -> InvalidTransaction {
    move |e| InvalidTransaction::Undecodable(format!("{what}: {e}"))
}

/// Decodes and checks `bytes` (length-prefixed, as `author_submitExtrinsic` receives them)
/// against `state`, the state of the block the transaction would enter after its
/// initialisation (so the parent's hash is known, as in substrate's `validate_transaction`).
pub(crate) fn check(bytes: &[u8], state: &State, chain: &ChainContext) -> Result<CheckedExtrinsic, InvalidTransaction> {
    let mut input = bytes;
    let Compact(length) = Compact::<u32>::decode(&mut input).map_err(undecodable("length prefix"))?;
    if usize::try_from(length).ok() != Some(input.len()) {
        return Err(InvalidTransaction::Undecodable(format!("the length prefix says {length} bytes but {} follow", input.len())));
    }
    let version = u8::decode(&mut input).map_err(undecodable("version byte"))?;
    if version & 0b0111_1111 != 4 {
        return Err(InvalidTransaction::Undecodable(format!(
            "extrinsic format version {} is not supported; localnet accepts signed v4 extrinsics",
            version & 0b0111_1111
        )));
    }
    if version & 0b1000_0000 == 0 {
        return Err(InvalidTransaction::Call("unsigned extrinsics are not accepted; sign the call".into()));
    }
    let address = MultiAddress::<AccountId32, ()>::decode(&mut input).map_err(undecodable("sender address"))?;
    let signer = match address {
        MultiAddress::Id(account) => account,
        MultiAddress::Address32(bytes) => AccountId32(bytes),
        other => return Err(InvalidTransaction::BadSigner(format!("{other:?} is not a 32-byte account id"))),
    };
    let signature = MultiSignature::decode(&mut input).map_err(undecodable("signature"))?;
    let extra_bytes = input;
    let extra = Extra::decode(&mut input).map_err(undecodable("transaction extensions"))?;
    let extra_bytes = &extra_bytes[..extra_bytes.len() - input.len()];
    let call_bytes = input;
    let call = RuntimeCall::decode(&mut input).map_err(undecodable("call"))?;
    if !input.is_empty() {
        return Err(InvalidTransaction::Undecodable(format!("{} bytes follow the call", input.len())));
    }
    if signer.0 == [0; 32] {
        return Err(InvalidTransaction::BadSigner("the zero account cannot sign".into()));
    }
    if extra.metadata_hash.mode != Mode::Disabled {
        return Err(InvalidTransaction::Call(
            "CheckMetadataHash mode Enabled is not supported by localnet; sign with the mode Disabled".into(),
        ));
    }

    let current = u64::from(system::block_number(state));
    let era = extra.mortality.0;
    let birth_hash = match era {
        Era::Immortal => chain.genesis_hash,
        Era::Mortal { .. } => {
            let birth = era.birth(current);
            u32::try_from(birth)
                .ok()
                .and_then(|n| system::block_hash(state, n))
                .filter(|hash| *hash != H256::default())
                .ok_or(InvalidTransaction::AncientBirthBlock(birth))?
        }
    };
    let metadata_hash: Option<[u8; 32]> = None;
    let mut payload = Vec::with_capacity(call_bytes.len() + extra_bytes.len() + 112);
    payload.extend_from_slice(call_bytes);
    payload.extend_from_slice(extra_bytes);
    (chain.spec_version, chain.transaction_version, chain.genesis_hash, birth_hash, metadata_hash).encode_to(&mut payload);
    if payload.len() > MAX_UNHASHED_PAYLOAD {
        payload = sp_crypto_hashing::blake2_256(&payload).to_vec();
    }
    let MultiSignature::Sr25519(signature) = signature else {
        return Err(InvalidTransaction::BadProof);
    };
    let verified =
        subxt_signer::sr25519::verify(&subxt_signer::sr25519::Signature(signature), &payload, &subxt_signer::sr25519::PublicKey(signer.0));
    if !verified {
        return Err(InvalidTransaction::BadProof);
    }

    let expected = system::account(state, &signer).nonce;
    let nonce = extra.nonce.0;
    if nonce < expected {
        return Err(InvalidTransaction::Stale { expected, got: nonce });
    }
    if nonce > expected {
        return Err(InvalidTransaction::Future { expected, got: nonce });
    }
    Ok(CheckedExtrinsic { signer, nonce, call, hash: H256(sp_crypto_hashing::blake2_256(bytes)), encoded: bytes.to_vec() })
}
