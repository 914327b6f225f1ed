//! Garbage collection: removing blobs that no record names any more, once they are older than
//! a grace period.
//!
//! It runs on a timer inside the coordinator ([`spawn_gc`]) rather than as a command an operator
//! must remember: the coordinator already holds the store that says what is referenced, and
//! several coordinators sharing one object store may all run it, since a sweep only deletes
//! what every one of them would (the grace period, not a lock, keeps in-flight writes safe).
//!
//! Why a write in flight is safe: a new blob is always written before the record that names
//! it, and writing refreshes its modification time even when the object already exists. A
//! sweep lists objects first and reads the references second, and deletes only objects whose
//! modification time, read again just before the delete, is older than the grace period. A
//! blob whose record is being stored is therefore either named by the references the sweep
//! reads or younger than the grace. Keep the grace far above the time between a blob's write
//! and its record's (milliseconds); the default is a day, which also leaves time to notice a
//! mistaken deletion of records before their blobs go.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectMeta, ObjectStoreExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use whetstone_tasks::Digest;

use super::{BlobError, BlobKind, BlobStore};
use crate::store::{Store, StoreError};

/// The digests of every blob something still needs: agents and tasks in the store, and the
/// logs of runs.
#[async_trait::async_trait]
pub trait BlobReferences: Send + Sync {
    async fn referenced_blobs(&self) -> Result<HashSet<Digest>, StoreError>;
}

#[async_trait::async_trait]
impl BlobReferences for Arc<dyn Store> {
    async fn referenced_blobs(&self) -> Result<HashSet<Digest>, StoreError> {
        Ok(self.blob_references().await?.into_iter().collect())
    }
}

#[async_trait::async_trait]
impl BlobReferences for HashSet<Digest> {
    async fn referenced_blobs(&self) -> Result<HashSet<Digest>, StoreError> {
        Ok(self.clone())
    }
}

/// What one sweep found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs listed (objects with a key this store writes).
    pub blobs: u64,
    /// Kept: a record names them.
    pub referenced: u64,
    /// Kept: nothing names them, but they are younger than the grace period.
    pub young: u64,
    pub deleted: u64,
    pub deleted_bytes: u64,
    /// Objects under the prefix with keys this store does not write; never touched.
    pub foreign: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("failed to read which blobs are referenced")]
    References(#[from] StoreError),
}

/// How often the coordinator sweeps, and what it spares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcSchedule {
    /// Time between sweeps; the first comes one interval after start.
    pub interval: Duration,
    /// Unreferenced blobs younger than this stay.
    pub grace: Duration,
}

impl BlobStore {
    /// One sweep: deletes every blob that `references` does not name and that was last
    /// written more than `grace` before `now`. See the module docs for why writes in flight
    /// are safe.
    pub async fn collect_garbage(&self, references: &dyn BlobReferences, grace: Duration, now: SystemTime) -> Result<GcReport, GcError> {
        let listed: Vec<ObjectMeta> = self
            .objects
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|source| BlobError::List { url: self.url.clone(), source })?;
        let referenced = references.referenced_blobs().await?;
        let cutoff = unix_secs(now).saturating_sub(i64::try_from(grace.as_secs()).unwrap_or(i64::MAX));
        let mut report = GcReport::default();
        for meta in listed {
            let Some((_kind, digest)) = self.parse_key(&meta.location) else {
                report.foreign += 1;
                continue;
            };
            report.blobs += 1;
            if referenced.contains(&digest) {
                report.referenced += 1;
                continue;
            }
            if meta.last_modified.timestamp() > cutoff {
                report.young += 1;
                continue;
            }
            // Read the time again: the blob may have been written since the list.
            let fresh = match self.objects.head(&meta.location).await {
                Ok(fresh) => fresh,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(source) => return Err(BlobError::Read { key: meta.location.to_string(), source }.into()),
            };
            if fresh.last_modified.timestamp() > cutoff {
                report.young += 1;
                continue;
            }
            match self.objects.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    tracing::debug!(key = %meta.location, "deleted an unreferenced blob");
                    report.deleted += 1;
                    report.deleted_bytes += fresh.size;
                }
                Err(source) => return Err(BlobError::Delete { key: meta.location.to_string(), source }.into()),
            }
        }
        Ok(report)
    }

    /// The kind and digest a key of ours stands for; `None` for any other key.
    fn parse_key(&self, key: &Key) -> Option<(BlobKind, Digest)> {
        let relative: Vec<String> = key.prefix_match(&self.prefix)?.map(|part| part.as_ref().to_owned()).collect();
        let (kind, shard, file) = match relative.as_slice() {
            [shard, file] => (BlobKind::Bundle, shard, file.strip_suffix(".tar")?),
            [logs, shard, file] if logs == "logs" => (BlobKind::Log, shard, file.strip_suffix(".log")?),
            _ => return None,
        };
        let digest: Digest = file.parse().ok()?;
        (digest.as_str().starts_with(shard.as_str()) && kind.key(&self.prefix, &digest) == *key).then_some((kind, digest))
    }
}

/// Sweeps every `schedule.interval` until `shutdown`; a failed sweep is logged and the next
/// one tries again. Await the handle after cancelling to know no sweep is running.
pub fn spawn_gc(
    blobs: BlobStore,
    references: Arc<dyn BlobReferences>,
    schedule: GcSchedule,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + schedule.interval;
        let mut ticks = tokio::time::interval_at(start, schedule.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {
                    let sweep = blobs.collect_garbage(references.as_ref(), schedule.grace, SystemTime::now());
                    // A sweep cut short by shutdown deletes nothing more; what it did is done.
                    let result = tokio::select! {
                        () = shutdown.cancelled() => break,
                        result = sweep => result,
                    };
                    match result {
                        Ok(report) if report.deleted > 0 => tracing::info!(
                            store = blobs.url(), deleted = report.deleted, bytes = report.deleted_bytes,
                            kept = report.referenced + report.young, "removed unreferenced blobs"
                        ),
                        Ok(report) => tracing::debug!(store = blobs.url(), ?report, "blob sweep removed nothing"),
                        Err(error) => tracing::warn!(store = blobs.url(), error = %whetstone_proto::error_chain(&error), "blob sweep failed; retrying at the next interval"),
                    }
                }
            }
        }
    })
}

fn unix_secs(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).ok().and_then(|d| i64::try_from(d.as_secs()).ok()).unwrap_or(0)
}
