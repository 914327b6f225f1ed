//! The gRPC edge: tonic services over the store, the blob store and the scheduler. Requests
//! are checked and converted here; failures become `tonic::Status` only through [`ApiError`].

mod agents;
mod epochs;
mod error;
mod scores;
mod tasks;
mod worker;

use std::sync::Arc;

pub(crate) use error::ApiError;

use crate::blobs::BlobStore;
use crate::config::CoordinatorConfig;
use crate::scheduler::SchedulerHandle;
use crate::store::Store;

/// State shared by every service.
#[derive(Debug, Clone)]
pub(crate) struct Services {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: BlobStore,
    pub(crate) scheduler: SchedulerHandle,
    pub(crate) config: Arc<CoordinatorConfig>,
    /// Checks the signed calls (`Agents.Submit`, the `Worker.Connect` hello).
    pub(crate) auth: Arc<crate::auth::Auth>,
    /// The subnet's synced metagraph, when the coordinator has one: the leaderboard shows what
    /// the validators' weights on it earn each miner.
    pub(crate) chain: Option<whetstone_chain::sync::SharedMetagraph>,
    /// The verdict ledger as verified so far (signature checks cached by sequence number).
    pub(crate) ledger: Arc<crate::ledger::LedgerView>,
    /// The chain head the epoch clock last read (0 before it has).
    pub(crate) epoch_head: Arc<std::sync::atomic::AtomicU64>,
}
