//! The weights calls Whetstone makes: which one it is ([`WeightCall`]) and its arguments
//! ([`WeightsCallData`]), addressed to the extrinsic the runtime has. Both the offline
//! encoder (`offline.rs`) and the submitter (`submit.rs`) build on these.

use serde::Serialize;
use subxt::Metadata;
use subxt::ext::scale_value::{Composite, Value};

use super::shapes::{self, CallShape};

/// Which extrinsic carried the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightCall {
    SetWeights,
    CommitTimelockedWeights,
}

impl WeightCall {
    pub fn name(self) -> &'static str {
        match self {
            WeightCall::SetWeights => "set_weights",
            WeightCall::CommitTimelockedWeights => "commit_timelocked_weights",
        }
    }
}

/// A subnet's main mechanism: the one plain `set_weights` and `commit_timelocked_weights`
/// write to, and the only one Whetstone sets weights on.
pub const MAIN_MECHANISM: u8 = 0;

/// The arguments of a weights call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsCallData {
    SetWeights {
        netuid: u16,
        uids: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
    },
    CommitTimelockedWeights {
        netuid: u16,
        commit: Vec<u8>,
        reveal_round: u64,
        commit_reveal_version: u16,
    },
    /// `set_mechanism_weights`: [`Self::SetWeights`] addressed to mechanism `mecid`.
    SetMechanismWeights {
        netuid: u16,
        mecid: u8,
        uids: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
    },
    /// `commit_timelocked_mechanism_weights`: [`Self::CommitTimelockedWeights`] addressed to
    /// mechanism `mecid`.
    CommitTimelockedMechanismWeights {
        netuid: u16,
        mecid: u8,
        commit: Vec<u8>,
        reveal_round: u64,
        commit_reveal_version: u16,
    },
}

impl WeightsCallData {
    /// What the call does, whichever extrinsic carries it.
    pub fn call(&self) -> WeightCall {
        match self {
            Self::SetWeights { .. } | Self::SetMechanismWeights { .. } => WeightCall::SetWeights,
            Self::CommitTimelockedWeights { .. } | Self::CommitTimelockedMechanismWeights { .. } => WeightCall::CommitTimelockedWeights,
        }
    }

    /// The extrinsic's name: `set_weights`, `commit_timelocked_mechanism_weights`, ...
    pub fn extrinsic_name(&self) -> &'static str {
        self.shape().call
    }

    /// The same call addressed to mechanism `mecid` of the subnet (a mechanism call stays as
    /// it is).
    pub fn for_mechanism(self, mecid: u8) -> Self {
        match self {
            Self::SetWeights { netuid, uids, weights, version_key } => {
                Self::SetMechanismWeights { netuid, mecid, uids, weights, version_key }
            }
            Self::CommitTimelockedWeights { netuid, commit, reveal_round, commit_reveal_version } => {
                Self::CommitTimelockedMechanismWeights { netuid, mecid, commit, reveal_round, commit_reveal_version }
            }
            mechanism => mechanism,
        }
    }

    /// The call as this runtime should get it: on the subnet's main mechanism (0) through the
    /// mechanism extrinsic when the runtime declares it, as the Bittensor SDK 11 does, and
    /// through the plain one otherwise. Both write the same storage for mechanism 0.
    pub fn for_runtime(self, metadata: &Metadata) -> Self {
        let mechanism = match &self {
            Self::SetWeights { .. } => &shapes::SET_MECHANISM_WEIGHTS,
            Self::CommitTimelockedWeights { .. } => &shapes::COMMIT_TIMELOCKED_MECHANISM_WEIGHTS,
            _ => return self,
        };
        if shapes::has_call(metadata, mechanism) { self.for_mechanism(MAIN_MECHANISM) } else { self }
    }

    fn shape(&self) -> &'static CallShape {
        match self {
            Self::SetWeights { .. } => &shapes::SET_WEIGHTS,
            Self::CommitTimelockedWeights { .. } => &shapes::COMMIT_TIMELOCKED_WEIGHTS,
            Self::SetMechanismWeights { .. } => &shapes::SET_MECHANISM_WEIGHTS,
            Self::CommitTimelockedMechanismWeights { .. } => &shapes::COMMIT_TIMELOCKED_MECHANISM_WEIGHTS,
        }
    }

    /// The fields as the encoder sees them, in declaration order.
    pub fn values(&self) -> Vec<Value> {
        let list = |values: &[u16]| Value::unnamed_composite(values.iter().map(|v| Value::u128((*v).into())));
        match self {
            Self::SetWeights { netuid, uids, weights, version_key } => {
                vec![Value::u128((*netuid).into()), list(uids), list(weights), Value::u128((*version_key).into())]
            }
            Self::CommitTimelockedWeights { netuid, commit, reveal_round, commit_reveal_version } => vec![
                Value::u128((*netuid).into()),
                Value::from_bytes(commit),
                Value::u128((*reveal_round).into()),
                Value::u128((*commit_reveal_version).into()),
            ],
            Self::SetMechanismWeights { netuid, mecid, uids, weights, version_key } => vec![
                Value::u128((*netuid).into()),
                Value::u128((*mecid).into()),
                list(uids),
                list(weights),
                Value::u128((*version_key).into()),
            ],
            Self::CommitTimelockedMechanismWeights { netuid, mecid, commit, reveal_round, commit_reveal_version } => vec![
                Value::u128((*netuid).into()),
                Value::u128((*mecid).into()),
                Value::from_bytes(commit),
                Value::u128((*reveal_round).into()),
                Value::u128((*commit_reveal_version).into()),
            ],
        }
    }

    /// The dynamic payload, fields named as the shape declares them so the encoder matches
    /// them by name against the node's metadata rather than by position.
    pub(crate) fn payload(&self) -> subxt::tx::DynamicPayload<Composite<()>> {
        let shape = self.shape();
        let fields = shape.fields.iter().map(|(name, _)| name.to_string()).zip(self.values());
        subxt::dynamic::tx(shape.pallet, shape.call, Composite::named(fields))
    }
}
