//! An unmodified subxt client connects, reads metadata, blocks and the metagraph.

use subxt::utils::AccountId32;
use subxt_signer::sr25519::dev;

use crate::support::*;

#[tokio::test]
async fn subxt_connects_and_reads_the_genesis_metagraph() {
    let (node, client) = start(test_config()).await;
    assert_eq!(client.genesis_hash().0, node.genesis_hash.0);
    let at = client.at_current_block().await.expect("current block");
    assert_eq!(at.block_number(), 0);
    assert!(at.metadata().pallet_by_name("SubtensorModule").is_some());

    assert_eq!(read::<_, u16>(&client, "SubtensorModule", "SubnetworkN", (NETUID,)).await, 6);
    assert_eq!(read::<_, u16>(&client, "SubtensorModule", "Tempo", (NETUID,)).await, 10);
    let alice = account(&dev::alice());
    let uid: u16 = read(&client, "SubtensorModule", "Uids", (NETUID, alice)).await;
    assert_eq!(uid, 0);
    let keys: AccountId32 = read(&client, "SubtensorModule", "Keys", (NETUID, 1u16)).await;
    assert_eq!(keys, account(&dev::bob()));
    let permits: Vec<bool> = read(&client, "SubtensorModule", "ValidatorPermit", (NETUID,)).await;
    assert_eq!(permits, vec![true, false, false, false, false, true], "Alice and Ferdie validate");
    let stake: u64 = read(&client, "SubtensorModule", "TotalHotkeyAlpha", (alice, NETUID)).await;
    assert_eq!(stake, 1000 * whetstone_localnet::TAO);
    // An absent item reads as finney's default.
    let version: u16 = read(&client, "SubtensorModule", "CommitRevealWeightsVersion", ()).await;
    assert_eq!(version, 4);

    node.stop().await;
}

#[tokio::test]
async fn subxt_iterates_a_map_through_paged_keys() {
    let (node, client) = start(test_config()).await;
    let at = client.at_current_block().await.expect("current block");
    let address = subxt::dynamic::storage::<(u16, u16), AccountId32>("SubtensorModule", "Keys");
    let mut entries = at.storage().iter(address, (NETUID,)).await.expect("iteration starts");
    let mut hotkeys = Vec::new();
    while let Some(entry) = entries.next().await {
        let entry = entry.expect("entry");
        hotkeys.push(entry.value().decode().expect("hotkey decodes"));
    }
    let expected: Vec<AccountId32> =
        [dev::alice(), dev::bob(), dev::charlie(), dev::dave(), dev::eve(), dev::ferdie()].iter().map(account).collect();
    assert_eq!(hotkeys, expected, "uid order, as the Identity-hashed keys sort");
    node.stop().await;
}

#[tokio::test]
async fn new_blocks_reach_block_subscribers() {
    let (node, client) = start(test_config()).await;
    let mut blocks = client.stream_blocks().await.expect("finalized block stream");
    // subxt subscribes on the first poll; the current head comes first.
    let head = blocks.next().await.expect("stream open").expect("block");
    assert_eq!((head.number(), head.hash().0), (0, node.genesis_hash.0));
    let hashes = node.seal_blocks(2).await;
    for (number, hash) in (1..).zip(hashes) {
        let block = blocks.next().await.expect("stream open").expect("block");
        assert_eq!((block.number(), block.hash().0), (number, hash.0), "headers hash as the node does");
    }
    node.stop().await;
}

#[tokio::test]
async fn a_dropped_handle_stops_the_node_and_frees_its_port() {
    let node = whetstone_localnet::spawn(test_config()).await.expect("starts");
    let addr = node.addr;
    drop(node);
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "{addr} still accepts connections after the handle was dropped");
}
