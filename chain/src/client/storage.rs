//! Reading subtensor storage: a subnet's neurons and hyperparameters, weights rows and
//! timelocked commits. Every read of one query happens at one block, so a snapshot is
//! consistent even while the chain moves.

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use subxt::client::OnlineClientAtBlock;
use subxt::ext::frame_decode::storage::{IntoDecodableValues, IntoEncodableValues};
use subxt::ext::scale_decode::DecodeAsType;
use subxt::utils::AccountId32;
use whetstone_tasks::Hotkey;

use super::shapes::{self, StorageShape};
use super::{ChainError, SubtensorClient, SubtensorConfig};
use crate::wallet;

/// Reads of per-hotkey storage in flight at once.
const CONCURRENT_READS: usize = 16;

pub(crate) type AtBlock = OnlineClientAtBlock<SubtensorConfig>;

/// A subnet's hyperparameters that matter for setting weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hyperparameters {
    /// Blocks per epoch.
    pub tempo: u16,
    /// Blocks a neuron must wait between two weight settings.
    pub weights_rate_limit: u64,
    /// Lowest `version_key` the chain accepts (0: any).
    pub weights_version_key: u64,
    /// Fewest nonzero weights a vector must hold.
    pub min_allowed_weights: u16,
    /// Largest single weight as a fraction of 65535 (65535: no limit).
    pub max_weights_limit: u16,
    /// Weights go through `commit_timelocked_weights` rather than `set_weights`.
    pub commit_reveal_enabled: bool,
    /// Epochs between a commit and its reveal.
    pub reveal_period_epochs: u64,
    /// The protocol version `commit_timelocked_weights` must declare (chain-wide).
    pub commit_reveal_version: u16,
}

#[cfg(test)]
impl Hyperparameters {
    /// A subnet as tests start from: tempo 360, rate limit 100 blocks, no version key, one
    /// weight at least, no cap, commit-reveal off.
    pub(crate) fn for_tests() -> Self {
        Self {
            tempo: 360,
            weights_rate_limit: 100,
            weights_version_key: 0,
            min_allowed_weights: 1,
            max_weights_limit: u16::MAX,
            commit_reveal_enabled: false,
            reveal_period_epochs: 1,
            commit_reveal_version: 4,
        }
    }
}

/// One neuron of a subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeuronRecord {
    pub uid: u16,
    pub hotkey: Hotkey,
    /// Alpha stake on the hotkey in this subnet, in rao (10^-9).
    pub stake: u64,
    pub validator_permit: bool,
    /// Block of the neuron's last weight setting (or commit); 0 if never.
    pub last_update: u64,
}

/// What a subnet epoch reads beyond the metagraph: the validators' weight and bond rows, when
/// each uid registered, and the epoch's parameters. Input to [`crate::yuma`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsensusRecord {
    /// Block each uid registered at, by uid.
    pub block_at_registration: Vec<u64>,
    /// `(validator uid, its Weights row)` for every permit holder, by uid.
    pub weights: Vec<(u16, Vec<(u16, u16)>)>,
    /// `(validator uid, its Bonds row)` for every permit holder; empty where the runtime keeps
    /// no bonds (localnet).
    pub bonds: Vec<(u16, Vec<(u16, u16)>)>,
    /// Whether the runtime stores bonds (and so whether `bonds` is the chain's or empty).
    pub bonds_stored: bool,
    pub kappa: u16,
    pub activity_cutoff: u16,
    pub bonds_moving_average: u64,
    pub bonds_penalty: u16,
    pub max_allowed_validators: u16,
    pub stake_threshold: u64,
    /// The uid of the subnet owner's hotkey, if it is registered (it keeps its self-weight).
    pub owner_uid: Option<u16>,
}

/// A weights commit waiting for its drand round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelockedCommitRecord {
    /// The epoch the commit was made in.
    pub epoch: u64,
    pub hotkey: Hotkey,
    pub commit_block: u64,
    pub ciphertext_len: usize,
    pub reveal_round: u64,
}

impl SubtensorClient {
    /// Whether subnet `netuid` exists.
    pub async fn subnet_exists(&self, netuid: u16) -> Result<bool, ChainError> {
        let at = self.at_head().await?;
        fetch(&at, &shapes::NETWORKS_ADDED, (netuid,)).await
    }

    /// The subnet's hyperparameters at the head.
    pub async fn hyperparameters(&self, netuid: u16) -> Result<Hyperparameters, ChainError> {
        let at = self.at_head().await?;
        ensure_subnet(&at, netuid).await?;
        hyperparameters_at(&at, netuid).await
    }

    /// Every neuron of the subnet at the head, by uid, with the block read at.
    pub async fn neurons(&self, netuid: u16) -> Result<(u64, Vec<NeuronRecord>), ChainError> {
        let at = self.at_head().await?;
        ensure_subnet(&at, netuid).await?;
        Ok((at.block_number(), neurons_at(&at, netuid).await?))
    }

    /// The neurons and the hyperparameters, read at one block.
    pub async fn subnet_state(&self, netuid: u16) -> Result<(u64, Vec<NeuronRecord>, Hyperparameters), ChainError> {
        let at = self.at_head().await?;
        ensure_subnet(&at, netuid).await?;
        let neurons = neurons_at(&at, netuid).await?;
        let hyperparameters = hyperparameters_at(&at, netuid).await?;
        Ok((at.block_number(), neurons, hyperparameters))
    }

    /// [`Self::subnet_state`] and what an epoch over it reads, at one block.
    pub async fn consensus_state(&self, netuid: u16) -> Result<(u64, Vec<NeuronRecord>, Hyperparameters, ConsensusRecord), ChainError> {
        let at = self.at_head().await?;
        ensure_subnet(&at, netuid).await?;
        let neurons = neurons_at(&at, netuid).await?;
        let hyperparameters = hyperparameters_at(&at, netuid).await?;
        let consensus = consensus_at(&at, netuid, &neurons).await?;
        Ok((at.block_number(), neurons, hyperparameters, consensus))
    }

    /// The hotkey's uid on the subnet, if registered.
    pub async fn uid_of(&self, netuid: u16, hotkey: &Hotkey) -> Result<Option<u16>, ChainError> {
        let at = self.at_head().await?;
        uid_at(&at, netuid, hotkey).await
    }

    /// The weights row uid `uid` has set on the subnet: `(uid, weight)` pairs, as stored
    /// (the chain max-upscales them to 65535).
    pub async fn weights_row(&self, netuid: u16, uid: u16) -> Result<Vec<(u16, u16)>, ChainError> {
        let at = self.at_head().await?;
        fetch(&at, &shapes::WEIGHTS, (netuid, uid)).await
    }

    /// Timelocked commits of the subnet still waiting to be revealed, oldest epoch first.
    pub async fn timelocked_commits(&self, netuid: u16) -> Result<Vec<TimelockedCommitRecord>, ChainError> {
        let at = self.at_head().await?;
        let shape = &shapes::TIMELOCKED_WEIGHT_COMMITS;
        type Commit = (AccountId32, u64, Vec<u8>, u64);
        let address = subxt::dynamic::storage::<(u16, u64), Vec<Commit>>(shape.pallet, shape.entry);
        let what = read_what(shape);
        let entries = at.storage().iter(address, (netuid,)).await.map_err(|e| ChainError::rpc(&what, e))?;
        let mut records = Vec::new();
        let pairs: Vec<_> = entries.map_err(|e| ChainError::rpc(&what, e)).try_collect().await?;
        for pair in pairs {
            let key = pair.key().map_err(|e| ChainError::rpc(&what, e))?;
            let epoch = key.part(1).and_then(|part| part.decode_as::<u64>().ok().flatten()).unwrap_or_default();
            let commits: Vec<Commit> = pair.value().decode().map_err(|e| ChainError::rpc(&what, e))?;
            records.extend(commits.into_iter().map(|(hotkey, commit_block, ciphertext, reveal_round)| TimelockedCommitRecord {
                epoch,
                hotkey: wallet::hotkey_of(&hotkey.0),
                commit_block,
                ciphertext_len: ciphertext.len(),
                reveal_round,
            }));
        }
        records.sort_by_key(|r| (r.epoch, r.commit_block));
        Ok(records)
    }
}

pub(crate) async fn ensure_subnet(at: &AtBlock, netuid: u16) -> Result<(), ChainError> {
    if fetch(at, &shapes::NETWORKS_ADDED, (netuid,)).await? { Ok(()) } else { Err(ChainError::NoSuchSubnet { netuid }) }
}

pub(crate) async fn hyperparameters_at(at: &AtBlock, netuid: u16) -> Result<Hyperparameters, ChainError> {
    let key = (netuid,);
    Ok(Hyperparameters {
        tempo: fetch(at, &shapes::TEMPO, key).await?,
        weights_rate_limit: fetch(at, &shapes::WEIGHTS_SET_RATE_LIMIT, key).await?,
        weights_version_key: fetch(at, &shapes::WEIGHTS_VERSION_KEY, key).await?,
        min_allowed_weights: fetch(at, &shapes::MIN_ALLOWED_WEIGHTS, key).await?,
        max_weights_limit: fetch(at, &shapes::MAX_WEIGHTS_LIMIT, key).await?,
        commit_reveal_enabled: fetch(at, &shapes::COMMIT_REVEAL_WEIGHTS_ENABLED, key).await?,
        reveal_period_epochs: fetch(at, &shapes::REVEAL_PERIOD_EPOCHS, key).await?,
        commit_reveal_version: fetch(at, &shapes::COMMIT_REVEAL_WEIGHTS_VERSION, ()).await?,
    })
}

pub(crate) async fn uid_at(at: &AtBlock, netuid: u16, hotkey: &Hotkey) -> Result<Option<u16>, ChainError> {
    let account = account_of(hotkey)?;
    try_fetch(at, &shapes::UIDS, (netuid, account)).await
}

pub(crate) async fn neurons_at(at: &AtBlock, netuid: u16) -> Result<Vec<NeuronRecord>, ChainError> {
    let count: u16 = fetch(at, &shapes::SUBNETWORK_N, (netuid,)).await?;
    let permits: Vec<bool> = fetch(at, &shapes::VALIDATOR_PERMIT, (netuid,)).await?;
    let last_updates: Vec<u64> = fetch(at, &shapes::LAST_UPDATE, (netuid,)).await?;
    let hotkeys: Vec<AccountId32> = futures::stream::iter(0..count)
        .map(|uid| fetch::<_, AccountId32>(at, &shapes::KEYS, (netuid, uid)))
        .buffered(CONCURRENT_READS)
        .try_collect()
        .await?;
    let stakes: Vec<u64> = futures::stream::iter(hotkeys.iter().cloned())
        .map(|account| fetch::<_, u64>(at, &shapes::TOTAL_HOTKEY_ALPHA, (account, netuid)))
        .buffered(CONCURRENT_READS)
        .try_collect()
        .await?;
    Ok(hotkeys
        .iter()
        .zip(stakes)
        .enumerate()
        .map(|(index, (account, stake))| NeuronRecord {
            uid: index as u16,
            hotkey: wallet::hotkey_of(&account.0),
            stake,
            validator_permit: permits.get(index).copied().unwrap_or(false),
            last_update: last_updates.get(index).copied().unwrap_or(0),
        })
        .collect())
}

pub(crate) async fn consensus_at(at: &AtBlock, netuid: u16, neurons: &[NeuronRecord]) -> Result<ConsensusRecord, ChainError> {
    let key = (netuid,);
    let defaults = crate::yuma::Hyperparameters::subtensor_defaults();
    let has = |shape: &StorageShape| shapes::has_storage(at.metadata_ref(), shape);
    let kappa = if has(&shapes::KAPPA) { fetch(at, &shapes::KAPPA, key).await? } else { defaults.kappa };
    let activity_cutoff =
        if has(&shapes::ACTIVITY_CUTOFF) { fetch(at, &shapes::ACTIVITY_CUTOFF, key).await? } else { defaults.activity_cutoff };
    let bonds_moving_average = if has(&shapes::BONDS_MOVING_AVERAGE) {
        fetch(at, &shapes::BONDS_MOVING_AVERAGE, key).await?
    } else {
        defaults.bonds_moving_average
    };
    let bonds_penalty = if has(&shapes::BONDS_PENALTY) { fetch(at, &shapes::BONDS_PENALTY, key).await? } else { defaults.bonds_penalty };
    let bonds_stored = has(&shapes::BONDS);
    let owner: AccountId32 = fetch(at, &shapes::SUBNET_OWNER_HOTKEY, key).await?;
    let owner = wallet::hotkey_of(&owner.0);
    let uids: Vec<u16> = neurons.iter().map(|n| n.uid).collect();
    let block_at_registration: Vec<u64> = futures::stream::iter(uids)
        .map(|uid| fetch::<_, u64>(at, &shapes::BLOCK_AT_REGISTRATION, (netuid, uid)))
        .buffered(CONCURRENT_READS)
        .try_collect()
        .await?;
    // Rows of uids without a permit do not enter the epoch; only permit holders' are read.
    let validators: Vec<u16> = neurons.iter().filter(|n| n.validator_permit).map(|n| n.uid).collect();
    let weights: Vec<Vec<(u16, u16)>> = futures::stream::iter(validators.clone())
        .map(|uid| fetch::<_, Vec<(u16, u16)>>(at, &shapes::WEIGHTS, (netuid, uid)))
        .buffered(CONCURRENT_READS)
        .try_collect()
        .await?;
    let bonds: Vec<Vec<(u16, u16)>> = if bonds_stored {
        futures::stream::iter(validators.clone())
            .map(|uid| fetch::<_, Vec<(u16, u16)>>(at, &shapes::BONDS, (netuid, uid)))
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?
    } else {
        Vec::new()
    };
    Ok(ConsensusRecord {
        block_at_registration,
        weights: validators.iter().copied().zip(weights).collect(),
        bonds: validators.iter().copied().zip(bonds).collect(),
        bonds_stored,
        kappa,
        activity_cutoff,
        bonds_moving_average,
        bonds_penalty,
        max_allowed_validators: fetch(at, &shapes::MAX_ALLOWED_VALIDATORS, key).await?,
        stake_threshold: fetch(at, &shapes::STAKE_THRESHOLD, ()).await?,
        owner_uid: neurons.iter().find(|n| n.hotkey == owner).map(|n| n.uid),
    })
}

/// The account a hotkey's SS58 address names.
pub(crate) fn account_of(hotkey: &Hotkey) -> Result<AccountId32, ChainError> {
    wallet::public_key_of(hotkey)
        .map(AccountId32)
        .map_err(|e| ChainError::InvalidWeights(format!("hotkey {hotkey} is not a valid SS58 address: {e}")))
}

fn read_what(shape: &StorageShape) -> String {
    format!("read {}::{} from the chain", shape.pallet, shape.entry)
}

/// A storage value, or its default when unset.
pub(crate) async fn fetch<K, V>(at: &AtBlock, shape: &StorageShape, keys: K) -> Result<V, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    let address = subxt::dynamic::storage::<K, V>(shape.pallet, shape.entry);
    let value = at.storage().fetch(address, keys).await.map_err(|e| ChainError::rpc(read_what(shape), e))?;
    value.decode().map_err(|e| ChainError::rpc(read_what(shape), e))
}

/// A storage value, or `None` when unset and the item has no default.
pub(crate) async fn try_fetch<K, V>(at: &AtBlock, shape: &StorageShape, keys: K) -> Result<Option<V>, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    let address = subxt::dynamic::storage::<K, V>(shape.pallet, shape.entry);
    let value = at.storage().try_fetch(address, keys).await.map_err(|e| ChainError::rpc(read_what(shape), e))?;
    value.map(|v| v.decode().map_err(|e| ChainError::rpc(read_what(shape), e))).transpose()
}
