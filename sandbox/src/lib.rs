//! Docker sandboxes for Whetstone's agent-runner and validator.
//!
//! Everything untrusted (an agent's work, a task's tests) runs here: in a single-use
//! container with no capabilities and hard limits, removed on every exit path. The crate
//! also owns the images those containers start from: a Debian base image built locally with
//! debootstrap (no registry needed) and per-task environment images built from a task's
//! `environment/Dockerfile`, both cached in the engine by content-derived tags.
//!
//! | Need | Where |
//! |---|---|
//! | connect, labels | [`Sandbox`] (`client.rs`) |
//! | base and task images | [`Sandbox::ensure_base_image`], [`Sandbox::ensure_image`], [`Sandbox::ensure_environment_image`] |
//! | locked Python dependencies, offline builds | [`deps`] (`deps.rs`) |
//! | run a container | [`Sandbox::run`] with a [`RunSpec`] (`container.rs`, `exec.rs`, `check.rs`) |
//! | files in and out of a container | [`RunSpec::uploads`], [`RunSpec::downloads`] (`transfer.rs`) |
//! | a network whose only way out is a proxy | [`Sandbox::create_run_network`], [`Sandbox::start_service`] |
//! | hundreds of run networks per host, from one configured range | [`RunSubnets`], [`Sandbox::with_run_subnets`] (`subnets.rs`) |
//! | cleanup after crashes | [`Sandbox::remove_orphans`], [`Sandbox::spawn_janitor`] (`janitor.rs`, `live.rs`) |
//! | files in and out | [`archive`] |
//!
//! # Containment
//!
//! Every run's container gets:
//!
//! | Threat | Control |
//! |---|---|
//! | privileges | uid from the spec, `cap_drop: ALL`, `no-new-privileges`, the engine's default seccomp profile |
//! | host access | no bind mounts, no Docker socket, only the spec's environment |
//! | memory, CPU, processes | memory with no swap on top, a CPU quota, a pid limit ([`Limits`]) |
//! | open files | `RLIMIT_NOFILE` ([`RunSpec::open_files`], 1024 by default) |
//! | disk | [`Tmpfs`] mounts with a size, and a read-only root ([`RunSpec::read_only_root`]); see below |
//! | time | the deadline kills every process of the command, however detached |
//! | output | head and tail kept up to a cap, the cut marked |
//! | network | none, or a [`RunNetwork`] where only the other members (a proxy) answer |
//!
//! # Disk: tmpfs mounts, and why
//!
//! A run's writable places are size-capped tmpfs mounts; with a read-only root they are the
//! only ones (besides the engine's 64 MiB `/dev/shm`), so nothing a run writes reaches the
//! host's disk and a filler gets "No space left on device" at the cap. The alternatives do
//! not work on this engine: `storage-opt size` needs overlay2 on xfs with project quotas
//! (the engine here runs fuse-overlayfs), and a watchdog on the container's writable layer
//! is too slow (`inspect --size` takes seconds) to stop a fast writer. Limits of the design:
//! tmpfs pages count against the memory limit, so callers keep each mount well below it (the
//! agent-runner gives each at most a quarter); a file count is bounded only by memory; and
//! what a run leaves must fit a download, capped at [`MAX_DOWNLOAD_BYTES`].
//!
//! Tmpfs contents die with the container, and the engine's archive API neither reads nor
//! writes them (an upload vanishes under the mount; a download sees the directory beneath
//! it). So the container's own process is only a holder, the command runs as an exec, and
//! files move in and out through `tar` inside the running container. The command is stopped
//! in place (see `container.rs`) so that its files can be collected before the container is
//! removed; [`RunOutcome::filesystems`] says how full each mount was.
//!
//! # Cleanup
//!
//! Every container and network carries the `whetstone.sandbox`, `whetstone.owner`,
//! `whetstone.role`, `whetstone.job`, `whetstone.instance` and `whetstone.created` labels. A
//! guard removes each on every exit path of its run; [`Sandbox::remove_orphans`] removes what a
//! crashed process of the same owner left (call it at start-up), and
//! [`Sandbox::spawn_janitor`] sweeps on a timer. Neither ever removes what this process is
//! still using.

pub mod archive;
mod base_image;
mod check;
mod client;
mod container;
pub mod crates;
pub mod debs;
pub mod deps;
mod error;
mod exec;
mod guard;
mod images;
mod janitor;
mod live;
mod lock;
mod mirror;
mod network;
mod output;
mod sdists;
mod service;
mod spec;
mod subnets;
mod transfer;

pub use archive::ArchiveError;
pub use base_image::{AGENT_USER, base_image_tag};
pub use client::{LogProgress, NoProgress, Progress, Sandbox};
pub use error::SandboxError;
pub use images::{
    EnvironmentFiles, ImageRef, RUST_IMAGE_ARG, RUST_TOOLCHAIN_LOCK, env_image_tag, rust_toolchain_recipe, rust_toolchain_tag,
};
pub use janitor::{JanitorConfig, OrphanScope};
pub use network::{EgressNetwork, RunNetwork};
pub use service::{Service, ServiceSpec};
pub use spec::{
    DEFAULT_OPEN_FILES, DEFAULT_TMP_BYTES, Exit, FsUsage, HOLDER_USER, Limits, NetworkMode, Role, RunNetworkName, RunOutcome, RunSpec,
    Timings, Tmpfs, Upload,
};
pub use subnets::{Ipv4Block, RunSubnets, SubnetError};
pub use transfer::MAX_DOWNLOAD_BYTES;
