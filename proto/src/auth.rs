//! `btauth/1` over gRPC: the Bittensor SDK's signed-request format (see
//! `whetstone_chain::auth`) carried as lowercase `x-bittensor-*` metadata.
//!
//! For a gRPC call the signed "method" is `POST`, the "path" is the gRPC method path
//! (`/whetstone.v1.Agents/Submit`), and the "body" is the protobuf encoding of the request
//! message; for the `Worker.Connect` stream it is the first message, the hello.
//!
//! The server checks the body by encoding the message it decoded again with prost, rather than
//! hashing the bytes off the wire (which tonic does not hand to a service). That is exact for
//! every client that writes the canonical encoding, as prost and the other protobuf libraries
//! do for the schema they were built from: fields in number order, packed repeated scalars,
//! no unknown fields. So signed messages must not contain maps (prost encodes a `HashMap` in
//! arbitrary order), and a client built from a newer schema whose new fields this server does
//! not know fails verification: upgrade the coordinator first.

use std::sync::Arc;

use tonic::Status;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use whetstone_chain::auth::{AuthError, AuthHeaders, Caller, RequestParts, SystemClock, Verifier, sign_request};
use whetstone_chain::wallet::HotkeyPair;
use whetstone_tasks::Hotkey;

/// Every gRPC call is an HTTP/2 POST.
pub const GRPC_METHOD: &str = "POST";
/// `Agents.Submit`'s path, the "path" its signature covers.
pub const SUBMIT_AGENT: &str = "/whetstone.v1.Agents/Submit";
/// `Worker.Connect`'s path; its hello is the signed body.
pub const WORKER_CONNECT: &str = "/whetstone.v1.Worker/Connect";
/// `Tasks.Publish`'s path: curators publish tasks.
pub const PUBLISH_TASK: &str = "/whetstone.v1.Tasks/Publish";
/// `Tasks.Fetch`'s path: workers fetch tasks, hidden tests included.
pub const FETCH_TASK: &str = "/whetstone.v1.Tasks/Fetch";
/// `Agents.Get`'s path: workers fetch agent packages.
pub const GET_AGENT: &str = "/whetstone.v1.Agents/Get";
/// `Scores.RunDetail`'s path: a run's output, LLM calls and patch are its miner's to read.
pub const RUN_DETAIL: &str = "/whetstone.v1.Scores/RunDetail";

/// Signs calls with a hotkey, for one coordinator (the receiver its hotkey names).
#[derive(Clone)]
pub struct RequestSigner {
    pair: Arc<HotkeyPair>,
    receiver: Hotkey,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSigner").field("hotkey", self.pair.hotkey()).field("receiver", &self.receiver).finish()
    }
}

impl RequestSigner {
    pub fn new(pair: HotkeyPair, receiver: Hotkey) -> Self {
        Self { pair: Arc::new(pair), receiver }
    }

    /// The signing hotkey.
    pub fn hotkey(&self) -> &Hotkey {
        self.pair.hotkey()
    }

    /// The signing key itself, for what else the hotkey signs (a validator's verdicts, a
    /// miner's agent claims).
    pub fn pair(&self) -> &HotkeyPair {
        &self.pair
    }

    /// The coordinator's hotkey the requests are bound to.
    pub fn receiver(&self) -> &Hotkey {
        &self.receiver
    }

    /// The `x-bittensor-*` headers for a call to `path` whose (first) message encodes to
    /// `body`, with a fresh nonce: call it once per attempt.
    pub fn headers(&self, path: &str, body: &[u8]) -> AuthHeaders {
        let request = RequestParts { method: GRPC_METHOD, path, body };
        sign_request(&self.pair, request, Some(&self.receiver), SystemClock::nonce())
    }

    /// A unary request carrying `message`, signed.
    pub fn signed<T: prost::Message>(&self, path: &str, message: T) -> tonic::Request<T> {
        let headers = self.headers(path, &message.encode_to_vec());
        let mut request = tonic::Request::new(message);
        attach(request.metadata_mut(), &headers);
        request
    }

    /// A streaming request whose first message is `first`, signed over that message.
    pub fn signed_stream<S>(&self, path: &str, first: &impl prost::Message, stream: S) -> tonic::Request<S> {
        let headers = self.headers(path, &first.encode_to_vec());
        let mut request = tonic::Request::new(stream);
        attach(request.metadata_mut(), &headers);
        request
    }
}

/// Puts the headers into gRPC metadata (lowercase ASCII keys; every value is ASCII: SS58,
/// decimal, hex or a scheme name).
pub fn attach(metadata: &mut MetadataMap, headers: &AuthHeaders) {
    for (name, value) in headers.pairs() {
        if let Ok(value) = value.parse::<AsciiMetadataValue>() {
            metadata.insert(name, value);
        }
    }
}

/// The `x-bittensor-*` headers of a received call.
pub fn headers_of(metadata: &MetadataMap) -> AuthHeaders {
    AuthHeaders::from_lookup(|name| metadata.get(name).and_then(|value| value.to_str().ok()))
}

/// Authenticates a call to `path` whose (first) message is `message`; `admit` decides whether
/// the authenticated hotkey may make it (see `Verifier::verify_admitting`).
pub fn verify_message(
    verifier: &Verifier,
    metadata: &MetadataMap,
    path: &str,
    message: &impl prost::Message,
    admit: impl FnOnce(&Caller) -> Result<(), AuthError>,
) -> Result<Caller, Status> {
    let headers = headers_of(metadata);
    if headers.is_empty() {
        return Err(Status::unauthenticated(format!(
            "{path} must be signed with a hotkey (btauth/1: x-bittensor-* metadata); whetstone signs with the hotkey \
             chosen by --wallet.name/--wallet.hotkey, or --dev-key on devnet"
        )));
    }
    let body = message.encode_to_vec();
    verifier.verify_admitting(&headers, RequestParts { method: GRPC_METHOD, path, body: &body }, admit).map_err(status_of)
}

/// The gRPC status for a refused request: unauthenticated unless the sender is known and
/// refused (permission denied) or the server is saturated (unavailable, retry).
pub fn status_of(error: AuthError) -> Status {
    let message = error.to_string();
    match error {
        AuthError::Forbidden(_) => Status::permission_denied(message),
        AuthError::Overloaded => Status::unavailable(message),
        AuthError::Malformed(_)
        | AuthError::WrongReceiver(_)
        | AuthError::Stale(_)
        | AuthError::BadSignature(_)
        | AuthError::Replayed(_) => Status::unauthenticated(message),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use whetstone_chain::auth::{ManualClock, VerifierConfig};
    use whetstone_chain::wallet::dev::DevKey;

    use super::*;
    use crate::pb;

    #[test]
    fn signed_paths_are_the_paths_tonic_routes() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/whetstone.v1.rs"));
        for path in [SUBMIT_AGENT, WORKER_CONNECT, RUN_DETAIL, PUBLISH_TASK, FETCH_TASK, GET_AGENT] {
            assert!(generated.contains(&format!("\"{path}\" =>")), "{path} is not a route of the generated server");
        }
    }

    #[test]
    fn metadata_round_trip_verifies_and_binds_the_message() {
        let coordinator = Hotkey::new(DevKey::Alice.address());
        let signer = RequestSigner::new(DevKey::Bob.pair(), coordinator.clone());
        let message = pb::SubmitAgentRequest { hotkey: DevKey::Bob.address().into(), package: b"tar".to_vec(), ..Default::default() };
        let request = signer.signed(SUBMIT_AGENT, message.clone());
        assert!(request.metadata().keys().count() >= 5, "version, hotkey, nonce, signature, receiver");

        let verifier = Verifier::new(VerifierConfig::new(coordinator));
        let caller = verify_message(&verifier, request.metadata(), SUBMIT_AGENT, &message, |_| Ok(())).expect("verifies");
        assert_eq!(caller.hotkey.as_str(), DevKey::Bob.address());

        let request = signer.signed(SUBMIT_AGENT, message.clone());
        let swapped = pb::SubmitAgentRequest { package: b"other".to_vec(), ..message.clone() };
        let status = verify_message(&verifier, request.metadata(), SUBMIT_AGENT, &swapped, |_| Ok(())).expect_err("other body");
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let status = verify_message(&verifier, request.metadata(), WORKER_CONNECT, &message, |_| Ok(())).expect_err("other path");
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn unsigned_and_refused_calls_say_why() {
        let verifier = Verifier::with_clock(VerifierConfig::new(Hotkey::new(DevKey::Alice.address())), Arc::new(ManualClock::new(0)));
        let message = pb::SubmitAgentRequest::default();
        let status = verify_message(&verifier, &MetadataMap::new(), SUBMIT_AGENT, &message, |_| Ok(())).expect_err("unsigned");
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains("--wallet.name"), "{}", status.message());

        assert_eq!(status_of(AuthError::Forbidden("not registered".into())).code(), tonic::Code::PermissionDenied);
        assert_eq!(status_of(AuthError::Overloaded).code(), tonic::Code::Unavailable);
    }
}
