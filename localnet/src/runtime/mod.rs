//! Block execution: the runtime logic of the pallets localnet implements, applied to the
//! key-value [`State`] in the order a FRAME runtime uses (initialise, extrinsics, finalise).

pub(crate) mod drand;
pub(crate) mod genesis;
pub(crate) mod subtensor;
pub(crate) mod system;

use std::sync::Arc;

use parity_scale_codec::Encode;

use crate::beacon::Beacon;
use crate::extrinsic::{self, ChainContext, CheckedExtrinsic, InvalidTransaction};
use crate::storage::State;
use crate::types::Cow;
use crate::types::frame_system::{self, DispatchEventInfo, Phase};
use crate::types::node_subtensor_runtime::{RuntimeCall, RuntimeEvent, SUBTENSOR_INDEX};
use crate::types::pallet_subtensor;
use crate::types::sp_runtime::generic::digest::Digest;
use crate::types::sp_runtime::generic::header::Header;
use crate::types::sp_runtime::{DispatchError, ModuleError};
use crate::types::sp_version::RuntimeVersion;
use crate::types::{AccountId32, H256};

/// Runtime identity; subxt reads the two versions to build extrinsics.
pub(crate) const SPEC_NAME: &str = "node-subtensor";
pub(crate) const IMPL_NAME: &str = "whetstone-localnet";
pub(crate) const SPEC_VERSION: u32 = 1;
pub(crate) const TRANSACTION_VERSION: u32 = 1;

/// Runtime APIs localnet answers through `state_call`, with their versions.
pub(crate) const RUNTIME_APIS: &[(&str, u32)] =
    &[("Core", 5), ("Metadata", 2), ("AccountNonceApi", 1), ("TaggedTransactionQueue", 3), ("TransactionPaymentApi", 4)];

pub(crate) fn runtime_version() -> RuntimeVersion {
    RuntimeVersion {
        spec_name: Cow(SPEC_NAME.into()),
        impl_name: Cow(IMPL_NAME.into()),
        authoring_version: 1,
        spec_version: SPEC_VERSION,
        impl_version: 1,
        apis: Cow(RUNTIME_APIS.iter().map(|(name, version)| (sp_crypto_hashing::blake2_64(name.as_bytes()), *version)).collect()),
        transaction_version: TRANSACTION_VERSION,
        system_version: 1,
    }
}

impl From<pallet_subtensor::Error> for DispatchError {
    fn from(error: pallet_subtensor::Error) -> Self {
        DispatchError::Module(ModuleError { index: SUBTENSOR_INDEX, error: [error.index(), 0, 0, 0] })
    }
}

/// A block the author built: its header, body and post-state, and what happened to each
/// transaction offered to it.
#[derive(Debug)]
pub(crate) struct BuiltBlock {
    pub header: Header,
    pub extrinsics: Vec<Vec<u8>>,
    pub state: State,
    /// Hashes of the transactions included, in block order.
    pub included: Vec<H256>,
    /// Transactions that were no longer valid when the block was built.
    pub dropped: Vec<(H256, InvalidTransaction)>,
}

/// The runtime: chain constants plus the beacon used for drand pulses.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    pub chain: ChainContext,
    pub beacon: Option<Arc<dyn Beacon>>,
}

impl Runtime {
    /// The state a transaction offered now would be checked against: the head's state with
    /// the next block initialised.
    pub(crate) fn next_block_state(&self, head: &Header, head_hash: H256, head_state: &State) -> State {
        let mut state = head_state.clone();
        system::initialize_block(&mut state, head.number + 1, head_hash);
        state
    }

    pub(crate) fn check(&self, state: &State, bytes: &[u8]) -> Result<CheckedExtrinsic, InvalidTransaction> {
        extrinsic::check(bytes, state, &self.chain)
    }

    /// Builds the child of `parent` with the given transactions, at `unix_time`.
    pub(crate) fn build_block(&self, parent: &Header, parent_state: &State, transactions: Vec<Vec<u8>>, unix_time: u64) -> BuiltBlock {
        let parent_hash = parent.hash();
        let number = parent.number + 1;
        let block = u64::from(number);
        let mut state = self.next_block_state(parent, parent_hash, parent_state);

        let mut events = Vec::new();
        drand::on_initialize(&mut state, &mut events, self.beacon.as_ref(), unix_time);
        let decryptor = BeaconDecryptor { beacon: self.beacon.as_deref(), unix_time };
        subtensor::on_initialize(&mut state, &mut events, block, &decryptor);
        for event in events {
            system::deposit_event(&mut state, Phase::Initialization, event);
        }

        let mut extrinsics = Vec::new();
        let mut included = Vec::new();
        let mut dropped = Vec::new();
        for bytes in transactions {
            match extrinsic::check(&bytes, &state, &self.chain) {
                Ok(checked) => {
                    let index = u32::try_from(extrinsics.len()).unwrap_or(u32::MAX);
                    included.push(checked.hash);
                    apply_extrinsic(&mut state, checked, index, block);
                    extrinsics.push(bytes);
                }
                Err(invalid) => dropped.push((H256(sp_crypto_hashing::blake2_256(&bytes)), invalid)),
            }
        }
        system::finalize_block(&mut state, u32::try_from(extrinsics.len()).unwrap_or(u32::MAX));

        let header = Header {
            parent_hash,
            number,
            state_root: H256(state.root()),
            extrinsics_root: H256(sp_crypto_hashing::blake2_256(&extrinsics.encode())),
            digest: Digest::default(),
        };
        BuiltBlock { header, extrinsics, state, included, dropped }
    }
}

/// Applies a checked extrinsic: the nonce is spent whatever happens, the call's changes are
/// kept only if it succeeds (dispatch is transactional), and the outcome is recorded as
/// `ExtrinsicSuccess` or `ExtrinsicFailed` with the dispatch error.
fn apply_extrinsic(state: &mut State, xt: CheckedExtrinsic, index: u32, block: u64) {
    let mut account = system::account(state, &xt.signer);
    account.nonce += 1;
    system::set_account(state, &xt.signer, &account);

    let mut scratch = state.clone();
    let mut events = Vec::new();
    let outcome = dispatch(&mut scratch, &mut events, &xt.signer, xt.call, block);
    let phase = Phase::ApplyExtrinsic(index);
    let info = DispatchEventInfo::free();
    match outcome {
        Ok(()) => {
            *state = scratch;
            for event in events {
                system::deposit_event(state, phase, event);
            }
            let success = frame_system::Event::ExtrinsicSuccess { dispatch_info: info };
            system::deposit_event(state, phase, RuntimeEvent::System(success));
        }
        Err(dispatch_error) => {
            tracing::debug!(signer = %xt.signer, ?dispatch_error, "extrinsic failed");
            let failed = frame_system::Event::ExtrinsicFailed { dispatch_error, dispatch_info: info };
            system::deposit_event(state, phase, RuntimeEvent::System(failed));
        }
    }
}

fn dispatch(
    state: &mut State,
    events: &mut Vec<RuntimeEvent>,
    who: &AccountId32,
    call: RuntimeCall,
    block: u64,
) -> Result<(), DispatchError> {
    match call {
        RuntimeCall::System(frame_system::Call::remark { .. }) => Ok(()),
        RuntimeCall::System(frame_system::Call::remark_with_event { remark }) => {
            let hash = H256(sp_crypto_hashing::blake2_256(&remark));
            events.push(RuntimeEvent::System(frame_system::Event::Remarked { sender: *who, hash }));
            Ok(())
        }
        RuntimeCall::SubtensorModule(call) => Ok(subtensor::dispatch(state, events, who, call, block)?),
    }
}

/// Reveals timelocked commits with the pulses stored in the Drand pallet.
struct BeaconDecryptor<'a> {
    beacon: Option<&'a dyn Beacon>,
    unix_time: u64,
}

impl subtensor::Decryptor for BeaconDecryptor<'_> {
    fn pulse_signature(&self, state: &State, round: u64) -> Option<Vec<u8>> {
        if let Some(signature) = drand::pulse_signature(state, round) {
            return Some(signature);
        }
        // A block after a long idle stretch stores only the latest pulses, while finney's
        // pallet ingests every round eventually: any round already published can open a
        // commit, so one skipped here is produced on demand.
        let beacon = self.beacon?;
        (round <= beacon.info().round_at(self.unix_time)).then(|| beacon.pulse(round)).flatten().map(|p| p.signature)
    }

    fn decrypt(&self, ciphertext: &[u8], signature: &[u8]) -> Option<Vec<u8>> {
        let beacon = self.beacon?;
        match beacon.decrypt(ciphertext, signature) {
            Ok(plaintext) => Some(plaintext),
            Err(error) => {
                tracing::debug!(%error, "timelocked commit does not decrypt");
                None
            }
        }
    }
}
