//! Content-addressed blobs behind the `object_store` crate: agent packages and task bundles by
//! their tree digest, logs by the sha256 of their bytes.
//!
//! Where they live is one URL ([`BlobUrl`]): a directory on local disk by default, any
//! S3-compatible store in production (see `docs/deploy.md`). Every write is a whole object put
//! at once (a rename on local disk, a single PUT on S3), so a reader never sees half a blob;
//! every read hashes what came back and refuses it unless it is what its key names, so a
//! corrupted or tampered object is an error, never an agent or a task. What nothing references
//! any more is removed by [`BlobStore::collect_garbage`] (`gc.rs`) after a grace period.
//!
//! Keys, below the URL's prefix: a bundle (agent package or task) at `<aa>/<digest>.tar`, the
//! layout coordinators wrote before the object store, so their data directories keep working;
//! a log at `logs/<aa>/<digest>.log`. `<aa>` is the digest's first two characters, which keeps
//! local directories small.

mod gc;
mod url;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use whetstone_tasks::Digest;
use whetstone_tasks::bundle::Bundle;

pub use self::gc::{BlobReferences, GcError, GcReport, GcSchedule, spawn_gc};
pub use self::url::BlobUrl;

/// What a blob is; each kind has its own key shape and its own hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// A deterministic tar of a tree (agent package, task); its key is the tree digest
    /// (`tasks/FORMAT.md`), recomputed from the parsed tar.
    Bundle,
    /// Bytes as they came; the key is their sha256.
    Log,
}

impl BlobKind {
    fn key(self, prefix: &Key, digest: &Digest) -> Key {
        let shard = &digest.as_str()[..2];
        match self {
            Self::Bundle => prefix.clone().join(shard).join(format!("{digest}.tar")),
            Self::Log => prefix.clone().join("logs").join(shard).join(format!("{digest}.log")),
        }
    }

    /// The digest `bytes` have as this kind, or why they have none.
    fn hash(self, bytes: &[u8]) -> Result<Digest, String> {
        match self {
            Self::Bundle => Bundle::from_tar(bytes).map(|bundle| bundle.digest).map_err(|e| whetstone_proto::error_chain(&e)),
            Self::Log => Ok(Digest::of_bytes(bytes)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob store URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("failed to open the blob store at {url}")]
    Open {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("failed to create the blob directory {path}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read blob {key}")]
    Read {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("failed to write blob {key}")]
    Write {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("failed to flush blob {key} to disk")]
    Sync {
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to delete blob {key}")]
    Delete {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("failed to list the blob store at {url}")]
    List {
        url: String,
        #[source]
        source: object_store::Error,
    },
    /// What was read back is not what its key names: a damaged disk, or an object changed
    /// behind the coordinator's back.
    #[error("blob {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    /// A caller tried to store bytes under a digest they do not have.
    #[error("refusing to store blob {digest}: {reason}")]
    Mismatch { digest: Digest, reason: String },
    #[error("a blob worker thread failed")]
    Blocking(#[source] tokio::task::JoinError),
}

/// The coordinator's blobs. Cheap to clone (the backend is shared).
#[derive(Debug, Clone)]
pub struct BlobStore {
    objects: Arc<dyn ObjectStore>,
    prefix: Key,
    /// Shown in logs and errors.
    url: String,
    /// The directory of a local store, whose files are flushed after each write:
    /// `LocalFileSystem` renames a finished temporary file into place but does not fsync.
    local_root: Option<PathBuf>,
}

impl BlobStore {
    /// Opens the store `url` names, creating a local directory if needed. S3 takes its
    /// credentials and region from the usual `AWS_*` variables.
    pub fn open(url: &BlobUrl) -> Result<Self, BlobError> {
        url.open()
    }

    /// A store in a local directory (created if missing).
    pub fn local(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        BlobUrl::Local(root.into()).open()
    }

    /// Where the blobs are, for logs.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stores a bundle (an agent package or a task) under `digest`, which its bytes must have.
    pub async fn put(&self, digest: &Digest, tar: &[u8]) -> Result<(), BlobError> {
        self.put_kind(BlobKind::Bundle, Some(digest), Bytes::copy_from_slice(tar)).await.map(drop)
    }

    /// The bundle stored under `digest`, checked; `None` when it is not stored.
    pub async fn get(&self, digest: &Digest) -> Result<Option<Vec<u8>>, BlobError> {
        self.get_kind(BlobKind::Bundle, digest).await
    }

    /// Stores a log and returns its digest, the key to read it back with.
    pub async fn put_log(&self, log: &[u8]) -> Result<Digest, BlobError> {
        self.put_kind(BlobKind::Log, None, Bytes::copy_from_slice(log)).await
    }

    /// The log stored under `digest`, checked; `None` when it is not stored.
    pub async fn get_log(&self, digest: &Digest) -> Result<Option<Vec<u8>>, BlobError> {
        self.get_kind(BlobKind::Log, digest).await
    }

    /// Hashes `bytes` as `kind` (checking them against `expected` when given) and writes them
    /// under that digest. An existing object is written again on purpose: its new modification
    /// time keeps the garbage collector off it until the reference being made now is stored.
    async fn put_kind(&self, kind: BlobKind, expected: Option<&Digest>, bytes: Bytes) -> Result<Digest, BlobError> {
        let hashed = bytes.clone();
        let digest = tokio::task::spawn_blocking(move || kind.hash(&hashed)).await.map_err(BlobError::Blocking)?;
        let digest = match (digest, expected) {
            (Ok(actual), Some(expected)) if &actual != expected => {
                return Err(BlobError::Mismatch { digest: expected.clone(), reason: format!("its content hashes to {actual}") });
            }
            (Ok(actual), _) => actual,
            (Err(reason), Some(expected)) => return Err(BlobError::Mismatch { digest: expected.clone(), reason }),
            (Err(reason), None) => return Err(BlobError::Mismatch { digest: Digest::of_bytes(&bytes), reason }),
        };
        let key = kind.key(&self.prefix, &digest);
        self.objects.put(&key, PutPayload::from_bytes(bytes)).await.map_err(|source| BlobError::Write { key: key.to_string(), source })?;
        self.sync(&key).await?;
        Ok(digest)
    }

    async fn get_kind(&self, kind: BlobKind, digest: &Digest) -> Result<Option<Vec<u8>>, BlobError> {
        let key = kind.key(&self.prefix, digest);
        let read = |source| BlobError::Read { key: key.to_string(), source };
        let bytes = match self.objects.get(&key).await {
            Ok(result) => result.bytes().await.map_err(read)?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(read(source)),
        };
        let checked = bytes.clone();
        let actual = tokio::task::spawn_blocking(move || kind.hash(&checked)).await.map_err(BlobError::Blocking)?;
        match actual {
            Ok(actual) if &actual == digest => Ok(Some(bytes.to_vec())),
            Ok(actual) => Err(BlobError::Corrupt { key: key.to_string(), reason: format!("its content hashes to {actual}") }),
            Err(reason) => Err(BlobError::Corrupt { key: key.to_string(), reason }),
        }
    }

    /// Flushes a just-written local file and its directory, so that a blob the coordinator
    /// has acknowledged survives a power cut. Object stores are durable once a put returns.
    async fn sync(&self, key: &Key) -> Result<(), BlobError> {
        let Some(root) = &self.local_root else { return Ok(()) };
        let path = key.parts().fold(root.clone(), |path, part| path.join(part.as_ref()));
        let sync_error = |source| BlobError::Sync { key: key.to_string(), source };
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&path)?.sync_all()?;
            match path.parent() {
                Some(dir) => std::fs::File::open(dir)?.sync_all(),
                None => Ok(()),
            }
        })
        .await
        .map_err(BlobError::Blocking)?
        .map_err(sync_error)
    }
}

#[cfg(test)]
mod tests;
