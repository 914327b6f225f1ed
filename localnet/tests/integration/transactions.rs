//! How the node checks transactions: signatures, nonces, eras, large payloads, and the
//! registration and remark calls.

use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::ext::codec::Decode;
use subxt_signer::sr25519::dev;

use crate::support::*;

#[tokio::test]
async fn a_tampered_signature_is_rejected_before_any_block() {
    let (node, client) = start(test_config()).await;
    let tx = subxt::dynamic::tx("System", "remark", (vec![1u8, 2, 3],));
    let mut at = client.tx().await.expect("client");
    let signed = at.create_signed(&tx, &dev::alice(), Default::default()).await.expect("signed");
    let mut bytes = signed.encoded().to_vec();
    // Address (1 + 32 bytes) follows the length prefix and the version byte; flip a
    // signature byte after it.
    let signature_byte = 2 + 33 + 5;
    bytes[signature_byte] ^= 0xff;
    let outcome = at.from_bytes(bytes).submit_and_watch().await;
    let error = outcome.expect_err("a bad signature is refused").to_string();
    assert!(error.contains("bad signature"), "{error}");
    assert_eq!(block_number(&client).await, 0, "nothing was sealed");
    node.stop().await;
}

#[tokio::test]
async fn a_reused_nonce_is_reported_as_outdated() {
    let (node, client) = start(test_config()).await;
    submit(&client, &dev::alice(), "System", "remark", (vec![0u8],)).await.expect("nonce 0");
    let outcome =
        submit_with(&client, &dev::alice(), DefaultExtrinsicParamsBuilder::new().nonce(0), "System", "remark", (vec![1u8],)).await;
    let error = outcome.expect_err("nonce 0 is spent").to_string();
    assert!(error.contains("outdated"), "{error}");
    node.stop().await;
}

#[tokio::test]
async fn payloads_over_256_bytes_are_signed_as_their_hash() {
    let (node, client) = start(test_config()).await;
    let remark = vec![7u8; 1000];
    let events = submit(&client, &dev::bob(), "System", "remark_with_event", (remark.clone(),)).await.expect("remark");
    let (sender, hash) = <([u8; 32], [u8; 32])>::decode(&mut &event_fields(&events, "System", "Remarked")[..]).expect("fields");
    assert_eq!(sender, account(&dev::bob()).0);
    assert_eq!(hash, sp_crypto_hashing::blake2_256(&remark));
    node.stop().await;
}

#[tokio::test]
async fn immortal_and_mortal_transactions_are_both_accepted() {
    let (node, client) = start(test_config()).await;
    node.seal_blocks(40).await;
    for params in [DefaultExtrinsicParamsBuilder::new().immortal(), DefaultExtrinsicParamsBuilder::new().mortal(8)] {
        submit_with(&client, &dev::charlie(), params, "System", "remark", (vec![1u8],)).await.expect("accepted");
    }
    let nonce: u64 = client.tx().await.expect("client").account_nonce(&account(&dev::charlie())).await.expect("nonce");
    assert_eq!(nonce, 2);
    node.stop().await;
}

#[tokio::test]
async fn burned_register_adds_a_neuron_and_charges_the_coldkey() {
    let (node, client) = start(test_config()).await;
    let hotkey = subxt_signer::sr25519::Keypair::from_uri(&"//Alice//miner".parse().expect("uri")).expect("key");
    let hotkey_id = account(&hotkey);
    let before: Vec<u8> = account_data(&client, &dev::alice()).await;
    let events = submit(&client, &dev::alice(), "SubtensorModule", "burned_register", (NETUID, hotkey_id)).await.expect("registered");
    let (netuid, uid, registered) =
        <(u16, u16, [u8; 32])>::decode(&mut &event_fields(&events, "SubtensorModule", "NeuronRegistered")[..]).expect("fields");
    assert_eq!((netuid, uid, registered), (NETUID, 6, hotkey_id.0));
    assert_eq!(read::<_, u16>(&client, "SubtensorModule", "SubnetworkN", (NETUID,)).await, 7);
    let after: Vec<u8> = account_data(&client, &dev::alice()).await;
    let free = |data: &[u8]| u64::decode(&mut &data[16..24]).expect("free balance");
    assert_eq!(free(&before) - free(&after), 100_000_000, "the burn left the coldkey");

    let again =
        submit(&client, &dev::alice(), "SubtensorModule", "burned_register", (NETUID, hotkey_id)).await.expect_err("already registered");
    assert_eq!(module_error(&again), "SubtensorModule::HotKeyAlreadyRegisteredInSubNet");
    node.stop().await;
}

/// The raw `System.Account` bytes (nonce, refcounts, then free balance at 16..24).
async fn account_data(client: &Client, who: &subxt_signer::sr25519::Keypair) -> Vec<u8> {
    let at = client.at_current_block().await.expect("current block");
    let mut key = sp_crypto_hashing::twox_128(b"System").to_vec();
    key.extend(sp_crypto_hashing::twox_128(b"Account"));
    let id = account(who).0;
    key.extend(sp_crypto_hashing::blake2_128(&id));
    key.extend(id);
    at.storage().fetch_raw(key).await.expect("account exists")
}

#[tokio::test]
async fn rpc_methods_over_http_advertise_the_legacy_api_only() {
    let (node, _client) = start(test_config()).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"rpc_methods","params":[]}"#;
    let response = http_post(node.addr, body).await;
    assert!(response.contains("author_submitAndWatchExtrinsic"), "{response}");
    assert!(response.contains("state_getKeysPaged"), "{response}");
    assert!(!response.contains("chainHead_v1"), "subxt must choose its legacy backend: {response}");
    node.stop().await;
}

async fn http_post(addr: std::net::SocketAddr, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}
