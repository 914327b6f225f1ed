//! Logging for every `whetstone` command: `WHETSTONE_LOG` (default `info`) picks what is
//! logged, the global `--log-format` picks how (`text` for people, `json` for log pipelines:
//! one object per line with the event's fields and the spans it happened in, so a run's id,
//! task and agent are on each of its lines). Built with the `otlp` feature, the spans can be
//! exported over OTLP too (`crate::otlp`).

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the current span and every span it is in.
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Set once by the command line before any command runs.
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("WHETSTONE_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Logs to stderr. For the long-running commands; the others print their own output.
pub fn to_stderr() {
    init(std::io::stderr, true);
}

/// Logs to a file, so the terminal keeps the progress display.
pub fn to_file(path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("failed to create the log file {}", path.display()))?;
    init(std::sync::Mutex::new(file), false);
    Ok(())
}

fn init<W>(writer: W, ansi: bool)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let lines = match FORMAT.get().copied().unwrap_or_default() {
        LogFormat::Text => fmt.with_ansi(ansi).boxed(),
        LogFormat::Json => fmt.json().with_current_span(true).with_span_list(true).boxed(),
    };
    let registry = tracing_subscriber::registry().with(lines.with_filter(filter()));
    #[cfg(feature = "otlp")]
    let registry = registry.with(crate::otlp::layer().with_filter(filter()));
    let _ = registry.try_init();
}
