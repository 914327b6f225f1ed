//! The curation pipeline: from a real project to validated tasks (`whetstone tasks add`,
//! `generate`, `validate`).
//!
//! | step | where |
//! |---|---|
//! | fetch a project (local git, PyPI sdist, crates.io crate), clean it, find its licence | [`source`] |
//! | its environment image and test command; the project record | [`project`] |
//! | its dependencies, locked on the host (pip lock, Cargo.lock) | [`locking`] |
//! | run the suite in Docker (baseline runs, bug candidates) | [`runner`], `driver.py` |
//! | keep a candidate only if it is a real, stable, fixable bug | [`validate`] |
//! | the problem statement, checked against leaking the fix | [`statement`] |
//! | bug candidates from the tree-sitter generator ([`crate::generate`]), single and combined | [`bugs`] |
//! | add / generate end to end, writing a compact set | [`pipeline`] |
//!
//! Validation runs each candidate's suite in a container from the project's image with no
//! network and a fixed environment (`TZ=UTC`, `PYTHONHASHSEED=0`, `LC_ALL=C.UTF-8`). Many
//! candidates share one container (the driver resets the tree with git between them), and
//! containers run in parallel up to the configured limit (default: the machine's cores).

pub mod bugs;
pub mod locking;
pub mod pipeline;
pub mod project;
pub mod runner;
pub mod source;
pub mod statement;
pub mod validate;

pub use pipeline::{AddOptions, GenerateOptions, GenerateSummary, Progress as CurateProgress};
pub use project::{Origin, ProjectRecord};
pub use runner::Environment;
pub use source::SourceRef;
pub use validate::{BugCandidate, ValidationConfig, ValidationOutcome, validate_candidate, validate_candidates};

use whetstone_sandbox::SandboxError;

/// Everything that can stop the pipeline (a rejected candidate is not an error: see
/// [`ValidationOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum CurateError {
    #[error("failed to download {url}: {message}")]
    Download { url: String, message: String },
    #[error("{0}")]
    Source(String),
    #[error(
        "project {project} has no licence in its metadata or files; pass --allow-unlicensed to add it flagged, or pick another project"
    )]
    NoLicence { project: String },
    #[error("failed to read or write {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sandbox(Box<SandboxError>),
    #[error("git: {context}")]
    Git {
        context: String,
        #[source]
        source: git2::Error,
    },
    #[error("{path} is not valid")]
    Toml {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("the curation driver failed: {0}")]
    Driver(String),
    #[error(
        "the baseline found no test that passes in every run of {project}; check the test command ({command}) with `docker run` on the environment image"
    )]
    NoStableTests { project: String, command: String },
    #[error(transparent)]
    Compact(Box<crate::compact::CompactError>),
    #[error(transparent)]
    Task(Box<crate::task::TaskError>),
    #[error("bug generation failed")]
    Generate(#[source] Box<crate::generate::GenerateError>),
}

// Boxed: these errors are large, and every `Result` of the pipeline carries the enum.
impl From<SandboxError> for CurateError {
    fn from(error: SandboxError) -> Self {
        Self::Sandbox(Box::new(error))
    }
}

impl From<crate::compact::CompactError> for CurateError {
    fn from(error: crate::compact::CompactError) -> Self {
        Self::Compact(Box::new(error))
    }
}

impl From<crate::task::TaskError> for CurateError {
    fn from(error: crate::task::TaskError) -> Self {
        Self::Task(Box::new(error))
    }
}

pub(crate) fn io_error(path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> CurateError {
    let path = path.to_string();
    move |source| CurateError::Io { path, source }
}
