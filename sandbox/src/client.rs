//! The connection to the engine, our labels and names, and removing what we created.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::models::NetworkDisconnectRequest;
use bollard::query_parameters::RemoveContainerOptionsBuilder;

use crate::deps::DependencyCache;
use crate::error::{SandboxError, is_not_found};
use crate::live::instance_id;
use crate::subnets::{RunSubnets, SubnetWalk};

/// Marks every container this crate creates, whoever the owner.
pub(crate) const LABEL_SANDBOX: &str = "whetstone.sandbox";
/// The process or service that created the container (see [`Sandbox::connect`]).
pub(crate) const LABEL_OWNER: &str = "whetstone.owner";
pub(crate) const LABEL_ROLE: &str = "whetstone.role";
pub(crate) const LABEL_JOB: &str = "whetstone.job";
/// The process that created it (see `live.rs`), so a janitor knows its own leftovers.
pub(crate) const LABEL_INSTANCE: &str = "whetstone.instance";
/// Unix seconds at creation, for the janitor's grace period.
pub(crate) const LABEL_CREATED: &str = "whetstone.created";

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

/// A connection to the Docker engine plus the owner label stamped on every container.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub(crate) docker: Docker,
    /// Same connection with a long request timeout, for image import and build.
    pub(crate) image_docker: Docker,
    pub(crate) owner: String,
    /// Where run networks take their addresses; shared by clones, so that every run network
    /// this process creates walks the range from one cursor (see `subnets.rs`).
    pub(crate) run_subnets: Arc<SubnetWalk>,
    /// Where locked environments' wheels come from ([`DependencyCache::from_env`] by default).
    pub(crate) dependency_cache: DependencyCache,
}

impl Sandbox {
    /// Connects to `DOCKER_HOST` (or the default socket), negotiates the API version, pings.
    ///
    /// `owner` labels every container and network this sandbox creates so that
    /// [`Sandbox::remove_orphans`] can clean up after a crash without touching other
    /// processes' resources. One process per owner: a second process sharing the owner would
    /// see the first one's runs as orphans at its start-up.
    pub async fn connect(owner: &str) -> Result<Self, SandboxError> {
        let addr = std::env::var("DOCKER_HOST").ok().filter(|host| !host.is_empty()).unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned());
        Self::connect_to(&addr, owner).await
    }

    /// Like [`Sandbox::connect`] with an explicit engine address (`unix://…`, `tcp://…`).
    pub async fn connect_to(addr: &str, owner: &str) -> Result<Self, SandboxError> {
        let unreachable = |source| SandboxError::EngineUnreachable { addr: addr.to_owned(), source };
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
        let run_subnets = Arc::new(SubnetWalk::new(RunSubnets::default()));
        Ok(Self { docker, image_docker, owner: owner.to_owned(), run_subnets, dependency_cache: DependencyCache::from_env() })
    }

    /// Takes run networks' addresses from `subnets` instead of the default range
    /// ([`RunSubnets::default`], 10.77.0.0/16 in /29 blocks).
    pub fn with_run_subnets(mut self, subnets: RunSubnets) -> Self {
        self.run_subnets = Arc::new(SubnetWalk::new(subnets));
        self
    }

    /// Takes locked environments' wheels from `cache` instead of [`DependencyCache::from_env`].
    pub fn with_dependency_cache(mut self, dependency_cache: DependencyCache) -> Self {
        self.dependency_cache = dependency_cache;
        self
    }

    /// Where locked environments' wheels come from.
    pub fn dependency_cache(&self) -> &DependencyCache {
        &self.dependency_cache
    }

    /// Where run networks take their addresses.
    pub fn run_subnets(&self) -> RunSubnets {
        self.run_subnets.subnets()
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

    /// The labels every container and network of ours carries.
    pub(crate) fn labels(&self, role: &str, job_id: &str) -> HashMap<String, String> {
        let created = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        HashMap::from([
            (LABEL_SANDBOX.to_owned(), "1".to_owned()),
            (LABEL_OWNER.to_owned(), self.owner.clone()),
            (LABEL_ROLE.to_owned(), role.to_owned()),
            (LABEL_JOB.to_owned(), job_id.to_owned()),
            (LABEL_INSTANCE.to_owned(), instance_id().to_owned()),
            (LABEL_CREATED.to_owned(), created.to_string()),
        ])
    }
}

/// Kills (if running) and deletes a container with its anonymous volumes.
pub(crate) async fn force_remove(docker: &Docker, name: &str) -> Result<(), bollard::errors::Error> {
    let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    docker.remove_container(name, Some(options)).await
}

/// Disconnects every container still attached (the engine refuses to remove a network with
/// endpoints), then removes the network. A container going away by itself meanwhile is why
/// disconnect errors are ignored and the removal is tried more than once.
pub(crate) async fn force_remove_network(docker: &Docker, network: &str) -> Result<(), bollard::errors::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let inspected = docker.inspect_network(network, None).await?;
        for container in inspected.containers.unwrap_or_default().into_keys() {
            let request = NetworkDisconnectRequest { container, force: Some(true) };
            if let Err(e) = docker.disconnect_network(network, request).await
                && !is_not_found(&e)
            {
                tracing::debug!(%network, error = %e, "disconnect before removal failed");
            }
        }
        match docker.remove_network(network).await {
            Err(e) if !is_not_found(&e) && attempt < 5 => {
                tracing::debug!(%network, error = %e, attempt, "network removal failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            result => return result,
        }
    }
}

/// The engine answers 409 when another caller is already removing the container.
pub(crate) fn is_removal_in_progress(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError { status_code: 409, message }
            if message.contains("already in progress")
    )
}

/// `whetstone-<kind>-<job>-<random>`: readable in `docker ps`, unique across retries of a job.
pub(crate) fn resource_name(kind: &str, job_id: &str) -> String {
    let job: String =
        job_id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '-' }).take(48).collect();
    let job = if job.is_empty() { "job".to_owned() } else { job };
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("whetstone-{kind}-{job}-{}", &random[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_docker_safe_and_unique() {
        let a = resource_name("grade", "task/7 run#1");
        let b = resource_name("grade", "task/7 run#1");
        assert!(a.starts_with("whetstone-grade-task-7-run-1-"), "{a}");
        assert_ne!(a, b);
        assert!(resource_name("agent", "").starts_with("whetstone-agent-job-"));
        let long = resource_name("probe", &"x".repeat(500));
        assert!(long.len() < 100);
    }
}
