//! The guard that removes a container however its run ends.

use bollard::Docker;

use crate::client::force_remove;
use crate::error::is_not_found;

/// Removes the container when dropped while still armed (the run future was cancelled or
/// panicked); [`ContainerGuard::remove`] is the normal path.
#[derive(Debug)]
pub(crate) struct ContainerGuard {
    docker: Docker,
    pub(crate) id: String,
    armed: bool,
}

impl ContainerGuard {
    pub(crate) fn new(docker: Docker, id: String) -> Self {
        Self {
            docker,
            id,
            armed: true,
        }
    }

    pub(crate) async fn remove(mut self) -> Result<(), bollard::errors::Error> {
        match force_remove(&self.docker, &self.id).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            // Stay armed: the drop below tries once more.
            Err(e) => return Err(e),
        }
        self.armed = false;
        Ok(())
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let id = std::mem::take(&mut self.id);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(container = %id, "no runtime to remove the sandbox container; left for the janitor");
            return;
        };
        let docker = self.docker.clone();
        // Detached on purpose: Drop cannot await, and the removal must outlive the caller.
        runtime.spawn(async move {
            if let Err(e) = force_remove(&docker, &id).await
                && !is_not_found(&e)
            {
                tracing::warn!(container = %id, error = %e, "failed to remove sandbox container");
            }
        });
    }
}
