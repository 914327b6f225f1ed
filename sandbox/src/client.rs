//! The connection to the engine, our labels, and the janitor.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};

use crate::error::{SandboxError, is_not_found};

/// Marks every container this crate creates, whoever the owner.
pub(crate) const LABEL_SANDBOX: &str = "whetstone.sandbox";
/// The process or service that created the container (see [`Sandbox::connect`]).
pub(crate) const LABEL_OWNER: &str = "whetstone.owner";
pub(crate) const LABEL_ROLE: &str = "whetstone.role";
pub(crate) const LABEL_JOB: &str = "whetstone.job";

/// Where the engine is when `DOCKER_HOST` is unset.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// A reachable engine answers in milliseconds; this only bounds a hung TCP `DOCKER_HOST`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Image imports and builds can run for many minutes before the engine answers, so they get
/// their own client with a long request timeout (bollard's timeout covers the whole request
/// until the response headers, including the upload of the body).
const IMAGE_REQUEST_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Reports what a long operation (an image build) is doing, for a spinner or a log.
pub trait Progress: Send + Sync {
    /// One human-readable line, without a trailing newline.
    fn message(&self, msg: &str);
}

/// A [`Progress`] that discards everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn message(&self, _msg: &str) {}
}

/// A [`Progress`] that logs each message at info level, for long-running services.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogProgress;

impl Progress for LogProgress {
    fn message(&self, msg: &str) {
        tracing::info!("{msg}");
    }
}

/// Which of our containers the janitor looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanScope {
    /// Containers of every owner. Only for a janitor that knows no other Whetstone process
    /// shares the engine (it would kill their running containers).
    AllOwners,
    /// Containers labelled with this sandbox's owner.
    ThisOwner,
}

/// A connection to the Docker engine plus the owner label stamped on every container.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub(crate) docker: Docker,
    /// Same connection with a long request timeout, for image import and build.
    pub(crate) image_docker: Docker,
    pub(crate) owner: String,
}

impl Sandbox {
    /// Connects to `DOCKER_HOST` (or the default socket), negotiates the API version, pings.
    ///
    /// `owner` labels every container this sandbox creates so that [`Sandbox::remove_orphans`]
    /// can clean up after a crash without touching other processes' containers.
    pub async fn connect(owner: &str) -> Result<Self, SandboxError> {
        let addr = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned());
        Self::connect_to(&addr, owner).await
    }

    /// Like [`Sandbox::connect`] with an explicit engine address (`unix://…`, `tcp://…`).
    pub async fn connect_to(addr: &str, owner: &str) -> Result<Self, SandboxError> {
        let unreachable = |source| SandboxError::EngineUnreachable {
            addr: addr.to_owned(),
            source,
        };
        let docker = Docker::connect_with_host(addr).map_err(unreachable)?;
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let docker = docker.negotiate_version().await?;
            docker.ping().await?;
            Ok(docker)
        })
        .await
        .unwrap_or(Err(bollard::errors::Error::RequestTimeoutError))
        .map_err(unreachable)?;
        let image_docker = docker.clone().with_timeout(IMAGE_REQUEST_TIMEOUT);
        Ok(Self {
            docker,
            image_docker,
            owner: owner.to_owned(),
        })
    }

    /// Bounds each short API call (create, upload, inspect, remove; bollard's default is two
    /// minutes, whole seconds only). It does not bound a run, whose wait and output streams
    /// answer at once, nor image builds and imports, which have their own hour-long bound.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.docker = self.docker.with_timeout(timeout);
        self
    }

    /// The owner label value given at connect time.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The underlying client, for callers that need an API this crate does not wrap.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Names of the containers (running or not) carrying our labels.
    pub async fn list_ours(&self, scope: OrphanScope) -> Result<Vec<String>, SandboxError> {
        let mut labels = vec![format!("{LABEL_SANDBOX}=1")];
        if scope == OrphanScope::ThisOwner {
            labels.push(format!("{LABEL_OWNER}={}", self.owner));
        }
        let filters = HashMap::from([("label", labels)]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| SandboxError::docker("list sandbox containers", e))?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                // The API reports names with a leading slash; an id is the fallback.
                c.names
                    .and_then(|names| names.into_iter().next())
                    .map(|name| name.trim_start_matches('/').to_owned())
                    .or(c.id)
            })
            .collect())
    }

    /// Force-removes containers carrying our labels; returns how many this call removed.
    ///
    /// Meant for startup (after a crash) and shutdown. A container that vanishes meanwhile
    /// (removed by its own guard) is not an error.
    pub async fn remove_orphans(&self, scope: OrphanScope) -> Result<usize, SandboxError> {
        let mut removed = 0;
        for name in self.list_ours(scope).await? {
            match force_remove(&self.docker, &name).await {
                Ok(()) => removed += 1,
                Err(e) if is_not_found(&e) || is_removal_in_progress(&e) => {}
                Err(e) => return Err(SandboxError::docker(format!("remove container {name}"), e)),
            }
        }
        Ok(removed)
    }
}

/// Kills (if running) and deletes a container with its anonymous volumes.
pub(crate) async fn force_remove(
    docker: &Docker,
    name: &str,
) -> Result<(), bollard::errors::Error> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    docker.remove_container(name, Some(options)).await
}

/// The engine answers 409 when another caller is already removing the container.
fn is_removal_in_progress(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError { status_code: 409, message }
            if message.contains("already in progress")
    )
}
