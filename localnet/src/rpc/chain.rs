//! `chain_*`: block hashes, headers, bodies and head subscriptions.

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{PendingSubscriptionSink, RpcModule};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::{RpcContext, json};

pub(super) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_method("chain_getBlockHash", |params, ctx, _| {
        let at: Option<Value> = params.sequence().optional_next()?;
        let store = ctx.store();
        let hash = |number: u64| store.by_number(number).map(|b| b.hash.to_hex());
        // substrate also accepts a list of numbers and answers with a list.
        Ok::<_, ErrorObjectOwned>(match at {
            None | Some(Value::Null) => json!(store.head().hash.to_hex()),
            Some(Value::Array(numbers)) => {
                let hashes: Result<Vec<_>, _> = numbers.iter().map(|n| json::block_number(n).map(hash)).collect();
                json!(hashes?)
            }
            Some(number) => json!(hash(json::block_number(&number)?)),
        })
    })?;
    module.register_method("chain_getHeader", |params, ctx, _| {
        let at = json::optional_hash(params.sequence().optional_next()?)?;
        let store = ctx.store();
        Ok::<_, ErrorObjectOwned>(match at {
            None => json::header(&store.head().header),
            Some(hash) => store.by_hash(&hash).map(|b| json::header(&b.header)).unwrap_or(Value::Null),
        })
    })?;
    module.register_method("chain_getBlock", |params, ctx, _| {
        let at = json::optional_hash(params.sequence().optional_next()?)?;
        let store = ctx.store();
        let block = match at {
            None => Some(store.head()),
            Some(hash) => store.by_hash(&hash),
        };
        Ok::<_, ErrorObjectOwned>(block.map_or(Value::Null, |b| {
            json!({
                "block": {
                    "header": json::header(&b.header),
                    "extrinsics": b.extrinsics.iter().map(|x| json::hex_bytes(x)).collect::<Vec<_>>(),
                },
                "justifications": null,
            })
        }))
    })?;
    for name in ["chain_getFinalizedHead", "chain_getFinalisedHead"] {
        module.register_method(name, |_, ctx, _| ctx.store().head().hash.to_hex())?;
    }
    // Every block is final when sealed, so the three head streams carry the same headers.
    for (subscribe, notification, unsubscribe) in [
        ("chain_subscribeNewHeads", "chain_newHead", "chain_unsubscribeNewHeads"),
        ("chain_subscribeAllHeads", "chain_allHead", "chain_unsubscribeAllHeads"),
        ("chain_subscribeFinalizedHeads", "chain_finalizedHead", "chain_unsubscribeFinalizedHeads"),
    ] {
        module.register_subscription(subscribe, notification, unsubscribe, |_, pending, ctx, _| async move {
            stream_heads(pending, &ctx).await;
        })?;
    }
    Ok(())
}

/// Sends the current head, then every new one, until the client unsubscribes.
async fn stream_heads(pending: PendingSubscriptionSink, ctx: &RpcContext) {
    let mut heads = ctx.heads.subscribe();
    let current = ctx.store().head().header.clone();
    let Ok(sink) = pending.accept().await else { return };
    let send = |header: &crate::types::sp_runtime::generic::header::Header| serde_json::value::to_raw_value(&json::header(header));
    let Ok(first) = send(&current) else { return };
    if sink.send(first).await.is_err() {
        return;
    }
    let mut last = current.number;
    loop {
        tokio::select! {
            () = sink.closed() => return,
            next = heads.recv() => match next {
                Ok(header) if header.number > last => {
                    last = header.number;
                    let Ok(message) = send(&header) else { return };
                    if sink.send(message).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                // A slow reader skips heads; clients fill gaps with chain_getBlockHash.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }
}
