//! The coordinator's side of evaluation epochs (`[epochs]` in its config; the function is
//! `whetstone_chain::epochs`, docs/scoring.md "Epochs"). A clock task reads the chain head,
//! records each epoch's boundary block hash as the chain reaches it, and schedules every
//! agent on the new epoch's set. Published tasks go to the pool (drawable from the next epoch
//! whose draw is not full yet) or, named as fresh, into the current epoch when they were
//! generated with its generator seed. The sets are never stored: they are recomputed from
//! the recorded hashes and placements, exactly as validators recompute them.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use whetstone_chain::client::{ChainError, SubtensorClient};
use whetstone_chain::epochs::{self, Coverage, EpochRules, EpochSeed, EpochSet, FreshTask, PoolTask};

use crate::scheduler::{Event, SchedulerHandle};
use crate::store::{EpochRow, EpochTasks, Placement, Store, StoreError};

/// How often the clock reads the chain head.
const CLOCK_INTERVAL: Duration = Duration::from_secs(2);

/// Where the clock reads block numbers and hashes: a subtensor node, or a stand-in in tests.
#[async_trait::async_trait]
pub trait ChainClock: Send + Sync + std::fmt::Debug {
    /// The latest finalized block's number.
    async fn head(&self) -> Result<u64, ChainError>;
    async fn block_hash(&self, number: u64) -> Result<[u8; 32], ChainError>;
}

#[async_trait::async_trait]
impl ChainClock for SubtensorClient {
    async fn head(&self) -> Result<u64, ChainError> {
        self.current_block().await
    }

    async fn block_hash(&self, number: u64) -> Result<[u8; 32], ChainError> {
        SubtensorClient::block_hash(self, number).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("failed to read the chain for the epoch clock")]
    Chain(#[from] ChainError),
}

/// The epochs as recorded, and the sets they give.
#[derive(Debug, Clone)]
pub(crate) struct EpochView {
    pub rules: EpochRules,
    pub rows: Vec<EpochRow>,
    pub pool: Vec<PoolTask>,
    pub fresh: Vec<FreshTask>,
    /// `sets[e]` is epoch `e`'s.
    pub sets: Vec<EpochSet>,
}

impl EpochView {
    pub(crate) async fn load(store: &dyn Store, rules: EpochRules) -> Result<Self, StoreError> {
        let rows = store.epochs().await?;
        let mut pool = Vec::new();
        let mut fresh = Vec::new();
        for (task, placement) in store.placements().await? {
            match placement {
                Placement::Pool { eligible_from } => pool.push(PoolTask { task, eligible_from }),
                Placement::Fresh { epoch, generator_seed } => fresh.push(FreshTask { task, epoch, generator_seed }),
            }
        }
        // Epochs are recorded in order from 0; a gap would be a bug, and sets stop before it.
        let seeds: Vec<EpochSeed> = rows
            .iter()
            .enumerate()
            .take_while(|(i, row)| row.epoch == *i as u64)
            .map(|(_, row)| EpochSeed::derive(row.epoch, &row.block_hash))
            .collect();
        let sets = epochs::epoch_sets(&rules, &seeds, &pool, &fresh);
        Ok(Self { rules, rows, pool, fresh, sets })
    }

    pub(crate) fn current(&self) -> Option<&EpochSet> {
        self.sets.last()
    }

    /// What runs are scheduled on; `None` before epoch 0 is recorded.
    pub(crate) fn epoch_tasks(&self) -> Option<EpochTasks> {
        self.current().map(|set| EpochTasks { epoch: set.epoch, tasks: set.tasks().cloned().collect() })
    }

    /// The epoch a pool task published now becomes drawable in: the current one while its
    /// draw is short of `draw` tasks (every eligible task is then drawn, so earlier draws
    /// stay as they were), else the next.
    pub(crate) fn pool_placement(&self) -> u64 {
        match self.current() {
            None => 0,
            Some(set) if set.drawn.len() < usize::try_from(self.rules.draw).unwrap_or(usize::MAX) => set.epoch,
            Some(set) => set.epoch + 1,
        }
    }

    /// Where a published task goes: the pool, or (`fresh_epoch` set) the current epoch's
    /// fresh tasks. The error says what the curator should do instead.
    pub(crate) fn placement(&self, fresh_epoch: Option<u64>, generator_seed: Option<u64>) -> Result<Placement, String> {
        let Some(epoch) = fresh_epoch else {
            return Ok(Placement::Pool { eligible_from: self.pool_placement() });
        };
        let Some(current) = self.current() else {
            return Err("no epoch has started yet, so there is no generator seed to make fresh tasks with; publish it to the pool (without --fresh-epoch) or wait for epoch 0".to_owned());
        };
        if epoch != current.epoch {
            return Err(format!(
                "fresh tasks are for the current epoch, {}, not epoch {epoch}: generate them with its generator seed {} (`whetstone epochs` shows it) and publish with --fresh-epoch {}",
                current.epoch,
                current.seed.generator_seed(),
                current.epoch
            ));
        }
        let Some(seed) = generator_seed else {
            return Err(format!(
                "a fresh task must name the generator seed it was made with (--generator-seed {})",
                current.seed.generator_seed()
            ));
        };
        if seed != current.seed.generator_seed() {
            return Err(format!(
                "the task was generated with seed {seed}, but epoch {epoch}'s generator seed is {}: regenerate with `whetstone tasks generate --seed {}`",
                current.seed.generator_seed(),
                current.seed.generator_seed()
            ));
        }
        if current.fresh.len() >= usize::try_from(self.rules.fresh).unwrap_or(usize::MAX) {
            return Err(format!(
                "epoch {epoch} already has its {} fresh tasks; publish this one to the pool instead (without --fresh-epoch)",
                self.rules.fresh
            ));
        }
        Ok(Placement::Fresh { epoch, generator_seed: seed })
    }

    pub(crate) fn coverage(&self) -> Coverage {
        epochs::coverage(&self.rules, &self.sets, &self.pool)
    }
}

/// Queues the runs that are missing: on the current epoch's set with epochs, else on every
/// task. Returns how many.
pub(crate) async fn schedule_runs(store: &dyn Store, rules: Option<EpochRules>) -> Result<u32, StoreError> {
    match rules {
        None => store.schedule_missing_runs(None).await,
        Some(rules) => match EpochView::load(store, rules).await?.epoch_tasks() {
            Some(tasks) => store.schedule_missing_runs(Some(&tasks)).await,
            None => Ok(0),
        },
    }
}

/// Records every epoch whose boundary the chain has reached and the coordinator has not
/// recorded. Returns the head read and the epochs recorded now.
pub(crate) async fn advance(store: &dyn Store, rules: &EpochRules, clock: &dyn ChainClock) -> Result<(u64, Vec<u64>), EpochError> {
    let head = clock.head().await?;
    let Some(target) = rules.epoch_at(head) else {
        return Ok((head, Vec::new()));
    };
    let next = store.epochs().await?.last().map_or(0, |row| row.epoch + 1);
    let mut recorded = Vec::new();
    for epoch in next..=target {
        let boundary_block = rules.boundary(epoch);
        let block_hash = clock.block_hash(boundary_block).await?;
        if store.record_epoch(&EpochRow { epoch, boundary_block, block_hash }).await? {
            recorded.push(epoch);
        }
    }
    Ok((head, recorded))
}

/// The clock: every [`CLOCK_INTERVAL`], records new epochs and schedules their runs. A chain
/// or store failure is logged and retried at the next tick.
pub(crate) fn spawn_clock(
    store: Arc<dyn Store>,
    rules: EpochRules,
    clock: Arc<dyn ChainClock>,
    scheduler: SchedulerHandle,
    head: Arc<std::sync::atomic::AtomicU64>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CLOCK_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            match advance(store.as_ref(), &rules, clock.as_ref()).await {
                Ok((block, recorded)) => {
                    head.store(block, std::sync::atomic::Ordering::Relaxed);
                    if recorded.is_empty() {
                        continue;
                    }
                    match EpochView::load(store.as_ref(), rules).await {
                        Ok(view) => report_epoch(&view),
                        Err(error) => tracing::warn!(error = %whetstone_proto::error_chain(&error), "failed to read the epochs back"),
                    }
                    match schedule_runs(store.as_ref(), Some(rules)).await {
                        Ok(runs) => {
                            tracing::info!(epochs = ?recorded, runs, "new epoch: runs scheduled on its set");
                            scheduler.send(Event::WorkAdded).await;
                        }
                        Err(error) => {
                            tracing::warn!(error = %whetstone_proto::error_chain(&error), "failed to schedule the new epoch's runs")
                        }
                    }
                }
                Err(error) => tracing::warn!(error = %whetstone_proto::error_chain(&error), "epoch clock: retrying next tick"),
            }
        }
    })
}

/// Logs the new epoch's set, and warns while the pool is running out.
fn report_epoch(view: &EpochView) {
    let Some(set) = view.current() else { return };
    let coverage = view.coverage();
    tracing::info!(
        epoch = set.epoch,
        seed = %set.seed.to_hex(),
        generator_seed = set.seed.generator_seed(),
        drawn = set.drawn.len(),
        fresh = set.fresh.len(),
        pool_epochs_left = coverage.epochs,
        "epoch started"
    );
    if coverage.epochs < 2 {
        tracing::warn!(
            undrawn = coverage.undrawn,
            draw = view.rules.draw,
            "the task pool covers {} more epoch(s): publish more tasks (`whetstone tasks generate` then `whetstone tasks publish`) before it runs dry",
            coverage.epochs
        );
    }
}

#[cfg(test)]
mod tests;
