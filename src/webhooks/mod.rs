//! Webhooks (API.md §13): project admins register URLs that receive the project's activity
//! entries, signed as Standard Webhooks specifies. `handlers.rs` — the endpoints; `store.rs` —
//! the `webhooks` and `webhook_deliveries` tables; `outbox.rs` — the delivery worker (the
//! outbox is the activity history: each webhook keeps its position in it); `sender.rs` — the
//! outbound client with the SSRF rule and the signatures.

pub mod handlers;
pub mod outbox;
pub mod sender;
pub mod store;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use uuid::Uuid;

use crate::activity::Kind;
use crate::config::KeyMaterial;
use crate::db::Db;

/// Timing of deliveries. The defaults are the contract's; tests shorten them.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The delays before the retries of a failed delivery (the Standard Webhooks schedule).
    pub schedule: Vec<Duration>,
    /// Failures without a success for this long disable a webhook.
    pub disable_after: Duration,
    /// A receiver must answer within this.
    pub timeout: Duration,
    /// How long a rotated-out secret still signs.
    pub overlap: Duration,
    /// Webhooks one instance delivers to at once (each holds a database connection meanwhile).
    pub concurrency: usize,
}

impl Default for Policy {
    fn default() -> Self {
        let m = |minutes: u64| Duration::from_secs(minutes * 60);
        Self {
            schedule: vec![
                Duration::from_secs(5),
                m(5),
                m(30),
                m(120),
                m(300),
                m(600),
                m(600),
            ],
            disable_after: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
            overlap: Duration::from_secs(24 * 3600),
            concurrency: 4,
        }
    }
}

/// What the webhook endpoints and the delivery worker need. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub sender: sender::Sender,
    /// Seals the secrets (`crate::secrets`, with the webhook id as associated data).
    pub encryption_key: KeyMaterial,
    pub allow_private: bool,
    pub policy: Policy,
    /// Rung on commits (`outbox::doorbell`) and when a delivery was asked for by hand, so the
    /// workers need not wait for their poll.
    pub wake: Arc<tokio::sync::Notify>,
    /// Tells a project's admins when their webhook is switched off.
    pub mailer: crate::email::Mailer,
    /// Where links in those emails point.
    pub public_url: url::Url,
}

impl Webhooks {
    pub fn new(
        db: Db,
        encryption_key: KeyMaterial,
        allow_private: bool,
        policy: Policy,
        mailer: crate::email::Mailer,
        public_url: url::Url,
    ) -> Self {
        Self(Arc::new(Inner {
            mailer,
            public_url,
            db,
            sender: sender::Sender::new(allow_private, policy.timeout),
            encryption_key,
            allow_private,
            policy,
            wake: Default::default(),
        }))
    }

    /// The same webhooks over another pool (the deliveries' own, see `outbox::spawn`); the
    /// bell is shared, so a delivery asked for by hand still wakes the workers.
    pub fn with_db(&self, db: Db) -> Self {
        Self(Arc::new(Inner {
            db,
            // A client of its own too: its connections are driven on the runtime that opens them.
            sender: sender::Sender::new(self.allow_private, self.policy.timeout),
            encryption_key: self.encryption_key.clone(),
            allow_private: self.allow_private,
            policy: self.policy.clone(),
            wake: self.wake.clone(),
            mailer: self.mailer.clone(),
            public_url: self.public_url.clone(),
        }))
    }
}

impl Deref for Webhooks {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A webhook as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: String,
    /// Activity kinds, or `["*"]` for all.
    pub events: Vec<String>,
    #[schema(required = true)]
    pub description: Option<String>,
    pub active: bool,
    /// Why the server disabled it; `null` otherwise.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    #[schema(required = true)]
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// `delivered` or `failed`: how the last attempt ended.
    #[schema(required = true)]
    pub last_status: Option<String>,
}

/// One attempt (or a delivery asked for by hand, `pending` until attempted).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    /// The `webhook-id` sent: the same on every retry and redelivery of one event.
    pub event_id: String,
    pub kind: String,
    pub attempt: i32,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    #[schema(required = true)]
    pub response_status: Option<i32>,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(required = true)]
    pub duration_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    /// When the event is tried again, if it will be.
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The events a webhook wants: activity kinds, or everything (`*`). Parsed from the request,
/// so what is stored is always valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(Vec<String>);

impl EventFilter {
    pub const MAX: usize = 32;

    pub fn parse(raw: &[String]) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > Self::MAX {
            return Err(format!(
                "must list 1 to {} event kinds, or [\"*\"]",
                Self::MAX
            ));
        }
        if raw.iter().any(|k| k == "*") {
            return if raw.len() == 1 {
                Ok(Self(vec!["*".into()]))
            } else {
                Err("\"*\" stands alone".into())
            };
        }
        let mut kinds: Vec<String> = Vec::with_capacity(raw.len());
        for kind in raw {
            match Kind::parse(kind) {
                Some(kind) if !kinds.iter().any(|k| k == kind.as_str()) => {
                    kinds.push(kind.as_str().to_owned())
                }
                Some(_) => {}
                None => return Err(format!("{kind:?} is not an event kind")),
            }
        }
        Ok(Self(kinds))
    }

    pub fn kinds(&self) -> &[String] {
        &self.0
    }
}

/// A new secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The bytes that sign, from a secret as shown to its owner.
pub fn secret_bytes(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()
}

pub fn seal(key: &KeyMaterial, webhook_id: Uuid, secret: &str) -> Vec<u8> {
    crate::secrets::encrypt(key, webhook_id, secret)
}

pub fn unseal(key: &KeyMaterial, webhook_id: Uuid, sealed: &[u8]) -> Option<Vec<u8>> {
    secret_bytes(&crate::secrets::decrypt(key, webhook_id, sealed)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_filters() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            EventFilter::parse(&s(&["*"])).unwrap().kinds(),
            &s(&["*"])[..]
        );
        assert_eq!(
            EventFilter::parse(&s(&["task.created", "task.created", "comment.created"]))
                .unwrap()
                .kinds(),
            &s(&["task.created", "comment.created"])[..]
        );
        for bad in [&[][..], &["*", "task.created"][..], &["task.exploded"][..]] {
            assert!(EventFilter::parse(&s(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_have_32_bytes_and_round_trip_sealed() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(secret_bytes(&secret).unwrap().len(), 32);
        let key = KeyMaterial::new("k".repeat(32)).unwrap();
        let id = Uuid::now_v7();
        let sealed = seal(&key, id, &secret);
        assert_eq!(unseal(&key, id, &sealed), secret_bytes(&secret));
        assert_eq!(unseal(&key, Uuid::now_v7(), &sealed), None);
    }
}
