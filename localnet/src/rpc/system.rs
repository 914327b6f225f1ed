//! `system_*`: node identity, health, properties and an account's next nonce.

use std::str::FromStr;

use jsonrpsee::RpcModule;
use jsonrpsee::core::RegisterMethodError;
use serde_json::json;

use super::{RpcContext, error};
use crate::runtime;
use crate::types::AccountId32;

pub(super) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_method("system_name", |_, _, _| runtime::IMPL_NAME)?;
    module.register_method("system_version", |_, _, _| env!("CARGO_PKG_VERSION"))?;
    module.register_method("system_chain", |_, _, _| "Whetstone Localnet")?;
    module.register_method("system_chainType", |_, _, _| "Development")?;
    module.register_method("system_properties", |_, _, _| json!({ "ss58Format": 42, "tokenDecimals": 9, "tokenSymbol": "TAO" }))?;
    module.register_method("system_health", |_, _, _| json!({ "peers": 0, "isSyncing": false, "shouldHavePeers": false }))?;
    module.register_method("system_accountNextIndex", |params, ctx, _| {
        let address: String = params.one()?;
        let account = subxt_utils_accountid32::AccountId32::from_str(&address)
            .map(|a| AccountId32(a.0))
            .map_err(|e| error(jsonrpsee::types::error::INVALID_PARAMS_CODE, format!("{address} is not an SS58 address: {e}")))?;
        let state = ctx.store().head_state();
        Ok::<_, jsonrpsee::types::ErrorObjectOwned>(runtime::system::account(&state, &account).nonce)
    })?;
    Ok(())
}
