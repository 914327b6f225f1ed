//! The guard that removes a container or network however its run ends.

use bollard::Docker;

use crate::client::{force_remove, force_remove_network};
use crate::error::is_not_found;
use crate::live::LiveEntry;

/// What a guard removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Container,
    Network,
}

impl Resource {
    fn as_str(self) -> &'static str {
        match self {
            Resource::Container => "container",
            Resource::Network => "network",
        }
    }
}

/// Removes the resource when dropped while still armed (the run future was cancelled or
/// panicked); [`Guard::remove`] is the normal path. While the guard lives, the resource is
/// registered as live, so janitors leave it alone.
#[derive(Debug)]
pub(crate) struct Guard {
    docker: Docker,
    kind: Resource,
    pub(crate) id: String,
    armed: bool,
    _live: LiveEntry,
}

impl Guard {
    pub(crate) fn new(docker: Docker, kind: Resource, id: String, live: LiveEntry) -> Self {
        Self { docker, kind, id, armed: true, _live: live }
    }

    pub(crate) async fn remove(mut self) -> Result<(), bollard::errors::Error> {
        // Stays armed on failure: the drop below tries once more.
        remove(&self.docker, self.kind, &self.id).await?;
        self.armed = false;
        Ok(())
    }
}

async fn remove(docker: &Docker, kind: Resource, id: &str) -> Result<(), bollard::errors::Error> {
    let result = match kind {
        Resource::Container => force_remove(docker, id).await,
        Resource::Network => force_remove_network(docker, id).await,
    };
    match result {
        Err(e) if is_not_found(&e) => Ok(()),
        other => other,
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let id = std::mem::take(&mut self.id);
        let kind = self.kind;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(%id, kind = kind.as_str(), "no runtime to remove a sandbox resource; left for the janitor");
            return;
        };
        let docker = self.docker.clone();
        // Detached on purpose: Drop cannot await, and the removal must outlive the caller.
        runtime.spawn(async move {
            if let Err(e) = remove(&docker, kind, &id).await {
                tracing::warn!(%id, kind = kind.as_str(), error = %e, "failed to remove a sandbox resource");
            }
        });
    }
}
