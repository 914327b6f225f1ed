//! Validator integration tests. Grading runs against the real Docker engine (tests named
//! `docker_*`): they grade the shipped starter tasks, so the first run builds the base and
//! task images (about two minutes); later runs find them cached. `weights` runs the weight
//! loop against a localnet in-process and needs no Docker.

mod grading;
mod hostile;
mod support;
mod weights;
