//! Hotkeys: Bittensor wallets on disk, SS58 addresses, and the development keys devnet uses.
//!
//! A wallet is the Bittensor SDK's directory layout,
//! `<wallet.path>/<wallet.name>/hotkeys/<wallet.hotkey>`: a JSON keyfile with `secretPhrase`,
//! `secretSeed`, `privateKey`, `publicKey`, `accountId`, `ss58Address` and (since SDK 11)
//! `cryptoType` (1 = sr25519, 0 = ed25519; absent in older files, meaning sr25519). Hotkeys
//! are stored unencrypted by the SDK; an encrypted one is refused with a message saying so,
//! because a worker signing every request cannot stop to ask for a password.
//!
//! Keys are sr25519 (the substrate default, through `subxt-signer`, so the same pair signs
//! extrinsics) or ed25519 (`ed25519-zebra`, the verifier substrate uses). Addresses are SS58
//! with Bittensor's network prefix 42.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use blake2::{Blake2b512, Digest};
use serde::Deserialize;
use subxt_signer::SecretUri;
use whetstone_tasks::Hotkey;

/// Bittensor's SS58 network prefix ("substrate generic").
pub const SS58_PREFIX: u16 = 42;

/// The signature scheme of a key; the SDK's `cryptoType` numbers them 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sr25519,
    Ed25519,
}

impl Scheme {
    /// The name `btauth/1` puts in its payload and `X-Bittensor-Crypto` header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sr25519 => "sr25519",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The SDK's `cryptoType` number.
    pub fn crypto_type(self) -> u8 {
        match self {
            Self::Sr25519 => 1,
            Self::Ed25519 => 0,
        }
    }

    pub fn from_crypto_type(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Sr25519),
            0 => Some(Self::Ed25519),
            _ => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an SS58 address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ss58Error {
    #[error("{0:?} is not base58")]
    NotBase58(String),
    #[error("{address:?} decodes to {len} bytes, not a 32-byte account")]
    WrongLength { address: String, len: usize },
    #[error("{0:?} has a reserved SS58 prefix")]
    ReservedPrefix(String),
    #[error("{0:?} fails its SS58 checksum (a mistyped address?)")]
    BadChecksum(String),
    #[error("{address:?} is an address for SS58 network {format}, not Bittensor's {SS58_PREFIX}")]
    WrongNetwork { address: String, format: u16 },
}

/// Decodes an SS58 address of a 32-byte account: its network format and public key.
pub fn decode_ss58(address: &str) -> Result<(u16, [u8; 32]), Ss58Error> {
    let data = bs58::decode(address).into_vec().map_err(|_| Ss58Error::NotBase58(address.to_owned()))?;
    let (format, prefix_len) = match data.first() {
        Some(&first) if first < 64 => (u16::from(first), 1),
        Some(&first) if first < 128 && data.len() > 1 => {
            // Two-byte prefix: 14 bits spread over both bytes, low bits first.
            let second = data[1];
            let lower = (first << 2) | (second >> 6);
            let upper = second & 0b0011_1111;
            (u16::from(lower) | (u16::from(upper) << 8), 2)
        }
        Some(_) => return Err(Ss58Error::ReservedPrefix(address.to_owned())),
        None => return Err(Ss58Error::WrongLength { address: address.to_owned(), len: 0 }),
    };
    if data.len() != prefix_len + 32 + 2 {
        return Err(Ss58Error::WrongLength { address: address.to_owned(), len: data.len() });
    }
    let body = &data[..prefix_len + 32];
    if ss58_checksum(body) != data[prefix_len + 32..] {
        return Err(Ss58Error::BadChecksum(address.to_owned()));
    }
    let mut public = [0u8; 32];
    public.copy_from_slice(&body[prefix_len..]);
    Ok((format, public))
}

/// Encodes a 32-byte public key as an SS58 address of `format`.
pub fn encode_ss58(public: &[u8; 32], format: u16) -> String {
    let format = format & 0b0011_1111_1111_1111;
    let mut data = Vec::with_capacity(36);
    if format < 64 {
        data.push(format as u8);
    } else {
        data.push((((format & 0b1111_1100) >> 2) as u8) | 0b0100_0000);
        data.push(((format >> 8) as u8) | (((format & 0b11) as u8) << 6));
    }
    data.extend_from_slice(public);
    let checksum = ss58_checksum(&data);
    data.extend_from_slice(&checksum);
    bs58::encode(data).into_string()
}

fn ss58_checksum(body: &[u8]) -> [u8; 2] {
    let mut hasher = Blake2b512::new();
    hasher.update(b"SS58PRE");
    hasher.update(body);
    let hash = hasher.finalize();
    [hash[0], hash[1]]
}

/// The public key behind a Bittensor hotkey (format 42 only).
pub fn public_key_of(hotkey: &Hotkey) -> Result<[u8; 32], Ss58Error> {
    let (format, public) = decode_ss58(hotkey.as_str())?;
    if format != SS58_PREFIX {
        return Err(Ss58Error::WrongNetwork { address: hotkey.to_string(), format });
    }
    Ok(public)
}

/// The Bittensor hotkey (SS58, format 42) of a public key.
pub fn hotkey_of(public: &[u8; 32]) -> Hotkey {
    Hotkey::new(encode_ss58(public, SS58_PREFIX))
}

/// Checks a signature under `scheme`. Malformed keys or signatures simply do not verify.
pub fn verify_signature(scheme: Scheme, public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    match scheme {
        Scheme::Sr25519 => subxt_signer::sr25519::verify(
            &subxt_signer::sr25519::Signature(*signature),
            message,
            &subxt_signer::sr25519::PublicKey(*public),
        ),
        Scheme::Ed25519 => ed25519_zebra::VerificationKey::try_from(*public)
            .and_then(|key| key.verify(&ed25519_zebra::Signature::from_bytes(signature), message))
            .is_ok(),
    }
}

/// A hotkey with its secret: signs `btauth/1` requests and, for sr25519 keys with a seed,
/// extrinsics (through [`HotkeyPair::sr25519_signer`]). `Debug` shows the address only.
#[derive(Clone)]
pub struct HotkeyPair {
    hotkey: Hotkey,
    secret: Secret,
}

#[derive(Clone)]
enum Secret {
    /// From a seed, a mnemonic or a dev URI.
    Sr25519(subxt_signer::sr25519::Keypair),
    /// From a keyfile's 64-byte `privateKey` alone (`btcli wallet regen-hotkey --private-key`):
    /// the seed is gone, so only schnorrkel itself can sign with it.
    Sr25519Expanded(Box<schnorrkel::Keypair>),
    Ed25519(ed25519_zebra::SigningKey),
}

impl fmt::Debug for HotkeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotkeyPair").field("hotkey", &self.hotkey).field("scheme", &self.scheme()).finish_non_exhaustive()
    }
}

impl HotkeyPair {
    fn new(secret: Secret) -> Self {
        let public = match &secret {
            Secret::Sr25519(pair) => pair.public_key().0,
            Secret::Sr25519Expanded(pair) => pair.public.to_bytes(),
            Secret::Ed25519(key) => ed25519_zebra::VerificationKeyBytes::from(key).into(),
        };
        Self { hotkey: hotkey_of(&public), secret }
    }

    /// An sr25519 pair from a secret URI: `//Alice`, `<mnemonic>//hard/soft`, `0x<seed>`.
    pub fn from_uri(uri: &str) -> Result<Self, WalletError> {
        let parsed = SecretUri::from_str(uri).map_err(|e| WalletError::BadUri(e.to_string()))?;
        let pair = subxt_signer::sr25519::Keypair::from_uri(&parsed).map_err(|e| WalletError::BadUri(e.to_string()))?;
        Ok(Self::new(Secret::Sr25519(pair)))
    }

    /// An sr25519 pair from a 32-byte mini-secret seed, as substrate expands it.
    pub fn sr25519_from_seed(seed: [u8; 32]) -> Result<Self, WalletError> {
        let pair = subxt_signer::sr25519::Keypair::from_secret_key(seed).map_err(|e| WalletError::BadSeed(e.to_string()))?;
        Ok(Self::new(Secret::Sr25519(pair)))
    }

    /// An ed25519 pair from its 32-byte seed.
    pub fn ed25519_from_seed(seed: [u8; 32]) -> Self {
        Self::new(Secret::Ed25519(ed25519_zebra::SigningKey::from(seed)))
    }

    pub fn hotkey(&self) -> &Hotkey {
        &self.hotkey
    }

    pub fn public_key(&self) -> [u8; 32] {
        match &self.secret {
            Secret::Sr25519(pair) => pair.public_key().0,
            Secret::Sr25519Expanded(pair) => pair.public.to_bytes(),
            Secret::Ed25519(key) => ed25519_zebra::VerificationKeyBytes::from(key).into(),
        }
    }

    pub fn scheme(&self) -> Scheme {
        match self.secret {
            Secret::Sr25519(_) | Secret::Sr25519Expanded(_) => Scheme::Sr25519,
            Secret::Ed25519(_) => Scheme::Ed25519,
        }
    }

    /// Signs `message` (sr25519 in the `substrate` signing context, as the SDK does).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        match &self.secret {
            Secret::Sr25519(pair) => pair.sign(message).0,
            Secret::Sr25519Expanded(pair) => pair.sign(schnorrkel::signing_context(b"substrate").bytes(message)).to_bytes(),
            Secret::Ed25519(key) => key.sign(message).to_bytes(),
        }
    }

    /// The `subxt-signer` pair that signs extrinsics (e.g. `set_weights`) as this hotkey;
    /// `None` for ed25519 keys and for sr25519 keyfiles that kept no seed.
    pub fn sr25519_signer(&self) -> Option<&subxt_signer::sr25519::Keypair> {
        match &self.secret {
            Secret::Sr25519(pair) => Some(pair),
            Secret::Sr25519Expanded(_) | Secret::Ed25519(_) => None,
        }
    }
}

/// Why a hotkey could not be loaded. Each names the file and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error(
        "no hotkey file at {}: create one with `btcli wallet new-hotkey`, or point --wallet.path, \
         --wallet.name and --wallet.hotkey at an existing one",
        path.display()
    )]
    NotFound { path: PathBuf },
    #[error("cannot read the hotkey file {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the hotkey file {} is encrypted ({method}); Whetstone signs every request with the \
         hotkey and needs it unencrypted, as the Bittensor SDK writes hotkeys: regenerate it with \
         `btcli wallet regen-hotkey --mnemonic ...`",
        path.display()
    )]
    Encrypted { path: PathBuf, method: &'static str },
    #[error("the hotkey file {} is not a Bittensor keyfile (expected JSON with secretSeed or secretPhrase)", path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the hotkey file {} has an invalid {field}: {reason}", path.display())]
    BadField { path: PathBuf, field: &'static str, reason: String },
    #[error(
        "the hotkey file {} holds no secret (no secretSeed, secretPhrase or privateKey); it is a \
         public key file, which can verify but not sign",
        path.display()
    )]
    NoSecret { path: PathBuf },
    #[error(
        "the hotkey file {} is inconsistent: its secret belongs to {derived} but it says {field} is {stored}; \
         the file was edited or corrupted, regenerate it from its mnemonic",
        path.display()
    )]
    Mismatch { path: PathBuf, field: &'static str, derived: String, stored: String },
    #[error("the hotkey file {} has cryptoType {crypto_type}, which is neither sr25519 (1) nor ed25519 (0)", path.display())]
    UnknownCryptoType { path: PathBuf, crypto_type: u8 },
    #[error("invalid secret URI: {0}")]
    BadUri(String),
    #[error("invalid sr25519 seed: {0}")]
    BadSeed(String),
    #[error("invalid wallet name {0:?}: expected NAME or NAME/HOTKEY with both parts non-empty")]
    BadWalletName(String),
}

/// The on-disk keyfile. Not `deny_unknown_fields`: the SDK owns this format and may add to it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Keyfile {
    secret_phrase: Option<String>,
    secret_seed: Option<String>,
    private_key: Option<String>,
    public_key: Option<String>,
    ss58_address: Option<String>,
    crypto_type: Option<u8>,
}

/// Encryption markers the SDK's keyfile code recognises.
fn encryption_method(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"$NACL") {
        Some("NaCl secretbox")
    } else if data.starts_with(b"$ANSIBLE_VAULT") {
        Some("Ansible vault")
    } else if data.starts_with(b"gAAAAA") {
        Some("legacy Fernet")
    } else {
        None
    }
}

fn hex_bytes<const N: usize>(path: &Path, field: &'static str, text: &str) -> Result<[u8; N], WalletError> {
    let bad = |reason: String| WalletError::BadField { path: path.to_owned(), field, reason };
    let bytes = hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|e| bad(format!("not hex ({e})")))?;
    bytes.try_into().map_err(|b: Vec<u8>| bad(format!("{} bytes, expected {N}", b.len())))
}

/// Loads the signing pair from a keyfile at `path`.
pub fn load_hotkey_file(path: &Path) -> Result<HotkeyPair, WalletError> {
    let data = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => WalletError::NotFound { path: path.to_owned() },
        _ => WalletError::Unreadable { path: path.to_owned(), source },
    })?;
    if let Some(method) = encryption_method(&data) {
        return Err(WalletError::Encrypted { path: path.to_owned(), method });
    }
    let keyfile: Keyfile = serde_json::from_slice(&data).map_err(|source| WalletError::NotJson { path: path.to_owned(), source })?;
    let scheme = match keyfile.crypto_type {
        None => Scheme::Sr25519,
        Some(value) => {
            Scheme::from_crypto_type(value).ok_or(WalletError::UnknownCryptoType { path: path.to_owned(), crypto_type: value })?
        }
    };
    let pair = pair_from_keyfile(path, &keyfile, scheme)?;

    // The stored public parts must belong to the secret: a file edited by hand (or a bug
    // upstream) would otherwise sign as one key while claiming to be another.
    let derived = pair.hotkey().to_string();
    if let Some(stored) = &keyfile.ss58_address
        && stored != &derived
    {
        return Err(WalletError::Mismatch { path: path.to_owned(), field: "ss58Address", derived, stored: stored.clone() });
    }
    if let Some(stored) = &keyfile.public_key {
        let stored_key: [u8; 32] = hex_bytes(path, "publicKey", stored)?;
        if stored_key != pair.public_key() {
            return Err(WalletError::Mismatch { path: path.to_owned(), field: "publicKey", derived, stored: stored.clone() });
        }
    }
    Ok(pair)
}

fn pair_from_keyfile(path: &Path, keyfile: &Keyfile, scheme: Scheme) -> Result<HotkeyPair, WalletError> {
    let bad = |field: &'static str, reason: String| WalletError::BadField { path: path.to_owned(), field, reason };
    if let Some(seed) = keyfile.secret_seed.as_deref().filter(|s| !s.is_empty()) {
        let seed: [u8; 32] = hex_bytes(path, "secretSeed", seed)?;
        return match scheme {
            Scheme::Sr25519 => HotkeyPair::sr25519_from_seed(seed).map_err(|e| bad("secretSeed", e.to_string())),
            Scheme::Ed25519 => Ok(HotkeyPair::ed25519_from_seed(seed)),
        };
    }
    if let Some(phrase) = keyfile.secret_phrase.as_deref().filter(|s| !s.is_empty())
        && scheme == Scheme::Sr25519
    {
        let mnemonic = subxt_signer::bip39::Mnemonic::parse(phrase).map_err(|e| bad("secretPhrase", e.to_string()))?;
        let pair = subxt_signer::sr25519::Keypair::from_phrase(&mnemonic, None).map_err(|e| bad("secretPhrase", e.to_string()))?;
        return Ok(HotkeyPair::new(Secret::Sr25519(pair)));
    }
    if let Some(private) = keyfile.private_key.as_deref().filter(|s| !s.is_empty()) {
        return match scheme {
            Scheme::Sr25519 => {
                // schnorrkel's 64-byte secret key: the scalar, then the signing nonce.
                let bytes: [u8; 64] = hex_bytes(path, "privateKey", private)?;
                let secret = schnorrkel::SecretKey::from_bytes(&bytes).map_err(|e| bad("privateKey", e.to_string()))?;
                Ok(HotkeyPair::new(Secret::Sr25519Expanded(Box::new(secret.to_keypair()))))
            }
            Scheme::Ed25519 => Ok(HotkeyPair::ed25519_from_seed(hex_bytes(path, "privateKey", private)?)),
        };
    }
    Err(WalletError::NoSecret { path: path.to_owned() })
}

/// Where a hotkey lives: the SDK's `Wallet(name, hotkey, path)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletOptions {
    /// The wallets directory; `~` is expanded. Default `~/.bittensor/wallets`.
    pub path: PathBuf,
    /// The wallet (coldkey) name. Default `default`.
    pub name: String,
    /// The hotkey name within the wallet. Default `default`.
    pub hotkey: String,
}

pub const DEFAULT_WALLET_PATH: &str = "~/.bittensor/wallets";

impl Default for WalletOptions {
    fn default() -> Self {
        Self { path: PathBuf::from(DEFAULT_WALLET_PATH), name: "default".into(), hotkey: "default".into() }
    }
}

impl WalletOptions {
    /// `<path>/<name>/hotkeys/<hotkey>`, with a leading `~` expanded as the SDK does.
    pub fn hotkey_file(&self) -> PathBuf {
        expand_home(&self.path).join(&self.name).join("hotkeys").join(&self.hotkey)
    }

    pub fn load_hotkey(&self) -> Result<HotkeyPair, WalletError> {
        load_hotkey_file(&self.hotkey_file())
    }
}

fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_owned(),
    }
}

/// The wallet options as the Bittensor ecosystem spells them (`--wallet.name` ...), for a
/// command to `#[command(flatten)]`. SDK 11's `btcli` spellings (`--wallet`,
/// `--wallet-hotkey`, `--wallet-path`) are accepted as aliases.
#[derive(Debug, Clone, clap::Args)]
pub struct WalletArgs {
    /// Directory holding Bittensor wallets; the hotkey file is
    /// <wallet.path>/<wallet.name>/hotkeys/<wallet.hotkey>.
    #[arg(long = "wallet.path", visible_alias = "wallet-path", env = "BT_WALLET_PATH", default_value = DEFAULT_WALLET_PATH, value_name = "DIR")]
    pub wallet_path: PathBuf,
    /// Wallet (coldkey) name; `NAME/HOTKEY` names the hotkey too.
    #[arg(long = "wallet.name", visible_alias = "wallet", env = "BT_WALLET_NAME", default_value = "default", value_name = "NAME")]
    pub wallet_name: String,
    /// Hotkey name within the wallet [default: default].
    #[arg(long = "wallet.hotkey", visible_alias = "wallet-hotkey", env = "BT_WALLET_HOTKEY", value_name = "HOTKEY")]
    pub wallet_hotkey: Option<String>,
    /// Sign with a well-known development key instead of a wallet (devnet only: these secrets
    /// are public). Overrides the wallet options.
    #[arg(long = "dev-key", env = "WHETSTONE_DEV_KEY", value_enum, value_name = "NAME")]
    pub dev_key: Option<dev::DevKey>,
}

/// Where to take the signing hotkey from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotkeySource {
    Wallet(WalletOptions),
    Dev(dev::DevKey),
}

impl HotkeySource {
    pub fn load(&self) -> Result<HotkeyPair, WalletError> {
        match self {
            Self::Wallet(options) => options.load_hotkey(),
            Self::Dev(key) => Ok(key.pair()),
        }
    }

    /// What to call this source in messages: the keyfile path or the dev key's name.
    pub fn describe(&self) -> String {
        match self {
            Self::Wallet(options) => options.hotkey_file().display().to_string(),
            Self::Dev(key) => format!("dev key {}", key.name()),
        }
    }
}

impl WalletArgs {
    /// The plain options; `--wallet.name cold/hot` is split as the SDK's `Wallet` does.
    pub fn source(&self) -> Result<HotkeySource, WalletError> {
        if let Some(key) = self.dev_key {
            return Ok(HotkeySource::Dev(key));
        }
        let (name, hotkey) = match self.wallet_name.split_once('/') {
            None => (self.wallet_name.clone(), self.wallet_hotkey.clone().unwrap_or_else(|| "default".into())),
            Some((name, hotkey)) => {
                if name.is_empty() || hotkey.is_empty() || hotkey.contains('/') || self.wallet_hotkey.is_some() {
                    return Err(WalletError::BadWalletName(self.wallet_name.clone()));
                }
                (name.to_owned(), hotkey.to_owned())
            }
        };
        if name.is_empty() || hotkey.is_empty() {
            return Err(WalletError::BadWalletName(self.wallet_name.clone()));
        }
        Ok(HotkeySource::Wallet(WalletOptions { path: self.wallet_path.clone(), name, hotkey }))
    }

    pub fn load(&self) -> Result<HotkeyPair, WalletError> {
        self.source()?.load()
    }
}

/// The substrate development keyring (`//Alice` ...), whose secrets everyone knows. Devnet
/// uses them as hotkeys: Alice is the subnet owner, runs the coordinator and validates; Ferdie
/// validates too; the others mine.
pub mod dev {
    use super::HotkeyPair;

    pub const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    pub const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
    pub const CHARLIE: &str = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";
    pub const DAVE: &str = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy";
    pub const EVE: &str = "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw";
    pub const FERDIE: &str = "5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL";

    /// Devnet's validators: Alice (1000 TAO of stake) and Ferdie (600), both with permits.
    pub const VALIDATORS: &[&str] = &[ALICE, FERDIE];
    /// Miner hotkeys in the order devnet hands them to agents.
    pub const MINERS: &[&str] = &[BOB, CHARLIE, DAVE, EVE];

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
    pub enum DevKey {
        Alice,
        Bob,
        Charlie,
        Dave,
        Eve,
        Ferdie,
    }

    impl DevKey {
        pub const ALL: [DevKey; 6] = [Self::Alice, Self::Bob, Self::Charlie, Self::Dave, Self::Eve, Self::Ferdie];

        pub fn name(self) -> &'static str {
            match self {
                Self::Alice => "alice",
                Self::Bob => "bob",
                Self::Charlie => "charlie",
                Self::Dave => "dave",
                Self::Eve => "eve",
                Self::Ferdie => "ferdie",
            }
        }

        pub fn address(self) -> &'static str {
            match self {
                Self::Alice => ALICE,
                Self::Bob => BOB,
                Self::Charlie => CHARLIE,
                Self::Dave => DAVE,
                Self::Eve => EVE,
                Self::Ferdie => FERDIE,
            }
        }

        /// The dev key whose address this is.
        pub fn of_address(address: &str) -> Option<Self> {
            Self::ALL.into_iter().find(|key| key.address() == address)
        }

        /// The sr25519 pair of `//Name`, derived from the substrate dev phrase.
        pub fn pair(self) -> HotkeyPair {
            let pair = match self {
                Self::Alice => subxt_signer::sr25519::dev::alice(),
                Self::Bob => subxt_signer::sr25519::dev::bob(),
                Self::Charlie => subxt_signer::sr25519::dev::charlie(),
                Self::Dave => subxt_signer::sr25519::dev::dave(),
                Self::Eve => subxt_signer::sr25519::dev::eve(),
                Self::Ferdie => subxt_signer::sr25519::dev::ferdie(),
            };
            HotkeyPair::new(super::Secret::Sr25519(pair))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_key_constants_are_the_derived_addresses() {
        for key in dev::DevKey::ALL {
            assert_eq!(key.pair().hotkey().as_str(), key.address(), "{}", key.name());
            assert_eq!(
                HotkeyPair::from_uri(&format!("//{}", capitalised(key.name()))).map(|p| p.hotkey().clone()).ok(),
                Some(key.pair().hotkey().clone())
            );
        }
    }

    fn capitalised(name: &str) -> String {
        let mut chars = name.chars();
        chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
    }

    #[test]
    fn ss58_round_trips_and_rejects_typos() {
        let (format, public) = decode_ss58(dev::ALICE).expect("alice decodes");
        assert_eq!(format, 42);
        assert_eq!(encode_ss58(&public, 42), dev::ALICE);
        // Polkadot (0) and a two-byte format survive the round trip too.
        for format in [0, 2, 64, 255, 1284, 16383] {
            let address = encode_ss58(&public, format);
            assert_eq!(decode_ss58(&address), Ok((format, public)), "{format}");
        }
        let typo = dev::ALICE.replace('G', "H");
        assert!(matches!(decode_ss58(&typo), Err(Ss58Error::BadChecksum(_))));
        assert!(matches!(decode_ss58("0OIl"), Err(Ss58Error::NotBase58(_))));
        let polkadot = Hotkey::new(encode_ss58(&public, 0));
        assert!(matches!(public_key_of(&polkadot), Err(Ss58Error::WrongNetwork { format: 0, .. })));
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        for pair in [dev::DevKey::Bob.pair(), HotkeyPair::ed25519_from_seed([7; 32])] {
            let signature = pair.sign(b"message");
            assert!(verify_signature(pair.scheme(), &pair.public_key(), b"message", &signature));
            assert!(!verify_signature(pair.scheme(), &pair.public_key(), b"massage", &signature));
            assert!(!verify_signature(pair.scheme(), &dev::DevKey::Eve.pair().public_key(), b"message", &signature));
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let text = format!("{:?}", dev::DevKey::Alice.pair());
        assert!(text.contains(dev::ALICE) && !text.to_lowercase().contains("secret"), "{text}");
    }
}
