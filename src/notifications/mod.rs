//! Notifications (API.md §12): created by the store function that makes their cause, in its
//! transaction; read and marked read by their user.

pub mod store;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a user is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Assigned,
    Mentioned,
    Commented,
    DueSoon,
    Overdue,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assigned => "assigned",
            Kind::Mentioned => "mentioned",
            Kind::Commented => "commented",
            Kind::DueSoon => "due_soon",
            Kind::Overdue => "overdue",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "assigned" => Some(Kind::Assigned),
            "mentioned" => Some(Kind::Mentioned),
            "commented" => Some(Kind::Commented),
            "due_soon" => Some(Kind::DueSoon),
            "overdue" => Some(Kind::Overdue),
            _ => None,
        }
    }
}

crate::text_enum!(Kind, Kind::parse);

/// A notification to create. `cause` names what it is about, so that the same cause never
/// notifies the same user twice (`assigned:<task>:<version>`, `comment:<comment id>`,
/// `due_soon:<task>:<date>` …).
#[derive(Debug, Clone)]
pub struct Notify {
    pub user_id: Uuid,
    pub kind: Kind,
    pub task_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub comment_id: Option<Uuid>,
    pub cause: String,
}
