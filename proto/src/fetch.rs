//! Fetching tasks and agent packages from the coordinator by digest, with an on-disk cache.
//! Content is addressed by digest, so a cached copy never goes stale; every copy, cached or
//! fresh, is re-hashed before use, so a corrupted cache or a lying server is caught.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tonic::transport::Channel;
use whetstone_tasks::bundle::Bundle;
use whetstone_tasks::{AgentPackage, Digest, Task};

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
/// hotkey (tasks hold hidden tests: the coordinator sends them to validators only). Given
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
    async fn fetch_bytes(&self, what: &'static str, digest: &Digest) -> Result<Vec<u8>, tonic::Status> {
        let start = self.current.load(Ordering::Relaxed);
        let mut last = None;
        for offset in 0..self.channels.len() {
            let index = (start + offset) % self.channels.len();
            let channel = self.channels[index].clone();
            let answer = match what {
                "task" => {
                    let mut client = pb::tasks_client::TasksClient::new(channel).max_decoding_message_size(crate::MAX_MESSAGE_BYTES);
                    let request = pb::FetchTaskRequest { task_digest: digest.to_string() };
                    client.fetch(self.signer.signed(FETCH_TASK, request)).await.map(|r| r.into_inner().bundle)
                }
                _ => {
                    let mut client = pb::agents_client::AgentsClient::new(channel).max_decoding_message_size(crate::MAX_MESSAGE_BYTES);
                    let request = pb::GetAgentRequest { agent_digest: digest.to_string() };
                    client.get(self.signer.signed(GET_AGENT, request)).await.map(|r| r.into_inner().package)
                }
            };
            match answer {
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

    pub async fn task(&self, digest: &Digest) -> Result<Task, FetchError> {
        let bundle = self.bundle("task", digest).await?;
        Task::from_bundle(bundle).map_err(|e| FetchError::Invalid { what: "task", digest: digest.clone(), reason: e.to_string() })
    }

    pub async fn agent(&self, digest: &Digest) -> Result<AgentPackage, FetchError> {
        let bundle = self.bundle("agent", digest).await?;
        AgentPackage::from_bundle(bundle).map_err(|e| FetchError::Invalid { what: "agent", digest: digest.clone(), reason: e.to_string() })
    }

    async fn bundle(&self, what: &'static str, digest: &Digest) -> Result<Bundle, FetchError> {
        let path = self.cache_dir.join(format!("{what}-{digest}.tar"));
        if let Ok(bytes) = tokio::fs::read(&path).await {
            match Bundle::from_tar_expecting(&bytes, digest) {
                Ok(bundle) => return Ok(bundle),
                Err(error) => tracing::warn!(%error, path = %path.display(), "discarding a corrupt cached bundle"),
            }
        }
        let bytes = self.fetch_bytes(what, digest).await.map_err(|status| FetchError::Rpc { what, digest: digest.clone(), status })?;
        let bundle = Bundle::from_tar_expecting(&bytes, digest).map_err(|e| FetchError::Invalid {
            what,
            digest: digest.clone(),
            reason: e.to_string(),
        })?;
        let cache_err = |source| FetchError::Cache { path: self.cache_dir.display().to_string(), source };
        tokio::fs::create_dir_all(&self.cache_dir).await.map_err(cache_err)?;
        let temp = path.with_extension(format!("tmp-{}", std::process::id()));
        tokio::fs::write(&temp, &bytes).await.map_err(cache_err)?;
        tokio::fs::rename(&temp, &path).await.map_err(cache_err)?;
        Ok(bundle)
    }
}
