//! Logs (JSON or pretty, to stdout), the access log, request ids and Prometheus metrics.

pub mod batch;
pub mod event_format;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use batch::{BatchGuard, BatchWriter};

/// Where JSON access-log lines go directly, without `tracing` (set by [`init_logging`] in the
/// JSON format only).
static ACCESS_SINK: OnceLock<BatchWriter> = OnceLock::new();

/// Installs the global log subscriber. Safe to call more than once (later calls do nothing).
///
/// Lines are written in batches by a background thread (see [`batch`]): a slow reader of
/// standard output (a stalled log shipper, a full pipe) drops log lines instead of stalling
/// request handling. Keep the returned guard alive until exit so that buffered lines are
/// flushed.
pub fn init_logging(filter: &str, format: LogFormat) -> BatchGuard {
    let (writer, guard) = BatchWriter::spawn(std::io::stdout());
    if format == LogFormat::Json {
        let _ = ACCESS_SINK.set(writer.clone());
    }
    let mut directives = EnvFilter::try_new(filter)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // The driver logs every statement with its parameter values at debug level, and those
        // values include credentials (a session's CSRF token): never below info, whatever
        // DOCKET_LOG asks for.
        .add_directive("tokio_postgres=info".parse().expect("a valid directive"));
    if !filter.contains("deadpool") {
        // The pool warns once per pooled connection when the database goes away (ten lines
        // for one outage); `db::backoff::Health` says it once.
        directives = directives.add_directive(
            "deadpool.postgres=error"
                .parse()
                .expect("a valid directive"),
        );
    }
    let filter = directives;
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .event_format(event_format::JsonLines),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_target(false),
            )
            .try_init(),
    };
    guard
}

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    METRICS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".to_owned()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ],
                )
                .expect("valid buckets")
                .set_buckets_for_metric(
                    Matcher::Full("docket_db_outage_seconds".to_owned()),
                    &[0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0],
                )
                .expect("valid buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests build many apps in one process).
            let _ = metrics::set_global_recorder(recorder);
            metrics::gauge!(
                "docket_build_info",
                "version" => env!("CARGO_PKG_VERSION")
            )
            .set(1.0);
            handle
        })
        .clone()
}

/// The method label of request metrics: one of a fixed set, so that a client inventing methods
/// cannot create new time series.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub fn record_request(method: &'static str, route: &str, status: u16, latency: Duration) {
    let (requests, duration) = request_metrics(method, route, status);
    requests.increment(1);
    duration.record(latency.as_secs_f64());
}

/// The handles of one (method, route, status) series. Looking a series up in the recorder by
/// its labels allocates the labels and hashes them on every request; the handles are kept
/// instead, per route. Bounded: routes are the router's patterns (or `unmatched`), methods and
/// statuses a fixed set.
fn request_metrics(
    method: &'static str,
    route: &str,
    status: u16,
) -> (metrics::Counter, metrics::Histogram) {
    type Series = Vec<(&'static str, u16, metrics::Counter, metrics::Histogram)>;
    static SERIES: OnceLock<std::sync::RwLock<std::collections::HashMap<Box<str>, Series>>> =
        OnceLock::new();
    let series = SERIES.get_or_init(Default::default);
    let found = |map: &std::collections::HashMap<Box<str>, Series>| {
        map.get(route).and_then(|all| {
            all.iter()
                .find(|(m, s, _, _)| *m == method && *s == status)
                .map(|(_, _, c, h)| (c.clone(), h.clone()))
        })
    };
    if let Some(handles) = found(&series.read().expect("not poisoned")) {
        return handles;
    }
    let mut map = series.write().expect("not poisoned");
    if let Some(handles) = found(&map) {
        return handles;
    }
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    let counter = metrics::counter!("http_requests_total", &labels);
    let histogram = metrics::histogram!("http_request_duration_seconds", &labels);
    map.entry(route.into())
        .or_default()
        .push((method, status, counter.clone(), histogram.clone()));
    (counter, histogram)
}

/// Folds the recorded latencies into their buckets every few seconds. The recorder keeps every
/// sample until then (or until a scrape), so without this an instance nobody scrapes would
/// grow by 8 bytes a request, forever.
pub fn spawn_metrics_upkeep(handle: PrometheusHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(5));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            handle.run_upkeep();
        }
    })
}

/// One access-log line's facts.
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub latency: Duration,
    pub user_id: Option<uuid::Uuid>,
}

/// Writes the access-log line of a request, if `DOCKET_LOG` lets `docket::access` through at
/// `info`. In the JSON format the line is formatted here and appended to the batch writer
/// directly: going through `tracing`'s JSON formatter cost several times more per request.
pub fn access_log(line: &AccessLine<'_>) {
    if !tracing::enabled!(target: "docket::access", tracing::Level::INFO) {
        return;
    }
    let Some(sink) = ACCESS_SINK.get() else {
        tracing::info!(
            target: "docket::access",
            request_id = %line.request_id,
            method = %line.method,
            route = %line.route,
            status = line.status,
            latency_ms = line.latency.as_secs_f64() * 1000.0,
            user_id = line.user_id.map(|id| id.to_string()),
            "request"
        );
        return;
    };
    thread_local! {
        static LINE: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(256));
    }
    LINE.with_borrow_mut(|out| {
        out.clear();
        write_access_line(out, line, chrono::Utc::now());
        sink.append(out.as_bytes());
    });
}

/// The JSON line: the fields `tracing`'s JSON format wrote for the same event.
pub fn format_access_line(line: &AccessLine<'_>, at: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = String::with_capacity(256);
    write_access_line(&mut out, line, at);
    out
}

fn write_access_line(out: &mut String, line: &AccessLine<'_>, at: chrono::DateTime<chrono::Utc>) {
    out.push_str("{\"timestamp\":\"");
    write_timestamp(out, at);
    out.push_str("\",\"level\":\"INFO\",\"message\":\"request\",\"target\":\"docket::access\",\"request_id\":");
    json_string(out, line.request_id);
    out.push_str(",\"method\":");
    json_string(out, line.method);
    out.push_str(",\"route\":");
    json_string(out, line.route);
    let _ = write!(
        out,
        ",\"status\":{},\"latency_ms\":{:.3}",
        line.status,
        line.latency.as_secs_f64() * 1000.0
    );
    match line.user_id {
        Some(id) => {
            let _ = write!(out, ",\"user_id\":\"{}\"", id.hyphenated());
        }
        None => out.push_str(",\"user_id\":null"),
    }
    out.push_str("}\n");
}

/// RFC 3339 with microseconds, as `to_rfc3339_opts(Micros, true)` writes it, with the part up
/// to the second formatted once a second per thread.
fn write_timestamp(out: &mut String, at: chrono::DateTime<chrono::Utc>) {
    thread_local! {
        static SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    SECOND.with_borrow_mut(|(second, prefix)| {
        if *second != at.timestamp() {
            *second = at.timestamp();
            *prefix = at.format("%Y-%m-%dT%H:%M:%S").to_string();
        }
        out.push_str(prefix);
    });
    let _ = write!(out, ".{:06}Z", at.timestamp_subsec_micros().min(999_999));
}

fn json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A request id without a system call: a random per-process prefix (64 bits, so that ids of
/// different instances do not collide) and a counter. Of the form `[0-9a-f-]`, 18–33 chars.
pub fn new_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| format!("{:016x}", rand::random::<u64>()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{n:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        use chrono::TimeZone;
        let base = chrono::Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 59, 59)
            .unwrap();
        for micros in [0, 1, 999_999, 123_456, 1_000_000, 86_400_000_001] {
            let at = base + chrono::Duration::microseconds(micros);
            let mut out = String::new();
            write_timestamp(&mut out, at);
            assert_eq!(out, at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        }
    }

    #[test]
    fn access_lines_are_json_with_every_field() {
        let id = uuid::Uuid::now_v7();
        let line = format_access_line(
            &AccessLine {
                request_id: "abc",
                method: "GET",
                route: "/api/v1/tasks/{id}",
                status: 200,
                latency: Duration::from_micros(1500),
                user_id: Some(id),
            },
            chrono::Utc::now(),
        );
        assert!(line.ends_with('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["route"], "/api/v1/tasks/{id}");
        assert_eq!(value["status"], 200);
        assert_eq!(value["latency_ms"], 1.5);
        assert_eq!(value["user_id"], id.to_string());
        assert_eq!(value["target"], "docket::access");
        let odd = format_access_line(
            &AccessLine {
                request_id: "x",
                method: "M\"\\\u{1}",
                route: "unmatched",
                status: 404,
                latency: Duration::ZERO,
                user_id: None,
            },
            chrono::Utc::now(),
        );
        let value: serde_json::Value = serde_json::from_str(&odd).unwrap();
        assert_eq!(value["method"], "M\"\\\u{1}");
        assert!(value["user_id"].is_null());
    }

    #[test]
    fn request_ids_are_unique_and_well_formed() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        for id in [a, b] {
            assert!((1..=64).contains(&id.len()));
            assert!(id.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'));
        }
    }

    #[test]
    fn method_labels_are_bounded() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
