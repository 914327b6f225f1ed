//! Long-lived helper containers on a run network: the inference proxy an agent may reach.

use std::net::IpAddr;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptionsBuilder;

use crate::client::{Sandbox, resource_name};
use crate::container::{HostLimits, hardened_host_config};
use crate::error::SandboxError;
use crate::guard::{Guard, Resource};
use crate::images::ImageRef;
use crate::live::LiveEntry;
use crate::network::RunNetwork;
use crate::spec::{DEFAULT_OPEN_FILES, DEFAULT_TMP_BYTES, Limits, Role, Tmpfs};

/// A helper container to start on a run network.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub image: ImageRef,
    /// Its main process, which must keep running (the image's entrypoint applies).
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// `None` means the image's default user.
    pub user: Option<String>,
    /// Memory, CPU and pids; the timeout does not apply (a service runs until removed).
    pub limits: Limits,
    pub open_files: u64,
    /// Recorded in the `whetstone.job` label and the container name.
    pub job_id: String,
}

impl ServiceSpec {
    /// Default limits and open files, no environment, the image's user.
    pub fn new(image: ImageRef, command: Vec<String>, job_id: impl Into<String>) -> Self {
        Self {
            image,
            command,
            env: Vec::new(),
            user: None,
            limits: Limits::default(),
            open_files: DEFAULT_OPEN_FILES,
            job_id: job_id.into(),
        }
    }
}

/// A running helper container. Removed by [`Service::remove`], or when dropped, or by the
/// janitor after a crash.
#[derive(Debug)]
pub struct Service {
    name: String,
    address: IpAddr,
    guard: Guard,
}

impl Service {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address on the run network it was started on.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    pub async fn remove(self) -> Result<(), SandboxError> {
        let name = self.name;
        self.guard.remove().await.map_err(|e| SandboxError::docker(format!("remove service container {name}"), e))
    }
}

impl Sandbox {
    /// Starts `spec` on `network`, hardened like a run (no capabilities, no privilege
    /// escalation, read-only root with a scratch `/tmp`, limits), and returns its address.
    pub async fn start_service(&self, spec: ServiceSpec, network: &RunNetwork) -> Result<Service, SandboxError> {
        let role = Role::Service.as_str();
        let name = resource_name(role, &spec.job_id);
        let live = LiveEntry::register(&name);
        let tmpfs = [Tmpfs::scratch("/tmp", DEFAULT_TMP_BYTES)];
        let config = ContainerCreateBody {
            image: Some(spec.image.as_str().to_owned()),
            cmd: Some(spec.command.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            user: spec.user.clone(),
            labels: Some(self.labels(role, &spec.job_id)),
            host_config: Some(hardened_host_config(&HostLimits {
                limits: &spec.limits,
                open_files: spec.open_files,
                read_only_root: true,
                tmpfs: &tmpfs,
                network: &network.mode(),
            })),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), config)
            .await
            .map_err(|e| SandboxError::docker(format!("create service from {}", spec.image), e))?;
        let guard = Guard::new(self.docker.clone(), Resource::Container, created.id, live);
        self.docker.start_container(&guard.id, None).await.map_err(|e| SandboxError::docker(format!("start service {name}"), e))?;
        let address = self.address_on(network, &guard.id).await?;
        Ok(Service { name, address, guard })
    }
}
