//! Time tracking (API.md §19): time entries made by hand or by a timer (one running per user),
//! the task's total (`tasks.time_spent_minutes`, kept by a trigger on every write of an entry,
//! migrations/V20261231000021), and the reports per project and per user, as JSON pages with
//! the total of every matching entry, or as CSV.

pub mod handlers;
pub mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::activity::Actor;

/// The longest note of an entry.
pub const NOTE_MAX: usize = 1000;
/// The most minutes one entry holds (about ten weeks).
pub const MINUTES_MAX: i64 = 100_000;

/// A time entry as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimeEntry {
    pub id: Uuid,
    pub task_id: Uuid,
    pub user: Actor,
    pub started_at: DateTime<Utc>,
    /// `null` while its timer runs.
    pub ended_at: Option<DateTime<Utc>>,
    /// Whole minutes; for a running timer, those so far.
    pub minutes: i32,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

/// A report: one page of entries, and the minutes of every entry that matches (not only the
/// page's).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeReport {
    pub items: Vec<TimeEntry>,
    pub next_cursor: Option<String>,
    pub total_minutes: i64,
}
