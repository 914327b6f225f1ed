//! Weight extrinsics built and read back without a node, against a given metadata. The client
//! probes every runtime it meets this way (connect, and each spec version after), and the
//! compatibility test does the same against finney's live metadata: the bytes come from the
//! same code path as a real submission, so "it encodes against finney" means what it says.

use subxt::client::OfflineClient;
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::ext::scale_value::{self, Composite, Value};
use subxt::{ArcMetadata, Metadata};

use super::error::error_text;
use super::shapes::{self, CallShape};
use super::submit::WeightCall;
use super::{ChainError, SubtensorConfig};

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

/// A signed extrinsic read back with the metadata alone.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedExtrinsic {
    pub version: u8,
    pub signed: bool,
    pub pallet: String,
    pub call: String,
    /// Call fields by name, as values without type context.
    pub fields: Vec<(String, Value)>,
    /// Transaction extensions carried in the extrinsic, in order (zero-sized ones included).
    pub extensions: Vec<String>,
}

impl DecodedExtrinsic {
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Signs `call` as `signer` against `metadata` (nonce as given, immortal, zero genesis hash).
pub fn sign_offline(
    metadata: ArcMetadata,
    call: &WeightsCallData,
    signer: &subxt_signer::sr25519::Keypair,
    nonce: u64,
) -> Result<Vec<u8>, ChainError> {
    const SPEC_VERSION: u32 = 1;
    let config = SubtensorConfig::offline(metadata, [0; 32], SPEC_VERSION, 1);
    let client = OfflineClient::new_with_config(config);
    let at = client.at_block(0u64).map_err(|e| offline_error(call, e.into()))?;
    let params = DefaultExtrinsicParamsBuilder::<SubtensorConfig>::new().immortal().nonce(nonce).build();
    let payload = call.payload();
    let mut signable = at.tx().create_signable_offline(&payload, params).map_err(|e| offline_error(call, e.into()))?;
    let signed = signable.sign(signer).map_err(|e| offline_error(call, e.into()))?;
    Ok(signed.into_encoded())
}

/// Decodes an extrinsic with `metadata`, requiring every byte to be accounted for.
pub fn decode_extrinsic(metadata: &Metadata, bytes: &[u8]) -> Result<DecodedExtrinsic, ChainError> {
    use subxt::ext::frame_decode::extrinsics::decode_extrinsic as decode;
    let bad = |why: String| ChainError::IncompatibleExtrinsic(why);
    let mut cursor = bytes;
    let extrinsic = decode(&mut cursor, metadata, metadata.types()).map_err(|e| bad(e.to_string()))?;
    if !cursor.is_empty() {
        return Err(bad(format!("{} bytes left over after decoding", cursor.len())));
    }
    let mut fields = Vec::new();
    for arg in extrinsic.call_data() {
        let mut field_bytes = &bytes[arg.range()];
        let value = scale_value::scale::decode_as_type(&mut field_bytes, *arg.ty(), metadata.types())
            .map_err(|e| bad(format!("field {}: {e}", arg.name())))?;
        fields.push((arg.name().to_owned(), value.remove_context()));
    }
    let extensions =
        extrinsic.transaction_extension_payload().map(|ext| ext.iter().map(|arg| arg.name().to_owned()).collect()).unwrap_or_default();
    Ok(DecodedExtrinsic {
        version: extrinsic.version(),
        signed: extrinsic.is_signed(),
        pallet: extrinsic.pallet_name().to_owned(),
        call: extrinsic.call_name().to_owned(),
        fields,
        extensions,
    })
}

/// Builds a `set_weights` extrinsic against `metadata` and reads it back: whether this
/// client can sign for this runtime (its transaction extensions included).
pub fn probe(metadata: ArcMetadata) -> Result<(), ChainError> {
    let call = WeightsCallData::SetWeights { netuid: 1, uids: vec![0, 1], weights: vec![65535, 1], version_key: 7 };
    let bytes = sign_offline(metadata.clone(), &call, &subxt_signer::sr25519::dev::alice(), 0)?;
    let decoded = decode_extrinsic(&metadata, &bytes)?;
    if decoded.pallet != shapes::SUBTENSOR || decoded.call != "set_weights" {
        return Err(ChainError::IncompatibleExtrinsic(format!("a set_weights extrinsic decodes as {}.{}", decoded.pallet, decoded.call)));
    }
    Ok(())
}

fn offline_error(call: &WeightsCallData, error: subxt::Error) -> ChainError {
    ChainError::IncompatibleExtrinsic(format!("cannot build {}: {}", call.call().name(), error_text(&error)))
}
