//! Fetching tasks and agent packages from the coordinator by digest, with an on-disk cache.
//! Content is addressed by digest, so a cached copy never goes stale; every copy, cached or
//! fresh, is re-hashed before use, so a corrupted cache or a lying server is caught.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tonic::transport::Channel;
use whetstone_tasks::bundle::Bundle;
use whetstone_tasks::split::join_parts;
use whetstone_tasks::{AgentPackage, Digest, Task, VisibleTask};

use crate::auth::{FETCH_TASK, GET_AGENT, RequestSigner};
use crate::pb;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("coordinator refused to send {what} {digest}: {status}")]
    Rpc { what: &'static str, digest: Digest, status: tonic::Status },
    #[error("{what} {digest} is not valid: {reason}")]
    Invalid { what: &'static str, digest: Digest, reason: String },
    #[error("failed to use the cache directory {path}")]
    Cache {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Fetches and caches bundles from a coordinator, signing each request with the worker's
/// hotkey. A task comes in two parts (`whetstone_tasks::split`): agent-runners fetch the
/// visible one; validators also fetch the grading part, which the coordinator sends only to a
/// validator holding a grade lease on the task. Given
/// several coordinators (sharing one database, so any of them has every bundle), it asks the
/// one that answered last and moves on to the next when that one is unreachable.
#[derive(Debug, Clone)]
pub struct Fetcher {
    channels: Arc<[Channel]>,
    /// Index of the coordinator that answered last.
    current: Arc<AtomicUsize>,
    signer: RequestSigner,
    cache_dir: PathBuf,
}

impl Fetcher {
    pub fn new(channel: Channel, signer: RequestSigner, cache_dir: impl Into<PathBuf>) -> Self {
        Self { channels: Arc::from([channel]), current: Arc::default(), signer, cache_dir: cache_dir.into() }
    }

    /// A lazily connecting fetcher for `url`.
    pub fn connect_lazy(url: &str, signer: RequestSigner, cache_dir: impl Into<PathBuf>) -> Result<Self, tonic::transport::Error> {
        Self::connect_lazy_any(std::slice::from_ref(&url.to_owned()), signer, cache_dir)
    }

    /// A lazily connecting fetcher for any of `urls` (with none, every fetch is refused as unavailable).
    pub fn connect_lazy_any(
        urls: &[String],
        signer: RequestSigner,
        cache_dir: impl Into<PathBuf>,
    ) -> Result<Self, tonic::transport::Error> {
        let channels = urls
            .iter()
            .map(|url| {
                Ok(tonic::transport::Endpoint::from_shared(url.clone())?.connect_timeout(std::time::Duration::from_secs(5)).connect_lazy())
            })
            .collect::<Result<Vec<_>, tonic::transport::Error>>()?;
        Ok(Self { channels: channels.into(), current: Arc::default(), signer, cache_dir: cache_dir.into() })
    }

    /// Asks each coordinator in turn, starting with the one that answered last, until one is
    /// reachable; an answer (even a refusal) ends the search.
    async fn ask<T, F, Fut>(&self, call: F) -> Result<T, tonic::Status>
    where
        F: Fn(Channel) -> Fut,
        Fut: std::future::Future<Output = Result<T, tonic::Status>>,
    {
        let start = self.current.load(Ordering::Relaxed);
        let mut last = None;
        for offset in 0..self.channels.len() {
            let index = (start + offset) % self.channels.len();
            match call(self.channels[index].clone()).await {
                Err(status) if status.code() == tonic::Code::Unavailable => {
                    tracing::debug!(%status, coordinator = index, "coordinator unreachable; asking the next");
                    last = Some(status);
                }
                answer => {
                    self.current.store(index, Ordering::Relaxed);
                    return answer;
                }
            }
        }
        Err(last.unwrap_or_else(|| tonic::Status::unavailable("no coordinator")))
    }

    /// The part of task `digest` an agent may see: what an agent-runner fetches.
    pub async fn visible_task(&self, digest: &Digest) -> Result<VisibleTask, FetchError> {
        let bundle = self.task_part(digest, pb::TaskPart::Visible).await?;
        VisibleTask::from_bundle(bundle, digest).map_err(|e| FetchError::Invalid {
            what: "task",
            digest: digest.clone(),
            reason: e.to_string(),
        })
    }

    /// The whole task `digest`, hidden tests included: both parts, joined and checked against
    /// the digest. The coordinator sends the grading part only to a validator holding a grade
    /// lease on a run of the task.
    pub async fn task(&self, digest: &Digest) -> Result<Task, FetchError> {
        let visible = self.task_part(digest, pb::TaskPart::Visible).await?;
        let grading = self.task_part(digest, pb::TaskPart::Grading).await?;
        join_parts(&visible, &grading, digest).map_err(|e| FetchError::Invalid {
            what: "task",
            digest: digest.clone(),
            reason: e.to_string(),
        })
    }

    pub async fn agent(&self, digest: &Digest) -> Result<AgentPackage, FetchError> {
        let name = format!("agent-{digest}.tar");
        if let Some(bundle) = self.cached(&name, digest).await {
            return AgentPackage::from_bundle(bundle).map_err(|e| FetchError::Invalid {
                what: "agent",
                digest: digest.clone(),
                reason: e.to_string(),
            });
        }
        let bytes = self
            .ask(|channel| async move {
                let mut client = pb::agents_client::AgentsClient::new(channel).max_decoding_message_size(crate::MAX_MESSAGE_BYTES);
                let request = pb::GetAgentRequest { agent_digest: digest.to_string() };
                client.get(self.signer.signed(GET_AGENT, request)).await.map(|r| r.into_inner().package)
            })
            .await
            .map_err(|status| FetchError::Rpc { what: "agent", digest: digest.clone(), status })?;
        let bundle = self.keep(&name, &bytes, digest, "agent").await?;
        AgentPackage::from_bundle(bundle).map_err(|e| FetchError::Invalid { what: "agent", digest: digest.clone(), reason: e.to_string() })
    }

    /// One part of a task. The cache keeps each part under its own digest, with a small file
    /// naming which digest is task `digest`'s part, so a cached part is re-hashed against it.
    async fn task_part(&self, digest: &Digest, part: pb::TaskPart) -> Result<Bundle, FetchError> {
        let what = match part {
            pb::TaskPart::Grading => "task grading part",
            _ => "task visible part",
        };
        let reference = format!("task-{digest}.{}", part.as_str_name().to_ascii_lowercase());
        if let Ok(text) = tokio::fs::read_to_string(self.cache_dir.join(&reference)).await
            && let Ok(part_digest) = text.trim().parse::<Digest>()
            && let Some(bundle) = self.cached(&format!("part-{part_digest}.tar"), &part_digest).await
        {
            return Ok(bundle);
        }
        let response = self
            .ask(|channel| async move {
                let mut client = pb::tasks_client::TasksClient::new(channel).max_decoding_message_size(crate::MAX_MESSAGE_BYTES);
                let request = pb::FetchTaskRequest { task_digest: digest.to_string(), part: part as i32 };
                client.fetch(self.signer.signed(FETCH_TASK, request)).await.map(tonic::Response::into_inner)
            })
            .await
            .map_err(|status| FetchError::Rpc { what, digest: digest.clone(), status })?;
        let invalid = |reason: String| FetchError::Invalid { what, digest: digest.clone(), reason };
        let part_digest: Digest =
            response.part_digest.parse().map_err(|e: whetstone_tasks::digest::InvalidDigest| invalid(e.to_string()))?;
        let bundle = self.keep(&format!("part-{part_digest}.tar"), &response.bundle, &part_digest, what).await?;
        self.write_cache(&reference, part_digest.as_str().as_bytes()).await?;
        Ok(bundle)
    }

    /// The cached bundle `name`, if it is there and hashes to `digest`.
    async fn cached(&self, name: &str, digest: &Digest) -> Option<Bundle> {
        let path = self.cache_dir.join(name);
        let bytes = tokio::fs::read(&path).await.ok()?;
        match Bundle::from_tar_expecting(&bytes, digest) {
            Ok(bundle) => Some(bundle),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "discarding a corrupt cached bundle");
                None
            }
        }
    }

    /// Checks `bytes` are the bundle `digest` and caches them as `name`.
    async fn keep(&self, name: &str, bytes: &[u8], digest: &Digest, what: &'static str) -> Result<Bundle, FetchError> {
        let bundle = Bundle::from_tar_expecting(bytes, digest).map_err(|e| FetchError::Invalid {
            what,
            digest: digest.clone(),
            reason: e.to_string(),
        })?;
        self.write_cache(name, bytes).await?;
        Ok(bundle)
    }

    /// Writes a cache file whole (a temporary file renamed into place).
    async fn write_cache(&self, name: &str, bytes: &[u8]) -> Result<(), FetchError> {
        let cache_err = |source| FetchError::Cache { path: self.cache_dir.display().to_string(), source };
        tokio::fs::create_dir_all(&self.cache_dir).await.map_err(cache_err)?;
        let path = self.cache_dir.join(name);
        let temp = self.cache_dir.join(format!("{name}.tmp-{}", std::process::id()));
        tokio::fs::write(&temp, bytes).await.map_err(cache_err)?;
        tokio::fs::rename(&temp, &path).await.map_err(cache_err)?;
        Ok(())
    }
}
