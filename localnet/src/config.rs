//! Localnet configuration: where to listen, how to seal blocks, and the genesis state
//! (accounts, subnets, neurons, hyperparameters). Read from TOML or JSON; every field has a
//! default, so an empty file (or no file) gives subnet 1 with //Alice and //Ferdie validating
//! and //Bob … //Eve mining.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::types::AccountId32;

/// 1 TAO in rao.
pub const TAO: u64 = 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read the localnet configuration {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid localnet configuration: {message}")]
    Parse { path: String, message: String },
    #[error(
        "`{0}` is neither a secret URI (like //Alice) nor an SS58 address; use //Name for a dev account or paste the key's SS58 address"
    )]
    BadAccount(String),
    #[error("subnet {0} is configured twice; give each [[subnets]] entry its own netuid")]
    DuplicateSubnet(u16),
    #[error("netuid 0 is the root network; configure subnets with netuid 1 or higher")]
    RootSubnet,
    #[error("subnet {netuid} has {neurons} neurons but max_allowed_uids is {max}; raise max_allowed_uids")]
    TooManyNeurons { netuid: u16, neurons: usize, max: u16 },
    #[error("hotkey {hotkey} is listed twice in subnet {netuid}")]
    DuplicateNeuron { netuid: u16, hotkey: String },
    #[error("cannot create the local drand beacon: {0}")]
    Beacon(String),
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalnetConfig {
    /// Address of the JSON-RPC server (WebSocket and HTTP on the same port). Default
    /// `127.0.0.1:9944`, the port substrate nodes use; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Milliseconds between blocks sealed on a timer. Default 0: a block is sealed only
    /// when a transaction arrives (one block per transaction, finalized at once).
    pub block_interval_ms: u64,
    /// How many recent blocks keep their state for queries. Default 256.
    pub state_pruning: u32,
    /// Free balances at genesis. Default: the dev accounts //Alice … //Ferdie with
    /// 1,000,000 TAO each.
    pub accounts: Vec<AccountConfig>,
    /// Subnets at genesis. Default: subnet 1, see [`SubnetConfig::default_devnet`].
    pub subnets: Vec<SubnetConfig>,
    /// Protocol version `commit_timelocked_weights` must declare
    /// (`CommitRevealWeightsVersion`). Default 4, as on finney.
    pub commit_reveal_weights_version: u16,
    /// Least stake (alpha) a hotkey needs to set weights (`StakeThreshold`). Default 0.
    pub stake_threshold: u64,
    /// The local drand beacon that reveals timelocked commits.
    pub drand: DrandConfig,
}

/// The local drand beacon: the node stores its pulses in the Drand pallet as blocks are
/// sealed and reveals timelocked weight commits with them, as finney does with drand
/// quicknet. Its public key, period and genesis time are in `Drand.BeaconConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrandConfig {
    /// Whether the node runs the beacon. Default true; without it commits are stored and
    /// never revealed.
    pub enabled: bool,
    /// Seconds between rounds. Default 3, as drand quicknet. Round 1 is published when the
    /// node starts.
    pub period_secs: u32,
    /// The beacon key derives from this text: the same seed gives the same key. Default
    /// `whetstone-localnet`.
    pub seed: String,
}

impl Default for DrandConfig {
    fn default() -> Self {
        DrandConfig { enabled: true, period_secs: 3, seed: "whetstone-localnet".into() }
    }
}

impl Default for LocalnetConfig {
    fn default() -> Self {
        LocalnetConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9944)),
            block_interval_ms: 0,
            state_pruning: 256,
            accounts: DEV_ACCOUNTS
                .iter()
                .map(|name| AccountConfig { account: AccountRef(format!("//{name}")), balance: 1_000_000 * TAO })
                .collect(),
            subnets: vec![SubnetConfig::default_devnet()],
            commit_reveal_weights_version: 4,
            stake_threshold: 0,
            drand: DrandConfig::default(),
        }
    }
}

/// The well-known substrate development accounts.
pub const DEV_ACCOUNTS: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];

impl LocalnetConfig {
    /// Reads a TOML file, or JSON when the name ends in `.json`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        parsed.map_err(|message| ConfigError::Parse { path: shown, message })
    }

    /// Checks what serde cannot: unique netuids and hotkeys, resolvable accounts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.drand.enabled && self.drand.period_secs == 0 {
            return Err(ConfigError::Beacon("drand.period_secs must be at least 1".into()));
        }
        let mut netuids = std::collections::HashSet::new();
        for account in &self.accounts {
            account.account.resolve()?;
        }
        for subnet in &self.subnets {
            if subnet.netuid == 0 {
                return Err(ConfigError::RootSubnet);
            }
            if !netuids.insert(subnet.netuid) {
                return Err(ConfigError::DuplicateSubnet(subnet.netuid));
            }
            subnet.owner.resolve()?;
            if subnet.neurons.len() > usize::from(subnet.hyperparameters.max_allowed_uids) {
                return Err(ConfigError::TooManyNeurons {
                    netuid: subnet.netuid,
                    neurons: subnet.neurons.len(),
                    max: subnet.hyperparameters.max_allowed_uids,
                });
            }
            let mut hotkeys = std::collections::HashSet::new();
            for neuron in &subnet.neurons {
                if !hotkeys.insert(neuron.hotkey.resolve()?) {
                    return Err(ConfigError::DuplicateNeuron { netuid: subnet.netuid, hotkey: neuron.hotkey.0.clone() });
                }
                if let Some(coldkey) = &neuron.coldkey {
                    coldkey.resolve()?;
                }
            }
        }
        Ok(())
    }
}

/// An account: a secret URI (`//Alice`, `//Bob//stash`, or a mnemonic with derivations)
/// whose sr25519 public key is the account, or an SS58 address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountRef(pub String);

impl AccountRef {
    pub fn dev(name: &str) -> Self {
        AccountRef(format!("//{name}"))
    }

    pub fn resolve(&self) -> Result<AccountId32, ConfigError> {
        let text = self.0.trim();
        if let Ok(address) = subxt_utils_accountid32::AccountId32::from_str(text) {
            return Ok(AccountId32(address.0));
        }
        let uri = subxt_signer::SecretUri::from_str(text).map_err(|_| ConfigError::BadAccount(self.0.clone()))?;
        let pair = subxt_signer::sr25519::Keypair::from_uri(&uri).map_err(|_| ConfigError::BadAccount(self.0.clone()))?;
        Ok(AccountId32(pair.public_key().0))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The account: a secret URI such as `//Alice`, or an SS58 address. Required.
    pub account: AccountRef,
    /// Free balance in rao (1 TAO = 10^9 rao).
    pub balance: u64,
}

/// One subnet at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// The subnet's netuid (1 or higher; 0 is the root network). Required.
    pub netuid: u16,
    /// The owner's coldkey; also its hotkey unless `owner_hotkey` is set. Default //Alice.
    #[serde(default = "default_owner")]
    pub owner: AccountRef,
    /// The owner's hotkey. Default: the owner.
    #[serde(default)]
    pub owner_hotkey: Option<AccountRef>,
    /// Default: [`Hyperparameters::default`].
    #[serde(default)]
    pub hyperparameters: Hyperparameters,
    /// Registered neurons, given uids 0, 1, … in this order. Default: none.
    #[serde(default)]
    pub neurons: Vec<NeuronConfig>,
}

fn default_owner() -> AccountRef {
    AccountRef::dev("Alice")
}

impl SubnetConfig {
    /// Subnet 1: //Alice (uid 0) validates with a permit and 1000 TAO of stake, //Ferdie
    /// (uid 5) with a permit and 600 TAO; //Bob, //Charlie, //Dave and //Eve (uids 1–4) mine.
    pub fn default_devnet() -> Self {
        let stake_of = |name: &str| match name {
            "Alice" => 1000 * TAO,
            "Ferdie" => 600 * TAO,
            _ => 0,
        };
        let neurons = DEV_ACCOUNTS
            .iter()
            .map(|name| NeuronConfig {
                hotkey: AccountRef::dev(name),
                coldkey: None,
                stake: stake_of(name),
                validator_permit: stake_of(name) > 0,
            })
            .collect();
        SubnetConfig { netuid: 1, owner: default_owner(), owner_hotkey: None, hyperparameters: Hyperparameters::default(), neurons }
    }
}

/// A neuron at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuronConfig {
    /// The neuron's hotkey (secret URI or SS58 address). Required.
    pub hotkey: AccountRef,
    /// The coldkey owning the hotkey. Default: the hotkey itself.
    #[serde(default)]
    pub coldkey: Option<AccountRef>,
    /// Stake on the hotkey in this subnet, in rao of alpha (`TotalHotkeyAlpha`). Default 0.
    #[serde(default)]
    pub stake: u64,
    /// Whether the neuron may set weights on others (`ValidatorPermit`). Localnet keeps
    /// permits as configured; it does not recompute them from stake each epoch. Default false.
    #[serde(default)]
    pub validator_permit: bool,
}

/// A subnet's hyperparameters. Defaults are finney's storage defaults except where noted:
/// a localnet wants short epochs, weights open to small subnets and plain `set_weights`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hyperparameters {
    /// Blocks per epoch. Default 10 (finney: 360).
    pub tempo: u16,
    /// Blocks a neuron waits between weight settings (and commits). Default 100.
    pub weights_set_rate_limit: u64,
    /// Lowest `version_key` accepted; 0 accepts any. Default 0.
    pub weights_version_key: u64,
    /// Fewest weights in a vector (capped at the number of neurons). Default 1 (finney's
    /// storage default is 1024, which subnets lower).
    pub min_allowed_weights: u16,
    /// Largest normalised weight, as a fraction of 65535. Default 65535 (no limit).
    pub max_weights_limit: u16,
    /// Whether weights must go through `commit_timelocked_weights`. Default false (finney's
    /// storage default is true).
    pub commit_reveal_weights_enabled: bool,
    /// Epochs between a timelocked commit and its reveal. Default 1.
    pub reveal_period_epochs: u64,
    /// Blocks of immunity after registration. Default 4096.
    pub immunity_period: u16,
    /// Most neurons. Default 256.
    pub max_allowed_uids: u16,
    /// Most validator permits. Default 128.
    pub max_allowed_validators: u16,
    /// Whether `burned_register` is open. Default true.
    pub registration_allowed: bool,
    /// Registrations per block. Default 1.
    pub max_registrations_per_block: u16,
    /// Cost of `burned_register` in rao. Default 100,000,000 (0.1 TAO).
    pub burn: u64,
}

impl Default for Hyperparameters {
    fn default() -> Self {
        Hyperparameters {
            tempo: 10,
            weights_set_rate_limit: 100,
            weights_version_key: 0,
            min_allowed_weights: 1,
            max_weights_limit: u16::MAX,
            commit_reveal_weights_enabled: false,
            reveal_period_epochs: 1,
            immunity_period: 4096,
            max_allowed_uids: 256,
            max_allowed_validators: 128,
            registration_allowed: true,
            max_registrations_per_block: 1,
            burn: 100_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_uris_and_ss58_addresses_resolve_to_the_same_account() {
        let alice = AccountRef::dev("Alice").resolve().expect("//Alice");
        assert_eq!(alice.to_ss58(), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        let by_address = AccountRef(alice.to_ss58()).resolve().expect("address");
        assert_eq!(by_address, alice);
        assert!(matches!(AccountRef("alice".into()).resolve(), Err(ConfigError::BadAccount(_))));
    }

    #[test]
    fn an_empty_file_means_the_default_devnet() {
        let parsed: LocalnetConfig = toml::from_str("").expect("parses");
        assert_eq!(parsed, LocalnetConfig::default());
        parsed.validate().expect("the default is valid");
        assert_eq!(parsed.subnets[0].neurons.len(), 6);
    }

    #[test]
    fn toml_sets_subnets_neurons_and_hyperparameters() {
        let text = r#"
            listen = "127.0.0.1:0"
            block_interval_ms = 500
            accounts = [{ account = "//Alice", balance = 5 }]

            [[subnets]]
            netuid = 3
            hyperparameters = { tempo = 99, commit_reveal_weights_enabled = true }
            neurons = [
                { hotkey = "//Alice", stake = 7, validator_permit = true },
                { hotkey = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty", coldkey = "//Bob" },
            ]
        "#;
        let parsed: LocalnetConfig = toml::from_str(text).expect("parses");
        parsed.validate().expect("valid");
        let subnet = &parsed.subnets[0];
        assert_eq!(subnet.netuid, 3);
        assert_eq!(subnet.hyperparameters.tempo, 99);
        assert!(subnet.hyperparameters.commit_reveal_weights_enabled);
        assert_eq!(subnet.hyperparameters.weights_set_rate_limit, 100, "unset fields keep their defaults");
        assert_eq!(subnet.neurons[1].hotkey.resolve().expect("bob"), AccountRef::dev("Bob").resolve().expect("bob"));
    }

    #[test]
    fn mistakes_are_named() {
        let unknown = toml::from_str::<LocalnetConfig>("tempo = 5");
        assert!(unknown.is_err(), "unknown top-level fields are refused");
        let mut config = LocalnetConfig::default();
        config.subnets.push(SubnetConfig::default_devnet());
        assert!(matches!(config.validate(), Err(ConfigError::DuplicateSubnet(1))));
        config.subnets.truncate(1);
        config.subnets[0].netuid = 0;
        assert!(matches!(config.validate(), Err(ConfigError::RootSubnet)));
    }
}
