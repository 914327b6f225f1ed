//! What this client assumes about the runtime, written down once and checked against the
//! metadata a node serves before anything is read or signed.
//!
//! Calls and storage are used dynamically (no compiled-in copy of finney's metadata), so a
//! runtime upgrade that renames a field or widens a type would otherwise surface as a
//! confusing decode error at the first weight submission, or worse, as a silently
//! mis-encoded call. [`check_metadata`] compares every call and storage item we touch with
//! the shapes below and names each mismatch; the same check runs in the compatibility test
//! against finney's live metadata.

use std::fmt;

use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};
use subxt::Metadata;

/// The pallet subtensor's calls and storage live in.
pub const SUBTENSOR: &str = "SubtensorModule";

/// A value's shape as this client encodes or decodes it. Single-field wrappers in the
/// metadata (`NetUid(u16)`, `AlphaCurrency(u64)`, `BoundedVec<u8>`, `AccountId32([u8; 32])`)
/// are looked through, as subxt's encoder and decoder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    U8,
    U16,
    U32,
    U64,
    Bool,
    /// 32 bytes: an sr25519 public key.
    AccountId,
    /// A length-prefixed byte vector.
    Bytes,
    Seq(&'static Shape),
    Tuple(&'static [Shape]),
    /// A struct with at least these named fields (others are ignored: we decode by name).
    Fields(&'static [(&'static str, Shape)]),
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::U8 => f.write_str("u8"),
            Shape::U16 => f.write_str("u16"),
            Shape::U32 => f.write_str("u32"),
            Shape::U64 => f.write_str("u64"),
            Shape::Bool => f.write_str("bool"),
            Shape::AccountId => f.write_str("AccountId32"),
            Shape::Bytes => f.write_str("Vec<u8>"),
            Shape::Seq(inner) => write!(f, "Vec<{inner}>"),
            Shape::Tuple(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
            Shape::Fields(fields) => {
                f.write_str("{ ")?;
                for (name, shape) in fields.iter() {
                    write!(f, "{name}: {shape}, ")?;
                }
                f.write_str(".. }")
            }
        }
    }
}

/// A call we submit: its fields in order, by name and shape.
#[derive(Debug, Clone, Copy)]
pub struct CallShape {
    pub pallet: &'static str,
    pub call: &'static str,
    pub fields: &'static [(&'static str, Shape)],
}

/// A storage item we read: its key parts in order and its value.
#[derive(Debug, Clone, Copy)]
pub struct StorageShape {
    pub pallet: &'static str,
    pub entry: &'static str,
    pub keys: &'static [Shape],
    pub value: Shape,
}

pub const SET_WEIGHTS: CallShape = CallShape {
    pallet: SUBTENSOR,
    call: "set_weights",
    fields: &[
        ("netuid", Shape::U16),
        ("dests", Shape::Seq(&Shape::U16)),
        ("weights", Shape::Seq(&Shape::U16)),
        ("version_key", Shape::U64),
    ],
};

pub const COMMIT_TIMELOCKED_WEIGHTS: CallShape = CallShape {
    pallet: SUBTENSOR,
    call: "commit_timelocked_weights",
    fields: &[("netuid", Shape::U16), ("commit", Shape::Bytes), ("reveal_round", Shape::U64), ("commit_reveal_version", Shape::U16)],
};

/// `set_weights` addressed to one of a subnet's mechanisms (`mecid` 0 is the main one,
/// where `set_weights` writes).
pub const SET_MECHANISM_WEIGHTS: CallShape = CallShape {
    pallet: SUBTENSOR,
    call: "set_mechanism_weights",
    fields: &[
        ("netuid", Shape::U16),
        ("mecid", Shape::U8),
        ("dests", Shape::Seq(&Shape::U16)),
        ("weights", Shape::Seq(&Shape::U16)),
        ("version_key", Shape::U64),
    ],
};

/// `commit_timelocked_weights` addressed to one of a subnet's mechanisms: what the
/// Bittensor SDK 11 submits (with `mecid` 0).
pub const COMMIT_TIMELOCKED_MECHANISM_WEIGHTS: CallShape = CallShape {
    pallet: SUBTENSOR,
    call: "commit_timelocked_mechanism_weights",
    fields: &[
        ("netuid", Shape::U16),
        ("mecid", Shape::U8),
        ("commit", Shape::Bytes),
        ("reveal_round", Shape::U64),
        ("commit_reveal_version", Shape::U16),
    ],
};

/// Every call this client submits.
pub const CALLS: &[CallShape] = &[SET_WEIGHTS, COMMIT_TIMELOCKED_WEIGHTS];

/// Calls used instead of their plain forms when the runtime declares them (finney does,
/// localnet does not); their shape is checked when present.
pub const OPTIONAL_CALLS: &[CallShape] = &[SET_MECHANISM_WEIGHTS, COMMIT_TIMELOCKED_MECHANISM_WEIGHTS];

const fn subnet_map(entry: &'static str, value: Shape) -> StorageShape {
    StorageShape { pallet: SUBTENSOR, entry, keys: &[Shape::U16], value }
}

pub const NETWORKS_ADDED: StorageShape = subnet_map("NetworksAdded", Shape::Bool);
pub const SUBNETWORK_N: StorageShape = subnet_map("SubnetworkN", Shape::U16);
pub const KEYS: StorageShape = StorageShape { pallet: SUBTENSOR, entry: "Keys", keys: &[Shape::U16, Shape::U16], value: Shape::AccountId };
pub const UIDS: StorageShape = StorageShape { pallet: SUBTENSOR, entry: "Uids", keys: &[Shape::U16, Shape::AccountId], value: Shape::U16 };
/// A hotkey's alpha stake on a subnet, in rao: the stake the metagraph shows.
pub const TOTAL_HOTKEY_ALPHA: StorageShape =
    StorageShape { pallet: SUBTENSOR, entry: "TotalHotkeyAlpha", keys: &[Shape::AccountId, Shape::U16], value: Shape::U64 };
pub const VALIDATOR_PERMIT: StorageShape = subnet_map("ValidatorPermit", Shape::Seq(&Shape::Bool));
pub const LAST_UPDATE: StorageShape = subnet_map("LastUpdate", Shape::Seq(&Shape::U64));
pub const TEMPO: StorageShape = subnet_map("Tempo", Shape::U16);
pub const WEIGHTS_SET_RATE_LIMIT: StorageShape = subnet_map("WeightsSetRateLimit", Shape::U64);
pub const WEIGHTS_VERSION_KEY: StorageShape = subnet_map("WeightsVersionKey", Shape::U64);
pub const MIN_ALLOWED_WEIGHTS: StorageShape = subnet_map("MinAllowedWeights", Shape::U16);
pub const MAX_WEIGHTS_LIMIT: StorageShape = subnet_map("MaxWeightsLimit", Shape::U16);
pub const COMMIT_REVEAL_WEIGHTS_ENABLED: StorageShape = subnet_map("CommitRevealWeightsEnabled", Shape::Bool);
pub const REVEAL_PERIOD_EPOCHS: StorageShape = subnet_map("RevealPeriodEpochs", Shape::U64);
pub const COMMIT_REVEAL_WEIGHTS_VERSION: StorageShape =
    StorageShape { pallet: SUBTENSOR, entry: "CommitRevealWeightsVersion", keys: &[], value: Shape::U16 };
/// A validator's weights row: `(uid, weight)` pairs.
pub const WEIGHTS: StorageShape = StorageShape {
    pallet: SUBTENSOR,
    entry: "Weights",
    keys: &[Shape::U16, Shape::U16],
    value: Shape::Seq(&Shape::Tuple(&[Shape::U16, Shape::U16])),
};
/// The block each uid registered at: Yuma drops weights set before a uid's registration.
pub const BLOCK_AT_REGISTRATION: StorageShape =
    StorageShape { pallet: SUBTENSOR, entry: "BlockAtRegistration", keys: &[Shape::U16, Shape::U16], value: Shape::U64 };
pub const MAX_ALLOWED_VALIDATORS: StorageShape = subnet_map("MaxAllowedValidators", Shape::U16);
/// Stake below this counts as none in the epoch (chain-wide).
pub const STAKE_THRESHOLD: StorageShape = StorageShape { pallet: SUBTENSOR, entry: "StakeThreshold", keys: &[], value: Shape::U64 };
pub const SUBNET_OWNER_HOTKEY: StorageShape = subnet_map("SubnetOwnerHotkey", Shape::AccountId);
/// Timelocked commits per (subnet, epoch): `(hotkey, commit block, ciphertext, reveal round)`.
pub const TIMELOCKED_WEIGHT_COMMITS: StorageShape = StorageShape {
    pallet: SUBTENSOR,
    entry: "TimelockedWeightCommits",
    keys: &[Shape::U16, Shape::U64],
    value: Shape::Seq(&Shape::Tuple(&[Shape::AccountId, Shape::U64, Shape::Bytes, Shape::U64])),
};

/// pallet-drand's beacon: the key and clock timelocked commits are encrypted against.
pub const BEACON_CONFIG: StorageShape = StorageShape {
    pallet: "Drand",
    entry: "BeaconConfig",
    keys: &[],
    value: Shape::Fields(&[("public_key", Shape::Bytes), ("period", Shape::U32), ("genesis_time", Shape::U32)]),
};

/// The epoch schedule of runtimes with owner-triggered epochs. Runtimes without them run an
/// epoch whenever `(block + netuid + 1) % (tempo + 1) == 0`.
pub const LAST_EPOCH_BLOCK: StorageShape = subnet_map("LastEpochBlock", Shape::U64);
pub const PENDING_EPOCH_AT: StorageShape = subnet_map("PendingEpochAt", Shape::U64);
pub const SUBNET_EPOCH_INDEX: StorageShape = subnet_map("SubnetEpochIndex", Shape::U64);
pub const BLOCKS_SINCE_LAST_STEP: StorageShape = subnet_map("BlocksSinceLastStep", Shape::U64);

/// Yuma Consensus parameters and a validator's bonds: read when the runtime has them (finney
/// does, localnet does not), subtensor's defaults otherwise.
pub const KAPPA: StorageShape = subnet_map("Kappa", Shape::U16);
pub const ACTIVITY_CUTOFF: StorageShape = subnet_map("ActivityCutoff", Shape::U16);
pub const BONDS_MOVING_AVERAGE: StorageShape = subnet_map("BondsMovingAverage", Shape::U64);
pub const BONDS_PENALTY: StorageShape = subnet_map("BondsPenalty", Shape::U16);
/// A validator's bonds row: `(uid, bond)` pairs, column max-upscaled by the last epoch.
pub const BONDS: StorageShape = StorageShape {
    pallet: SUBTENSOR,
    entry: "Bonds",
    keys: &[Shape::U16, Shape::U16],
    value: Shape::Seq(&Shape::Tuple(&[Shape::U16, Shape::U16])),
};

/// Every storage item this client reads.
pub const STORAGE: &[StorageShape] = &[
    NETWORKS_ADDED,
    SUBNETWORK_N,
    KEYS,
    UIDS,
    TOTAL_HOTKEY_ALPHA,
    VALIDATOR_PERMIT,
    LAST_UPDATE,
    TEMPO,
    WEIGHTS_SET_RATE_LIMIT,
    WEIGHTS_VERSION_KEY,
    MIN_ALLOWED_WEIGHTS,
    MAX_WEIGHTS_LIMIT,
    COMMIT_REVEAL_WEIGHTS_ENABLED,
    REVEAL_PERIOD_EPOCHS,
    COMMIT_REVEAL_WEIGHTS_VERSION,
    WEIGHTS,
    TIMELOCKED_WEIGHT_COMMITS,
    BEACON_CONFIG,
    BLOCK_AT_REGISTRATION,
    MAX_ALLOWED_VALIDATORS,
    STAKE_THRESHOLD,
    SUBNET_OWNER_HOTKEY,
];

/// Storage read only when the runtime has it; its shape is checked when present.
pub const OPTIONAL_STORAGE: &[StorageShape] = &[
    LAST_EPOCH_BLOCK,
    PENDING_EPOCH_AT,
    SUBNET_EPOCH_INDEX,
    BLOCKS_SINCE_LAST_STEP,
    KAPPA,
    ACTIVITY_CUTOFF,
    BONDS_MOVING_AVERAGE,
    BONDS_PENALTY,
    BONDS,
];

/// Whether the runtime declares this call.
pub fn has_call(metadata: &Metadata, shape: &CallShape) -> bool {
    metadata.pallet_by_name(shape.pallet).and_then(|p| p.call_variant_by_name(shape.call)).is_some()
}

/// Whether the runtime declares this storage item.
pub fn has_storage(metadata: &Metadata, shape: &StorageShape) -> bool {
    metadata.pallet_by_name(shape.pallet).and_then(|p| p.storage()).and_then(|s| s.entry_by_name(shape.entry)).is_some()
}

/// Transaction extensions subxt 0.51 knows how to fill. Any other extension the runtime
/// declares must carry no data, or we cannot build its extrinsics.
pub const KNOWN_EXTENSIONS: &[&str] = &[
    "VerifySignature",
    "CheckSpecVersion",
    "CheckTxVersion",
    "CheckNonce",
    "CheckGenesis",
    "CheckMortality",
    "ChargeAssetTxPayment",
    "ChargeTransactionPayment",
    "CheckMetadataHash",
];

/// One way the runtime differs from what this client encodes or decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// `SubtensorModule.set_weights`, `SubtensorModule::Keys`, `extension CheckNonce`...
    pub item: String,
    pub problem: String,
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.item, self.problem)
    }
}

/// Every mismatch found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", lines(.0))]
pub struct ShapeMismatches(pub Vec<ShapeMismatch>);

fn lines(mismatches: &[ShapeMismatch]) -> String {
    mismatches.iter().map(|m| format!("  - {m}")).collect::<Vec<_>>().join("\n")
}

/// Checks every call, storage item and transaction extension this client relies on.
pub fn check_metadata(metadata: &Metadata) -> Result<(), ShapeMismatches> {
    let mut found = Vec::new();
    for call in CALLS {
        check_call(metadata, call, &mut found);
    }
    for call in OPTIONAL_CALLS.iter().filter(|call| has_call(metadata, call)) {
        check_call(metadata, call, &mut found);
    }
    for entry in STORAGE {
        check_storage(metadata, entry, &mut found);
    }
    for entry in OPTIONAL_STORAGE.iter().filter(|entry| has_storage(metadata, entry)) {
        check_storage(metadata, entry, &mut found);
    }
    check_extensions(metadata, &mut found);
    if found.is_empty() { Ok(()) } else { Err(ShapeMismatches(found)) }
}

fn check_call(metadata: &Metadata, expected: &CallShape, found: &mut Vec<ShapeMismatch>) {
    let item = format!("{}.{}", expected.pallet, expected.call);
    let mut report = |problem: String| found.push(ShapeMismatch { item: item.clone(), problem });
    let Some(pallet) = metadata.pallet_by_name(expected.pallet) else {
        return report(format!("the runtime has no pallet {}", expected.pallet));
    };
    let Some(variant) = pallet.call_variant_by_name(expected.call) else {
        return report("the runtime has no such call".into());
    };
    let actual: Vec<(String, u32)> = variant.fields.iter().map(|f| (f.name.clone().unwrap_or_else(|| "_".into()), f.ty.id)).collect();
    let wanted = signature(expected.fields.iter().map(|(name, shape)| (name.to_string(), shape.to_string())));
    let served = signature(actual.iter().map(|(name, ty)| (name.clone(), describe(*ty, metadata.types()))));
    if actual.len() != expected.fields.len()
        || actual
            .iter()
            .zip(expected.fields)
            .any(|((name, ty), (want_name, want))| name != want_name || !matches(*ty, *want, metadata.types()))
    {
        report(format!("the runtime declares ({served}), this client sends ({wanted})"));
    }
}

fn check_storage(metadata: &Metadata, expected: &StorageShape, found: &mut Vec<ShapeMismatch>) {
    let item = format!("{}::{}", expected.pallet, expected.entry);
    let mut report = |problem: String| found.push(ShapeMismatch { item: item.clone(), problem });
    let Some(entry) = metadata.pallet_by_name(expected.pallet).and_then(|p| p.storage()).and_then(|s| s.entry_by_name(expected.entry))
    else {
        return report("the runtime has no such storage item".into());
    };
    let types = metadata.types();
    let keys: Vec<u32> = entry.keys().map(|k| k.key_id).collect();
    if keys.len() != expected.keys.len() || keys.iter().zip(expected.keys).any(|(ty, want)| !matches(*ty, *want, types)) {
        let served = keys.iter().map(|ty| describe(*ty, types)).collect::<Vec<_>>().join(", ");
        let wanted = expected.keys.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
        report(format!("keyed by ({served}), this client uses ({wanted})"));
    }
    if !matches(entry.value_ty(), expected.value, types) {
        report(format!("holds {}, this client decodes {}", describe(entry.value_ty(), types), expected.value));
    }
}

fn check_extensions(metadata: &Metadata, found: &mut Vec<ShapeMismatch>) {
    let extrinsic = metadata.extrinsic();
    if !extrinsic.supported_versions().iter().any(|v| *v == 4 || *v == 5) {
        found.push(ShapeMismatch {
            item: "extrinsic format".into(),
            problem: format!("the runtime accepts versions {:?}, subxt builds 4 and 5", extrinsic.supported_versions()),
        });
        return;
    }
    let types = metadata.types();
    let version = extrinsic.transaction_extension_version_to_use_for_encoding();
    for extension in extrinsic.transaction_extensions_by_version(version).into_iter().flatten() {
        let name = extension.identifier();
        if KNOWN_EXTENSIONS.contains(&name) {
            continue;
        }
        if !is_empty(extension.extra_ty(), types) || !is_empty(extension.additional_ty(), types) {
            found.push(ShapeMismatch {
                item: format!("transaction extension {name}"),
                problem: format!(
                    "carries data ({} / {}) this client cannot fill; it needs support for the extension before it can sign",
                    describe(extension.extra_ty(), types),
                    describe(extension.additional_ty(), types)
                ),
            });
        }
    }
}

fn signature(fields: impl Iterator<Item = (String, String)>) -> String {
    fields.map(|(name, ty)| format!("{name}: {ty}")).collect::<Vec<_>>().join(", ")
}

/// Whether type `id` has `shape`, looking through single-field wrappers.
pub fn matches(id: u32, shape: Shape, types: &PortableRegistry) -> bool {
    let Some(ty) = types.resolve(id) else { return false };
    let direct = match (&ty.type_def, shape) {
        (TypeDef::Primitive(TypeDefPrimitive::U8), Shape::U8) => true,
        (TypeDef::Primitive(TypeDefPrimitive::U16), Shape::U16) => true,
        (TypeDef::Primitive(TypeDefPrimitive::U32), Shape::U32) => true,
        (TypeDef::Primitive(TypeDefPrimitive::U64), Shape::U64) => true,
        (TypeDef::Primitive(TypeDefPrimitive::Bool), Shape::Bool) => true,
        (TypeDef::Array(array), Shape::AccountId) => array.len == 32 && is_u8(array.type_param.id, types),
        (TypeDef::Sequence(seq), Shape::Bytes) => is_u8(seq.type_param.id, types),
        (TypeDef::Sequence(seq), Shape::Seq(inner)) => matches(seq.type_param.id, *inner, types),
        (TypeDef::Tuple(tuple), Shape::Tuple(items)) => {
            tuple.fields.len() == items.len() && tuple.fields.iter().zip(items).all(|(f, s)| matches(f.id, *s, types))
        }
        (TypeDef::Composite(composite), Shape::Fields(fields)) => fields
            .iter()
            .all(|(name, shape)| composite.fields.iter().any(|f| f.name.as_deref() == Some(*name) && matches(f.ty.id, *shape, types))),
        _ => false,
    };
    direct || single_field(id, types).is_some_and(|inner| matches(inner, shape, types))
}

fn is_u8(id: u32, types: &PortableRegistry) -> bool {
    types.resolve(id).is_some_and(|ty| matches!(ty.type_def, TypeDef::Primitive(TypeDefPrimitive::U8)))
}

/// The inner type of a one-field struct or tuple.
fn single_field(id: u32, types: &PortableRegistry) -> Option<u32> {
    match &types.resolve(id)?.type_def {
        TypeDef::Composite(c) if c.fields.len() == 1 => Some(c.fields[0].ty.id),
        TypeDef::Tuple(t) if t.fields.len() == 1 => Some(t.fields[0].id),
        _ => None,
    }
}

/// Whether values of type `id` encode to no bytes.
fn is_empty(id: u32, types: &PortableRegistry) -> bool {
    match types.resolve(id).map(|ty| &ty.type_def) {
        Some(TypeDef::Composite(c)) => c.fields.iter().all(|f| is_empty(f.ty.id, types)),
        Some(TypeDef::Tuple(t)) => t.fields.iter().all(|f| is_empty(f.id, types)),
        Some(TypeDef::Array(a)) => a.len == 0 || is_empty(a.type_param.id, types),
        _ => false,
    }
}

/// A short Rust-like name for type `id`, for messages.
pub fn describe(id: u32, types: &PortableRegistry) -> String {
    describe_depth(id, types, 0)
}

fn describe_depth(id: u32, types: &PortableRegistry, depth: usize) -> String {
    let Some(ty) = types.resolve(id) else { return format!("<unknown type {id}>") };
    if depth > 4 {
        return "…".into();
    }
    let inner = |id: u32| describe_depth(id, types, depth + 1);
    let named = ty.path.ident();
    match &ty.type_def {
        TypeDef::Primitive(p) => format!("{p:?}").to_lowercase(),
        TypeDef::Sequence(s) => format!("Vec<{}>", inner(s.type_param.id)),
        TypeDef::Array(a) => format!("[{}; {}]", inner(a.type_param.id), a.len),
        TypeDef::Compact(c) => format!("Compact<{}>", inner(c.type_param.id)),
        TypeDef::Tuple(t) => format!("({})", t.fields.iter().map(|f| inner(f.id)).collect::<Vec<_>>().join(", ")),
        TypeDef::Composite(c) if c.fields.len() == 1 => match named {
            Some(name) => format!("{name}({})", inner(c.fields[0].ty.id)),
            None => inner(c.fields[0].ty.id),
        },
        _ => named.unwrap_or_else(|| format!("type {id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_print_like_rust_types() {
        assert_eq!(SET_WEIGHTS.fields[1].1.to_string(), "Vec<u16>");
        assert_eq!(TIMELOCKED_WEIGHT_COMMITS.value.to_string(), "Vec<(AccountId32, u64, Vec<u8>, u64)>");
    }

    #[test]
    fn mismatches_are_listed_one_per_line() {
        let mismatches = ShapeMismatches(vec![
            ShapeMismatch { item: "SubtensorModule.set_weights".into(), problem: "the runtime has no such call".into() },
            ShapeMismatch { item: "SubtensorModule::Keys".into(), problem: "holds u32, this client decodes AccountId32".into() },
        ]);
        assert_eq!(
            mismatches.to_string(),
            "  - SubtensorModule.set_weights: the runtime has no such call\n  - SubtensorModule::Keys: holds u32, this client decodes AccountId32"
        );
    }
}
