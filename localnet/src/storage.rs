//! The node's state: a sorted key-value map of SCALE bytes under substrate's storage keys
//! (`twox128(pallet) ++ twox128(item) ++ hashed keys`), so `state_getStorage` and
//! `state_getKeysPaged` answer exactly what a real node would for the same items.
//!
//! Storage items are declared once with [`storage_items!`]; the declaration gives typed access
//! for the runtime logic and the metadata entry clients read.

use std::collections::BTreeMap;

use frame_metadata::v16::{StorageEntryMetadata, StorageEntryModifier, StorageEntryType, StorageHasher};
use parity_scale_codec::{Decode, Encode};
use scale_info::{MetaType, TypeInfo};

/// The key hashers subtensor's storage uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hasher {
    Identity,
    Blake2_128Concat,
    Twox64Concat,
}

impl Hasher {
    fn hash(self, encoded: &[u8]) -> Vec<u8> {
        match self {
            Hasher::Identity => encoded.to_vec(),
            Hasher::Blake2_128Concat => [&sp_crypto_hashing::blake2_128(encoded)[..], encoded].concat(),
            Hasher::Twox64Concat => [&sp_crypto_hashing::twox_64(encoded)[..], encoded].concat(),
        }
    }

    /// How many bytes of hash precede the encoded key.
    fn prefix_len(self) -> usize {
        match self {
            Hasher::Identity => 0,
            Hasher::Blake2_128Concat => 16,
            Hasher::Twox64Concat => 8,
        }
    }

    fn metadata(self) -> StorageHasher {
        match self {
            Hasher::Identity => StorageHasher::Identity,
            Hasher::Blake2_128Concat => StorageHasher::Blake2_128Concat,
            Hasher::Twox64Concat => StorageHasher::Twox64Concat,
        }
    }
}

/// The key of a storage item: `()` for a plain value, a tuple with one element per hasher
/// for a map. The metadata names a single key's type directly and several keys as a tuple.
pub(crate) trait StorageKey {
    fn encode_parts(&self) -> Vec<Vec<u8>>;
    fn key_type() -> Option<MetaType>;
}

impl StorageKey for () {
    fn encode_parts(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
    fn key_type() -> Option<MetaType> {
        None
    }
}

impl<A: Encode + TypeInfo + 'static> StorageKey for (A,) {
    fn encode_parts(&self) -> Vec<Vec<u8>> {
        vec![self.0.encode()]
    }
    fn key_type() -> Option<MetaType> {
        Some(MetaType::new::<A>())
    }
}

impl<A: Encode + TypeInfo + 'static, B: Encode + TypeInfo + 'static> StorageKey for (A, B) {
    fn encode_parts(&self) -> Vec<Vec<u8>> {
        vec![self.0.encode(), self.1.encode()]
    }
    fn key_type() -> Option<MetaType> {
        Some(MetaType::new::<(A, B)>())
    }
}

/// One storage item.
pub(crate) trait StorageEntry {
    const PALLET: &'static str;
    const NAME: &'static str;
    const HASHERS: &'static [Hasher];
    type Key: StorageKey;
    type Value: Encode + Decode + TypeInfo + 'static;
    /// `None` for items read as `Option` (absent means absent).
    fn default_value() -> Option<Self::Value>;
    fn docs() -> Vec<&'static str>;
}

/// A storage item with a default value, read as the value itself.
pub(crate) trait ValueQuery: StorageEntry {
    fn default() -> Self::Value;
}

pub(crate) fn prefix_of(pallet: &str, item: &str) -> Vec<u8> {
    [sp_crypto_hashing::twox_128(pallet.as_bytes()), sp_crypto_hashing::twox_128(item.as_bytes())].concat()
}

pub(crate) fn key_of<E: StorageEntry>(key: &E::Key) -> Vec<u8> {
    let mut out = prefix_of(E::PALLET, E::NAME);
    for (hasher, part) in E::HASHERS.iter().zip(key.encode_parts()) {
        out.extend(hasher.hash(&part));
    }
    out
}

/// The metadata entry of a storage item.
pub(crate) fn entry_metadata<E: StorageEntry>() -> StorageEntryMetadata {
    let (modifier, default) = match E::default_value() {
        Some(value) => (StorageEntryModifier::Default, value.encode()),
        None => (StorageEntryModifier::Optional, None::<()>.encode()),
    };
    let ty = match E::Key::key_type() {
        None => StorageEntryType::Plain(MetaType::new::<E::Value>()),
        Some(key) => {
            StorageEntryType::Map { hashers: E::HASHERS.iter().map(|h| h.metadata()).collect(), key, value: MetaType::new::<E::Value>() }
        }
    };
    StorageEntryMetadata {
        name: E::NAME,
        modifier,
        ty,
        default,
        docs: E::docs(),
        deprecation_info: frame_metadata::v16::ItemDeprecationInfo::NotDeprecated,
    }
}

/// The whole key-value state at one block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct State {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl State {
    pub(crate) fn raw(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Keys under `prefix`, in order, starting strictly after `start_after` when given.
    pub(crate) fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
        start_after: Option<&'a [u8]>,
    ) -> impl Iterator<Item = &'a Vec<u8>> + 'a {
        let from = match start_after {
            Some(start) if start >= prefix => std::ops::Bound::Excluded(start.to_vec()),
            _ => std::ops::Bound::Included(prefix.to_vec()),
        };
        self.entries.range((from, std::ops::Bound::Unbounded)).map(|(k, _)| k).take_while(move |k| k.starts_with(prefix))
    }

    /// The present value, or `None` when absent.
    pub(crate) fn get<E: StorageEntry>(&self, key: E::Key) -> Option<E::Value> {
        let bytes = self.entries.get(&key_of::<E>(&key))?;
        match E::Value::decode(&mut bytes.as_slice()) {
            Ok(value) => Some(value),
            Err(error) => {
                // Only this crate writes the state, always through the same types.
                tracing::error!(pallet = E::PALLET, item = E::NAME, %error, "stored value does not decode");
                None
            }
        }
    }

    /// The value, or the item's default when absent.
    pub(crate) fn value<E: ValueQuery>(&self, key: E::Key) -> E::Value {
        self.get::<E>(key).unwrap_or_else(E::default)
    }

    pub(crate) fn insert<E: StorageEntry>(&mut self, key: E::Key, value: &E::Value) {
        self.entries.insert(key_of::<E>(&key), value.encode());
    }

    pub(crate) fn remove<E: StorageEntry>(&mut self, key: E::Key) {
        self.entries.remove(&key_of::<E>(&key));
    }

    pub(crate) fn mutate<E: ValueQuery, R>(&mut self, key: E::Key, f: impl FnOnce(&mut E::Value) -> R) -> R
    where
        E::Key: Clone,
    {
        let mut value = self.value::<E>(key.clone());
        let out = f(&mut value);
        self.insert::<E>(key, &value);
        out
    }

    /// Every (second key, value) under the first key of a two-key map.
    pub(crate) fn iter_prefix<E, K1, K2>(&self, first: &K1) -> Vec<(K2, E::Value)>
    where
        E: StorageEntry<Key = (K1, K2)>,
        K1: Encode + TypeInfo + 'static,
        K2: Encode + Decode + TypeInfo + 'static,
    {
        let mut prefix = prefix_of(E::PALLET, E::NAME);
        prefix.extend(E::HASHERS[0].hash(&first.encode()));
        let second_hash = E::HASHERS[1].prefix_len();
        self.entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, v)| {
                let key = K2::decode(&mut &k[prefix.len() + second_hash..]).ok()?;
                let value = E::Value::decode(&mut v.as_slice()).ok()?;
                Some((key, value))
            })
            .collect()
    }

    /// A digest of the whole state. Not a Merkle-Patricia trie root: localnet serves no
    /// storage proofs, so the header only needs a value that changes with the state.
    pub(crate) fn root(&self) -> [u8; 32] {
        let mut hasher_input = Vec::new();
        for (k, v) in &self.entries {
            k.encode_to(&mut hasher_input);
            v.encode_to(&mut hasher_input);
        }
        sp_crypto_hashing::blake2_256(&hasher_input)
    }
}

/// Declares storage items of one pallet:
///
/// ```ignore
/// storage_items! {
///     pallet "SubtensorModule";
///     /// Docs.
///     Tempo: map [Identity] (u16) => u16 = default 360;
///     Uids: map [Identity, Blake2_128Concat] (u16, AccountId32) => u16 = optional;
///     TotalNetworks: value => u16 = default 0;
/// }
/// ```
///
/// and a `metadata()` function listing their metadata entries in declaration order.
macro_rules! storage_items {
    (
        pallet $pallet:literal;
        $(
            $(#[doc = $doc:literal])*
            $name:ident : $kind:ident $([$($hasher:ident),+] ($($key:ty),+))? => $value:ty = $query:ident $($default:expr)?;
        )*
    ) => {
        $(
            $(#[doc = $doc])*
            #[derive(Debug)]
            pub(crate) struct $name;

            impl $crate::storage::StorageEntry for $name {
                const PALLET: &'static str = $pallet;
                const NAME: &'static str = stringify!($name);
                const HASHERS: &'static [$crate::storage::Hasher] = &[$($($crate::storage::Hasher::$hasher),+)?];
                type Key = storage_items!(@key $kind $($($key),+)?);
                type Value = $value;
                fn default_value() -> Option<$value> {
                    storage_items!(@default $query $($default)?)
                }
                fn docs() -> Vec<&'static str> {
                    vec![$($doc.trim()),*]
                }
            }

            storage_items!(@value_query $name $value; $query $($default)?);
        )*

        /// The metadata entries of this pallet's storage, in declaration order.
        pub(crate) fn metadata() -> Vec<frame_metadata::v16::StorageEntryMetadata> {
            vec![$($crate::storage::entry_metadata::<$name>()),*]
        }
    };
    (@key value) => { () };
    (@key map $k:ty) => { ($k,) };
    (@key map $k1:ty, $k2:ty) => { ($k1, $k2) };
    (@default optional) => { None };
    (@default default $default:expr) => { Some($default) };
    (@value_query $name:ident $value:ty; optional) => {};
    (@value_query $name:ident $value:ty; default $default:expr) => {
        impl $crate::storage::ValueQuery for $name {
            fn default() -> $value {
                $default
            }
        }
    };
}

pub(crate) use storage_items;

#[cfg(test)]
mod tests {
    use super::*;

    storage_items! {
        pallet "SubtensorModule";
        /// Tempo.
        Tempo: map [Identity] (u16) => u16 = default 360;
        Uids: map [Identity, Blake2_128Concat] (u16, [u8; 32]) => u16 = optional;
        TotalNetworks: value => u16 = default 0;
    }

    #[test]
    fn keys_follow_substrate_layout() {
        let prefix = prefix_of("SubtensorModule", "Tempo");
        // twox128("SubtensorModule") as every subtensor client hard-codes it.
        assert_eq!(hex::encode(&prefix[..16]), "658faa385070e074c85bf6b568cf0555");
        assert_eq!(key_of::<Tempo>(&(7,)), [prefix, 7u16.encode()].concat());
        let uid_key = key_of::<Uids>(&(1, [9; 32]));
        assert!(uid_key.ends_with(&[9; 32]), "blake2_128_concat keeps the key readable");
        assert_eq!(uid_key.len(), 32 + 2 + 16 + 32);
    }

    #[test]
    fn typed_access_reads_defaults_and_iterates_maps() {
        let mut state = State::default();
        assert_eq!(state.value::<Tempo>((1,)), 360);
        assert_eq!(state.get::<Tempo>((1,)), None);
        state.insert::<Tempo>((1,), &10);
        assert_eq!(state.value::<Tempo>((1,)), 10);
        state.insert::<Uids>((1, [2; 32]), &0);
        state.insert::<Uids>((1, [1; 32]), &1);
        state.insert::<Uids>((2, [1; 32]), &5);
        let mut on_one = state.iter_prefix::<Uids, u16, [u8; 32]>(&1);
        on_one.sort();
        assert_eq!(on_one, vec![([1; 32], 1), ([2; 32], 0)]);
        state.mutate::<TotalNetworks, _>((), |n| *n += 2);
        assert_eq!(state.value::<TotalNetworks>(()), 2);
        let metadata = metadata();
        assert_eq!(metadata.len(), 3);
        assert_eq!(metadata[0].default, 360u16.encode());
        assert_eq!(metadata[1].default, vec![0]);
    }

    #[test]
    fn keys_with_prefix_pages_after_the_start_key() {
        let mut state = State::default();
        for netuid in 0..5u16 {
            state.insert::<Tempo>((netuid,), &1);
        }
        let prefix = prefix_of("SubtensorModule", "Tempo");
        let all: Vec<_> = state.keys_with_prefix(&prefix, None).cloned().collect();
        assert_eq!(all.len(), 5);
        let rest: Vec<_> = state.keys_with_prefix(&prefix, Some(&all[1])).cloned().collect();
        assert_eq!(rest, all[2..].to_vec());
    }
}
