//! The sandbox's failure domain: everything that can go wrong talking to Docker.

use std::io;

/// Errors from [`crate::Sandbox`].
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The engine did not answer; the usual cause is Docker not running or a wrong `DOCKER_HOST`.
    #[error("cannot reach the docker engine at {addr}: start Docker, or point DOCKER_HOST at a running engine")]
    EngineUnreachable {
        addr: String,
        #[source]
        source: bollard::errors::Error,
    },

    /// A Docker API call failed; `action` says which step.
    #[error("failed to {action}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },

    /// A local file or process operation failed; `action` says which step.
    #[error("failed to {action}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },

    /// Building the base image needs `debootstrap`, which is not on this machine.
    #[error("debootstrap not found: install it with `apt-get install debootstrap`")]
    DebootstrapMissing,

    /// `debootstrap` creates device nodes and chowns files, so it only works as root.
    #[error(
        "building the base image needs root because debootstrap must run as root: run this once as root (for example with sudo) and the image is cached by tag afterwards"
    )]
    NotRoot,

    /// `debootstrap` exited unsuccessfully.
    #[error("debootstrap failed ({status}); last output:\n{log_tail}")]
    Debootstrap { status: String, log_tail: String },

    /// Importing the root filesystem into Docker failed.
    #[error("failed to import the base image {tag}: {message}")]
    Import { tag: String, message: String },

    /// `docker build` of an environment Dockerfile failed.
    #[error("failed to build image {tag}: {message}; last build output:\n{log_tail}")]
    ImageBuild { tag: String, message: String, log_tail: String },

    /// A locked environment's dependencies could not be fetched to the host.
    #[error(transparent)]
    Dependencies(#[from] crate::deps::DependencyError),

    /// A downloaded path was larger than the sandbox is willing to hold in memory.
    #[error("refusing to download {path}: its archive exceeds {limit} bytes")]
    DownloadTooLarge { path: String, limit: u64 },

    /// The [`RunSpec`](crate::RunSpec) asks for something the sandbox cannot do.
    #[error("invalid run spec: {0}")]
    InvalidSpec(String),

    /// Extracting an upload inside the container failed (for a tmpfs: usually too small).
    #[error("failed to upload files to {dest_dir}: {message}")]
    Upload { dest_dir: String, message: String },

    /// A command the sandbox runs inside the container for itself did not finish.
    #[error("sandbox helper `{helper}` failed: {message}")]
    Helper { helper: String, message: String },

    /// A container on a run network has no address there.
    #[error("container {container} has no address on network {network}")]
    NoAddress { container: String, network: String },
    /// The engine gave a network no gateway address, so no host service can listen there.
    #[error("network {0} has no gateway address on this host; check the engine's address pools")]
    NoGateway(String),
    /// Every block of the run network range overlaps an existing network.
    #[error(
        "no free subnet for a run network: all {blocks} blocks of {subnets} are taken ({networks} networks on the engine); remove leftover networks (a restarted runner's janitor removes its own; `docker network ls --filter label=whetstone.sandbox` lists them) or choose a wider range"
    )]
    NoFreeSubnet { subnets: String, blocks: u32, networks: usize },
}

impl SandboxError {
    pub(crate) fn docker(action: impl Into<String>, source: bollard::errors::Error) -> Self {
        Self::Docker { action: action.into(), source }
    }

    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io { action: action.into(), source }
    }
}

/// True when the engine answered 404 (no such image, container or path).
pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(err, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}
