//! Integration tests against the real Docker engine. Tests that need Docker are named
//! `docker_*` (filter them out with `cargo test -- --skip docker_`). The first run builds the
//! base image with debootstrap (as root, about a minute); later runs reuse it by tag.

mod common;
mod connect;
mod debs;
mod hardening;
mod images;
mod janitor;
mod network;
mod run;
mod subnets;
