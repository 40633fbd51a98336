//! The tasks' side of a state's deletion (API.md §17): its tasks move to another state of the
//! project, each recorded as its own change; a recurring one moved into done makes its next
//! occurrence as a completion by hand does (§19).

use std::sync::LazyLock;

use uuid::Uuid;

use super::{Task, TaskWriteError, TASK_COLUMNS};
use crate::activity::{self, Change, Kind, Record};
use crate::db::{get, DbResult, Exec, Tx};
use crate::params;
use crate::projects::access::ProjectAccess;
use crate::states::State;
use crate::tasks::domain::Status;

/// Whether any task is in the state.
pub async fn state_has_tasks(db: &impl Exec, state: &State) -> DbResult<bool> {
    let row = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE project_id = $1 AND state_id = $2) AS any",
            params![state.project_id, state.id],
        )
        .await?;
    get(&row, "any")
}

/// Moves every task of `from` to `to` (two states of the project `access` entered, the
/// project's row locked and `from` held by the caller, so no task joins it meanwhile). Each
/// task gets a new version and a `task.updated` entry; a change of category also reaches the
/// tasks they block (`blockers`) and their parents' counts (the database's trigger).
pub async fn move_state_tasks(
    tx: &Tx,
    access: &ProjectAccess,
    from: &State,
    to: &State,
) -> Result<(), TaskWriteError> {
    let completing = to.category == Status::Done && from.category != Status::Done;
    // The recurring tasks about to be completed, as they are before (their rule and due date).
    let recurring: Vec<Task> = if completing {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.project_id = $1 AND t.state_id = $2 \
                 AND t.recurrence_rule IS NOT NULL ORDER BY t.position, t.id FOR UPDATE"
            )
        });
        tx.fetch_all(&SQL, params![access.project_id(), from.id])
            .await?
    } else {
        Vec::new()
    };
    let rows = tx
        .query(
            "UPDATE tasks SET state_id = $3, status = $4, version = version + 1, updated_at = now(), \
                 recurrence_rule = CASE WHEN $5 THEN NULL ELSE recurrence_rule END, \
                 recurrence_from = CASE WHEN $5 THEN NULL ELSE recurrence_from END \
             WHERE project_id = $1 AND state_id = $2 RETURNING id",
            params![access.project_id(), from.id, to.id, to.category, completing],
        )
        .await?;
    let moved: Vec<Uuid> = rows
        .iter()
        .map(|row| get(row, "id"))
        .collect::<DbResult<_>>()?;
    let mut changes = vec![Change::new("state_id", from.id, to.id)];
    if from.category != to.category {
        changes.push(Change::new("status", from.category, to.category));
    }
    for &task_id in &moved {
        activity::record(
            tx,
            Record::new(
                Kind::TaskUpdated,
                access.project_id(),
                Some(access.user_id()),
            )
            .task(task_id)
            .changes(changes.clone()),
        );
    }
    super::blockers::category_changed(
        tx,
        Some(access.user_id()),
        &moved,
        from.category,
        to.category,
    )
    .await?;
    if recurring.is_empty() {
        return Ok(());
    }
    static DONE_SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = ANY($1)"));
    let ids: Vec<Uuid> = recurring.iter().map(|t| t.id).collect();
    let done: Vec<Task> = tx.fetch_all(&DONE_SQL, params![ids]).await?;
    for old in &recurring {
        let (Some(task), Some(recurrence)) = (
            done.iter().find(|t| t.id == old.id),
            old.recurrence.as_ref(),
        ) else {
            continue;
        };
        super::recur::next_occurrence(tx, access, task, old.due_date, recurrence).await?;
    }
    Ok(())
}
