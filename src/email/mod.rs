//! Email (API.md §14): messages go through the durable job queue (an email accepted for
//! sending survives a restart; SMTP failures are retried with backoff for about 24 h) and out
//! through `DOCKET_SMTP_URL` with lettre. Infrastructure: it knows messages, not why they are
//! sent (the domains write them).

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::KeyMaterial;
use crate::db::{DbResult, Exec};
use crate::jobs::queue::{self, Job};
use crate::jobs::{JobKey, JobKind, Outcome, RetryPolicy};

/// Tries of one email: with the queue's backoff (capped at 15 min) about 24 h of them.
pub const MAX_ATTEMPTS: i32 = 100;

/// One message: plain text and HTML of the same content, and the headers some need.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `List-Unsubscribe` (with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, RFC 8058).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
}

/// Text for an HTML body (names and links the messages quote).
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The part that queues and sends. Cheap to clone.
#[derive(Clone)]
pub struct Mailer(Arc<Inner>);

pub struct Inner {
    /// `None` when no SMTP server is configured.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    retry: RetryPolicy,
    /// Seals queued messages: they hold links with tokens (`crate::secrets`).
    key: KeyMaterial,
}

impl Mailer {
    /// `smtp_url` was checked when the configuration was read (`config::check_smtp_url`).
    pub fn new(
        smtp_url: Option<&str>,
        from: Mailbox,
        retry: RetryPolicy,
        key: KeyMaterial,
    ) -> anyhow::Result<Self> {
        let transport = match smtp_url {
            None => None,
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|_| anyhow::anyhow!("DOCKET_SMTP_URL is not a usable SMTP URL"))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            ),
        };
        Ok(Self(Arc::new(Inner {
            transport,
            from,
            retry,
            key,
        })))
    }

    pub fn is_configured(&self) -> bool {
        self.0.transport.is_some()
    }

    /// Queues a message, in the caller's transaction: it is sent once that commits. The job's
    /// payload is sealed (it may hold a single-use link), bound to the job's own key.
    pub async fn enqueue(&self, db: &impl Exec, message: &Outgoing) -> DbResult<()> {
        let id = Uuid::now_v7();
        let plain = serde_json::to_string(message).expect("serializable");
        let sealed = crate::secrets::encrypt(&self.0.key, id, &plain);
        let payload = json!({ "id": id, "sealed": STANDARD.encode(sealed) });
        queue::enqueue(
            db,
            JobKind::Email,
            payload,
            &JobKey::email(id),
            MAX_ATTEMPTS,
        )
        .await?;
        Ok(())
    }

    fn unseal(&self, payload: &Value) -> Option<Outgoing> {
        let id: Uuid = payload["id"].as_str()?.parse().ok()?;
        let sealed = STANDARD.decode(payload["sealed"].as_str()?).ok()?;
        let plain = crate::secrets::decrypt(&self.0.key, id, &sealed)?;
        serde_json::from_str(&plain).ok()
    }
}

fn build(from: &Mailbox, message: &Outgoing) -> Result<Message, String> {
    let to: Mailbox = message
        .to
        .parse()
        .map_err(|_| "the recipient is not an email address".to_owned())?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone());
    if let Some(link) = &message.unsubscribe {
        builder = builder
            .header(ListUnsubscribe(format!("<{link}>")))
            .header(ListUnsubscribePost);
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(message.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(message.html.clone()),
                ),
        )
        .map_err(|e| format!("the message could not be built: {e}"))
}

/// The `JobKind::Email` runner: sends one queued message.
pub async fn run_job(mailer: &Mailer, job: &Job) -> Outcome {
    let Some(transport) = &mailer.0.transport else {
        // Queued while SMTP was configured, run by an instance without it: wait for one with.
        return Outcome::Retry(
            Duration::from_secs(300),
            "no SMTP server is configured".into(),
        );
    };
    let Some(message) = mailer.unseal(&job.payload) else {
        return Outcome::Fatal("the payload does not open with this DOCKET_ENCRYPTION_KEY".into());
    };
    let built = match build(&mailer.0.from, &message) {
        Ok(built) => built,
        Err(error) => return Outcome::Fatal(error),
    };
    match transport.send(built).await {
        Ok(_) => {
            metrics::counter!("docket_emails_total", "outcome" => "sent").increment(1);
            Outcome::Done
        }
        Err(error) if error.is_permanent() => {
            metrics::counter!("docket_emails_total", "outcome" => "refused").increment(1);
            Outcome::Fatal(format!("the SMTP server refused it: {error}"))
        }
        Err(error) => {
            metrics::counter!("docket_emails_total", "outcome" => "retried").increment(1);
            let delay = mailer.0.retry.after(job.attempts.max(1) as u32);
            Outcome::Retry(delay, format!("sending failed: {error}"))
        }
    }
}

#[derive(Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[derive(Clone)]
struct ListUnsubscribePost;

impl lettre::message::header::Header for ListUnsubscribePost {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(
            Self::name(),
            "List-Unsubscribe=One-Click".to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_has_text_html_and_the_one_click_headers() {
        let from: Mailbox = "Docket <docket@example.com>".parse().unwrap();
        let message = Outgoing {
            to: "ann@example.com".into(),
            subject: "Hello".into(),
            text: "plain".into(),
            html: "<p>rich</p>".into(),
            unsubscribe: Some("https://docket.example.com/u?t=1".into()),
        };
        let raw = String::from_utf8(build(&from, &message).unwrap().formatted()).unwrap();
        for part in [
            "List-Unsubscribe: <https://docket.example.com/u?t=1>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "text/plain",
            "text/html",
            "multipart/alternative",
        ] {
            assert!(raw.contains(part), "{part} in {raw}");
        }
        assert!(build(
            &from,
            &Outgoing {
                to: "nobody".into(),
                ..message
            }
        )
        .is_err());
    }
}
