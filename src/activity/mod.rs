//! The change history (API.md §11). A store function that changes a task, comment, membership
//! or project calls [`record`] with the transaction of the change; the entry is written when
//! that transaction commits (and never if it rolls back), and numbered right after by the
//! journal's sequencer, with an id that increases in the order entries become visible (see
//! `journal`). Live delivery reads the same rows (`events`).

pub mod handlers;
pub mod journal;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::db::Tx;

/// What happened. The spellings are the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ActivityKind)]
pub enum Kind {
    #[serde(rename = "task.created")]
    TaskCreated,
    #[serde(rename = "task.updated")]
    TaskUpdated,
    /// Its position or its project changed.
    #[serde(rename = "task.moved")]
    TaskMoved,
    #[serde(rename = "task.deleted")]
    TaskDeleted,
    /// A relation to another task was made (API.md §17).
    #[serde(rename = "task.related")]
    TaskRelated,
    /// A relation to another task was removed.
    #[serde(rename = "task.unrelated")]
    TaskUnrelated,
    /// A recurring task was completed and its next occurrence created (API.md §19); the entry
    /// is the completed task's and names the new one.
    #[serde(rename = "task.recurred")]
    TaskRecurred,
    #[serde(rename = "comment.created")]
    CommentCreated,
    #[serde(rename = "comment.updated")]
    CommentUpdated,
    #[serde(rename = "comment.deleted")]
    CommentDeleted,
    #[serde(rename = "member.added")]
    MemberAdded,
    #[serde(rename = "member.updated")]
    MemberUpdated,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "project.updated")]
    ProjectUpdated,
    #[serde(rename = "github.synced")]
    GithubSynced,
    #[serde(rename = "attachment.added")]
    AttachmentAdded,
    #[serde(rename = "attachment.deleted")]
    AttachmentDeleted,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::TaskCreated,
        Kind::TaskUpdated,
        Kind::TaskMoved,
        Kind::TaskDeleted,
        Kind::TaskRelated,
        Kind::TaskUnrelated,
        Kind::TaskRecurred,
        Kind::CommentCreated,
        Kind::CommentUpdated,
        Kind::CommentDeleted,
        Kind::MemberAdded,
        Kind::MemberUpdated,
        Kind::MemberRemoved,
        Kind::ProjectUpdated,
        Kind::GithubSynced,
        Kind::AttachmentAdded,
        Kind::AttachmentDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TaskCreated => "task.created",
            Kind::TaskUpdated => "task.updated",
            Kind::TaskMoved => "task.moved",
            Kind::TaskDeleted => "task.deleted",
            Kind::TaskRelated => "task.related",
            Kind::TaskUnrelated => "task.unrelated",
            Kind::TaskRecurred => "task.recurred",
            Kind::CommentCreated => "comment.created",
            Kind::CommentUpdated => "comment.updated",
            Kind::CommentDeleted => "comment.deleted",
            Kind::MemberAdded => "member.added",
            Kind::MemberUpdated => "member.updated",
            Kind::MemberRemoved => "member.removed",
            Kind::ProjectUpdated => "project.updated",
            Kind::GithubSynced => "github.synced",
            Kind::AttachmentAdded => "attachment.added",
            Kind::AttachmentDeleted => "attachment.deleted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

crate::text_enum!(Kind, Kind::parse);

/// One field's old and new value (`description` and comment bodies: their lengths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    pub field: String,
    /// Any JSON value (`null` when the field had none, or did not exist yet).
    pub from: Value,
    /// Any JSON value (`null` when the field has none, or no longer exists).
    pub to: Value,
}

impl Change {
    pub fn new(field: &str, from: impl Serialize, to: impl Serialize) -> Self {
        Self {
            field: field.to_owned(),
            from: serde_json::to_value(from).unwrap_or(Value::Null),
            to: serde_json::to_value(to).unwrap_or(Value::Null),
        }
    }

    /// The change of a field if its value changed.
    pub fn of<T: Serialize + PartialEq>(field: &str, from: &T, to: &T) -> Option<Self> {
        (from != to).then(|| Self::new(field, from, to))
    }
}

/// Who did it: a user, or the server itself (`null`, e.g. a GitHub sync); a user who was
/// deleted since shows as `null` too.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    pub id: Uuid,
    pub name: String,
}

/// A GitHub sync's counts of tasks it created and updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncCounts {
    pub created: i64,
    pub updated: i64,
}

/// An activity entry as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ActivityEntry)]
pub struct Entry {
    /// Increases in commit order.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<Actor>,
    pub kind: Kind,
    pub project_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<Uuid>,
    /// The member a `member.*` entry is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    pub changes: Vec<Change>,
    /// `github.synced` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<SyncCounts>,
}

/// An entry to record; built by the store function that makes the change.
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: Kind,
    pub project_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub comment_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub changes: Vec<Change>,
    pub counts: Option<SyncCounts>,
}

impl Record {
    pub fn new(kind: Kind, project_id: Uuid, actor_id: Option<Uuid>) -> Self {
        Self {
            kind,
            project_id,
            actor_id,
            task_id: None,
            comment_id: None,
            user_id: None,
            changes: Vec::new(),
            counts: None,
        }
    }

    pub fn task(mut self, task_id: Uuid) -> Self {
        self.task_id = Some(task_id);
        self
    }

    pub fn comment(mut self, comment_id: Uuid) -> Self {
        self.comment_id = Some(comment_id);
        self
    }

    pub fn member(mut self, user_id: Uuid) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn changes(mut self, changes: Vec<Change>) -> Self {
        self.changes = changes;
        self
    }

    pub fn counts(mut self, counts: SyncCounts) -> Self {
        self.counts = Some(counts);
        self
    }
}

/// Records an entry in the transaction of the change it describes.
pub fn record(tx: &Tx, entry: Record) {
    // A build that measures what the history costs (bench/journal.sh) records nothing.
    if cfg!(feature = "bench-without-history") {
        return;
    }
    store::append(tx, entry);
}

/// The `changes` of a description or body: lengths only (the text may be long or private).
pub fn length_change(field: &str, from: &str, to: &str) -> Option<Change> {
    (from != to).then(|| Change::new(field, from.chars().count(), to.chars().count()))
}
