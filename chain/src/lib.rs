//! The chain-facing side of Whetstone that does not need a node: turning scores into the u16
//! weights subtensor stores, exactly as the Bittensor SDK does, and the [`WeightLedger`] seam
//! where weights are submitted. The local ledger records submissions in a file; the subxt
//! client (chain issue) implements the same trait against a subtensor node.

pub mod auth;
pub mod client;
pub mod consensus;
pub mod epochs;
pub mod incentive;
pub mod ledger;
pub mod metagraph;
pub mod sync;
pub mod timelock;
pub mod verdict;
pub mod wallet;
pub mod weights;
pub mod yuma;

pub use ledger::{FileLedger, LedgerError, WeightLedger, WeightSubmission};
pub use metagraph::Metagraph;
pub use weights::{U16_MAX, scores_to_u16_weights};
