//! The runtime metadata the node serves (V16, as finney serves), built from the types in
//! [`crate::types`] and the storage declarations, never copied from a real chain.

use std::collections::BTreeMap;

use frame_metadata::RuntimeMetadataPrefixed;
use frame_metadata::v15::{CustomMetadata, OuterEnums, RuntimeApiMethodParamMetadata};
use frame_metadata::v16::{
    EnumDeprecationInfo, ExtrinsicMetadata, ItemDeprecationInfo, PalletAssociatedTypeMetadata, PalletCallMetadata, PalletConstantMetadata,
    PalletErrorMetadata, PalletEventMetadata, PalletMetadata, PalletStorageMetadata, RuntimeApiMetadata, RuntimeApiMethodMetadata,
    RuntimeMetadataV16, StorageEntryMetadata, TransactionExtensionMetadata,
};
use parity_scale_codec::{Compact, Encode};
use scale_info::{MetaType, TypeInfo, meta_type};

use crate::runtime::{drand, subtensor, system};
use crate::types::frame_metadata_hash_extension::CheckMetadataHash;
use crate::types::frame_system::extensions::{
    check_genesis::CheckGenesis, check_non_zero_sender::CheckNonZeroSender, check_spec_version::CheckSpecVersion,
    check_tx_version::CheckTxVersion, check_weight::CheckWeight,
};
use crate::types::node_subtensor_runtime::{
    DRAND_INDEX, Runtime, RuntimeCall, RuntimeError, RuntimeEvent, SUBTENSOR_INDEX, SYSTEM_INDEX, check_mortality::CheckMortality,
    check_nonce::CheckNonce, sudo_wrapper::SudoTransactionExtension,
};
use crate::types::pallet_drand::drand_priority::DrandPriority;
use crate::types::pallet_shield::extension::CheckShieldedTxValidity;
use crate::types::pallet_subtensor::extensions::subtensor::SubtensorTransactionExtension;
use crate::types::pallet_transaction_payment::ChargeTransactionPayment;
use crate::types::sp_core::OpaqueMetadata;
use crate::types::sp_runtime::MultiSignature;
use crate::types::sp_runtime::multiaddress::MultiAddress;
use crate::types::sp_runtime::traits::BlakeTwo256;
use crate::types::sp_version::RuntimeVersion;
use crate::types::{AccountId32, H256, PATH_PREFIX, frame_system, pallet_drand, pallet_subtensor};

/// The metadata versions served; subxt asks for the highest.
pub(crate) const VERSIONS: [u32; 1] = [16];

/// SS58 prefix of Bittensor addresses (the generic substrate prefix).
const SS58_PREFIX: u16 = 42;
/// Blocks whose hashes the runtime remembers (mortal transactions must be born within them).
pub(crate) const BLOCK_HASH_COUNT: u32 = 2400;

/// The encoded metadata, built once per node.
#[derive(Debug, Clone)]
pub(crate) struct ServedMetadata {
    /// `RuntimeMetadataPrefixed` bytes ("meta", version, body).
    prefixed: Vec<u8>,
}

impl ServedMetadata {
    pub(crate) fn build() -> Self {
        let prefixed = RuntimeMetadataPrefixed::from(runtime_metadata()).encode();
        ServedMetadata { prefixed }
    }

    /// What `state_getMetadata` returns.
    pub(crate) fn prefixed(&self) -> &[u8] {
        &self.prefixed
    }

    /// What `Metadata_metadata` returns: the bytes as an `OpaqueMetadata`.
    pub(crate) fn opaque(&self) -> Vec<u8> {
        OpaqueMetadata(self.prefixed.clone()).encode()
    }

    /// What `Metadata_metadata_at_version` returns: `Option<OpaqueMetadata>`.
    pub(crate) fn at_version(&self, version: u32) -> Vec<u8> {
        VERSIONS.contains(&version).then(|| OpaqueMetadata(self.prefixed.clone())).encode()
    }
}

/// The V16 metadata, with type paths made to read as on the real runtime.
pub(crate) fn runtime_metadata() -> RuntimeMetadataV16 {
    let mut metadata = RuntimeMetadataV16::new(
        pallets(),
        extrinsic(),
        apis(),
        OuterEnums {
            call_enum_ty: meta_type::<RuntimeCall>(),
            event_enum_ty: meta_type::<RuntimeEvent>(),
            error_enum_ty: meta_type::<RuntimeError>(),
        },
        CustomMetadata { map: BTreeMap::new() },
    );
    for ty in &mut metadata.types.types {
        let segments = &mut ty.ty.path.segments;
        if segments.len() > PATH_PREFIX.len() && segments.iter().zip(PATH_PREFIX).all(|(s, p)| s == p) {
            segments.drain(..PATH_PREFIX.len());
        }
    }
    metadata
}

fn pallet(
    name: &'static str,
    index: u8,
    storage: Vec<StorageEntryMetadata>,
    calls: Option<MetaType>,
    event: Option<MetaType>,
    error: Option<MetaType>,
) -> PalletMetadata {
    PalletMetadata {
        name,
        storage: Some(PalletStorageMetadata { prefix: name, entries: storage }),
        calls: calls.map(|ty| PalletCallMetadata { ty, deprecation_info: EnumDeprecationInfo::nothing_deprecated() }),
        event: event.map(|ty| PalletEventMetadata { ty, deprecation_info: EnumDeprecationInfo::nothing_deprecated() }),
        constants: Vec::new(),
        error: error.map(|ty| PalletErrorMetadata { ty, deprecation_info: EnumDeprecationInfo::nothing_deprecated() }),
        associated_types: Vec::new(),
        view_functions: Vec::new(),
        index,
        docs: Vec::new(),
        deprecation_info: ItemDeprecationInfo::NotDeprecated,
    }
}

fn constant<T: TypeInfo + Encode + 'static>(name: &'static str, value: &T, docs: &'static str) -> PalletConstantMetadata {
    PalletConstantMetadata {
        name,
        ty: meta_type::<T>(),
        value: value.encode(),
        docs: vec![docs],
        deprecation_info: ItemDeprecationInfo::NotDeprecated,
    }
}

fn associated<T: TypeInfo + 'static>(name: &'static str) -> PalletAssociatedTypeMetadata {
    PalletAssociatedTypeMetadata { name, ty: meta_type::<T>(), docs: Vec::new() }
}

fn pallets() -> Vec<PalletMetadata> {
    let mut system = pallet(
        "System",
        SYSTEM_INDEX,
        system::items::metadata(),
        Some(meta_type::<frame_system::Call>()),
        Some(meta_type::<frame_system::Event>()),
        None,
    );
    system.constants = vec![
        constant("BlockHashCount", &BLOCK_HASH_COUNT, "Maximum number of block number to block hash mappings to keep."),
        constant::<RuntimeVersion>("Version", &crate::runtime::runtime_version(), "Get the chain's in-code version."),
        constant("SS58Prefix", &SS58_PREFIX, "The designated SS58 prefix of this chain."),
    ];
    // subxt learns the chain's hasher from `Hashing`.
    system.associated_types = vec![
        associated::<u32>("Nonce"),
        associated::<H256>("Hash"),
        associated::<BlakeTwo256>("Hashing"),
        associated::<AccountId32>("AccountId"),
        associated::<RuntimeCall>("RuntimeCall"),
    ];
    let subtensor = pallet(
        "SubtensorModule",
        SUBTENSOR_INDEX,
        subtensor::items::metadata(),
        Some(meta_type::<pallet_subtensor::Call>()),
        Some(meta_type::<pallet_subtensor::Event>()),
        Some(meta_type::<pallet_subtensor::Error>()),
    );
    let drand = pallet("Drand", DRAND_INDEX, drand::items::metadata(), None, Some(meta_type::<pallet_drand::pallet::Event>()), None);
    vec![system, subtensor, drand]
}

fn extension<T: TypeInfo + 'static, Implicit: TypeInfo + 'static>(identifier: &'static str) -> TransactionExtensionMetadata {
    TransactionExtensionMetadata { identifier, ty: meta_type::<T>(), implicit: meta_type::<Implicit>() }
}

/// The extensions in finney's order; [`crate::types::node_subtensor_runtime::Extra`] decodes
/// their values in the same order.
fn transaction_extensions() -> Vec<TransactionExtensionMetadata> {
    vec![
        extension::<CheckNonZeroSender, ()>("CheckNonZeroSender"),
        extension::<CheckSpecVersion, u32>("CheckSpecVersion"),
        extension::<CheckTxVersion, u32>("CheckTxVersion"),
        extension::<CheckGenesis, H256>("CheckGenesis"),
        extension::<CheckMortality, H256>("CheckMortality"),
        extension::<CheckNonce, ()>("CheckNonce"),
        extension::<CheckWeight, ()>("CheckWeight"),
        extension::<ChargeTransactionPayment, ()>("ChargeTransactionPayment"),
        extension::<SudoTransactionExtension<Runtime>, ()>("SudoTransactionExtension"),
        extension::<CheckShieldedTxValidity<Runtime>, ()>("CheckShieldedTxValidity"),
        extension::<SubtensorTransactionExtension<Runtime>, ()>("SubtensorTransactionExtension"),
        extension::<DrandPriority<Runtime>, ()>("DrandPriority"),
        extension::<CheckMetadataHash, Option<[u8; 32]>>("CheckMetadataHash"),
    ]
}

fn extrinsic() -> ExtrinsicMetadata {
    let extensions = transaction_extensions();
    let indices = (0..u32::try_from(extensions.len()).unwrap_or(0)).map(Compact).collect();
    ExtrinsicMetadata {
        // Localnet accepts signed v4 extrinsics only (finney also lists 5).
        versions: vec![4],
        address_ty: meta_type::<MultiAddress<AccountId32, ()>>(),
        call_ty: meta_type::<RuntimeCall>(),
        signature_ty: meta_type::<MultiSignature>(),
        transaction_extensions_by_version: BTreeMap::from([(0, indices)]),
        transaction_extensions: extensions,
    }
}

fn api(name: &'static str, version: u32, methods: Vec<RuntimeApiMethodMetadata>) -> RuntimeApiMetadata {
    RuntimeApiMetadata { name, methods, docs: Vec::new(), version: Compact(version), deprecation_info: ItemDeprecationInfo::NotDeprecated }
}

fn method<Output: TypeInfo + 'static>(name: &'static str, inputs: Vec<(&'static str, MetaType)>) -> RuntimeApiMethodMetadata {
    RuntimeApiMethodMetadata {
        name,
        inputs: inputs.into_iter().map(|(name, ty)| RuntimeApiMethodParamMetadata { name, ty }).collect(),
        output: meta_type::<Output>(),
        docs: Vec::new(),
        deprecation_info: ItemDeprecationInfo::NotDeprecated,
    }
}

fn apis() -> Vec<RuntimeApiMetadata> {
    vec![
        api("Core", 5, vec![method::<RuntimeVersion>("version", vec![])]),
        api(
            "Metadata",
            2,
            vec![
                method::<OpaqueMetadata>("metadata", vec![]),
                method::<Option<OpaqueMetadata>>("metadata_at_version", vec![("version", meta_type::<u32>())]),
                method::<Vec<u32>>("metadata_versions", vec![]),
            ],
        ),
        api("AccountNonceApi", 1, vec![method::<u32>("account_nonce", vec![("account", meta_type::<AccountId32>())])]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_metadata_decodes_and_reads_like_the_runtime() {
        let served = ServedMetadata::build();
        let decoded = <RuntimeMetadataPrefixed as parity_scale_codec::Decode>::decode(&mut served.prefixed()).expect("metadata decodes");
        let frame_metadata::RuntimeMetadata::V16(metadata) = decoded.1 else { panic!("not V16") };
        let paths: Vec<String> = metadata.types.types.iter().map(|t| t.ty.path.segments.join("::")).collect();
        for expected in [
            "sp_runtime::DispatchError",
            "sp_core::crypto::AccountId32",
            "pallet_subtensor::pallet::Call",
            "node_subtensor_runtime::RuntimeCall",
            "sp_runtime::generic::era::Era",
        ] {
            assert!(paths.iter().any(|p| p == expected), "{expected} missing from {paths:?}");
        }
        assert!(paths.iter().all(|p| !p.starts_with("whetstone_localnet")), "crate paths leak: {paths:?}");
        let at_16 = served.at_version(16);
        assert_eq!(at_16[0], 1, "version 16 is offered");
        assert_eq!(served.at_version(14), vec![0], "other versions are not");
    }
}
