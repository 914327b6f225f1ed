//! Who is registered on the subnet. Devnet and tests use a fixed list; the subxt client will
//! fill the same type from chain storage.

/// Registered hotkeys by uid (a hotkey's index is its uid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metagraph {
    pub netuid: u16,
    pub hotkeys: Vec<String>,
}

impl Metagraph {
    pub fn uid_of(&self, hotkey: &str) -> Option<u16> {
        self.hotkeys.iter().position(|h| h == hotkey).and_then(|i| u16::try_from(i).ok())
    }
}

/// Who may do what on the subnet, as the coordinator asks it: a signed request is only
/// admitted from a registered hotkey, and weight-relevant work only from a validator-permit
/// holder. Implemented from synced chain state by the chain client, and by [`AllowAll`] and
/// [`StaticMembership`] for devnet and tests.
pub trait Membership: Send + Sync + std::fmt::Debug {
    /// The hotkey holds a uid on the subnet.
    fn is_registered(&self, hotkey: &whetstone_tasks::Hotkey) -> bool;
    /// The hotkey holds a validator permit on the subnet.
    fn has_validator_permit(&self, hotkey: &whetstone_tasks::Hotkey) -> bool;
    /// Every permit holder with the stake its verdicts carry, when this view knows them;
    /// `None` when membership is not checked ([`AllowAll`]).
    fn validator_set(&self) -> Option<crate::consensus::ValidatorSet>;
}

/// Everyone is registered and holds a permit: signatures are still checked, membership is
/// not. For local rounds and tests only.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Membership for AllowAll {
    fn is_registered(&self, _: &whetstone_tasks::Hotkey) -> bool {
        true
    }

    fn has_validator_permit(&self, _: &whetstone_tasks::Hotkey) -> bool {
        true
    }

    fn validator_set(&self) -> Option<crate::consensus::ValidatorSet> {
        None
    }
}

/// A fixed membership: registered hotkeys, and among them the validators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticMembership {
    pub registered: std::collections::BTreeSet<whetstone_tasks::Hotkey>,
    pub validators: std::collections::BTreeSet<whetstone_tasks::Hotkey>,
}

impl StaticMembership {
    /// `validators` are registered too.
    pub fn new(
        miners: impl IntoIterator<Item = whetstone_tasks::Hotkey>,
        validators: impl IntoIterator<Item = whetstone_tasks::Hotkey>,
    ) -> Self {
        let validators: std::collections::BTreeSet<_> = validators.into_iter().collect();
        let registered = miners.into_iter().chain(validators.iter().cloned()).collect();
        Self { registered, validators }
    }

    /// Devnet's metagraph: Alice and Ferdie validate, Bob, Charlie, Dave and Eve mine.
    pub fn devnet() -> Self {
        use crate::wallet::dev;
        Self::new(
            dev::MINERS.iter().map(|h| whetstone_tasks::Hotkey::new(*h)),
            dev::VALIDATORS.iter().map(|h| whetstone_tasks::Hotkey::new(*h)),
        )
    }
}

impl Membership for StaticMembership {
    fn is_registered(&self, hotkey: &whetstone_tasks::Hotkey) -> bool {
        self.registered.contains(hotkey)
    }

    fn has_validator_permit(&self, hotkey: &whetstone_tasks::Hotkey) -> bool {
        self.validators.contains(hotkey)
    }

    /// A fixed list carries no stake: every validator's verdict weighs the same.
    fn validator_set(&self) -> Option<crate::consensus::ValidatorSet> {
        Some(crate::consensus::ValidatorSet::new(self.validators.iter().map(|h| (h.clone(), 1))))
    }
}
