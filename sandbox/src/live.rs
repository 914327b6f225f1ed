//! The containers and networks this process is using right now.
//!
//! Names go in before the engine creates the resource and come out when its guard is done,
//! so no janitor in this process (whichever [`Sandbox`](crate::Sandbox) runs it) ever
//! removes a resource a run still needs. The registry is process-wide because one process
//! may hold several sandboxes (devnet runs a runner and a validator side by side).

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, PoisonError};

static LIVE: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);

/// This process's identity, stamped on everything it creates (`whetstone.instance`), so a
/// janitor can tell its own leftovers from another process's.
static INSTANCE: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string());

pub(crate) fn instance_id() -> &'static str {
    &INSTANCE
}

pub(crate) fn is_live(name: &str) -> bool {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner).contains(name)
}

/// A name in the registry; dropping it takes the name out.
#[derive(Debug)]
pub(crate) struct LiveEntry {
    name: String,
}

impl LiveEntry {
    pub(crate) fn register(name: &str) -> Self {
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).insert(name.to_owned());
        Self { name: name.to_owned() }
    }
}

impl Drop for LiveEntry {
    fn drop(&mut self) {
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_until_dropped() {
        let name = format!("live-test-{}", uuid::Uuid::new_v4().simple());
        assert!(!is_live(&name));
        let entry = LiveEntry::register(&name);
        assert!(is_live(&name));
        drop(entry);
        assert!(!is_live(&name));
    }
}
