//! Compatibility with the live Bittensor runtime: every call and storage item the client uses
//! exists in finney's metadata with the field names and type shapes the client encodes and
//! decodes, and weight extrinsics built for finney's transaction extensions decode back with
//! finney's metadata alone.
//!
//! The metadata is not committed: CI points `WHETSTONE_SUBTENSOR_METADATA` at it
//! (`../shared/chain/finney.scale`, relative to the workspace). Without the variable the
//! tests say so and pass.

use std::path::PathBuf;

use subxt::ext::scale_value::Value;
use subxt::{ArcMetadata, Metadata};
use whetstone_chain::client::WeightsCallData;
use whetstone_chain::client::offline::{decode_extrinsic, probe, sign_offline};
use whetstone_chain::client::shapes::{self, check_metadata};
use whetstone_chain::wallet::dev::DevKey;

const VARIABLE: &str = "WHETSTONE_SUBTENSOR_METADATA";

/// Finney's metadata, or `None` (with a message) when the variable is unset.
fn finney() -> Option<Metadata> {
    let Some(given) = std::env::var_os(VARIABLE) else {
        eprintln!("skipped: set {VARIABLE} to a subtensor metadata file (CI: ../shared/chain/finney.scale) to check compatibility");
        return None;
    };
    let given = PathBuf::from(given);
    // Relative paths are tried from the current directory, then from the workspace root.
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = [given.clone(), workspace.join(&given)].into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("{VARIABLE}={} names no file (tried it from the current directory and from {})", given.display(), workspace.display())
    });
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Some(Metadata::decode_from(&bytes).unwrap_or_else(|e| panic!("{} is not SCALE runtime metadata: {e}", path.display())))
}

#[test]
fn finney_declares_every_call_and_storage_item_with_our_shapes() {
    let Some(metadata) = finney() else { return };
    if let Err(mismatches) = check_metadata(&metadata) {
        panic!("finney's metadata differs from what the client encodes and decodes:\n{mismatches}");
    }
    // The check found something to compare: the items are there, not skipped.
    let subtensor = metadata.pallet_by_name(shapes::SUBTENSOR).expect("SubtensorModule");
    for call in shapes::CALLS {
        assert!(subtensor.call_variant_by_name(call.call).is_some(), "{}", call.call);
    }
    let storage = subtensor.storage().expect("storage");
    for entry in shapes::STORAGE.iter().filter(|e| e.pallet == shapes::SUBTENSOR) {
        assert!(storage.entry_by_name(entry.entry).is_some(), "{}", entry.entry);
    }
}

#[test]
fn weight_extrinsics_built_for_finney_decode_back_field_for_field() {
    let Some(metadata) = finney() else { return };
    let metadata: ArcMetadata = metadata.arc();
    let alice = DevKey::Alice.pair();
    let signer = alice.sr25519_signer().expect("sr25519 dev key");
    let set = WeightsCallData::SetWeights { netuid: 42, uids: vec![0, 7, 255], weights: vec![65535, 1, 30000], version_key: 1_000_123 };
    let commit = WeightsCallData::CommitTimelockedWeights {
        netuid: 42,
        commit: (0..=255u8).cycle().take(600).collect(),
        reveal_round: 9_876_543,
        commit_reveal_version: 4,
    };
    // What the client sends on finney: the same calls on mechanism 0, as the SDK 11 does.
    let on_main_mechanism = [set.clone().for_runtime(&metadata), commit.clone().for_runtime(&metadata)];
    for call in [set, commit].into_iter().chain(on_main_mechanism) {
        let bytes = sign_offline(metadata.clone(), &call, signer, 17).unwrap_or_else(|e| panic!("{e}"));
        let decoded = decode_extrinsic(&metadata, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert!(decoded.signed, "signed");
        assert_eq!(decoded.pallet, shapes::SUBTENSOR);
        assert_eq!(decoded.call, call.extrinsic_name());
        let names: Vec<&str> = decoded.fields.iter().map(|(n, _)| n.as_str()).collect();
        let shape = shapes::CALLS.iter().chain(shapes::OPTIONAL_CALLS).find(|s| s.call == decoded.call).expect("a known call");
        let expected_names: Vec<&str> = shape.fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, expected_names);
        for ((name, got), want) in decoded.fields.iter().zip(call.values()) {
            assert_eq!(flatten(got), flatten(&want), "field {name} of {}", decoded.call);
        }
        // Every extension finney declares is carried, in finney's order, the custom
        // zero-sized ones included.
        let declared: Vec<String> = metadata
            .extrinsic()
            .transaction_extensions_by_version(metadata.extrinsic().transaction_extension_version_to_use_for_encoding())
            .into_iter()
            .flatten()
            .map(|e| e.identifier().to_owned())
            .collect();
        assert_eq!(decoded.extensions, declared);
        for custom in ["SubtensorTransactionExtension", "DrandPriority", "CheckMortality", "CheckNonce"] {
            assert!(declared.iter().any(|d| d == custom), "finney declares {custom}");
        }
    }
    probe(metadata).expect("the connect-time probe passes on finney");
}

#[test]
fn finney_has_the_mechanism_calls_and_the_epoch_parameters() {
    let Some(metadata) = finney() else { return };
    // The client sends the mechanism forms on mecid 0 because finney declares them.
    for call in shapes::OPTIONAL_CALLS {
        assert!(shapes::has_call(&metadata, call), "finney declares {}", call.call);
    }
    let set = WeightsCallData::SetWeights { netuid: 1, uids: vec![1], weights: vec![65535], version_key: 0 };
    assert_eq!(
        set.for_runtime(&metadata),
        WeightsCallData::SetMechanismWeights { netuid: 1, mecid: 0, uids: vec![1], weights: vec![65535], version_key: 0 }
    );
    // The Yuma parameters and bonds the leaderboard's epoch reads are read, not defaulted.
    for entry in [shapes::KAPPA, shapes::ACTIVITY_CUTOFF, shapes::BONDS_MOVING_AVERAGE, shapes::BONDS_PENALTY, shapes::BONDS] {
        assert!(shapes::has_storage(&metadata, &entry), "finney stores {}", entry.entry);
    }
}

/// Numbers in a value, depth first: wrappers (`BoundedVec`, newtypes) decode as nested
/// composites, which say nothing about the data.
fn flatten(value: &Value) -> Vec<u128> {
    use subxt::ext::scale_value::ValueDef;
    match &value.value {
        ValueDef::Composite(composite) => composite.values().flat_map(flatten).collect(),
        ValueDef::Primitive(_) => value.as_u128().into_iter().collect(),
        _ => panic!("unexpected value {value}"),
    }
}

#[test]
fn shape_mismatches_are_named_when_the_runtime_drifts() {
    let Some(metadata) = finney() else { return };
    let mut drifted = finney().expect("read again");
    // Retype `set_weights.weights` (Vec<u16>) to Vec<u8> in the type registry, as a runtime
    // upgrade narrowing the weights would.
    let call_variant = metadata.pallet_by_name(shapes::SUBTENSOR).and_then(|p| p.call_variant_by_name("set_weights")).expect("set_weights");
    let weights_ty = call_variant.fields[2].ty.id;
    let u8_ty = metadata
        .types()
        .types
        .iter()
        .find(|t| matches!(t.ty.type_def, scale_info::TypeDef::Primitive(scale_info::TypeDefPrimitive::U8)))
        .expect("a u8 type")
        .id;
    let registry = drifted.types_mut();
    let entry = registry.types.iter_mut().find(|t| t.id == weights_ty).expect("weights type");
    entry.ty.type_def = scale_info::TypeDef::Sequence(scale_info::TypeDefSequence::new(u8_ty.into()));
    let mismatches = check_metadata(&drifted).expect_err("drift is detected");
    let text = mismatches.to_string();
    assert!(text.contains("SubtensorModule.set_weights") && text.contains("weights: Vec<u8>"), "{text}");
}
