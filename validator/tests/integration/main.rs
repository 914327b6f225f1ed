//! Validator integration tests against the real Docker engine (named `docker_*`). They grade
//! the shipped starter tasks, so the first run builds the base and task images (about two
//! minutes); later runs find them cached.

mod grading;
mod hostile;
mod support;
