//! The Drand pallet: beacon configuration and pulses, stored as blocks are built so that
//! timelocked commits can be revealed with them.

use std::sync::Arc;

use crate::beacon::Beacon;
use crate::storage::{State, storage_items};
use crate::types::bounded_collections::bounded_vec::BoundedVec;
use crate::types::node_subtensor_runtime::RuntimeEvent;
use crate::types::pallet_drand::pallet::Event;
use crate::types::pallet_drand::types::{BeaconConfiguration, Metadata, Pulse};

/// New pulses stored per block at most, like the pallet's per-block fetch limit.
const MAX_PULSES_PER_BLOCK: u64 = 64;
/// Pulses kept; older ones are pruned (a commit must be revealed within its reveal epoch).
const PULSES_KEPT: u64 = 4096;

fn empty_config() -> BeaconConfiguration {
    BeaconConfiguration {
        public_key: BoundedVec::default(),
        period: 0,
        genesis_time: 0,
        hash: BoundedVec::default(),
        group_hash: BoundedVec::default(),
        scheme_id: BoundedVec::default(),
        metadata: Metadata { beacon_id: BoundedVec::default() },
    }
}

pub(crate) mod items {
    use super::*;

    storage_items! {
        pallet "Drand";
        /// The beacon pulses come from. Finney's default is drand quicknet; localnet's is empty
        /// until a local beacon is configured.
        BeaconConfig: value => BeaconConfiguration = default empty_config();
        /// Pulses by round.
        Pulses: map [Blake2_128Concat] (u64) => Pulse = optional;
        /// The newest round stored.
        LastStoredRound: value => u64 = default 0;
        /// The oldest round still stored.
        OldestStoredRound: value => u64 = default 0;
    }
}

pub(crate) fn genesis(state: &mut State, beacon: &dyn Beacon) {
    let info = beacon.info();
    let config = BeaconConfiguration {
        public_key: BoundedVec(info.public_key),
        period: info.period,
        genesis_time: info.genesis_time,
        hash: BoundedVec(info.hash.clone()),
        group_hash: BoundedVec(info.hash),
        scheme_id: BoundedVec(info.scheme_id.into_bytes()),
        metadata: Metadata { beacon_id: BoundedVec(info.beacon_id.into_bytes()) },
    };
    state.insert::<items::BeaconConfig>((), &config);
}

/// Stores the pulses published up to `unix_time` that are not stored yet.
pub(crate) fn on_initialize(state: &mut State, events: &mut Vec<RuntimeEvent>, beacon: Option<&Arc<dyn Beacon>>, unix_time: u64) {
    let Some(beacon) = beacon else { return };
    let latest = beacon.info().round_at(unix_time);
    let last_stored = state.value::<items::LastStoredRound>(());
    if latest <= last_stored {
        return;
    }
    let first = (last_stored + 1).max(latest.saturating_sub(MAX_PULSES_PER_BLOCK - 1));
    let mut stored = Vec::new();
    for round in first..=latest {
        match beacon.pulse(round) {
            Some(pulse) => {
                let pulse = Pulse { round, randomness: BoundedVec(pulse.randomness), signature: BoundedVec(pulse.signature) };
                state.insert::<items::Pulses>((round,), &pulse);
                stored.push(round);
            }
            None => tracing::warn!(round, "the beacon produced no pulse"),
        }
    }
    let Some(&newest) = stored.last() else { return };
    state.insert::<items::LastStoredRound>((), &newest);
    let mut oldest = state.value::<items::OldestStoredRound>(());
    if oldest == 0 {
        oldest = first;
    }
    // Stored rounds lie in [oldest, last_stored] and [first, newest]; prune below keep_from.
    let keep_from = newest.saturating_sub(PULSES_KEPT - 1);
    if oldest < keep_from {
        for round in oldest..keep_from.min(last_stored + 1) {
            state.remove::<items::Pulses>((round,));
        }
        oldest = if keep_from <= last_stored { keep_from } else { keep_from.max(first) };
    }
    state.insert::<items::OldestStoredRound>((), &oldest);
    events.push(RuntimeEvent::Drand(Event::NewPulse { rounds: stored }));
}

pub(crate) fn pulse_signature(state: &State, round: u64) -> Option<Vec<u8>> {
    state.get::<items::Pulses>((round,)).map(|pulse| pulse.signature.0)
}
