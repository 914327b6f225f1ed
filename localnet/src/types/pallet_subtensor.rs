//! `pallet_subtensor` types: the SubtensorModule calls, events and errors localnet implements,
//! with the runtime's names, field names, shapes and variant indices (checked against finney's
//! metadata by the `metadata_matches_finney` test).

pub mod pallet {
    use parity_scale_codec::{Decode, Encode};
    use scale_info::TypeInfo;

    use crate::types::bounded_collections::bounded_vec::BoundedVec;
    use crate::types::{AccountId32, H256};

    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    #[expect(non_camel_case_types, reason = "call names are the runtime's snake_case names")]
    pub enum Call {
        /// Set the calling hotkey's weights on a subnet (rejected while commit-reveal is on).
        #[codec(index = 0)]
        set_weights { netuid: u16, dests: Vec<u16>, weights: Vec<u16>, version_key: u64 },
        /// Register a hotkey on a subnet by burning the subnet's registration cost from the
        /// calling coldkey's balance.
        #[codec(index = 7)]
        burned_register { netuid: u16, hotkey: AccountId32 },
        /// Commit timelock-encrypted weights; the chain reveals them once the drand round's
        /// pulse is on chain, `RevealPeriodEpochs` epochs later.
        #[codec(index = 113)]
        commit_timelocked_weights { netuid: u16, commit: BoundedVec<u8>, reveal_round: u64, commit_reveal_version: u16 },
        /// `set_weights` addressed to one of the subnet's mechanisms; localnet runs only the
        /// main one (0).
        #[codec(index = 119)]
        set_mechanism_weights { netuid: u16, mecid: u8, dests: Vec<u16>, weights: Vec<u16>, version_key: u64 },
        /// `commit_timelocked_weights` addressed to one of the subnet's mechanisms; localnet
        /// runs only the main one (0).
        #[codec(index = 118)]
        commit_timelocked_mechanism_weights {
            netuid: u16,
            mecid: u8,
            commit: BoundedVec<u8>,
            reveal_round: u64,
            commit_reveal_version: u16,
        },
    }

    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub enum Event {
        /// Weights set: (netuid index, uid).
        #[codec(index = 5)]
        WeightsSet(u16, u16),
        /// A neuron registered: (netuid, uid, hotkey).
        #[codec(index = 6)]
        NeuronRegistered(u16, u16, AccountId32),
        /// Timelocked weights committed: (hotkey, netuid index, blake2-256 of the commit,
        /// reveal round).
        #[codec(index = 105)]
        TimelockedWeightsCommitted(AccountId32, u16, H256, u64),
        /// Timelocked weights revealed and applied: (netuid index, hotkey).
        #[codec(index = 106)]
        TimelockedWeightsRevealed(u16, AccountId32),
    }

    /// The SubtensorModule errors localnet can raise; indices are the runtime's, so a
    /// `DispatchError::Module` decodes to the same name as on finney.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
    pub enum Error {
        #[codec(index = 4)]
        HotKeyNotRegisteredInSubNet,
        #[codec(index = 10)]
        NotEnoughStakeToSetWeights,
        #[codec(index = 12)]
        NotEnoughBalanceToStake,
        #[codec(index = 15)]
        NeuronNoValidatorPermit,
        #[codec(index = 16)]
        WeightVecNotEqualSize,
        #[codec(index = 17)]
        DuplicateUids,
        #[codec(index = 18)]
        UidVecContainInvalidOne,
        #[codec(index = 19)]
        WeightVecLengthIsLow,
        #[codec(index = 20)]
        TooManyRegistrationsThisBlock,
        #[codec(index = 21)]
        HotKeyAlreadyRegisteredInSubNet,
        #[codec(index = 26)]
        MaxWeightExceeded,
        #[codec(index = 28)]
        SettingWeightsTooFast,
        #[codec(index = 29)]
        IncorrectWeightVersionKey,
        #[codec(index = 31)]
        UidsLengthExceedUidsInSubNet,
        #[codec(index = 36)]
        SubNetRegistrationDisabled,
        #[codec(index = 41)]
        RegistrationNotPermittedOnRootSubnet,
        #[codec(index = 46)]
        CanNotSetRootNetworkWeights,
        #[codec(index = 47)]
        NoNeuronIdAvailable,
        #[codec(index = 52)]
        CommitRevealEnabled,
        #[codec(index = 53)]
        CommitRevealDisabled,
        #[codec(index = 73)]
        MechanismDoesNotExist,
        #[codec(index = 75)]
        SubnetNotExists,
        #[codec(index = 76)]
        TooManyUnrevealedCommits,
        #[codec(index = 80)]
        CommittingWeightsTooFast,
        #[codec(index = 111)]
        IncorrectCommitRevealVersion,
    }

    impl Error {
        /// The variant index, as it appears in `ModuleError.error[0]`.
        pub fn index(self) -> u8 {
            self.encode()[0]
        }
    }
}

pub mod extensions {
    pub mod subtensor {
        use parity_scale_codec::{Decode, Encode};
        use scale_info::TypeInfo;
        use std::marker::PhantomData;

        /// Zero-sized on the wire; subtensor uses it for priority and rate limits in the pool.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
        pub struct SubtensorTransactionExtension<T>(PhantomData<T>);
    }
}

pub use pallet::{Call, Error, Event};
