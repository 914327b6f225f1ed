//! The subxt [`Config`] for subtensor: the account, address and signature types of
//! `node-subtensor-runtime`, blake2-256 hashing, and subxt's metadata-driven transaction
//! extensions.
//!
//! Transaction extensions are not fixed here on purpose. Subtensor declares its own
//! (`SubtensorTransactionExtension`, `DrandPriority`, `CheckShieldedTxValidity`,
//! `SudoTransactionExtension`, a custom `CheckNonce` and `CheckMortality`...) and changes them
//! with runtime upgrades; [`DefaultTransactionExtensions`] encodes whatever list the node's
//! metadata declares, in its order, filling the ones subxt knows and skipping the zero-sized
//! ones. An extension that carries data subxt cannot fill is caught at connect time by
//! [`super::shapes`], not at the first weight submission.

use subxt::ArcMetadata;
use subxt::config::substrate::{BlakeTwo256, SubstrateHeader};
use subxt::config::{Config, DefaultTransactionExtensions, HashFor, SubstrateConfig};
use subxt::utils::{AccountId32, H256, MultiAddress, MultiSignature};

/// Subtensor's chain configuration for subxt. It keeps subxt's per-spec-version metadata
/// cache, so a runtime upgrade is picked up from the node rather than from a compiled copy.
#[derive(Debug, Clone, Default)]
pub struct SubtensorConfig {
    inner: SubstrateConfig,
}

impl SubtensorConfig {
    /// The configuration an online client uses: everything is learnt from the node.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration that needs no node: the metadata, genesis hash and versions are
    /// given. Used to build and check extrinsics against a metadata file.
    pub fn offline(metadata: ArcMetadata, genesis_hash: [u8; 32], spec_version: u32, transaction_version: u32) -> Self {
        let inner = SubstrateConfig::builder()
            .set_genesis_hash(H256(genesis_hash))
            .set_spec_version_for_block_ranges([subxt::config::substrate::SpecVersionForRange {
                block_range: 0..u64::MAX,
                spec_version,
                transaction_version,
            }])
            .set_metadata_for_spec_versions([(spec_version, metadata)])
            .build();
        Self { inner }
    }
}

impl Config for SubtensorConfig {
    type AccountId = AccountId32;
    /// `sp_runtime::MultiAddress<AccountId, ()>`: subtensor has no account indices.
    type Address = MultiAddress<AccountId32, ()>;
    type Signature = MultiSignature;
    type Header = SubstrateHeader<H256>;
    type TransactionExtensions = DefaultTransactionExtensions<Self>;
    type AssetId = u32;
    type Hasher = BlakeTwo256;

    fn genesis_hash(&self) -> Option<HashFor<Self>> {
        self.inner.genesis_hash()
    }

    fn spec_and_transaction_version_for_block_number(&self, block_number: u64) -> Option<(u32, u32)> {
        self.inner.spec_and_transaction_version_for_block_number(block_number)
    }

    fn metadata_for_spec_version(&self, spec_version: u32) -> Option<ArcMetadata> {
        self.inner.metadata_for_spec_version(spec_version)
    }

    fn set_metadata_for_spec_version(&self, spec_version: u32, metadata: ArcMetadata) {
        self.inner.set_metadata_for_spec_version(spec_version, metadata);
    }
}
