//! Starting a node and a subxt client, submitting calls, and reading storage.

use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::error::{DispatchError, TransactionEventsError, TransactionFinalizedSuccessError};
use subxt::ext::frame_decode::storage::{IntoDecodableValues, IntoEncodableValues};
use subxt::ext::scale_decode::DecodeAsType;
use subxt::ext::scale_encode::EncodeAsFields;
use subxt::extrinsics::ExtrinsicEvents;
use subxt::utils::AccountId32;
use subxt::{OnlineClient, SubstrateConfig};
use subxt_signer::sr25519::Keypair;
use whetstone_localnet::{LocalnetConfig, LocalnetHandle};

pub type Client = OnlineClient<SubstrateConfig>;
pub type Events = ExtrinsicEvents<SubstrateConfig>;
pub type TxError = TransactionFinalizedSuccessError;

pub const NETUID: u16 = 1;

/// The default devnet genesis on a free port.
pub fn test_config() -> LocalnetConfig {
    LocalnetConfig { listen: "127.0.0.1:0".parse().expect("address"), ..LocalnetConfig::default() }
}

pub async fn start(config: LocalnetConfig) -> (LocalnetHandle, Client) {
    let node = whetstone_localnet::spawn(config).await.expect("localnet starts");
    let client = Client::from_insecure_url(&node.url).await.expect("subxt connects");
    (node, client)
}

pub fn account(keypair: &Keypair) -> AccountId32 {
    keypair.public_key().to_account_id()
}

/// Signs `pallet.call(fields)` with `signer` (nonce from the chain, mortal), submits it and
/// waits until it is finalized with success.
pub async fn submit<Fields: EncodeAsFields>(
    client: &Client,
    signer: &Keypair,
    pallet: &str,
    call: &str,
    fields: Fields,
) -> Result<Events, TxError> {
    let tx = subxt::dynamic::tx(pallet, call, fields);
    client
        .tx()
        .await
        .expect("client at the current block")
        .sign_and_submit_then_watch_default(&tx, signer)
        .await
        .expect("the node accepts the transaction")
        .wait_for_finalized_success()
        .await
}

/// Like [`submit`] with explicit extrinsic parameters.
pub async fn submit_with<Fields: EncodeAsFields>(
    client: &Client,
    signer: &Keypair,
    params: DefaultExtrinsicParamsBuilder<SubstrateConfig>,
    pallet: &str,
    call: &str,
    fields: Fields,
) -> Result<Events, subxt::Error> {
    let tx = subxt::dynamic::tx(pallet, call, fields);
    Ok(client.tx().await?.sign_and_submit_then_watch(&tx, signer, params.build()).await?.wait_for_finalized_success().await?)
}

/// The `Pallet::Error` name of a failed extrinsic, as subxt decodes it from the metadata.
pub fn module_error(error: &TxError) -> String {
    match error {
        TransactionFinalizedSuccessError::SuccessError(TransactionEventsError::ExtrinsicFailed(DispatchError::Module(module))) => {
            let details = module.details().expect("the error is in the metadata");
            format!("{}::{}", details.pallet.name(), details.variant.name)
        }
        other => panic!("expected a module error, got {other}"),
    }
}

/// Reads a storage value at the current block (the item's default when absent).
pub async fn read<Keys, Value>(client: &Client, pallet: &str, entry: &str, keys: Keys) -> Value
where
    Keys: IntoEncodableValues + IntoDecodableValues,
    Value: DecodeAsType,
{
    let at = client.at_current_block().await.expect("current block");
    let address = subxt::dynamic::storage::<Keys, Value>(pallet, entry);
    at.storage().fetch(address, keys).await.expect("storage read").decode().expect("value decodes")
}

pub async fn block_number(client: &Client) -> u64 {
    client.at_current_block().await.expect("current block").block_number()
}

/// The (pallet, event) names of the extrinsic's events, in order.
pub fn event_names(events: &Events) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let e = e.expect("event decodes");
            (e.pallet_name().to_owned(), e.event_name().to_owned())
        })
        .collect()
}

/// The SCALE field bytes of the first `pallet.name` event.
pub fn event_fields(events: &Events, pallet: &str, name: &str) -> Vec<u8> {
    events
        .iter()
        .map(|e| e.expect("event decodes"))
        .find(|e| e.pallet_name() == pallet && e.event_name() == name)
        .unwrap_or_else(|| panic!("no {pallet}.{name} event in {:?}", event_names(events)))
        .field_bytes()
        .to_vec()
}
