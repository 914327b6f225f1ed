//! The `whetstone.v1` wire protocol: generated prost/tonic types in [`pb`], the domain types
//! jobs travel as in [`job`], conversions between the two (the only place both are seen), and
//! the worker side of a coordinator session in [`worker`], shared by the agent-runner and the
//! validator.

pub mod auth;
pub mod convert;
pub mod fetch;
pub mod job;
pub mod telemetry;
pub mod worker;

/// Generated types. Only the gRPC edges (coordinator services, worker session, CLI client)
/// use these; everything below converts to [`job`] and `whetstone_tasks` types.
#[allow(clippy::all, reason = "generated code is not ours to lint")]
pub mod pb {
    tonic::include_proto!("whetstone.v1");
}

pub use convert::WireError;

/// An error and its sources on one line (`outer: cause: root cause`), for logs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Largest gRPC message either side accepts: agent packages and task bundles travel inline.
pub const MAX_MESSAGE_BYTES: usize = 96 * 1024 * 1024;
