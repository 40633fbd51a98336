//! The JSON format of log lines other than the access line: one object per event with the
//! timestamp, level, target, the event's fields flattened, and the id of the request being
//! served, read from a task-local ([`REQUEST_ID`]) rather than from a `tracing` span — a span
//! per request, formatted when created and entered on every poll, was most of what the log
//! cost each request.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    /// The id of the request this task is serving (set by `http::middleware::request_context`).
    pub static REQUEST_ID: Arc<str>;
}

/// The current request's id, if this code runs inside one.
pub fn current_request_id() -> Option<Arc<str>> {
    REQUEST_ID.try_with(Arc::clone).ok()
}

pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", line(event, chrono::Utc::now()))
    }
}

fn line(event: &Event<'_>, at: chrono::DateTime<chrono::Utc>) -> Value {
    let metadata = event.metadata();
    let mut object = Map::new();
    object.insert(
        "timestamp".into(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    object.insert("level".into(), metadata.level().as_str().into());
    object.insert("target".into(), metadata.target().into());
    if let Some(id) = current_request_id() {
        object.insert("request_id".into(), Value::String(id.to_string()));
    }
    event.record(&mut Fields(&mut object));
    Value::Object(object)
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn lines_inside_a_request_carry_its_id_and_every_field() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_writer(move || sink.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        REQUEST_ID
            .scope(Arc::from("req-1"), async {
                tracing::warn!(attempt = 3, ok = false, "retrying \"now\"");
            })
            .await;
        tracing::info!(job = "sync", "outside");
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["request_id"], "req-1");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["message"], "retrying \"now\"");
        assert_eq!(lines[0]["attempt"], 3);
        assert_eq!(lines[0]["ok"], false);
        assert!(lines[0]["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(lines[1].get("request_id").is_none());
        assert_eq!(lines[1]["job"], "sync");
    }
}
