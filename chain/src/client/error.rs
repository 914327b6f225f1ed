//! Chain client failures, each saying what happened and what to do next.
//!
//! Subtensor refuses weights in two places: the transaction pool (its transaction extension
//! answers `Invalid Transaction: Custom error: N` before the extrinsic is ever included) and
//! dispatch (`SubtensorModule::SettingWeightsTooFast` in an `ExtrinsicFailed` event). Both
//! are mapped here to [`Rejection`]s with the same advice.

use std::time::Duration;

use super::shapes::ShapeMismatches;

/// Seconds per block on finney, for "allowed in about N minutes" estimates.
pub const SECONDS_PER_BLOCK: u64 = 12;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(
        "cannot reach the subtensor node at {endpoint}; check that it is running and that --chain.endpoint is right (ws://host:port or wss://host:port, `finney`, `test` or `local`)"
    )]
    Unreachable {
        endpoint: String,
        #[source]
        source: RootCause,
    },
    #[error("{0:?} is not a chain endpoint; give a ws:// or wss:// URL, or one of `finney`, `test`, `local`")]
    BadEndpoint(String),
    #[error(
        "the node at {endpoint} runs a runtime (spec version {spec_version}) this client does not match; upgrade whetstone, or report this if it is the latest release:\n{mismatches}"
    )]
    IncompatibleRuntime { endpoint: String, spec_version: u32, mismatches: ShapeMismatches },
    #[error("this client cannot build extrinsics for the node's runtime: {0}; upgrade whetstone")]
    IncompatibleExtrinsic(String),
    #[error("failed to {action}")]
    Rpc {
        action: String,
        #[source]
        source: Box<subxt::Error>,
    },
    #[error("subnet {netuid} does not exist on this chain; check --netuid")]
    NoSuchSubnet { netuid: u16 },
    #[error(
        "hotkey {hotkey} is not registered on subnet {netuid}; register it first (`btcli subnets register --netuid {netuid}`) or choose another --wallet.hotkey"
    )]
    NotRegistered { hotkey: String, netuid: u16 },
    #[error(
        "hotkey {hotkey} (uid {uid}) has no validator permit on subnet {netuid}: only the subnet's top validators by stake may set weights; add stake to the hotkey and wait for the next epoch"
    )]
    NoValidatorPermit { hotkey: String, uid: u16, netuid: u16 },
    #[error(
        "too soon to set weights on subnet {netuid}: uid {uid} last set weights at block {last_update} and the rate limit is {rate_limit} blocks, so the next submission is allowed at block {allowed_at} (now {current}, about {} from now)",
        human_duration(.wait)
    )]
    RateLimited { netuid: u16, uid: u16, last_update: u64, rate_limit: u64, current: u64, allowed_at: u64, wait: Duration },
    #[error(
        "version key {given} is below subnet {netuid}'s weights version key {required}; upgrade to a release that sets weights with version key {required} or higher"
    )]
    VersionKeyTooLow { netuid: u16, given: u64, required: u64 },
    #[error("weights are invalid: {0}")]
    InvalidWeights(String),
    #[error(
        "hotkey {hotkey} cannot sign extrinsics: it is not an sr25519 key with a seed (regenerate it with `btcli wallet regen-hotkey` from its mnemonic or seed)"
    )]
    CannotSign { hotkey: String },
    #[error("failed to build the timelocked weights commit: {0}")]
    Timelock(String),
    #[error("the chain rejected {call}{}: {rejection}", extrinsic.as_ref().map(|h| format!(" (extrinsic {h})")).unwrap_or_default())]
    Rejected { call: &'static str, extrinsic: Option<String>, rejection: Rejection },
    #[error("gave up on {call} after {attempts} attempts")]
    GaveUp {
        call: &'static str,
        attempts: u32,
        #[source]
        last: Box<ChainError>,
    },
}

/// The innermost cause of a failure, alone: subxt's errors repeat their causes in their own
/// messages, which makes a printed cause chain stutter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RootCause(pub String);

impl RootCause {
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut innermost = error;
        while let Some(cause) = innermost.source() {
            innermost = cause;
        }
        RootCause(innermost.to_string())
    }
}

impl ChainError {
    pub(crate) fn unreachable(endpoint: impl Into<String>, error: impl Into<subxt::Error>) -> Self {
        ChainError::Unreachable { endpoint: endpoint.into(), source: RootCause::of(&error.into()) }
    }

    pub(crate) fn rpc(action: impl Into<String>, source: impl Into<subxt::Error>) -> Self {
        ChainError::Rpc { action: action.into(), source: Box::new(source.into()) }
    }

    /// Whether trying again later may succeed without anyone changing anything: a dropped
    /// connection, a full or busy transaction pool, a transaction outbid by another.
    pub fn is_transient(&self) -> bool {
        match self {
            ChainError::Unreachable { .. } => true,
            ChainError::Rpc { source, .. } => is_transient_text(&error_text(source.as_ref())),
            ChainError::Rejected { rejection, .. } => rejection.transient,
            _ => false,
        }
    }
}

/// Why the chain refused an extrinsic, with advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `SubtensorModule::SettingWeightsTooFast`, `pool: Custom error 6`, `pool: Priority is too low`...
    pub reason: String,
    pub advice: &'static str,
    pub transient: bool,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.advice.is_empty() { write!(f, "{}", self.reason) } else { write!(f, "{}: {}", self.reason, self.advice) }
    }
}

impl Rejection {
    /// A dispatch error of a pallet, by name (`SubtensorModule`, `SettingWeightsTooFast`).
    pub fn module(pallet: &str, error: &str) -> Self {
        Rejection { reason: format!("{pallet}::{error}"), advice: module_advice(error), transient: false }
    }

    /// A transaction the pool refused, from the node's message.
    pub fn pool(message: &str) -> Self {
        let transient = is_transient_text(message);
        let advice = match custom_code(message) {
            Some(code) => custom_advice(code),
            None if transient => "the transaction pool is busy or the transaction was outbid; it is retried with backoff",
            None => "",
        };
        Rejection { reason: format!("transaction pool: {message}"), advice, transient }
    }
}

/// Advice for subtensor's dispatch errors around weights and registration.
pub fn module_advice(error: &str) -> &'static str {
    match error {
        "SettingWeightsTooFast" => {
            "weights were set too recently; wait for the subnet's weights rate limit (see `whetstone chain hyperparams`) to pass"
        }
        "NeuronNoValidatorPermit" => "the hotkey has no validator permit on this subnet; add stake and wait for the next epoch",
        "IncorrectWeightVersionKey" => "the version key is below the subnet's weights_version_key; upgrade whetstone",
        "CommitRevealEnabled" => {
            "the subnet uses commit-reveal; weights must be committed (this client does so when it reads the flag, so the flag changed in between: retry)"
        }
        "CommitRevealDisabled" => "commit-reveal is off on this subnet; set weights directly",
        "HotKeyNotRegisteredInSubNet" | "HotKeyNotRegisteredInNetwork" => "the hotkey is not registered on this subnet; register it first",
        "SubnetNotExists" | "SubNetworkDoesNotExist" => "the subnet does not exist; check --netuid",
        "WeightVecNotEqualSize" => "uids and weights differ in length",
        "DuplicateUids" => "a uid appears twice in the weights",
        "UidVecContainInvalidOne" | "UidsLengthExceedUidsInSubNet" => {
            "a uid in the weights is not registered on the subnet; refresh the metagraph"
        }
        "WeightVecLengthIsLow" => "fewer weights than the subnet's min_allowed_weights; weight more uids",
        "MaxWeightExceeded" => "a weight exceeds the subnet's max_weights_limit; normalise with the subnet's limit",
        "NotEnoughStakeToSetWeights" => "the hotkey's stake is below the subnet's threshold for setting weights; add stake",
        "InvalidRevealRound" => "the reveal round is in the past; recompute it from the current block and try again",
        "TooManyUnrevealedCommits" => "too many commits await reveal; wait for them to be revealed",
        "CommittingWeightsTooFast" => "weights were committed too recently; wait for the rate limit to pass",
        "IncorrectCommitRevealVersion" => "the commit-reveal protocol version changed; upgrade whetstone",
        _ => "",
    }
}

/// Advice for subtensor's `InvalidTransaction::Custom(code)` (pallets/subtensor
/// `CustomTransactionError`; the numbers are part of the client-facing surface).
pub fn custom_advice(code: u8) -> &'static str {
    match code {
        1 => "StakeAmountTooLow: the hotkey's stake is below the subnet's threshold for setting weights; add stake",
        3 => "SubnetNotExists: the subnet does not exist; check --netuid",
        4 => "HotkeyAccountDoesntExist: the hotkey is not known to the chain; register it first",
        6 => "RateLimitExceeded: weights were set too recently; wait for the subnet's weights rate limit to pass",
        10 => "HotKeyNotRegisteredInNetwork: the hotkey is not registered on this subnet; register it first",
        15 => "InvalidRevealRound: the reveal round is already past the chain's latest drand round; recompute it and retry",
        19 => "UidNotFound: a uid is not registered on the subnet; refresh the metagraph",
        _ => "see subtensor's CustomTransactionError for this code",
    }
}

/// The `N` of `Custom error: N` / `Custom(N)` in a node's message.
fn custom_code(message: &str) -> Option<u8> {
    let lower = message.to_ascii_lowercase();
    let rest = lower
        .find("custom error: ")
        .map(|i| &lower[i + "custom error: ".len()..])
        .or_else(|| lower.find("custom(").map(|i| &lower[i + "custom(".len()..]))?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Connection trouble and pool contention: retrying helps.
pub fn is_transient_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "priority is too low",
        "temporarily banned",
        "immediately dropped",
        "usurped",
        "pool is full",
        "too many transactions",
        "connection",
        "disconnected",
        "restart required",
        "timed out",
        "timeout",
        "background task",
        "broken pipe",
        "transport",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// The error and its causes on one line.
pub fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// "3 minutes", "45 seconds", "2 hours 5 minutes".
pub fn human_duration(duration: &Duration) -> String {
    let secs = duration.as_secs();
    if secs < 90 {
        format!("{secs} seconds")
    } else if secs < 90 * 60 {
        format!("{} minutes", secs.div_ceil(60))
    } else {
        format!("{} hours {} minutes", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_errors_are_decoded_with_advice() {
        let rate = Rejection::pool("Invalid Transaction: Custom error: 6");
        assert!(rate.to_string().contains("RateLimitExceeded"), "{rate}");
        assert!(!rate.transient);
        let outbid = Rejection::pool("Priority is too low: (10 vs 20)");
        assert!(outbid.transient);
        assert_eq!(custom_code("1010: Invalid Transaction: Custom(10)"), Some(10));
        assert_eq!(custom_code("Bad signature"), None);
    }

    #[test]
    fn module_errors_say_what_to_do() {
        let too_fast = Rejection::module("SubtensorModule", "SettingWeightsTooFast");
        assert_eq!(too_fast.reason, "SubtensorModule::SettingWeightsTooFast");
        assert!(too_fast.to_string().contains("rate limit"));
        assert!(Rejection::module("SubtensorModule", "NeuronNoValidatorPermit").to_string().contains("validator permit"));
        // Unknown errors still name themselves.
        assert_eq!(Rejection::module("Balances", "Odd").to_string(), "Balances::Odd");
    }

    #[test]
    fn rate_limit_message_names_the_block_it_is_allowed_at() {
        let error = ChainError::RateLimited {
            netuid: 1,
            uid: 0,
            last_update: 100,
            rate_limit: 100,
            current: 150,
            allowed_at: 200,
            wait: Duration::from_secs(50 * SECONDS_PER_BLOCK),
        };
        let text = error.to_string();
        assert!(text.contains("allowed at block 200") && text.contains("10 minutes"), "{text}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(&Duration::from_secs(12)), "12 seconds");
        assert_eq!(human_duration(&Duration::from_secs(600)), "10 minutes");
        assert_eq!(human_duration(&Duration::from_secs(7500)), "2 hours 5 minutes");
    }
}
