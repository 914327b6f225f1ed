//! The dashboard: server-rendered HTML pages on the coordinator's HTTP port (the solve API's,
//! `[solve] listen`), for miners, validators and curators who would rather look than read a
//! terminal table. Every number comes from the same place the gRPC `Scores` service reads it:
//! the store and the consensus over the verified verdict ledger ([`crate::ledger`],
//! [`crate::scoring`]); nothing is scored differently here.
//!
//! ```text
//! GET /                 leaderboard        pages/leaderboard.rs
//! GET /agents/{digest}  agent: heat map, score over time, runs   pages/agent.rs
//! GET /runs/{run_id}    run: outcome, verdicts, (log, LLM calls, patch)   pages/run.rs
//! GET /tasks            resolve rate per task   pages/tasks.rs
//! GET /validators       agreement, stake, rejected verdicts   pages/validators.rs
//! GET /assets/style.css the only asset, compiled in: no CDN, works offline
//! ```
//!
//! Visibility follows the gRPC API: pages show what `Scores` answers unsigned. A run's agent
//! log, LLM calls and patch (`Scores.RunDetail`, signed, for the run's miner and validators)
//! are hidden with a note saying how to read them, unless the operator sets
//! `[web] show_run_details = true` (a devnet, or a dashboard only its operator can reach).

mod charts;
mod diff;
mod html;
mod pages;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use self::html::Html;
use crate::service::{ApiError, Services};

/// The stylesheet, shipped in the binary.
const STYLE_CSS: &str = include_str!("style.css");

/// The pages' Content-Security-Policy: the stylesheet from here and nothing else.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The `[web]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Show every run's agent log, LLM calls and patch to anyone who can open the dashboard.
    /// Default false: like `Scores.RunDetail`, they are for the run's miner and the
    /// validators only (signed requests; `whetstone runs <id> --wallet.name …`). Turn it on
    /// only where everyone who can reach the HTTP port may read every miner's work: devnet
    /// does, on loopback.
    pub show_run_details: bool,
}

/// What the page handlers share.
#[derive(Debug, Clone)]
pub(crate) struct Web {
    pub(crate) services: Services,
}

impl Web {
    fn show_run_details(&self) -> bool {
        self.services.config.web.show_run_details
    }
}

pub(crate) fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(pages::leaderboard::page))
        .route("/agents/{digest}", get(pages::agent::page))
        .route("/runs/{run_id}", get(pages::run::page))
        .route("/tasks", get(pages::tasks::page))
        .route("/validators", get(pages::validators::page))
        .route("/assets/style.css", get(style))
        .with_state(web)
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], STYLE_CSS)
}

/// Which navigation tab a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Leaderboard,
    Tasks,
    Validators,
}

/// A finished page: the layout around `body`.
pub(crate) fn layout(title: &str, tab: Option<Tab>, scoring: &str, body: Html) -> Response {
    let mut html = Html::new();
    html.raw(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/assets/style.css\"><title>",
    )
    .text(title)
    .raw(" · Whetstone</title></head><body><header class=\"top\"><div class=\"wrap\"><a class=\"brand\" href=\"/\">◆ Whetstone</a><nav>");
    for (tab_of, href, label) in
        [(Tab::Leaderboard, "/", "Leaderboard"), (Tab::Tasks, "/tasks", "Tasks"), (Tab::Validators, "/validators", "Validators")]
    {
        html.raw(if tab == Some(tab_of) { "<a class=\"active\" href=\"" } else { "<a href=\"" })
            .raw(href)
            .raw("\">")
            .raw(label)
            .raw("</a>");
    }
    html.raw("</nav></div></header><main class=\"wrap\">").append(body).raw("</main><footer class=\"wrap\"><p>Scores: ").text(scoring).raw(
        " — the public function every validator runs over the signed verdict ledger (docs/scoring.md). \
             Served by this subnet's coordinator; it can store and dispatch, but not forge a verdict.</p></footer></body></html>",
    );
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        // Defence in depth behind the escaping: no script runs on these pages, nothing loads
        // from elsewhere, and no other site may frame them.
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    (headers, html.into_string()).into_response()
}

/// Why a page could not be shown, as an HTML page with the right status.
#[derive(Debug)]
pub(crate) enum PageError {
    NotFound(String),
    Internal,
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        tracing::error!(error = %whetstone_proto::error_chain(&error), "dashboard page failed");
        Self::Internal
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::NotFound(message) => (StatusCode::NOT_FOUND, message),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "This page failed to load; the coordinator's log says why.".to_owned()),
        };
        let mut body = Html::new();
        body.raw("<h1>")
            .text(status.canonical_reason().unwrap_or("Error"))
            .raw("</h1><p class=\"note\">")
            .text(&message)
            .raw("</p><p><a href=\"/\">Back to the leaderboard</a></p>");
        let mut response = layout(status.canonical_reason().unwrap_or("Error"), None, "", body);
        *response.status_mut() = status;
        response
    }
}

/// A consensus result (`resolved`, `unresolved`, `pending`, or none yet) as a coloured badge.
pub(crate) fn result_badge(html: &mut Html, result: &str) {
    let class = match result {
        "resolved" => "badge resolved",
        "unresolved" => "badge unresolved",
        "pending" => "badge pending",
        _ => "badge empty",
    };
    html.raw("<span class=\"").raw(class).raw("\">").text(if result.is_empty() { "no verdict" } else { result }).raw("</span>");
}

/// A hotkey, shortened, with the whole of it on hover.
pub(crate) fn hotkey(html: &mut Html, hotkey: &str) {
    html.raw("<code class=\"key\" title=\"").text(hotkey).raw("\">").text(&html::short(hotkey, 10)).raw("</code>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_forbid_scripts_and_foreign_loads_and_error_pages_keep_their_status() {
        let response = PageError::NotFound("no such <run>".into()).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let csp = response.headers().get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(csp.starts_with("default-src 'none'") && !csp.contains("script-src"), "{csp}");
        assert_eq!(response.headers().get(header::X_CONTENT_TYPE_OPTIONS).and_then(|v| v.to_str().ok()), Some("nosniff"));
    }
}
