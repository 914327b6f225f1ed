//! A minimal HTTP client for the coordinator's solve API (/work/SOLVE_CONTRACT.md, issue 12):
//! submit, the event stream (Server-Sent Events, resumable), status and cancel.
//!
//! Interim: the shared client is `whetstone::solve_client`, which the `solve` command's work
//! brings; when it lands, the editor servers switch to it and this module goes. It holds only
//! what `whetstone lsp` and `whetstone mcp` call, with the same names.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

/// Why a call to the solve API failed.
#[derive(Debug, thiserror::Error)]
pub enum SolveClientError {
    #[error("the solve URL {url:?} is not a valid http(s) URL (set WHETSTONE_SOLVE_URL, e.g. http://127.0.0.1:50052)")]
    BadUrl { url: String },
    #[error("failed to set up TLS for the solve API")]
    Tls(#[source] rustls::Error),
    #[error("cannot reach the coordinator's solve API at {url}: is it running with --solve-listen? (or set WHETSTONE_SOLVE_URL)")]
    Unreachable {
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("the connection to the solve API broke while reading {url}")]
    Body {
        url: String,
        #[source]
        source: hyper::Error,
    },
    #[error("the solve API refused the request ({status}, {code}): {message}")]
    Api { status: u16, code: String, message: String },
    #[error("the solve API answered {url} with something that is not the contract's JSON")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The body of `POST /v1/solve`.
#[derive(Debug, Clone, Serialize)]
pub struct SolveRequest {
    pub statement: String,
    /// A tar of the repository (tracked files plus uncommitted changes), base64.
    pub snapshot_base64: String,
    /// `best` or an agent digest.
    pub agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_micro_usd: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_command: Option<String>,
}

/// The agent that took (or made) a solve.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SolveAgent {
    pub digest: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

/// `202` from `POST /v1/solve`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SolveAccepted {
    pub id: String,
    pub agent: SolveAgent,
    #[serde(default)]
    pub events: String,
}

/// `GET /v1/solve/{id}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SolveStatus {
    pub id: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<SolveAgent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub spent_micro_usd: u64,
}

/// `DELETE /v1/solve/{id}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SolveCancelled {
    pub id: String,
    pub state: String,
}

/// The `finished` event: how the job ended.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SolveFinished {
    /// `diff`, `no_diff`, `failed` or `cancelled`.
    pub status: String,
    #[serde(default)]
    pub diff: String,
    #[serde(default)]
    pub agent: Option<SolveAgent>,
    #[serde(default)]
    pub error: String,
}

/// One event of `GET /v1/solve/{id}/events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolveEvent {
    Queued {
        position: u64,
    },
    Started {
        runner: String,
    },
    Log {
        line: String,
    },
    Spend {
        micro_usd: u64,
    },
    Tests {
        command: String,
        exit_code: i64,
        output_tail: String,
    },
    Finished(SolveFinished),
    /// An event name this client does not know (a newer coordinator); skipped by callers.
    Other {
        name: String,
    },
}

/// A connection to one coordinator's solve API.
#[derive(Debug, Clone)]
pub struct SolveClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Without a trailing slash.
    base_url: String,
    key: Option<String>,
}

impl SolveClient {
    pub fn new(base_url: &str, key: Option<String>) -> Result<Self, SolveClientError> {
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(SolveClientError::BadUrl { url: base_url.to_owned() });
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(SolveClientError::Tls)?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self { http, base_url: base_url.trim_end_matches('/').to_owned(), key })
    }

    pub async fn submit(&self, request: &SolveRequest) -> Result<SolveAccepted, SolveClientError> {
        let body = serde_json::to_vec(request).map_err(|source| SolveClientError::Decode { url: self.url("/v1/solve"), source })?;
        self.json(http::Method::POST, "/v1/solve", Some(Bytes::from(body))).await
    }

    pub async fn status(&self, id: &str) -> Result<SolveStatus, SolveClientError> {
        self.json(http::Method::GET, &format!("/v1/solve/{id}"), None).await
    }

    pub async fn cancel(&self, id: &str) -> Result<SolveCancelled, SolveClientError> {
        self.json(http::Method::DELETE, &format!("/v1/solve/{id}"), None).await
    }

    /// Opens the job's event stream, replaying only the events after `last_event_id`.
    pub async fn events(&self, id: &str, last_event_id: Option<u64>) -> Result<SolveEvents, SolveClientError> {
        let path = format!("/v1/solve/{id}/events");
        let mut request = self.request(http::Method::GET, &path).header(http::header::ACCEPT, "text/event-stream");
        if let Some(last) = last_event_id {
            request = request.header("last-event-id", last.to_string());
        }
        let response = self.send(request, None, &path).await?;
        let response = self.check(response, &path).await?;
        Ok(SolveEvents { url: self.url(&path), body: response.into_body(), buffer: String::new() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn request(&self, method: http::Method, path: &str) -> http::request::Builder {
        let mut request = http::Request::builder().method(method).uri(self.url(path));
        if let Some(key) = &self.key {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        request
    }

    async fn send(
        &self,
        request: http::request::Builder,
        body: Option<Bytes>,
        path: &str,
    ) -> Result<http::Response<Incoming>, SolveClientError> {
        let request = match &body {
            Some(_) => request.header(http::header::CONTENT_TYPE, "application/json"),
            None => request,
        };
        let request = request.body(Full::new(body.unwrap_or_default())).map_err(|_| SolveClientError::BadUrl { url: self.url(path) })?;
        self.http.request(request).await.map_err(|source| SolveClientError::Unreachable { url: self.base_url.clone(), source })
    }

    /// Turns a non-2xx answer into the contract's error (`{"error": {"code", "message"}}`).
    async fn check(&self, response: http::Response<Incoming>, path: &str) -> Result<http::Response<Incoming>, SolveClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = collect(response.into_body(), &self.url(path)).await?;
        #[derive(Deserialize)]
        struct Envelope {
            error: ErrorBody,
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            code: String,
            message: String,
        }
        Err(match serde_json::from_slice::<Envelope>(&body) {
            Ok(envelope) => SolveClientError::Api { status: status.as_u16(), code: envelope.error.code, message: envelope.error.message },
            Err(_) => SolveClientError::Api {
                status: status.as_u16(),
                code: status.canonical_reason().unwrap_or("error").to_lowercase().replace(' ', "_"),
                message: String::from_utf8_lossy(&body).trim().to_owned(),
            },
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<T, SolveClientError> {
        let request = self.request(method, path).header(http::header::ACCEPT, "application/json");
        let response = self.send(request, body, path).await?;
        let response = self.check(response, path).await?;
        let body = collect(response.into_body(), &self.url(path)).await?;
        serde_json::from_slice(&body).map_err(|source| SolveClientError::Decode { url: self.url(path), source })
    }
}

async fn collect(body: Incoming, url: &str) -> Result<Bytes, SolveClientError> {
    Ok(body.collect().await.map_err(|source| SolveClientError::Body { url: url.to_owned(), source })?.to_bytes())
}

/// An open event stream; [`SolveEvents::next`] yields each event with its numeric id.
#[derive(Debug)]
pub struct SolveEvents {
    url: String,
    body: Incoming,
    buffer: String,
}

impl SolveEvents {
    /// The next event and its id, or `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Result<(u64, SolveEvent), SolveClientError>> {
        loop {
            if let Some(block) = take_block(&mut self.buffer) {
                match parse_block(&block) {
                    Ok(Some(event)) => return Some(Ok(event)),
                    Ok(None) => continue,
                    Err(source) => return Some(Err(SolveClientError::Decode { url: self.url.clone(), source })),
                }
            }
            match self.body.frame().await {
                None => return None,
                Some(Err(source)) => return Some(Err(SolveClientError::Body { url: self.url.clone(), source })),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&data).replace("\r\n", "\n"));
                    }
                }
            }
        }
    }
}

/// Removes the first complete SSE block (up to a blank line) from the buffer.
fn take_block(buffer: &mut String) -> Option<String> {
    let end = buffer.find("\n\n")?;
    let block = buffer[..end].to_owned();
    buffer.drain(..end + 2);
    Some(block)
}

/// One SSE block into an event; `None` for a block without data (a comment, a keep-alive).
fn parse_block(block: &str) -> Result<Option<(u64, SolveEvent)>, serde_json::Error> {
    let (mut id, mut name, mut data) = (0u64, String::from("message"), Vec::new());
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = value.parse().unwrap_or(0),
            "event" => value.clone_into(&mut name),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return Ok(None);
    }
    let data = data.join("\n");
    #[derive(Deserialize)]
    struct Queued {
        position: u64,
    }
    #[derive(Deserialize)]
    struct Started {
        runner: String,
    }
    #[derive(Deserialize)]
    struct Log {
        line: String,
    }
    #[derive(Deserialize)]
    struct Spend {
        micro_usd: u64,
    }
    #[derive(Deserialize)]
    struct Tests {
        command: String,
        exit_code: i64,
        #[serde(default)]
        output_tail: String,
    }
    let event = match name.as_str() {
        "queued" => SolveEvent::Queued { position: serde_json::from_str::<Queued>(&data)?.position },
        "started" => SolveEvent::Started { runner: serde_json::from_str::<Started>(&data)?.runner },
        "log" => SolveEvent::Log { line: serde_json::from_str::<Log>(&data)?.line },
        "spend" => SolveEvent::Spend { micro_usd: serde_json::from_str::<Spend>(&data)?.micro_usd },
        "tests" => {
            let tests: Tests = serde_json::from_str(&data)?;
            SolveEvent::Tests { command: tests.command, exit_code: tests.exit_code, output_tail: tests.output_tail }
        }
        "finished" => SolveEvent::Finished(serde_json::from_str(&data)?),
        _ => SolveEvent::Other { name },
    };
    Ok(Some((id, event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_blocks_become_events_with_their_ids() {
        let mut buffer = String::from(
            ": keep-alive\n\nid: 1\nevent: queued\ndata: {\"position\": 2}\n\nid: 2\nevent: log\ndata: {\"line\": \"hi\"}\n\nid: 3\nevent: fin",
        );
        let mut events = Vec::new();
        while let Some(block) = take_block(&mut buffer) {
            if let Some(event) = parse_block(&block).expect("valid block") {
                events.push(event);
            }
        }
        assert_eq!(events, vec![(1, SolveEvent::Queued { position: 2 }), (2, SolveEvent::Log { line: "hi".into() })]);
        assert_eq!(buffer, "id: 3\nevent: fin", "an incomplete block waits for the rest");
    }
}
