//! [`SubtensorClient`]: subxt against a subtensor node (finney, testnet, or devnet's
//! localnet) for what Whetstone needs from the chain: the metagraph and hyperparameters of
//! a subnet, and weight submission (`set_weights`, or `commit_timelocked_weights` when the
//! subnet runs commit-reveal).
//!
//! Everything is dynamic: calls and storage are addressed by name against the metadata the
//! node serves, and [`shapes::check_metadata`] compares that metadata with what this client
//! encodes and decodes when it connects and again whenever the runtime's spec version
//! changes, so an upgrade that breaks us is reported by name instead of mis-encoding.

mod call;
pub mod config;
pub mod error;
pub mod offline;
pub mod shapes;
mod storage;
mod submit;

use std::sync::RwLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use subxt::OnlineClient;
use subxt::client::OnlineClientAtBlock;

pub use call::{WeightCall, WeightsCallData};
pub use config::SubtensorConfig;
pub use error::{ChainError, Rejection};
pub use shapes::{ShapeMismatch, ShapeMismatches, check_metadata};
pub use storage::{ConsensusRecord, Hyperparameters, NeuronRecord, TimelockedCommitRecord};
pub use submit::WeightsReceipt;

/// Devnet's localnet, where `whetstone devnet` and `whetstone localnet` listen by default.
pub const DEFAULT_ENDPOINT: &str = "ws://127.0.0.1:9944";

/// Named networks, as the Bittensor SDK calls them.
pub const NETWORKS: &[(&str, &str)] = &[
    ("finney", "wss://entrypoint-finney.opentensor.ai:443"),
    ("test", "wss://test.finney.opentensor.ai:443"),
    ("local", DEFAULT_ENDPOINT),
];

/// A URL from a `--chain.endpoint` value: a ws/wss URL or a network name.
pub fn resolve_endpoint(endpoint: &str) -> Result<String, ChainError> {
    let trimmed = endpoint.trim();
    if let Some((_, url)) = NETWORKS.iter().find(|(name, _)| *name == trimmed) {
        return Ok((*url).to_owned());
    }
    if (trimmed.starts_with("ws://") || trimmed.starts_with("wss://")) && trimmed.len() > "wss://".len() {
        return Ok(trimmed.to_owned());
    }
    Err(ChainError::BadEndpoint(endpoint.to_owned()))
}

/// How submissions retry transient failures: dropped connections, a busy pool, a
/// transaction outbid by another ("priority too low").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included. Default 4.
    pub attempts: u32,
    /// Wait before the second try; doubled each time. Default 2 s.
    pub first_backoff: Duration,
    /// Longest wait between tries. Default 30 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 4, first_backoff: Duration::from_secs(2), max_backoff: Duration::from_secs(30) }
    }
}

/// How a client behaves beyond where it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientOptions {
    pub retry: RetryPolicy,
    /// Real time per block, for turning blocks into wall-clock time (reveal rounds, "allowed
    /// in N minutes"). Default: twice the runtime's `Timestamp::MinimumPeriod` (12 s on
    /// finney), or 12 s when the runtime does not say.
    pub block_time: Option<Duration>,
    /// Skip refusing locally what the chain would refuse (permit, version key, rate limit),
    /// so the chain's own verdict comes back: for diagnosing a disagreement. Default false.
    pub skip_local_checks: bool,
}

/// A connection to a subtensor node whose runtime has been checked against this client.
#[derive(Debug)]
pub struct SubtensorClient {
    url: String,
    block_time: Duration,
    local_checks: bool,
    /// Replaced when the connection drops (the jsonrpsee client does not reconnect).
    api: RwLock<OnlineClient<SubtensorConfig>>,
    /// The spec version whose metadata passed [`check_metadata`].
    checked_spec: AtomicU32,
    retry: RetryPolicy,
}

impl SubtensorClient {
    /// Connects to `endpoint` (a ws/wss URL, or `finney` / `test` / `local`) and checks its
    /// runtime.
    pub async fn connect(endpoint: &str) -> Result<Self, ChainError> {
        Self::connect_with(endpoint, ClientOptions::default()).await
    }

    pub async fn connect_with(endpoint: &str, options: ClientOptions) -> Result<Self, ChainError> {
        let url = resolve_endpoint(endpoint)?;
        let api = open(&url).await?;
        let mut client = Self {
            url,
            block_time: Duration::from_secs(error::SECONDS_PER_BLOCK),
            local_checks: !options.skip_local_checks,
            api: RwLock::new(api),
            checked_spec: AtomicU32::new(u32::MAX),
            retry: options.retry,
        };
        let at = client.at_head().await?;
        client.block_time = options.block_time.unwrap_or_else(|| block_time_of(at.metadata_ref()));
        Ok(client)
    }

    /// Whether submissions are checked against the chain's rules before signing.
    pub fn local_checks(&self) -> bool {
        self.local_checks
    }

    /// Real time per block (see [`ClientOptions::block_time`]).
    pub fn block_time(&self) -> Duration {
        self.block_time
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The genesis hash, hex: tells finney, testnet and a localnet apart.
    pub fn genesis_hash(&self) -> String {
        format!("{:?}", self.api().genesis_hash())
    }

    fn api(&self) -> OnlineClient<SubtensorConfig> {
        match self.api.read() {
            Ok(api) => api.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Opens a fresh connection after the old one dropped.
    async fn reconnect(&self) -> Result<(), ChainError> {
        let api = open(&self.url).await?;
        tracing::info!(url = %self.url, "reconnected to the subtensor node");
        match self.api.write() {
            Ok(mut slot) => *slot = api,
            Err(poisoned) => *poisoned.into_inner() = api,
        }
        Ok(())
    }

    /// The latest finalized block, with its runtime checked.
    pub(crate) async fn at_head(&self) -> Result<OnlineClientAtBlock<SubtensorConfig>, ChainError> {
        let at = self.api().at_current_block().await.map_err(|e| self.connection_error("read the chain head", e.into()))?;
        let spec_version = at.spec_version();
        if self.checked_spec.load(Ordering::Acquire) != spec_version {
            check_metadata(at.metadata_ref()).map_err(|mismatches| ChainError::IncompatibleRuntime {
                endpoint: self.url.clone(),
                spec_version,
                mismatches,
            })?;
            offline::probe(at.metadata())?;
            if self.checked_spec.swap(spec_version, Ordering::AcqRel) != u32::MAX {
                tracing::info!(spec_version, "the runtime was upgraded; its metadata still matches this client");
            }
        }
        Ok(at)
    }

    /// The number of the latest finalized block.
    pub async fn current_block(&self) -> Result<u64, ChainError> {
        Ok(self.at_head().await?.block_number())
    }

    /// The hash of block `number` (finalized), as the epoch function seeds each epoch with
    /// its boundary block's hash (`crate::epochs`).
    pub async fn block_hash(&self, number: u64) -> Result<[u8; 32], ChainError> {
        let at =
            self.api().at_block(number).await.map_err(|e| self.connection_error(&format!("read the hash of block {number}"), e.into()))?;
        Ok(at.block_hash().0)
    }

    /// The spec version of the runtime at the head.
    pub async fn spec_version(&self) -> Result<u32, ChainError> {
        Ok(self.at_head().await?.spec_version())
    }

    /// Classifies an RPC failure: a dropped connection is `Unreachable` (and retried),
    /// anything else names what we were doing.
    fn connection_error(&self, action: &str, error: subxt::Error) -> ChainError {
        let text = error::error_text(&error);
        if error.is_disconnected_will_reconnect() || looks_disconnected(&text) {
            ChainError::unreachable(self.url.clone(), error)
        } else {
            ChainError::Rpc { action: action.to_owned(), source: Box::new(error) }
        }
    }
}

/// Twice `Timestamp::MinimumPeriod` (a block every two minimum periods), else 12 s.
fn block_time_of(metadata: &subxt::Metadata) -> Duration {
    let minimum_period_ms = metadata
        .pallet_by_name("Timestamp")
        .and_then(|pallet| pallet.constant_by_name("MinimumPeriod"))
        .and_then(|constant| <[u8; 8]>::try_from(constant.value()).ok())
        .map(u64::from_le_bytes)
        .filter(|ms| *ms > 0);
    match minimum_period_ms {
        Some(ms) => Duration::from_millis(ms * 2),
        None => Duration::from_secs(error::SECONDS_PER_BLOCK),
    }
}

fn looks_disconnected(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["connection", "disconnected", "restart required", "background task", "transport", "broken pipe"]
        .iter()
        .any(|needle| lower.contains(needle))
}

async fn open(url: &str) -> Result<OnlineClient<SubtensorConfig>, ChainError> {
    // Insecure URLs are allowed on purpose: a localnet speaks ws:// on loopback.
    OnlineClient::from_insecure_url_with_config(SubtensorConfig::new(), url).await.map_err(|e| ChainError::unreachable(url, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_urls_and_network_names() {
        assert_eq!(resolve_endpoint("finney").ok().as_deref(), Some("wss://entrypoint-finney.opentensor.ai:443"));
        assert_eq!(resolve_endpoint("local").ok().as_deref(), Some(DEFAULT_ENDPOINT));
        assert_eq!(resolve_endpoint(" ws://10.0.0.2:9944 ").ok().as_deref(), Some("ws://10.0.0.2:9944"));
        for bad in ["", "http://127.0.0.1:9944", "127.0.0.1:9944", "mainnet", "ws://"] {
            let error = resolve_endpoint(bad).expect_err(bad);
            assert!(error.to_string().contains("`finney`"), "{error}");
        }
    }
}
