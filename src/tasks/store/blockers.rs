//! What a task's opening or closing (API.md §17: `blocked` is "some blocker is todo or in
//! progress") does to the tasks it blocks. The counts are the database's: `open_blockers` is
//! kept by triggers in the statement that changes a task's status (every writer's: edits,
//! moves, a state's deletion, the GitHub import). This module writes what people see of it:
//! a `task.updated` entry with the `blocked` change on each task whose flag flipped, and, when
//! the last open blocker of a task is done, an `unblocked` notification to its assignee.
//!
//! The flips are read after the write, from the counts: the trigger's update holds each
//! blocked task's row until the transaction ends, so the count this transaction reads is the
//! one it made. Two blockers done at once are two transactions; the second waits for the
//! first's row and sees its count, so exactly one of them finds zero.

use uuid::Uuid;

use crate::activity::{self, Change, Kind, Record};
use crate::db::{get, DbResult, Exec, Tx};
use crate::notifications::{self, Notify};
use crate::params;
use crate::tasks::domain::Status;

/// `changed` (tasks that block others) went from `from` to `to` in this transaction, by
/// `actor` (`None`: the server, e.g. a GitHub sync).
pub async fn category_changed(
    tx: &Tx,
    actor: Option<Uuid>,
    changed: &[Uuid],
    from: Status,
    to: Status,
) -> DbResult<()> {
    if from.is_open() == to.is_open() || changed.is_empty() {
        return Ok(());
    }
    let opened = to.is_open();
    let rows = tx
        .query(
            "SELECT b.id, b.project_id, b.assignee_id, b.open_blockers, count(*) AS n \
             FROM task_relations r JOIN tasks b ON b.id = r.target_id \
             WHERE r.source_id = ANY($1) AND r.kind = 'blocks' \
             GROUP BY b.id ORDER BY b.id",
            params![changed.to_vec()],
        )
        .await?;
    for row in rows {
        let open_blockers: i16 = get(&row, "open_blockers")?;
        let counted: i64 = get(&row, "n")?;
        // Opening: it was unblocked if these were all its open blockers. Closing: it is now.
        let flipped = if opened {
            i64::from(open_blockers) == counted
        } else {
            open_blockers == 0
        };
        if !flipped {
            continue;
        }
        let task_id: Uuid = get(&row, "id")?;
        activity::record(
            tx,
            Record::new(Kind::TaskUpdated, get(&row, "project_id")?, actor)
                .task(task_id)
                .changes(vec![Change::new("blocked", !opened, opened)]),
        );
        let assignee: Option<Uuid> = get(&row, "assignee_id")?;
        if let (Some(assignee), Status::Done) = (assignee, to) {
            notifications::store::notify(
                tx,
                &Notify {
                    user_id: assignee,
                    kind: notifications::Kind::Unblocked,
                    task_id,
                    actor_id: actor,
                    comment_id: None,
                    // A flip happens once per committed transaction: each is its own cause.
                    cause: format!("unblocked:{task_id}:{}", Uuid::now_v7()),
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// The number of open tasks blocking each of `tasks`, as this transaction sees them.
pub async fn open_blockers(db: &impl Exec, tasks: &[Uuid]) -> DbResult<Vec<(Uuid, i16)>> {
    let rows = db
        .query(
            "SELECT id, open_blockers FROM tasks WHERE id = ANY($1)",
            params![tasks.to_vec()],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((get(row, "id")?, get(row, "open_blockers")?)))
        .collect()
}
