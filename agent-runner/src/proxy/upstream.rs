//! The client side: one pooled HTTP/1 client to the operator's upstream, `http://` or
//! `https://` (rustls with the ring provider and the webpki roots).

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::ProxyError;
use super::config::UpstreamKey;

#[derive(Debug)]
pub(crate) struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Without a trailing slash.
    base_url: String,
    key: UpstreamKey,
}

/// Why no response came back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("invalid upstream request")]
    Request(#[source] http::Error),
    #[error("upstream unreachable")]
    Unreachable(#[source] hyper_util::client::legacy::Error),
}

impl Upstream {
    pub(crate) fn new(base_url: &str, key: UpstreamKey) -> Result<Self, ProxyError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(ProxyError::Tls)?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self { client, base_url: base_url.trim_end_matches('/').to_owned(), key })
    }

    /// POSTs a JSON body to `{base_url}{path}` with the operator's key and nothing of the
    /// agent's request but the body.
    pub(crate) async fn post_json(&self, path: &str, body: Bytes) -> Result<http::Response<Incoming>, UpstreamError> {
        let mut request = http::Request::post(format!("{}{path}", self.base_url))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json, text/event-stream");
        if let Some(bearer) = self.key.bearer() {
            request = request.header(http::header::AUTHORIZATION, bearer);
        }
        let request = request.body(Full::new(body)).map_err(UpstreamError::Request)?;
        self.client.request(request).await.map_err(UpstreamError::Unreachable)
    }
}
