//! The tasks-table SQL of a template copy (API.md §18): a project's tasks copied into a new
//! project in one statement, with their numbers, manual order, labels, dates, recurrence,
//! subtasks and field values; not their assignees, comments, attachments, time or history.

use std::sync::LazyLock;

use uuid::Uuid;

use super::{record_created, Task, TaskWriteError, TASK_COLUMNS};
use crate::db::{get, DbResult, Exec, IdMap, Tx};
use crate::params;
use crate::projects::access::ProjectAccess;

/// The tasks of `project_id`, by number: what a copy maps to new ids.
pub async fn ids_of(tx: &Tx, project_id: Uuid) -> DbResult<Vec<Uuid>> {
    let rows = tx
        .query(
            "SELECT id FROM tasks WHERE project_id = $1 ORDER BY number",
            params![project_id],
        )
        .await?;
    rows.iter().map(|row| get(row, "id")).collect()
}

static COPY_SQL: LazyLock<String> = LazyLock::new(|| {
    // A parent outside the map (none) leaves the copy at the top level; a state outside it
    // leaves the copy to its category's default (the insert trigger); a field value outside
    // the field map (a `user` field's, or fields not copied) is dropped.
    format!(
        "WITH m AS (SELECT * FROM unnest($3::uuid[], $4::uuid[]) AS m(old, new)), \
              sm AS (SELECT * FROM unnest($5::uuid[], $6::uuid[]) AS sm(old, new)), \
              fm AS (SELECT * FROM unnest($7::text[], $8::text[]) AS fm(old, new)) \
         INSERT INTO tasks AS t (id, project_id, number, title, description, status, state_id, \
             priority, due_date, start_date, due_time, labels, created_by, position, parent_id, \
             recurrence_rule, recurrence_from, fields) \
         SELECT m.new, $1, s.number, s.title, s.description, s.status, sm.new, s.priority, \
             s.due_date, s.start_date, s.due_time, s.labels, $9, s.position, pm.new, \
             s.recurrence_rule, s.recurrence_from, \
             (SELECT coalesce(jsonb_object_agg(fm.new, e.value), '{{}}') \
                FROM jsonb_each(s.fields) e JOIN fm ON fm.old = e.key) \
         FROM m JOIN tasks s ON s.id = m.old AND s.project_id = $2 \
         LEFT JOIN sm ON sm.old = s.state_id \
         LEFT JOIN m pm ON pm.old = s.parent_id \
         ORDER BY s.number \
         RETURNING {TASK_COLUMNS}"
    )
});

/// Copies the tasks `tasks` maps from `from` into the project `access` entered (new, empty),
/// each into the state `states` maps its state to and with the values of the fields `fields`
/// maps; within the quota (`next_number`: `from`'s next task number, so numbers stay as they
/// were). Each copy gets its `task.created` entry by the copier; nobody is notified (a copy
/// has no assignee).
pub async fn copy_for_template(
    tx: &Tx,
    access: &ProjectAccess,
    from: Uuid,
    next_number: i64,
    maps: [&IdMap; 3],
) -> Result<Vec<Task>, TaskWriteError> {
    let [tasks, states, fields] = maps;
    let project_id = access.project_id();
    let count =
        crate::projects::store::tasks_copied(tx, project_id, next_number, tasks.len() as i64)
            .await?;
    if count > crate::quotas::TASKS_PER_PROJECT {
        return Err(TaskWriteError::QuotaExceeded);
    }
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let text = |ids: &[Uuid]| ids.iter().map(Uuid::to_string).collect::<Vec<String>>();
    let created: Vec<Task> = tx
        .fetch_all(
            &COPY_SQL,
            params![
                project_id,
                from,
                tasks.old().to_vec(),
                tasks.new_ids().to_vec(),
                states.old().to_vec(),
                states.new_ids().to_vec(),
                text(fields.old()),
                text(fields.new_ids()),
                access.user_id()
            ],
        )
        .await?;
    record_created(tx, access, &created).await?;
    Ok(created)
}
