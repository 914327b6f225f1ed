//! Docker sandboxes for Whetstone's agent-runner and validator.
//!
//! Everything untrusted (an agent's work, a task's tests) runs here: in a single-use
//! container with no network, no capabilities and hard limits, removed on every exit path.
//! The crate also owns the images those containers start from: a Debian base image built
//! locally with debootstrap (no registry needed) and per-task environment images built from
//! a task's `environment/Dockerfile`, both cached in the engine by content-derived tags.
//!
//! | Need | Where |
//! |---|---|
//! | connect, labels, janitor | [`Sandbox`] (`client.rs`) |
//! | base and task images | [`Sandbox::ensure_base_image`], [`Sandbox::ensure_image`] |
//! | run a container | [`Sandbox::run`] with a [`RunSpec`] |
//! | files in and out | [`archive`] |

pub mod archive;
mod base_image;
mod client;
mod container;
mod error;
mod guard;
mod images;
mod lock;
mod mirror;
mod output;
mod spec;

pub use archive::ArchiveError;
pub use base_image::{AGENT_USER, base_image_tag};
pub use client::{LogProgress, NoProgress, OrphanScope, Progress, Sandbox};
pub use container::MAX_DOWNLOAD_BYTES;
pub use error::SandboxError;
pub use images::{ImageRef, env_image_tag};
pub use spec::{Exit, Limits, Role, RunOutcome, RunSpec, Timings, Upload};
