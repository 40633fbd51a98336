//! Notifications (API.md §12): created by the store function that makes their cause, in its
//! transaction; read and marked read by their user.

pub mod digest;
pub mod due;
pub mod handlers;
pub mod store;
pub mod unsubscribe;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::activity::Actor;

/// Why a user is told.
// Named apart: utoipa names a schema by its bare type name, and `activity::Kind` is `Kind` too
// (the later one silently replaced the other in the document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = NotificationKind)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Assigned,
    Mentioned,
    Commented,
    DueSoon,
    Overdue,
    /// The last open task blocking one of theirs is done (API.md §17).
    Unblocked,
    /// One of a task's reminders came due (API.md §19).
    Reminder,
    /// A webhook of a project they administer was switched off for failing (API.md §13); about
    /// the webhook, not a task.
    WebhookDisabled,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assigned => "assigned",
            Kind::Mentioned => "mentioned",
            Kind::Commented => "commented",
            Kind::DueSoon => "due_soon",
            Kind::Overdue => "overdue",
            Kind::Unblocked => "unblocked",
            Kind::Reminder => "reminder",
            Kind::WebhookDisabled => "webhook_disabled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "assigned" => Some(Kind::Assigned),
            "mentioned" => Some(Kind::Mentioned),
            "commented" => Some(Kind::Commented),
            "due_soon" => Some(Kind::DueSoon),
            "overdue" => Some(Kind::Overdue),
            "unblocked" => Some(Kind::Unblocked),
            "reminder" => Some(Kind::Reminder),
            "webhook_disabled" => Some(Kind::WebhookDisabled),
            _ => None,
        }
    }
}

crate::text_enum!(Kind, Kind::parse);

/// A notification to create. `cause` names what it is about, so that the same cause never
/// notifies the same user twice (`assigned:<task>:<version>`, `comment:<comment id>`,
/// `due_soon:<task>:<date>`, `unblocked:<task>:<flip>` …).
#[derive(Debug, Clone)]
pub struct Notify {
    pub user_id: Uuid,
    pub kind: Kind,
    pub task_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub comment_id: Option<Uuid>,
    pub cause: String,
}

/// The task a notification is about, as it is now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = NotificationTask)]
pub struct NotifiedTask {
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i64,
    pub title: String,
}

/// The webhook a `webhook_disabled` notification is about, as it is now (`disabled_reason` is
/// `null` once someone switched it on again).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = NotificationWebhook)]
pub struct NotifiedWebhook {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: String,
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
}

/// A notification as its user sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// Increases with creation time (UUIDv7): the list is newest first by it.
    pub id: Uuid,
    pub kind: Kind,
    /// What it is about; `null` only for `webhook_disabled`, which is about `webhook`.
    #[schema(required = true)]
    pub task: Option<NotifiedTask>,
    /// `webhook_disabled` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub webhook: Option<NotifiedWebhook>,
    /// Who caused it; `null` for the server's own notices (`due_soon`, `overdue`,
    /// `reminder`, `webhook_disabled`) and for a user who was deleted since.
    #[schema(required = true)]
    pub actor: Option<Actor>,
    /// `mentioned` and `commented` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub comment_id: Option<Uuid>,
    /// `reminder` only: sent more than an hour after its time (the server was down then).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub late: Option<bool>,
    pub created_at: DateTime<Utc>,
    /// `null` until the user marks it read.
    #[schema(required = true)]
    pub read_at: Option<DateTime<Utc>>,
}
