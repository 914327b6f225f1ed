//! SubtensorModule: subnets, neurons, weights and timelocked commits.

pub(crate) mod items;
pub(crate) mod registration;
pub(crate) mod weights;

use crate::storage::State;
use crate::types::AccountId32;
use crate::types::node_subtensor_runtime::RuntimeEvent;
use crate::types::pallet_subtensor::{Call, Error};

pub(crate) use weights::Decryptor;

/// A subnet's main mechanism, the only one localnet runs.
const MAIN_MECHANISM: u8 = 0;

/// Dispatches a SubtensorModule call signed by `who`.
pub(crate) fn dispatch(state: &mut State, events: &mut Vec<RuntimeEvent>, who: &AccountId32, call: Call, block: u64) -> Result<(), Error> {
    match call {
        // Localnet subnets have one mechanism, the main one, where the plain calls write.
        Call::set_mechanism_weights { mecid, .. } | Call::commit_timelocked_mechanism_weights { mecid, .. } if mecid != MAIN_MECHANISM => {
            Err(Error::MechanismDoesNotExist)
        }
        Call::set_weights { netuid, dests, weights, version_key }
        | Call::set_mechanism_weights { netuid, dests, weights, version_key, .. } => {
            weights::set_weights(state, events, who, netuid, dests, weights, version_key, block)
        }
        Call::commit_timelocked_weights { netuid, commit, reveal_round, commit_reveal_version }
        | Call::commit_timelocked_mechanism_weights { netuid, commit, reveal_round, commit_reveal_version, .. } => {
            weights::commit_timelocked_weights(state, events, who, netuid, commit, reveal_round, commit_reveal_version, block)
        }
        Call::burned_register { netuid, hotkey } => registration::burned_register(state, events, who, netuid, &hotkey, block).map(|_| ()),
    }
}

/// Per-block work before any extrinsic: registration counters and timelocked reveals.
pub(crate) fn on_initialize(state: &mut State, events: &mut Vec<RuntimeEvent>, block: u64, decryptor: &dyn Decryptor) {
    for netuid in subnets(state) {
        registration::on_initialize(state, netuid);
        weights::reveal_timelocked_commits(state, events, netuid, block, decryptor);
    }
}

/// Every existing subnet, in netuid order.
pub(crate) fn subnets(state: &State) -> Vec<u16> {
    let prefix = crate::storage::prefix_of("SubtensorModule", "NetworksAdded");
    state
        .keys_with_prefix(&prefix, None)
        .filter_map(|key| {
            let netuid = u16::from_le_bytes(key.get(prefix.len()..prefix.len() + 2)?.try_into().ok()?);
            state.value::<items::NetworksAdded>((netuid,)).then_some(netuid)
        })
        .collect()
}
