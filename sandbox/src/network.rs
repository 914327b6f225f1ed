//! Per-run networks: the agent's only way out is the proxy on its own network.
//!
//! A run network is a bridge created `internal` (no route off the bridge) and with
//! `com.docker.network.bridge.inhibit_ipv4` (the host gives itself no address on it). An
//! internal bridge alone still carries traffic to the host through the bridge's gateway
//! address, which reaches every service listening on the host; without that address the
//! only peers left are the other containers on the network. Docker disables IPv6 in
//! containers on a network that has none, so link-local addresses do not open a way either.

use std::net::IpAddr;

use bollard::models::{Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest};

use crate::client::{Sandbox, resource_name};
use crate::error::SandboxError;
use crate::guard::{Guard, Resource};
use crate::live::LiveEntry;
use crate::spec::{NetworkMode, RunNetworkName};
use crate::subnets::{Ipv4Block, is_pool_overlap, subnets_in_use};

/// The bridge driver option that keeps the host off the network.
const INHIBIT_IPV4: &str = "com.docker.network.bridge.inhibit_ipv4";

/// A network whose only reachable addresses are the containers attached to it. Removed by
/// [`RunNetwork::remove`], or when dropped, or by the janitor after a crash.
#[derive(Debug)]
pub struct RunNetwork {
    name: String,
    gateway: Option<IpAddr>,
    subnet: Ipv4Block,
    guard: Guard,
}

impl RunNetwork {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The engine's id for it.
    pub fn id(&self) -> &str {
        &self.guard.id
    }

    /// The gateway address the engine allocated; nothing answers there (that is the point),
    /// which tests check.
    pub fn gateway(&self) -> Option<IpAddr> {
        self.gateway
    }

    /// Its block of the run network range (see [`RunSubnets`](crate::RunSubnets)).
    pub fn subnet(&self) -> Ipv4Block {
        self.subnet
    }

    /// What a [`RunSpec`](crate::RunSpec) sets to join this network.
    pub fn mode(&self) -> NetworkMode {
        NetworkMode::Run(RunNetworkName(self.name.clone()))
    }

    /// Disconnects whatever is still attached and removes the network.
    pub async fn remove(self) -> Result<(), SandboxError> {
        let name = self.name;
        self.guard.remove().await.map_err(|e| SandboxError::docker(format!("remove network {name}"), e))
    }
}

/// The network between run networks' relays and the host (see
/// [`Sandbox::create_egress_network`]).
#[derive(Debug)]
pub struct EgressNetwork {
    name: String,
    gateway: IpAddr,
    guard: Guard,
}

impl EgressNetwork {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's address on the network: bind the service relays forward to here.
    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }

    /// Disconnects whatever is still attached and removes the network.
    pub async fn remove(self) -> Result<(), SandboxError> {
        let name = self.name;
        self.guard.remove().await.map_err(|e| SandboxError::docker(format!("remove network {name}"), e))
    }
}

impl Sandbox {
    /// Creates a run network for `job_id`, labelled like our containers, on a free block of
    /// the run network range (see `subnets.rs`).
    pub async fn create_run_network(&self, job_id: &str) -> Result<RunNetwork, SandboxError> {
        let walk = &self.run_subnets;
        let networks = self.docker.list_networks(None).await.map_err(|e| SandboxError::docker("list networks", e))?;
        let mut taken = subnets_in_use(&networks);
        // One lap of the range at most, however many blocks are taken meanwhile.
        let mut budget = walk.subnets().block_count();
        while let Some(subnet) = walk.next_free(&taken, &mut budget) {
            match self.create_bridge("net", job_id, true, Some(subnet)).await {
                Ok((name, gateway, guard)) => return Ok(RunNetwork { name, gateway, subnet, guard }),
                // Another process took the block since the list: take the next.
                Err(SandboxError::Docker { source, .. }) if is_pool_overlap(&source) => {
                    tracing::debug!(%subnet, "run network block taken meanwhile; trying the next");
                    taken.push(subnet);
                }
                Err(e) => return Err(e),
            }
        }
        Err(SandboxError::NoFreeSubnet {
            subnets: walk.subnets().to_string(),
            blocks: walk.subnets().block_count(),
            networks: networks.len(),
        })
    }

    /// Creates the network that relays on run networks use to reach a service on this host
    /// (the inference proxy): an `internal` bridge, so nothing on it reaches past the host,
    /// whose gateway address is the host's own, where that service listens. Agents never
    /// join it; the relay is the only container on both networks. One per runner, removed
    /// with it (or by the janitor after a crash).
    pub async fn create_egress_network(&self, name: &str) -> Result<EgressNetwork, SandboxError> {
        // On the engine's default pools: every concurrent run's relay has an address on it,
        // more than a small block holds, and a runner needs only one.
        let (name, gateway, guard) = self.create_bridge("egress", name, false, None).await?;
        let gateway = gateway.ok_or_else(|| SandboxError::NoGateway(name.clone()))?;
        Ok(EgressNetwork { name, gateway, guard })
    }

    /// Attaches a running service container to `egress` as well as its run network and
    /// returns its address there.
    pub async fn attach_to_egress(&self, egress: &EgressNetwork, service: &crate::Service) -> Result<IpAddr, SandboxError> {
        let request = NetworkConnectRequest { container: service.name().to_owned(), endpoint_config: None };
        self.docker
            .connect_network(&egress.guard.id, request)
            .await
            .map_err(|e| SandboxError::docker(format!("attach {} to {}", service.name(), egress.name), e))?;
        Ok(egress.gateway)
    }

    /// An internal bridge labelled like our containers; `inhibit_host` keeps the host off it;
    /// `subnet` (or the engine's default pools) gives its addresses.
    async fn create_bridge(
        &self,
        prefix: &str,
        job_id: &str,
        inhibit_host: bool,
        subnet: Option<Ipv4Block>,
    ) -> Result<(String, Option<IpAddr>, Guard), SandboxError> {
        let name = resource_name(prefix, job_id);
        let live = LiveEntry::register(&name);
        let options = if inhibit_host { Some([(INHIBIT_IPV4.to_owned(), "true".to_owned())].into()) } else { None };
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".to_owned()),
            internal: Some(true),
            enable_ipv6: Some(false),
            options,
            labels: Some(self.labels("network", job_id)),
            // The gateway is named so that inspect reports it; with `inhibit_host` nothing holds it.
            ipam: subnet.map(|subnet| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_string()),
                    gateway: Some(subnet.first_host().to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self.docker.create_network(request).await.map_err(|e| SandboxError::docker(format!("create network {name}"), e))?;
        let guard = Guard::new(self.docker.clone(), Resource::Network, created.id, live);
        let inspected =
            self.docker.inspect_network(&guard.id, None).await.map_err(|e| SandboxError::docker(format!("inspect network {name}"), e))?;
        let gateway = inspected
            .ipam
            .and_then(|ipam| ipam.config)
            .and_then(|configs| configs.into_iter().find_map(|c| c.gateway))
            .and_then(|gateway| gateway.parse().ok());
        Ok((name, gateway, guard))
    }

    /// Attaches a running container (a proxy started elsewhere) to `network` and returns its
    /// address there.
    pub async fn attach_to_run_network(&self, network: &RunNetwork, container: &str) -> Result<IpAddr, SandboxError> {
        let request = NetworkConnectRequest { container: container.to_owned(), endpoint_config: None };
        self.docker
            .connect_network(network.id(), request)
            .await
            .map_err(|e| SandboxError::docker(format!("attach {container} to {}", network.name), e))?;
        self.address_on(network, container).await
    }

    /// `container`'s IPv4 address on `network`.
    pub(crate) async fn address_on(&self, network: &RunNetwork, container: &str) -> Result<IpAddr, SandboxError> {
        let inspected =
            self.docker.inspect_container(container, None).await.map_err(|e| SandboxError::docker(format!("inspect {container}"), e))?;
        inspected
            .network_settings
            .and_then(|settings| settings.networks)
            .and_then(|mut networks| networks.remove(&network.name))
            .and_then(|endpoint| endpoint.ip_address)
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| SandboxError::NoAddress { container: container.to_owned(), network: network.name.clone() })
    }
}
