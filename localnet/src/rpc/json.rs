//! JSON shapes of substrate's RPC: hex bytes, hashes, headers, block numbers.

use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};

use super::{codes, error};
use crate::types::H256;
use crate::types::sp_runtime::generic::header::Header;

pub(crate) fn hex_bytes(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub(crate) fn parse_hex(text: &str, what: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|e| error(jsonrpsee::types::error::INVALID_PARAMS_CODE, format!("{what} is not hex: {e}")))
}

pub(crate) fn parse_hash(text: &str) -> Result<H256, ErrorObjectOwned> {
    let bytes = parse_hex(text, "block hash")?;
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| error(jsonrpsee::types::error::INVALID_PARAMS_CODE, format!("a block hash has 32 bytes, not {}", b.len())))?;
    Ok(H256(array))
}

pub(crate) fn optional_hash(text: Option<String>) -> Result<Option<H256>, ErrorObjectOwned> {
    text.as_deref().map(parse_hash).transpose()
}

/// A header as substrate serialises it: hex hashes, hex number, digest logs as hex items.
pub(crate) fn header(header: &Header) -> Value {
    use parity_scale_codec::Encode;
    json!({
        "parentHash": header.parent_hash.to_hex(),
        "number": format!("0x{:x}", header.number),
        "stateRoot": header.state_root.to_hex(),
        "extrinsicsRoot": header.extrinsics_root.to_hex(),
        "digest": { "logs": header.digest.logs.iter().map(|item| hex_bytes(&item.encode())).collect::<Vec<_>>() },
    })
}

/// A block number given as a JSON number or a hex string.
pub(crate) fn block_number(value: &Value) -> Result<u64, ErrorObjectOwned> {
    let invalid = || error(jsonrpsee::types::error::INVALID_PARAMS_CODE, format!("{value} is not a block number"));
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(invalid),
        Value::String(s) => u64::from_str_radix(s.strip_prefix("0x").ok_or_else(invalid)?, 16).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

pub(crate) fn unavailable() -> ErrorObjectOwned {
    error(codes::UNAVAILABLE, "the localnet is shutting down")
}
