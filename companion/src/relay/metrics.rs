//! `GET /metrics`: the relay in Prometheus' text format (OpenMetrics, `prometheus-client`).
//! Per Argo CD server: the watch's state, how many lists the relay made, the last success
//! and the errors, read from the shared listing's statistics at each scrape; per endpoint:
//! requests by status and their latency. Labels name servers by URL and context name,
//! never a credential.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use protocol::messages::ServerInfo;

use super::Live;
use crate::host::previews::{ServerStats, WatchState};

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

/// The endpoints, as labels: anything else is `other`, so a scanner cannot grow the series.
pub fn endpoint(path: &str) -> &'static str {
    match path {
        "/v1/previews" => "/v1/previews",
        "/v1/events" => "/v1/events",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        "/" => "/",
        _ => "other",
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// What the scrape reads besides the request counters.
pub struct State {
    pub live: Arc<dyn Live>,
    pub open_streams: Box<dyn Fn() -> usize + Send + Sync>,
    pub previews: Box<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("metrics::State")
    }
}

impl Metrics {
    pub fn new(state: State) -> Metrics {
        let mut registry = Registry::with_prefix("preview_switch_relay");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by endpoint and status",
            requests.clone(),
        );
        // 0.5 ms to about 4 s.
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 14))) as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer (for /v1/events: to the response headers), by endpoint",
            latency.clone(),
        );
        registry.register_collector(Box::new(Servers(state)));
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    /// Counts one answered request.
    pub fn observe(&self, endpoint: &'static str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels { endpoint, status })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(took.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// One family with a sample per server (labels `server` and `name`), read from its
/// statistics.
fn per_server(
    encoder: &mut DescriptorEncoder,
    rows: &[(&ServerInfo, &ServerStats)],
    (name, help): (&str, &str),
    kind: Kind,
    value: impl Fn(&ServerStats) -> f64,
) -> Result<(), std::fmt::Error> {
    let metric_type = match kind {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
    };
    let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (server, stat) in rows {
        let labels = [
            ("server", server.url.as_str()),
            ("name", server.name.as_str()),
        ];
        let sample = family.encode_family(&labels)?;
        match kind {
            Kind::Counter => ConstCounter::new(value(stat) as u64).encode(sample)?,
            Kind::Gauge => ConstGauge::new(value(stat)).encode(sample)?,
        }
    }
    Ok(())
}

/// The per-server and relay-wide values, read at each scrape.
#[derive(Debug)]
struct Servers(State);

impl Collector for Servers {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let live = &self.0.live;
        let servers = live.servers();
        let stats = live.stats();
        let rows: Vec<_> = servers.iter().zip(&stats).collect();

        let mut family = encoder.encode_descriptor(
            "argocd_watch_state",
            "1 for the state each server's watch is in (idle, connecting, open, backoff)",
            None,
            MetricType::Gauge,
        )?;
        for (server, stat) in &rows {
            for state in [
                WatchState::Idle,
                WatchState::Connecting,
                WatchState::Open,
                WatchState::Backoff,
            ] {
                let labels = [
                    ("server", server.url.as_str()),
                    ("name", server.name.as_str()),
                    ("state", state.as_str()),
                ];
                ConstGauge::new(i64::from(stat.watch == state))
                    .encode(family.encode_family(&labels)?)?;
            }
        }

        per_server(
            &mut encoder,
            &rows,
            (
                "argocd_lists",
                "Lists the relay asked of each Argo CD server",
            ),
            Kind::Counter,
            |s| s.lists as f64,
        )?;
        per_server(
            &mut encoder,
            &rows,
            (
                "argocd_errors",
                "Failed lists and broken or refused watches, per Argo CD server",
            ),
            Kind::Counter,
            |s| s.errors as f64,
        )?;
        per_server(
            &mut encoder,
            &rows,
            ("argocd_up", "1 when the server's last list succeeded"),
            Kind::Gauge,
            |s| f64::from(u8::from(s.lists > 0 && s.last_error.is_none())),
        )?;
        per_server(
            &mut encoder,
            &rows,
            (
                "argocd_last_success_timestamp_seconds",
                "Unix time of the server's last successful list (0: never)",
            ),
            Kind::Gauge,
            |s| s.last_success_ms.map_or(0.0, |ms| ms as f64 / 1000.0),
        )?;

        let streams = ConstGauge::new((self.0.open_streams)() as i64);
        streams.encode(encoder.encode_descriptor(
            "event_streams",
            "Open /v1/events streams",
            None,
            streams.metric_type(),
        )?)?;
        let previews = ConstGauge::new((self.0.previews)() as i64);
        previews.encode(encoder.encode_descriptor(
            "previews",
            "Previews in the relay's current list",
            None,
            previews.metric_type(),
        )?)?;
        Ok(())
    }
}
