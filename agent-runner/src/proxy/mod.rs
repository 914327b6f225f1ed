//! The inference proxy: the only LLM access an agent has, metered per run.
//!
//! The runner binds one proxy, opens a run on it before starting an agent, and hands the
//! agent the run's key as `OPENAI_API_KEY` and the proxy's address as `OPENAI_BASE_URL`.
//! Each request is authenticated by that key, checked against the model allowlist, priced
//! at its worst case and refused with a 429 if that could overrun the run's budget;
//! otherwise it is forwarded with the operator's key and the run's seed, and settled from
//! the usage the upstream reports. Closing the run kills its key and returns every call.
//!
//! | file | job |
//! | --- | --- |
//! | `config.rs` | the operator's config: upstream, key variable, priced model allowlist |
//! | `budget.rs` | micro-dollar arithmetic, reservations, the per-run ledgers |
//! | `server.rs` | the OpenAI-compatible routes, request rewriting, stream passthrough |
//! | `upstream.rs` | the HTTP(S) client to the provider |

mod budget;
mod config;
mod server;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use budget::{LlmCall, RunBudget, RunUsage};
pub use config::{ModelPrice, ProxyConfig, UpstreamKey};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use budget::Ledgers;
use server::ProxyState;
use upstream::Upstream;

/// Longest [`ProxyRuns::close_run`] waits for a run's calls in flight to settle.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("invalid proxy config: {0}")]
    InvalidConfig(String),
    #[error("the upstream API key variable {0} is not set")]
    MissingApiKey(String),
    #[error("failed to set up TLS for the upstream")]
    Tls(#[source] rustls::Error),
    #[error("failed to bind the inference proxy on {0}")]
    Bind(SocketAddr, #[source] std::io::Error),
    #[error("inference proxy server failed")]
    Serve(#[source] std::io::Error),
}

/// A run's bearer token: the agent's `OPENAI_API_KEY`. Unguessable (244 random bits), and
/// dead once the run is closed. `Debug` shows only a prefix.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RunKey(String);

impl RunKey {
    fn generate() -> Self {
        Self(format!("wsk-{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()))
    }

    /// The value to set as the agent's `OPENAI_API_KEY`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RunKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunKey({}…)", &self.0[..self.0.len().min(10)])
    }
}

/// Opens and closes runs on a proxy, and adds listeners to it; cheap to clone, usable while
/// the proxy serves.
#[derive(Debug, Clone)]
pub struct ProxyRuns {
    state: Arc<ProxyState>,
}

impl ProxyRuns {
    /// Starts metering a run; the returned key authenticates its requests until closed.
    pub fn open_run(&self, budget: RunBudget) -> RunKey {
        let key = RunKey::generate();
        self.state.ledgers.open(key.0.clone(), budget);
        key
    }

    /// Binds another address for the same proxy (same runs, same upstream): a run network's
    /// gateway, say, so that network's container can reach it. Serve it like the first.
    pub async fn bind(&self, addr: SocketAddr) -> Result<(InferenceProxy, SocketAddr), ProxyError> {
        InferenceProxy::listen(Arc::clone(&self.state), addr).await
    }

    /// What an open run has done so far (calls finished, spent, refused); `None` once closed.
    pub fn usage(&self, key: &RunKey) -> Option<RunUsage> {
        self.state.ledgers.snapshot(&key.0)
    }

    /// Ends a run: its key is rejected from now on. Waits up to [`CLOSE_GRACE`] for calls in
    /// flight to settle (close after the agent's container is gone: its connections die
    /// with it, which settles them), then returns every call and refusal. Closing an unknown
    /// or already closed run returns an empty usage.
    pub async fn close_run(&self, key: &RunKey) -> RunUsage {
        self.state.ledgers.close(&key.0, CLOSE_GRACE).await.unwrap_or_else(|| {
            tracing::debug!(?key, "closed a run the proxy did not know");
            RunUsage::default()
        })
    }
}

/// A bound, not yet serving, inference proxy.
#[derive(Debug)]
pub struct InferenceProxy {
    listener: TcpListener,
    state: Arc<ProxyState>,
}

impl InferenceProxy {
    /// Validates the config, reads the operator's key from `config.upstream_api_key_env`,
    /// and binds `addr` (port 0 picks one). Returns the address actually bound.
    pub async fn bind(config: ProxyConfig, addr: SocketAddr) -> Result<(Self, SocketAddr), ProxyError> {
        config.validate()?;
        let key = UpstreamKey::from_env(&config)?;
        Self::bind_with_key(config, key, addr).await
    }

    /// As [`bind`](Self::bind), with the upstream key given rather than read from the
    /// environment (tests, `whetstone agent test` against a keyless local server).
    pub async fn bind_with_key(config: ProxyConfig, key: UpstreamKey, addr: SocketAddr) -> Result<(Self, SocketAddr), ProxyError> {
        config.validate()?;
        let upstream = Upstream::new(&config.upstream_base_url, key)?;
        let state = Arc::new(ProxyState {
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            config,
            ledgers: Arc::new(Ledgers::default()),
            upstream,
        });
        Self::listen(state, addr).await
    }

    async fn listen(state: Arc<ProxyState>, addr: SocketAddr) -> Result<(Self, SocketAddr), ProxyError> {
        let listener = TcpListener::bind(addr).await.map_err(|e| ProxyError::Bind(addr, e))?;
        let local = listener.local_addr().map_err(|e| ProxyError::Bind(addr, e))?;
        tracing::info!(addr = %local, upstream = %state.config.upstream_base_url, "inference proxy bound");
        Ok((Self { listener, state }, local))
    }

    /// The handle that opens and closes runs; take it before [`serve`](Self::serve).
    pub fn runs(&self) -> ProxyRuns {
        ProxyRuns { state: Arc::clone(&self.state) }
    }

    /// Shorthand for `self.runs().open_run(budget)`.
    pub fn open_run(&self, budget: RunBudget) -> RunKey {
        self.runs().open_run(budget)
    }

    /// Shorthand for `self.runs().close_run(key)`.
    pub async fn close_run(&self, key: &RunKey) -> RunUsage {
        self.runs().close_run(key).await
    }

    /// Serves agents until `shutdown`, then stops accepting and lets requests in flight finish
    /// (each is bounded by `request_timeout_secs`).
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), ProxyError> {
        axum::serve(self.listener, server::router(self.state))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(ProxyError::Serve)
    }
}
