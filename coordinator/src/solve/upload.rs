//! A solve request's body: read whole under a cap, or refused while it is still arriving in
//! a way the client can read.
//!
//! A server that answers before it has read the whole body and then closes the connection
//! leaves unread bytes in its socket, so the kernel resets the connection; a client still
//! sending sees `EPIPE` or `ECONNRESET` instead of the answer (Python's `http.client` every
//! time, hyper and so `whetstone solve` whenever the reset comes before it has read the
//! answer). So a refusal of an unread body goes out at once with `Connection: close`, and the
//! rest of the body is read and dropped for a bounded time, as nginx's lingering close does:
//! clients that read an early answer (curl, hyper) have it at once, and clients that send
//! everything first have it once they have sent it.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::http::HttpError;

/// How long the rest of a refused body is read after the answer. nginx's `lingering_time`.
const DISCARD_FOR: Duration = Duration::from_secs(30);

/// How much of a refused body is read after the answer, so a fast client cannot keep a core
/// busy copying bytes for the whole of [`DISCARD_FOR`].
const DISCARD_BYTES: u64 = 1024 * 1024 * 1024;

/// What reading a body under a cap gave.
#[derive(Debug)]
pub(super) enum Upload {
    Whole(Bytes),
    /// The body is over the cap, as its `Content-Length` said or as read so far.
    OverCap(Unread),
    /// The connection failed while the body was read.
    Failed(axum::Error),
}

/// A request body not read to its end, to refuse with [`Unread::refuse`].
#[derive(Debug)]
pub(super) struct Unread {
    body: Body,
    /// Whether any of it was asked for; until then a client that sent `Expect: 100-continue`
    /// is waiting and sends nothing.
    started: bool,
}

impl Unread {
    /// A body nothing has been read of yet.
    pub(super) fn untouched(body: Body) -> Self {
        Self { body, started: false }
    }

    /// `error` as the answer, with `Connection: close`; the rest of the body is read and
    /// dropped in the background for up to [`DISCARD_FOR`] and [`DISCARD_BYTES`] (or until
    /// `shutdown`), then the connection closes.
    pub(super) fn refuse(self, error: HttpError, headers: &HeaderMap, shutdown: &CancellationToken) -> Response {
        let mut response = error.into_response();
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        // Reading would make hyper send `100 Continue`, asking for the body this refuses.
        if self.started || !expects_continue(headers) {
            tokio::spawn(discard(self.body, shutdown.clone()));
        }
        response
    }
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers.get(header::EXPECT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// Reads `body` whole when it is at most `cap` bytes. A declared `Content-Length` over the cap
/// is refused before anything is read.
pub(super) async fn read_capped(headers: &HeaderMap, mut body: Body, cap: usize) -> Upload {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > cap as u64) {
        return Upload::OverCap(Unread::untouched(body));
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |length| length as usize));
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => return Upload::Failed(error),
        };
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > cap {
                return Upload::OverCap(Unread { body, started: true });
            }
            bytes.extend_from_slice(data);
        }
    }
    Upload::Whole(bytes.into())
}

/// Reads and drops what is left of `body`; see [`Unread::refuse`].
async fn discard(mut body: Body, shutdown: CancellationToken) {
    let deadline = Instant::now() + DISCARD_FOR;
    let mut dropped: u64 = 0;
    let stopped = loop {
        let frame = tokio::select! {
            () = shutdown.cancelled() => break "shutdown",
            () = tokio::time::sleep_until(deadline) => break "time limit",
            frame = body.frame() => frame,
        };
        match frame {
            None => return,
            Some(Err(_)) => break "client went away",
            Some(Ok(frame)) => {
                dropped += frame.data_ref().map_or(0, |data| data.len() as u64);
                if dropped > DISCARD_BYTES {
                    break "size limit";
                }
            }
        }
    };
    tracing::debug!(dropped, stopped, "stopped reading the body of a refused solve request; the connection closes");
}
