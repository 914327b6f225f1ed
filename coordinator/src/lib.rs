//! The Whetstone coordinator: registry of agents and tasks, the scheduler that leases runs to
//! agent-runners and grades to validators, score aggregation and weights, all behind one
//! tonic server (`Worker`, `Agents`, `Tasks`, `Scores`).
//!
//! ```text
//! gRPC services ──events──▶ scheduler (owns sessions + leases) ──▶ Store (SQLite or Postgres)
//!        └──────────────▶ BlobStore (agent packages, task bundles by digest; object_store:
//!                         local files or S3), swept for unreferenced blobs on a timer
//! solve API (HTTP, axum, its own port) ──▶ solve::Hub ◀── scheduler (solve jobs to runners)
//! dashboard (HTML pages on the same port, `web`) ──▶ Store + the consensus over the ledger
//! ```

pub mod auth;
mod blobs;
pub mod config;
pub mod copies;
pub mod epochs;
pub mod grading;
mod ledger;
mod scheduler;
mod scoring;
mod service;
pub mod solve;
pub mod store;
mod telemetry;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use blobs::{BlobError, BlobReferences, BlobStore, BlobUrl, GcError, GcReport, GcSchedule};
pub use config::{BlobsConfig, CoordinatorConfig, LimitsConfig, SubmissionLimit};
pub use grading::GradingConfig;
pub use scoring::{LeaderboardEntry, leaderboard, weights};
pub use store::DatabaseUrl;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
pub use web::WebConfig;
use whetstone_proto::{MAX_MESSAGE_BYTES, pb};

use crate::scheduler::Scheduler;
use crate::service::Services;
use crate::store::{SqlStore, Store, StoreError};

/// How often a coordinator on SQLite copies the WAL back into the database file
/// ([`SqlStore::spawn_checkpoints`]).
const WAL_CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("failed to open the coordinator store")]
    Store(#[from] StoreError),
    #[error("failed to open the blob store (see [blobs] url)")]
    Blobs(#[source] blobs::BlobError),
    #[error("failed to listen on {addr}: is another coordinator running there? (choose another with --listen)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("gRPC server failed")]
    Serve(#[source] tonic::transport::Error),
    #[error("the [auth] configuration cannot be used")]
    Auth(#[from] auth::AuthSetupError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A coordinator bound to its address, ready to serve.
#[derive(Debug)]
pub struct Coordinator {
    listener: TcpListener,
    solve_listener: Option<TcpListener>,
    solves: Arc<solve::Hub>,
    store: SqlStore,
    services: Services,
    scheduler: SchedulerTask,
    /// Where the epoch clock reads the chain (with `[epochs]`).
    clock: Option<Arc<dyn epochs::ChainClock>>,
}

struct SchedulerTask(Scheduler);

impl std::fmt::Debug for SchedulerTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scheduler")
    }
}

impl Coordinator {
    /// Opens the store (applying migrations) and binds the listen address. Jobs leased before
    /// stay with their workers, who renew them here or elsewhere; a lease nobody renews runs
    /// out and its job is requeued. With `auth.membership = "chain"` use
    /// [`Self::bind_with_membership`] instead.
    pub async fn bind(config: CoordinatorConfig) -> Result<Self, CoordinatorError> {
        Self::bind_with_membership(config, None).await
    }

    /// [`Self::bind`], with the subnet's synced metagraph deciding who is registered and who
    /// holds a validator permit (used when `auth.membership = "chain"`).
    pub async fn bind_with_membership(
        config: CoordinatorConfig,
        metagraph: Option<Arc<dyn whetstone_chain::metagraph::Membership>>,
    ) -> Result<Self, CoordinatorError> {
        config.grading.check().map_err(CoordinatorError::Config)?;
        if let Some(rules) = &config.epochs {
            rules.check().map_err(|e| CoordinatorError::Config(e.to_string()))?;
        }
        let auth = Arc::new(auth::Auth::from_config(&config.auth, metagraph)?);
        let store = SqlStore::open(&config.database_or_default()).await?;
        tracing::info!(database = %store.url(), "store");
        let blobs = BlobStore::open(&config.blobs.url_or_default(&config.data_dir)).map_err(CoordinatorError::Blobs)?;
        tracing::info!(store = blobs.url(), "blobs");
        let listener = TcpListener::bind(config.listen).await.map_err(|source| CoordinatorError::Bind { addr: config.listen, source })?;
        let solve_listener = match config.solve.listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| CoordinatorError::Bind { addr, source })?),
            None => None,
        };
        // Leases this process hands out name it; a restarted process is a new name, and its
        // workers' leases move to it with their first heartbeat.
        let coordinator_id = format!(
            "{}/{}",
            listener.local_addr().map_err(|source| CoordinatorError::Bind { addr: config.listen, source })?,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        // Solve jobs live in the memory of the coordinator that took them; only those whose
        // coordinator stopped renewing their rows' leases are over (other coordinators on
        // this database keep theirs).
        let keys = solve::keys::KeyStore::new(&store);
        let abandoned = keys.close_expired_jobs(crate::store::now_ms()).await?;
        if abandoned > 0 {
            tracing::info!(abandoned, "solve jobs whose coordinator stopped are marked failed");
        }
        let solve_lease = Duration::from_secs(config.lease_secs.max(1));
        let solves = Arc::new(solve::Hub::new(keys, config.solve.clone(), coordinator_id.clone(), solve_lease));
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let (scheduler, handle) = Scheduler::new(Arc::clone(&shared), (&config).into(), Arc::clone(&solves), coordinator_id);
        let services = Services {
            store: shared,
            blobs,
            scheduler: handle,
            config: Arc::new(config),
            auth,
            chain: None,
            ledger: Arc::default(),
            epoch_head: Arc::default(),
        };
        Ok(Self { listener, solve_listener, solves, store, services, scheduler: SchedulerTask(scheduler), clock: None })
    }

    /// Gives the leaderboard a chain view: each entry carries its hotkey's uid and the share
    /// of incentive a Yuma epoch over the validators' weights in `metagraph` gives it. Without
    /// one (the default) the leaderboard says it has no chain view. Independent of the
    /// `[auth]` membership: devnet checks membership against its dev keyring and still shows
    /// what the weights on its localnet earn.
    pub fn with_chain_view(mut self, metagraph: whetstone_chain::sync::SharedMetagraph) -> Self {
        self.services.chain = Some(metagraph);
        self
    }

    /// Gives the epoch clock its chain: required when `[epochs]` is configured.
    pub fn with_epoch_clock(mut self, clock: Arc<dyn epochs::ChainClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the solve API listens, when `[solve] listen` is set.
    pub fn solve_addr(&self) -> Option<SocketAddr> {
        self.solve_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` fires, then stops the scheduler and closes the store.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), CoordinatorError> {
        let Self { listener, solve_listener, solves, store, services, scheduler, clock } = self;
        let epoch_clock = match (services.config.epochs, clock) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(CoordinatorError::Config(
                    "[epochs] needs a chain to read block hashes from: pass --chain.endpoint (or remove [epochs] to run without epochs)"
                        .to_owned(),
                ));
            }
            (Some(rules), Some(clock)) => Some(epochs::spawn_clock(
                Arc::clone(&services.store),
                rules,
                clock,
                services.scheduler.clone(),
                Arc::clone(&services.epoch_head),
                shutdown.clone(),
            )),
        };
        let checkpoints = store.spawn_checkpoints(WAL_CHECKPOINT_EVERY, shutdown.clone());
        let scheduler = tokio::spawn(scheduler.0.run(shutdown.clone()));
        let job_leases = tokio::spawn({
            let (solves, shutdown) = (Arc::clone(&solves), shutdown.clone());
            async move { solves.keep_job_leases(shutdown).await }
        });
        let solve_api = solve_listener.map(|listener| {
            let api = solve::SolveApi {
                hub: Arc::clone(&solves),
                services: services.clone(),
                scheduler: services.scheduler.clone(),
                shutdown: shutdown.clone(),
            };
            let stop = shutdown.clone();
            let telemetry = telemetry::router(Arc::clone(&services.store));
            tokio::spawn(async move {
                let web = web::router(web::Web { services: api.services.clone() });
                let routes = solve::router(api).merge(web).merge(telemetry);
                let served = axum::serve(listener, routes).with_graceful_shutdown(stop.cancelled_owned()).await;
                if let Err(error) = served {
                    tracing::error!(%error, "the solve API stopped");
                }
            })
        });
        let gc = services.config.blobs.gc_schedule().map(|schedule| {
            let references: Arc<dyn BlobReferences> = Arc::new(Arc::clone(&services.store));
            blobs::spawn_gc(services.blobs.clone(), references, schedule, shutdown.clone())
        });
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let result = tonic::transport::Server::builder()
            .add_service(
                pb::worker_server::WorkerServer::new(services.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(
                pb::agents_server::AgentsServer::new(services.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(
                pb::tasks_server::TasksServer::new(services.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(pb::scores_server::ScoresServer::new(services))
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
            .await
            .map_err(CoordinatorError::Serve);
        let _ = scheduler.await;
        if let Some(clock) = epoch_clock {
            let _ = clock.await;
        }
        if let Some(api) = solve_api {
            let _ = api.await;
        }
        if let Some(gc) = gc {
            let _ = gc.await;
        }
        let _ = job_leases.await;
        if let Some(checkpoints) = checkpoints {
            let _ = checkpoints.await;
        }
        // After the solve API and the scheduler stopped: no job starts or ends any more.
        solves.close_own_jobs().await;
        store.close().await;
        result
    }
}
