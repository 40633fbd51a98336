//! The next occurrence of a recurring task (API.md §19), created in the transaction that
//! completes it: a new task with the same content, due on the rule's next date, its subtasks
//! copied undone, and a `task.recurred` entry linking both.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use uuid::Uuid;

use super::{insert, tree, Task, TaskFields, TaskWriteError};
use crate::activity::{self, Change, Kind, Record};
use crate::projects::access::ProjectAccess;
use crate::tasks::domain::{Recurrence, Status};
use crate::tasks::recurrence::{completion_day, RecurFrom, Rule};

/// Creates the occurrence after `done`, which has just entered the done category and lost
/// `recurrence`; `due` is the due date it had before the write. Nothing when the rule has no
/// date left (its UNTIL passed) or the task has no due date.
pub async fn next_occurrence(
    tx: &crate::db::Tx,
    access: &ProjectAccess,
    done: &Task,
    due: Option<NaiveDate>,
    recurrence: &Recurrence,
) -> Result<Option<Task>, TaskWriteError> {
    let (Some(due), Ok(rule)) = (done.due_date.or(due), Rule::parse(&recurrence.rule)) else {
        return Ok(None);
    };
    let anchor = match recurrence.from {
        RecurFrom::Due => due,
        RecurFrom::Completion => {
            // The day of completion where the work is done: the assignee's, else the completer's.
            let person = done.assignee_id.unwrap_or(access.user_id());
            let zone = crate::auth::users::time_zone_of(tx, person).await?;
            completion_day(done.completed_at.unwrap_or_else(Utc::now), zone.zone())
        }
    };
    let Ok(Some(next_due)) = rule.next_after(anchor) else {
        return Ok(None);
    };
    let shift = next_due.signed_duration_since(due);
    let fields = TaskFields {
        title: done.title.clone(),
        description: done.description.clone(),
        status: Status::Todo,
        state_id: None,
        priority: done.priority,
        due_date: Some(next_due),
        // The same distance before the due date as before.
        start_date: done
            .start_date
            .map(|start| next_due - due.signed_duration_since(start)),
        due_time: done.due_time,
        recurrence: Some(recurrence.clone()),
        labels: done.labels.clone(),
        assignee_id: done.assignee_id,
        parent_id: done.parent_id,
        // Its custom field values (API.md §18), as the completed task holds them now.
        fields: done.fields.clone(),
    };
    let mut next = insert(tx, access, &fields).await?;
    // The relative reminders come along, counted from the new due date; absolute ones stay.
    next.reminders = super::reminders::carry(tx, done.id, next.id).await?;
    copy_subtasks(tx, access, done.id, next.id, shift).await?;
    activity::record(
        tx,
        Record::new(Kind::TaskRecurred, done.project_id, Some(access.user_id()))
            .task(done.id)
            .changes(vec![
                Change::new("next_task_id", (), next.id),
                Change::new("due_date", done.due_date, next.due_date),
            ]),
    );
    Ok(Some(next))
}

/// Copies the subtasks of `from` under `to`, each undone, its dates moved by `shift`.
async fn copy_subtasks(
    tx: &crate::db::Tx,
    access: &ProjectAccess,
    from: Uuid,
    to: Uuid,
    shift: chrono::TimeDelta,
) -> Result<(), TaskWriteError> {
    let descendants = tree::lock_descendants(tx, from).await?;
    let mut copies: HashMap<Uuid, Uuid> = HashMap::from([(from, to)]);
    // The shallowest first, so that each parent is copied before its children.
    for task in descendants {
        if task.status == Status::Canceled {
            continue;
        }
        let Some(parent) = task.parent_id.and_then(|p| copies.get(&p).copied()) else {
            continue;
        };
        let fields = TaskFields {
            title: task.title.clone(),
            description: task.description.clone(),
            status: Status::Todo,
            state_id: None,
            priority: task.priority,
            due_date: task.due_date.map(|d| d + shift),
            start_date: task.start_date.map(|d| d + shift),
            due_time: task.due_time,
            // A subtask's own rule stays with the series it belongs to.
            recurrence: None,
            labels: task.labels.clone(),
            assignee_id: task.assignee_id,
            parent_id: Some(parent),
            // Values are keyed by the project's field ids: a subtask not yet carried to the
            // series' project (completed in the request that moves it) starts without any.
            fields: if task.project_id == access.project_id() {
                task.fields.clone()
            } else {
                Default::default()
            },
        };
        let copy = insert(tx, access, &fields).await?;
        copies.insert(task.id, copy.id);
    }
    Ok(())
}
