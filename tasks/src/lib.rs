//! The things every Whetstone component agrees on: the task format (see `tasks/FORMAT.md`),
//! content digests and the bundles tasks and agents travel in, the task repository as a single
//! fresh commit, and the grading rule.
//!
//! This crate sits at the bottom of the dependency graph: `proto`, the coordinator and both
//! workers build on its types, and it depends on none of them.

pub mod agent;
pub mod bundle;
pub mod compact;
pub mod curate;
pub mod digest;
pub mod generate;
pub mod grading;
pub mod ids;
pub mod import;
pub mod protect;
pub mod repo;
pub mod report;
pub mod similarity;
pub mod split;
pub mod task;

pub use agent::{AgentManifest, AgentPackage, AgentResources, AgentRuntime, MAX_RUNTIME_PACKAGES};
pub use digest::Digest;
pub use grading::{TestResult, TestStatus, Verdict, VerdictStatus};
pub use ids::{GradeId, Hotkey, RunId};
pub use split::VisibleTask;
pub use task::{Task, TaskSet, TaskSpec};
