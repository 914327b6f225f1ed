//! `whetstone-localnet`: a local subtensor-compatible node for devnet and tests.
//!
//! One process serves, on 127.0.0.1, the substrate JSON-RPC subset an unmodified subxt
//! `OnlineClient` uses (legacy backend: `chain_*`, `state_*`, `author_*`, `system_*`), with
//! runtime metadata built here whose SubtensorModule calls, storage items, events and errors
//! have finney's names, field names, shapes and indices. Signed extrinsics are checked like a
//! real node checks them (sr25519 signature over the signed payload, nonce, mortality, the
//! transaction extensions finney declares) and dispatched by a small runtime that enforces
//! subtensor's rules for `set_weights`, `commit_timelocked_weights` and `burned_register`.
//!
//! Blocks: one block per submitted transaction, sealed and finalized at once (instant seal);
//! with `block_interval_ms` set, empty blocks are also sealed on a timer so epochs pass and
//! timelocked commits reveal without traffic. [`LocalnetHandle::seal_blocks`] advances the
//! chain on demand. State lives in memory and is gone when the node stops.
//!
//! ```no_run
//! # async fn example() -> Result<(), whetstone_localnet::LocalnetError> {
//! let mut config = whetstone_localnet::LocalnetConfig::default();
//! config.listen = "127.0.0.1:0".parse().expect("address");
//! let node = whetstone_localnet::spawn(config).await?;
//! println!("connect subxt to {}", node.url);
//! node.stop().await;
//! # Ok(()) }
//! ```

mod author;
pub mod beacon;
mod chain;
pub mod config;
mod extrinsic;
mod metadata;
mod rpc;
mod runtime;
mod storage;
pub mod types;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use beacon::{Beacon, BeaconInfo, BeaconPulse, LocalDrand};
pub use config::{AccountRef, ConfigError, DrandConfig, Hyperparameters, LocalnetConfig, NeuronConfig, SubnetConfig, TAO};
pub use extrinsic::InvalidTransaction;
pub use runtime::subtensor::weights::WeightsTlockPayload;
pub use types::{AccountId32, H256};

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalnetError {
    #[error("invalid localnet configuration")]
    Config(#[from] ConfigError),
    #[error("failed to listen on {addr}; is another node (or another localnet) using the port? choose another with --listen")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running localnet. [`stop`](Self::stop) stops it and waits; dropping the handle (or
/// cancelling [`shutdown`](Self::shutdown)) stops it without waiting.
#[derive(Debug)]
pub struct LocalnetHandle {
    /// WebSocket URL for subxt, e.g. `ws://127.0.0.1:9944`.
    pub url: String,
    /// HTTP URL of the same server (JSON-RPC over HTTP POST).
    pub http_url: String,
    pub addr: SocketAddr,
    /// The genesis block hash.
    pub genesis_hash: H256,
    /// Cancelling it stops the node.
    pub shutdown: CancellationToken,
    author: mpsc::Sender<author::Command>,
    /// The task that stops the server and the author once `shutdown` is cancelled.
    stopped: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for LocalnetHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl LocalnetHandle {
    /// Seals `count` blocks now (empty unless transactions are pending), returning their
    /// hashes: how tests make epochs pass.
    pub async fn seal_blocks(&self, count: u32) -> Vec<H256> {
        let (reply, hashes) = oneshot::channel();
        if self.author.send(author::Command::Seal { blocks: count, reply }).await.is_err() {
            return Vec::new();
        }
        hashes.await.unwrap_or_default()
    }

    /// Stops the server and the block author, and waits for both.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }

    /// Waits until the node stops (after `shutdown` is cancelled).
    pub async fn stopped(mut self) {
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }
}

/// Starts a node with `config`; unless `config.drand.enabled` is false it runs a
/// [`LocalDrand`] beacon starting now, so timelocked commits are revealed.
pub async fn spawn(config: LocalnetConfig) -> Result<LocalnetHandle, LocalnetError> {
    let beacon: Option<Arc<dyn Beacon>> = if config.drand.enabled {
        let now = (author::system_clock())();
        Some(Arc::new(LocalDrand::new(&config.drand.seed, now, config.drand.period_secs)?))
    } else {
        None
    };
    spawn_with_beacon(config, beacon).await
}

/// Starts a node whose Drand pallet stores `beacon`'s pulses (ignoring `config.drand`), so
/// timelocked commits are revealed once their round is published; `None` runs no beacon and
/// leaves commits unrevealed.
pub async fn spawn_with_beacon(config: LocalnetConfig, beacon: Option<Arc<dyn Beacon>>) -> Result<LocalnetHandle, LocalnetError> {
    let genesis_state = runtime::genesis::build(&config, beacon.as_deref())?;
    let genesis_header = types::sp_runtime::generic::header::Header {
        parent_hash: H256::default(),
        number: 0,
        state_root: H256(genesis_state.root()),
        extrinsics_root: H256(sp_crypto_hashing::blake2_256(&parity_scale_codec::Encode::encode(&Vec::<Vec<u8>>::new()))),
        digest: Default::default(),
    };
    let store = chain::ChainStore::new(genesis_header, genesis_state, config.state_pruning);
    let genesis_hash = store.genesis_hash();
    let store = Arc::new(RwLock::new(store));
    let runtime = runtime::Runtime {
        chain: extrinsic::ChainContext {
            genesis_hash,
            spec_version: runtime::SPEC_VERSION,
            transaction_version: runtime::TRANSACTION_VERSION,
        },
        beacon,
    };
    let (heads, _) = broadcast::channel(256);
    let (commands, receiver) = mpsc::channel(64);
    let context = rpc::RpcContext {
        store: store.clone(),
        author: commands.clone(),
        heads: heads.clone(),
        metadata: Arc::new(metadata::ServedMetadata::build()),
        runtime: runtime.clone(),
    };
    let (addr, server) = rpc::serve(config.listen, context).await.map_err(|source| LocalnetError::Bind { addr: config.listen, source })?;
    let author = author::Author {
        runtime,
        store,
        heads,
        interval: (config.block_interval_ms > 0).then(|| Duration::from_millis(config.block_interval_ms)),
        clock: author::system_clock(),
    };
    let shutdown = CancellationToken::new();
    let author_task = tokio::spawn(author.run(receiver, shutdown.clone()));
    let stop = shutdown.clone();
    let stopped = tokio::spawn(async move {
        stop.cancelled().await;
        let _ = server.stop();
        server.stopped().await;
        let _ = author_task.await;
    });
    tracing::info!(%addr, genesis = ?genesis_hash, "localnet listening");
    Ok(LocalnetHandle {
        url: format!("ws://{addr}"),
        http_url: format!("http://{addr}"),
        addr,
        genesis_hash,
        shutdown,
        author: commands,
        stopped: Some(stopped),
    })
}
