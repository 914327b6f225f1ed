//! Weight extrinsics built and read back without a node, against a given metadata. The client
//! probes every runtime it meets this way (connect, and each spec version after), and the
//! compatibility test does the same against finney's live metadata: the bytes come from the
//! same code path as a real submission, so "it encodes against finney" means what it says.

use subxt::client::OfflineClient;
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::ext::scale_value::{self, Value};
use subxt::{ArcMetadata, Metadata};

use super::call::WeightsCallData;
use super::error::error_text;
use super::shapes;
use super::{ChainError, SubtensorConfig};

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
