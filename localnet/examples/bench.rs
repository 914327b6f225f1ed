//! Localnet figures, printed as a table: start-up, subxt connect, transaction round trips
//! (submit, seal, finalize, events) and storage reads, on a subnet of 256 neurons.
//!
//! `cargo run -p whetstone-localnet --example bench [-- ROUNDS]` (default 100 rounds).

use std::time::{Duration, Instant};

use subxt::{OnlineClient, SubstrateConfig};
use subxt_signer::sr25519::{Keypair, dev};
use whetstone_localnet::{AccountRef, LocalnetConfig, NeuronConfig, SubnetConfig};

type Client = OnlineClient<SubstrateConfig>;

const NEURONS: u16 = 256;

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let mut rows = Vec::new();

    let mut config = LocalnetConfig { listen: "127.0.0.1:0".parse().expect("address"), ..LocalnetConfig::default() };
    let mut subnet = SubnetConfig::default_devnet();
    subnet.hyperparameters.weights_set_rate_limit = 0;
    subnet.neurons.extend((subnet.neurons.len()..usize::from(NEURONS)).map(|i| NeuronConfig {
        hotkey: AccountRef(format!("//Neuron{i}")),
        coldkey: None,
        stake: 0,
        validator_permit: false,
    }));
    config.subnets = vec![subnet];

    let started = Instant::now();
    let node = whetstone_localnet::spawn(config).await.expect("localnet starts");
    rows.push(("start (genesis of 256 neurons, bind)".to_owned(), vec![started.elapsed()]));
    let started = Instant::now();
    let client = Client::from_insecure_url(&node.url).await.expect("connects");
    let _ = client.at_current_block().await.expect("metadata");
    rows.push(("subxt connect + metadata".to_owned(), vec![started.elapsed()]));

    let alice = dev::alice();
    let mut remarks = Vec::new();
    for i in 0..rounds {
        let tx = subxt::dynamic::tx("System", "remark", (vec![i as u8; 32],));
        remarks.push(round_trip(&client, &alice, &tx).await);
    }
    rows.push((format!("System.remark round trip (x{rounds})"), remarks));

    let dests: Vec<u16> = (0..NEURONS).collect();
    let weights: Vec<u16> = (1..=NEURONS).collect();
    let mut sets = Vec::new();
    for _ in 0..rounds {
        let tx = subxt::dynamic::tx("SubtensorModule", "set_weights", (1u16, dests.clone(), weights.clone(), 0u64));
        sets.push(round_trip(&client, &alice, &tx).await);
    }
    rows.push((format!("set_weights, 256 uids, round trip (x{rounds})"), sets));

    let mut reads = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let at = client.at_current_block().await.expect("block");
        let address = subxt::dynamic::storage::<(u16, u16), Vec<(u16, u16)>>("SubtensorModule", "Weights");
        let row = at.storage().fetch(address, (1u16, 0u16)).await.expect("read").decode().expect("decodes");
        assert_eq!(row.len(), usize::from(NEURONS));
        reads.push(started.elapsed());
    }
    rows.push((format!("Weights row read, 256 entries (x{rounds})"), reads));
    node.stop().await;

    println!("{:<44} {:>10} {:>10} {:>10} {:>10}", "operation", "p50 ms", "p95 ms", "max ms", "per s");
    for (name, mut samples) in rows {
        samples.sort();
        let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        let total: Duration = samples.iter().sum();
        let per_second = samples.len() as f64 / total.as_secs_f64();
        println!("{name:<44} {:>10.2} {:>10.2} {:>10.2} {:>10.1}", ms(pick(0.5)), ms(pick(0.95)), ms(pick(1.0)), per_second);
    }
}

async fn round_trip<Call: subxt::transactions::Payload>(client: &Client, signer: &Keypair, tx: &Call) -> Duration {
    let started = Instant::now();
    client
        .tx()
        .await
        .expect("client")
        .sign_and_submit_then_watch_default(tx, signer)
        .await
        .expect("accepted")
        .wait_for_finalized_success()
        .await
        .expect("succeeds");
    started.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
