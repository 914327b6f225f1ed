//! The tasks crate's integration tests, one binary: the bug generator on real projects, the
//! SWE-bench and Harbor imports (with Docker reproduction in `docker_*` tests), and the
//! shipped curated set with its Docker re-validation.

mod curated;
mod generate;
mod import_docker;
mod import_harbor;
mod import_swebench;
mod locked;
