//! Metagraph sync: a task that reads a subnet's neurons and hyperparameters from the chain on
//! a timer into a shared snapshot. The coordinator asks it who may submit and grade (through
//! [`Membership`]) and what the validators' weights earn each miner (a Yuma epoch over the
//! snapshot's [`ConsensusRecord`], see [`crate::incentive`]); the validator asks it for uids
//! and hyperparameters before setting weights.
//!
//! A failed refresh keeps the previous snapshot (and logs why): a node hiccup must not make
//! every hotkey look unregistered. Until the first refresh succeeds there is no snapshot and
//! nobody is a member.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use whetstone_tasks::Hotkey;

use crate::client::{ChainError, ConsensusRecord, Hyperparameters, NeuronRecord, SubtensorClient, error::error_text};
use crate::metagraph::{Membership, Metagraph};

/// Where and how often to sync, as the coordinator's and validator's configuration files
/// spell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// The subtensor node: a ws/wss URL or `finney` / `test` / `local`. Default
    /// `ws://127.0.0.1:9944` (devnet's localnet).
    pub endpoint: String,
    /// The subnet. Default 1.
    pub netuid: u16,
    /// Seconds between refreshes. Default 60 (five blocks).
    pub interval_secs: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self { endpoint: crate::client::DEFAULT_ENDPOINT.into(), netuid: 1, interval_secs: 60 }
    }
}

/// A subnet as the chain showed it at one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetagraphSnapshot {
    pub netuid: u16,
    /// The block everything was read at.
    pub block: u64,
    /// Every neuron, by uid.
    pub neurons: Vec<NeuronRecord>,
    pub hyperparameters: Hyperparameters,
    /// The validators' weights and bonds and the epoch's parameters, when the snapshot was
    /// read with them ([`Self::fetch_with_consensus`]; the sync task always does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusRecord>,
    /// When the snapshot was read.
    #[serde(skip)]
    pub fetched_at: SystemTime,
}

impl MetagraphSnapshot {
    /// Reads the subnet at the chain's head.
    pub async fn fetch(client: &SubtensorClient, netuid: u16) -> Result<Self, ChainError> {
        let (block, neurons, hyperparameters) = client.subnet_state(netuid).await?;
        Ok(Self { netuid, block, neurons, hyperparameters, consensus: None, fetched_at: SystemTime::now() })
    }

    /// [`Self::fetch`], with what a Yuma epoch over the subnet reads (one more storage read
    /// per uid, and two per validator).
    pub async fn fetch_with_consensus(client: &SubtensorClient, netuid: u16) -> Result<Self, ChainError> {
        let (block, neurons, hyperparameters, consensus) = client.consensus_state(netuid).await?;
        Ok(Self { netuid, block, neurons, hyperparameters, consensus: Some(consensus), fetched_at: SystemTime::now() })
    }

    pub fn neuron(&self, hotkey: &Hotkey) -> Option<&NeuronRecord> {
        self.neurons.iter().find(|n| &n.hotkey == hotkey)
    }

    pub fn uid_of(&self, hotkey: &Hotkey) -> Option<u16> {
        self.neuron(hotkey).map(|n| n.uid)
    }

    /// The hotkeys by uid, as the rest of Whetstone takes a metagraph.
    pub fn metagraph(&self) -> Metagraph {
        Metagraph { netuid: self.netuid, hotkeys: self.neurons.iter().map(|n| n.hotkey.to_string()).collect() }
    }
}

/// The latest snapshot, readable from anywhere without waiting.
#[derive(Debug, Clone)]
pub struct SharedMetagraph {
    snapshot: watch::Receiver<Option<Arc<MetagraphSnapshot>>>,
}

impl SharedMetagraph {
    /// A fixed snapshot that never refreshes (tests, offline tools).
    pub fn fixed(snapshot: MetagraphSnapshot) -> Self {
        let (_, receiver) = watch::channel(Some(Arc::new(snapshot)));
        Self { snapshot: receiver }
    }

    /// The latest snapshot, if any refresh has succeeded.
    pub fn current(&self) -> Option<Arc<MetagraphSnapshot>> {
        self.snapshot.borrow().clone()
    }

    /// Waits for a snapshot newer than the one last seen through this handle (the first one
    /// if there is none yet). `None` once the sync task has stopped.
    pub async fn changed(&mut self) -> Option<Arc<MetagraphSnapshot>> {
        self.snapshot.changed().await.ok()?;
        self.snapshot.borrow_and_update().clone()
    }
}

impl Membership for SharedMetagraph {
    fn is_registered(&self, hotkey: &Hotkey) -> bool {
        self.current().is_some_and(|s| s.neuron(hotkey).is_some())
    }

    fn has_validator_permit(&self, hotkey: &Hotkey) -> bool {
        self.current().is_some_and(|s| s.neuron(hotkey).is_some_and(|n| n.validator_permit))
    }

    /// Before the first sync nobody holds a permit: an empty set.
    fn validator_set(&self) -> Option<crate::consensus::ValidatorSet> {
        Some(self.current().map(|s| crate::consensus::ValidatorSet::from_snapshot(&s)).unwrap_or_default())
    }
}

/// Starts refreshing subnet `netuid` from `client` every `interval` (the first refresh
/// immediately) until `shutdown` is cancelled. Snapshots carry the consensus inputs.
pub fn spawn(
    client: Arc<SubtensorClient>,
    netuid: u16,
    interval: Duration,
    shutdown: CancellationToken,
) -> (SharedMetagraph, JoinHandle<()>) {
    let (sender, receiver) = watch::channel(None);
    let task = tokio::spawn(run(client, netuid, interval, sender, shutdown));
    (SharedMetagraph { snapshot: receiver }, task)
}

async fn run(
    client: Arc<SubtensorClient>,
    netuid: u16,
    interval: Duration,
    sender: watch::Sender<Option<Arc<MetagraphSnapshot>>>,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let refreshed = tokio::select! {
            () = shutdown.cancelled() => break,
            refreshed = MetagraphSnapshot::fetch_with_consensus(&client, netuid) => refreshed,
        };
        match refreshed {
            Ok(snapshot) => {
                let previous = sender.borrow().as_ref().map(|s| (s.block, s.neurons.len()));
                if previous.map(|(_, count)| count) != Some(snapshot.neurons.len()) {
                    tracing::info!(netuid, block = snapshot.block, neurons = snapshot.neurons.len(), "metagraph synced");
                } else {
                    tracing::debug!(netuid, block = snapshot.block, "metagraph refreshed");
                }
                sender.send_replace(Some(Arc::new(snapshot)));
            }
            Err(error) => {
                let age = sender.borrow().as_ref().map(|s| s.fetched_at.elapsed().unwrap_or_default().as_secs());
                tracing::warn!(netuid, error = %error_text(&error), snapshot_age_secs = ?age, "metagraph refresh failed; keeping the previous snapshot");
            }
        }
    }
    tracing::debug!(netuid, "metagraph sync stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> MetagraphSnapshot {
        let neuron = |uid: u16, hotkey: &str, permit: bool| NeuronRecord {
            uid,
            hotkey: Hotkey::new(hotkey),
            stake: 1000,
            validator_permit: permit,
            last_update: 0,
        };
        MetagraphSnapshot {
            netuid: 7,
            block: 42,
            neurons: vec![neuron(0, crate::wallet::dev::ALICE, true), neuron(1, crate::wallet::dev::BOB, false)],
            hyperparameters: Hyperparameters::for_tests(),
            consensus: None,
            fetched_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn membership_comes_from_the_snapshot() {
        let shared = SharedMetagraph::fixed(snapshot());
        let alice = Hotkey::new(crate::wallet::dev::ALICE);
        let bob = Hotkey::new(crate::wallet::dev::BOB);
        let eve = Hotkey::new(crate::wallet::dev::EVE);
        assert!(shared.is_registered(&alice) && shared.has_validator_permit(&alice));
        assert!(shared.is_registered(&bob) && !shared.has_validator_permit(&bob));
        assert!(!shared.is_registered(&eve) && !shared.has_validator_permit(&eve));
        let metagraph = shared.current().expect("fixed").metagraph();
        assert_eq!(metagraph.netuid, 7);
        assert_eq!(metagraph.uid_of(crate::wallet::dev::BOB), Some(1));
    }

    #[test]
    fn before_the_first_refresh_nobody_is_a_member() {
        let (_sender, receiver) = watch::channel(None);
        let shared = SharedMetagraph { snapshot: receiver };
        assert!(!shared.is_registered(&Hotkey::new(crate::wallet::dev::ALICE)));
    }

    #[test]
    fn sync_config_defaults_to_devnet_and_refuses_typos() {
        let parsed: SyncConfig = serde_json::from_str("{}").expect("empty is the default");
        assert_eq!(parsed, SyncConfig::default());
        assert!(serde_json::from_str::<SyncConfig>(r#"{"netuid": 3, "intervall_secs": 5}"#).is_err());
    }
}
