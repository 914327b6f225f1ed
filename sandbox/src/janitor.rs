//! Removing what crashed or careless processes left behind: at start-up
//! ([`Sandbox::remove_orphans`]) and on a timer ([`Sandbox::spawn_janitor`]).
//!
//! Neither ever touches a container or network this process is still using (see `live.rs`).
//! The timer is stricter still: it removes only what this process made itself (a guard whose
//! removal failed) or what is older than its grace period, so that a run of another process
//! that shares the owner label survives unless it outlives the grace.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client::{
    LABEL_CREATED, LABEL_INSTANCE, LABEL_OWNER, LABEL_SANDBOX, Sandbox, force_remove, force_remove_network, is_removal_in_progress,
};
use crate::error::{SandboxError, is_not_found};
use crate::guard::Resource;
use crate::live::{instance_id, is_live};

/// Which of our containers and networks the janitor looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanScope {
    /// Those of every owner. Only for a janitor that knows no other Whetstone process shares
    /// the engine (it would kill their running containers).
    AllOwners,
    /// Those labelled with this sandbox's owner.
    ThisOwner,
}

/// How often [`Sandbox::spawn_janitor`] sweeps and what it spares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JanitorConfig {
    /// Time between sweeps.
    pub interval: Duration,
    /// Resources of this owner made by another process are removed only once they are this
    /// old. Set it above the longest run, so that two processes wrongly sharing an owner never
    /// kill each other's live runs.
    pub grace: Duration,
}

impl Default for JanitorConfig {
    /// Every 5 minutes; spares other processes' resources for 2 hours.
    fn default() -> Self {
        Self { interval: Duration::from_secs(5 * 60), grace: Duration::from_secs(2 * 60 * 60) }
    }
}

/// One container or network of ours, as the engine lists it.
#[derive(Debug)]
struct Found {
    kind: Resource,
    /// The name we gave it (the registry's key), or the id when it has none.
    name: String,
    instance: Option<String>,
    created_secs: Option<i64>,
}

impl Sandbox {
    /// Names of the containers (running or not) carrying our labels.
    pub async fn list_ours(&self, scope: OrphanScope) -> Result<Vec<String>, SandboxError> {
        Ok(self.list_containers(scope).await?.into_iter().map(|c| c.name).collect())
    }

    /// Names of the networks carrying our labels.
    pub async fn list_our_networks(&self, scope: OrphanScope) -> Result<Vec<String>, SandboxError> {
        Ok(self.list_networks(scope).await?.into_iter().map(|n| n.name).collect())
    }

    /// Force-removes the containers, then the networks, carrying our labels, except those this
    /// process is using; returns how many this call removed.
    ///
    /// Meant for start-up, after a crash: a previous process with this owner is assumed dead.
    /// Something that vanishes meanwhile (removed by its own guard) is not an error.
    pub async fn remove_orphans(&self, scope: OrphanScope) -> Result<usize, SandboxError> {
        self.remove_where(scope, |_| true).await
    }

    /// One sweep of the timer janitor: removes this owner's containers and networks that this
    /// process is not using and that it made itself or that are older than `grace`.
    pub async fn sweep_orphans(&self, grace: Duration) -> Result<usize, SandboxError> {
        let now = unix_now();
        let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        self.remove_where(OrphanScope::ThisOwner, |found| {
            let ours = found.instance.as_deref() == Some(instance_id());
            // Without a creation time nothing says it is young: treat it as old.
            let old = found.created_secs.is_none_or(|created| now.saturating_sub(created) >= grace);
            ours || old
        })
        .await
    }

    /// Sweeps every `config.interval` until `shutdown` (the first sweep comes one interval
    /// after the call; run [`Sandbox::remove_orphans`] at start-up). Await the handle after
    /// cancelling to know the janitor is done.
    pub fn spawn_janitor(&self, config: JanitorConfig, shutdown: CancellationToken) -> JoinHandle<()> {
        let sandbox = self.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + config.interval;
            let mut ticks = tokio::time::interval_at(start, config.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = ticks.tick() => match sandbox.sweep_orphans(config.grace).await {
                        Ok(0) => {}
                        Ok(removed) => tracing::info!(removed, owner = %sandbox.owner, "janitor removed orphaned sandbox resources"),
                        Err(e) => tracing::warn!(error = %e, owner = %sandbox.owner, "janitor sweep failed"),
                    },
                }
            }
        })
    }

    async fn remove_where(&self, scope: OrphanScope, eligible: impl Fn(&Found) -> bool) -> Result<usize, SandboxError> {
        let mut removed = 0;
        // Containers first: a network with containers attached cannot go.
        let containers = self.list_containers(scope).await?;
        let networks = self.list_networks(scope).await?;
        for found in containers.into_iter().chain(networks) {
            if is_live(&found.name) || !eligible(&found) {
                continue;
            }
            let result = match found.kind {
                Resource::Container => force_remove(&self.docker, &found.name).await,
                Resource::Network => force_remove_network(&self.docker, &found.name).await,
            };
            match result {
                Ok(()) => removed += 1,
                Err(e) if is_not_found(&e) || is_removal_in_progress(&e) => {}
                Err(e) => {
                    let kind = match found.kind {
                        Resource::Container => "container",
                        Resource::Network => "network",
                    };
                    return Err(SandboxError::docker(format!("remove {kind} {}", found.name), e));
                }
            }
        }
        Ok(removed)
    }

    fn label_filters(&self, scope: OrphanScope) -> HashMap<&'static str, Vec<String>> {
        let mut labels = vec![format!("{LABEL_SANDBOX}=1")];
        if scope == OrphanScope::ThisOwner {
            labels.push(format!("{LABEL_OWNER}={}", self.owner));
        }
        HashMap::from([("label", labels)])
    }

    async fn list_containers(&self, scope: OrphanScope) -> Result<Vec<Found>, SandboxError> {
        let filters = self.label_filters(scope);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let containers =
            self.docker.list_containers(Some(options)).await.map_err(|e| SandboxError::docker("list sandbox containers", e))?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                // The API reports names with a leading slash; an id is the fallback.
                let name =
                    c.names.and_then(|names| names.into_iter().next()).map(|name| name.trim_start_matches('/').to_owned()).or(c.id)?;
                let labels = c.labels.unwrap_or_default();
                Some(Found {
                    kind: Resource::Container,
                    name,
                    instance: labels.get(LABEL_INSTANCE).cloned(),
                    created_secs: created_label(&labels).or(c.created),
                })
            })
            .collect())
    }

    async fn list_networks(&self, scope: OrphanScope) -> Result<Vec<Found>, SandboxError> {
        let filters = self.label_filters(scope);
        let options = ListNetworksOptionsBuilder::default().filters(&filters).build();
        let networks = self.docker.list_networks(Some(options)).await.map_err(|e| SandboxError::docker("list sandbox networks", e))?;
        Ok(networks
            .into_iter()
            .filter_map(|n| {
                let labels = n.labels.unwrap_or_default();
                Some(Found {
                    kind: Resource::Network,
                    name: n.name.or(n.id)?,
                    instance: labels.get(LABEL_INSTANCE).cloned(),
                    created_secs: created_label(&labels),
                })
            })
            .collect())
    }
}

fn created_label(labels: &HashMap<String, String>) -> Option<i64> {
    labels.get(LABEL_CREATED)?.parse().ok()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).ok().and_then(|d| i64::try_from(d.as_secs()).ok()).unwrap_or(0)
}
