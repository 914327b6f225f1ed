//! Optional OTLP export of the same spans the logs carry (cargo feature `otlp`, off by
//! default: it adds the OpenTelemetry SDK). Built with it, a process started with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g. `http://127.0.0.1:4317`, an OpenTelemetry collector's
//! gRPC port) sends its spans there in batches; `OTEL_SERVICE_NAME` names the process. Without
//! the variable nothing is exported. Spans of the last batch may be lost when a process exits.

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The export layer, or `None` when no endpoint is configured or the exporter cannot be built
/// (said on stderr: logging is not up yet).
pub fn layer<S>() -> Option<impl Layer<S>>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    let exporter = match opentelemetry_otlp::SpanExporter::builder().with_tonic().build() {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("warning: OTLP export is off: {error}");
            return None;
        }
    };
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().with_batch_exporter(exporter).build();
    let tracer = provider.tracer("whetstone");
    opentelemetry::global::set_tracer_provider(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}
