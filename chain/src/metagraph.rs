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
