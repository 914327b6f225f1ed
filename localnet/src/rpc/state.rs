//! `state_*`: storage reads at a block, metadata, runtime version and runtime API calls.

use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::ErrorObjectOwned;
use parity_scale_codec::{Compact, Decode, Encode};
use serde_json::{Value, json};

use super::{RpcContext, codes, error, json};
use crate::storage::State;
use crate::types::frame_support::dispatch::DispatchClass;
use crate::types::sp_runtime::generic::header::Header;
use crate::types::sp_weights::weight_v2::Weight;
use crate::types::{AccountId32, H256};
use crate::{metadata, runtime};

/// Most keys one `state_getKeysPaged` call returns, as substrate limits it.
const MAX_KEYS_PER_PAGE: u32 = 1000;

pub(super) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    for name in ["state_getStorage", "state_getStorageAt"] {
        module.register_method(name, |params, ctx, _| {
            let mut seq = params.sequence();
            let key = json::parse_hex(&seq.next::<String>()?, "storage key")?;
            let at = json::optional_hash(seq.optional_next()?)?;
            let state = ctx.store().state(at)?;
            Ok::<_, ErrorObjectOwned>(state.raw(&key).map(json::hex_bytes))
        })?;
    }
    for name in ["state_getKeysPaged", "state_getKeysPagedAt"] {
        module.register_method(name, |params, ctx, _| {
            let mut seq = params.sequence();
            let prefix = json::parse_hex(&seq.next::<String>()?, "key prefix")?;
            let count: u32 = seq.next()?;
            let start: Option<String> = seq.optional_next()?;
            let at = json::optional_hash(seq.optional_next()?)?;
            if count > MAX_KEYS_PER_PAGE {
                return Err(error(
                    jsonrpsee::types::error::INVALID_PARAMS_CODE,
                    format!("count {count} exceeds the maximum of {MAX_KEYS_PER_PAGE} keys per page"),
                ));
            }
            let start = start.map(|s| json::parse_hex(&s, "start key")).transpose()?;
            let state = ctx.store().state(at)?;
            let keys: Vec<String> =
                state.keys_with_prefix(&prefix, start.as_deref()).take(count as usize).map(|k| json::hex_bytes(k)).collect();
            Ok(keys)
        })?;
    }
    module.register_method("state_getKeys", |params, ctx, _| {
        let mut seq = params.sequence();
        let prefix = json::parse_hex(&seq.next::<String>()?, "key prefix")?;
        let at = json::optional_hash(seq.optional_next()?)?;
        let state = ctx.store().state(at)?;
        let keys: Vec<String> = state.keys_with_prefix(&prefix, None).map(|k| json::hex_bytes(k)).collect();
        Ok::<_, ErrorObjectOwned>(keys)
    })?;
    module.register_method("state_queryStorageAt", |params, ctx, _| {
        let mut seq = params.sequence();
        let keys: Vec<String> = seq.next()?;
        let at = json::optional_hash(seq.optional_next()?)?;
        let store = ctx.store();
        let block = store.block(at)?;
        let state = store.state(at)?;
        let mut changes = Vec::with_capacity(keys.len());
        for key in keys {
            let bytes = json::parse_hex(&key, "storage key")?;
            changes.push(json!([key, state.raw(&bytes).map(json::hex_bytes)]));
        }
        Ok::<_, ErrorObjectOwned>(json!([{ "block": block.hash.to_hex(), "changes": changes }]))
    })?;
    module.register_method("state_getMetadata", |params, ctx, _| {
        let at = json::optional_hash(params.sequence().optional_next()?)?;
        ctx.store().block(at)?;
        Ok::<_, ErrorObjectOwned>(json::hex_bytes(ctx.metadata.prefixed()))
    })?;
    for name in ["state_getRuntimeVersion", "chain_getRuntimeVersion"] {
        module.register_method(name, |params, ctx, _| {
            let at = json::optional_hash(params.sequence().optional_next()?)?;
            ctx.store().block(at)?;
            Ok::<_, ErrorObjectOwned>(runtime_version_json())
        })?;
    }
    module.register_subscription(
        "state_subscribeRuntimeVersion",
        "state_runtimeVersion",
        "state_unsubscribeRuntimeVersion",
        |_, pending, _, _| async move {
            // The runtime never upgrades, so the first version is the only one.
            let Ok(sink) = pending.accept().await else { return };
            if let Ok(message) = serde_json::value::to_raw_value(&runtime_version_json()) {
                let _ = sink.send(message).await;
            }
            sink.closed().await;
        },
    )?;
    module.register_method("state_call", |params, ctx, _| {
        let mut seq = params.sequence();
        let method: String = seq.next()?;
        let data = json::parse_hex(&seq.next::<String>()?, "call data")?;
        let at = json::optional_hash(seq.optional_next()?)?;
        let (block, state) = {
            let store = ctx.store();
            let block = store.block(at)?;
            ((block.header.clone(), block.hash), store.state(at)?)
        };
        call_runtime_api(ctx, &block, &state, &method, &data).map(|bytes| json::hex_bytes(&bytes))
    })?;
    Ok(())
}

fn runtime_version_json() -> Value {
    let version = runtime::runtime_version();
    json!({
        "specName": version.spec_name.0,
        "implName": version.impl_name.0,
        "authoringVersion": version.authoring_version,
        "specVersion": version.spec_version,
        "implVersion": version.impl_version,
        "apis": version.apis.0.iter().map(|(id, v)| json!([json::hex_bytes(id), v])).collect::<Vec<_>>(),
        "transactionVersion": version.transaction_version,
        "systemVersion": version.system_version,
    })
}

fn bad_input(method: &str, e: parity_scale_codec::Error) -> ErrorObjectOwned {
    error(codes::STATE_ERROR, format!("Client error: Execution failed: {method}: could not decode the input: {e}"))
}

/// The runtime APIs localnet answers, with SCALE input and output as a real runtime's.
fn call_runtime_api(
    ctx: &RpcContext,
    block: &(Header, H256),
    state: &State,
    method: &str,
    mut data: &[u8],
) -> Result<Vec<u8>, ErrorObjectOwned> {
    match method {
        "Core_version" => Ok(runtime::runtime_version().encode()),
        "Metadata_metadata" => Ok(ctx.metadata.opaque()),
        "Metadata_metadata_versions" => Ok(metadata::VERSIONS.to_vec().encode()),
        "Metadata_metadata_at_version" => {
            let version = u32::decode(&mut data).map_err(|e| bad_input(method, e))?;
            Ok(ctx.metadata.at_version(version))
        }
        "AccountNonceApi_account_nonce" => {
            let account = AccountId32::decode(&mut data).map_err(|e| bad_input(method, e))?;
            Ok(runtime::system::account(state, &account).nonce.encode())
        }
        "TaggedTransactionQueue_validate_transaction" => {
            // (TransactionSource, the extrinsic as the block holds it, the block hash)
            let _source = u8::decode(&mut data).map_err(|e| bad_input(method, e))?;
            let before = data;
            let Compact(length) = Compact::<u32>::decode(&mut data).map_err(|e| bad_input(method, e))?;
            let prefix_len = before.len() - data.len();
            let total = prefix_len + length as usize;
            let extrinsic = before.get(..total).ok_or_else(|| error(codes::STATE_ERROR, "extrinsic is truncated"))?;
            Ok(validate_transaction(ctx, block, state, extrinsic))
        }
        "TransactionPaymentApi_query_info" => {
            // Localnet charges no fees: (weight, class, partial_fee) with a u64 fee as subtensor's.
            Ok((Weight::default(), DispatchClass::Normal, 0u64).encode())
        }
        other => Err(error(codes::STATE_ERROR, format!("Client error: Execution failed: Other(\"Exported method {other} is not found\")"))),
    }
}

/// `TransactionValidity`: `Ok(ValidTransaction)` or `Err(Invalid(InvalidTransaction))`.
fn validate_transaction(ctx: &RpcContext, (header, hash): &(Header, H256), state: &State, extrinsic: &[u8]) -> Vec<u8> {
    let next = ctx.runtime.next_block_state(header, *hash, state);
    match ctx.runtime.check(&next, extrinsic) {
        Ok(checked) => {
            let provides = vec![(checked.signer, checked.nonce).encode()];
            let valid = (0u64, Vec::<Vec<u8>>::new(), provides, u64::MAX, true);
            let mut out = vec![0u8];
            valid.encode_to(&mut out);
            out
        }
        Err(invalid) => vec![1, 0, invalid.code()],
    }
}
