//! A project's task trees (API.md §17, subtasks): a task's parent is a task of the same
//! project, at most five levels deep (a top-level task is level 1), never the task itself or
//! one of its descendants.
//!
//! Whatever changes the shape of a project's trees — a parent set or changed, a task created
//! under a parent, a subtree moved to another project or deleted — first takes the project's
//! tree lock (a transaction-scoped advisory lock), before it locks any row. So each checks
//! depth and cycles against trees that cannot change under it: two requests making A the
//! parent of B and B the parent of A run one after the other, and the second sees the first's
//! parent and is refused.

use std::sync::LazyLock;

use uuid::Uuid;

use super::{Task, TASK_COLUMNS};
use crate::db::{get, DbResult, Exec, Tx};
use crate::error::FieldError;
use crate::params;

/// The deepest level a task may be on.
pub const MAX_DEPTH: i32 = 5;
/// How far the recursive queries walk at most: further than any valid tree reaches.
const WALK_LIMIT: i32 = 16;

/// Takes the tree locks of these projects, in one order (so two transactions that need the
/// same two never wait for each other), until the transaction ends.
pub async fn lock(tx: &Tx, projects: &[Uuid]) -> DbResult<()> {
    let mut projects = projects.to_vec();
    projects.sort();
    projects.dedup();
    for project in projects {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('docket.tasks.tree:' || $1::text, 0))",
            params![project],
        )
        .await?;
    }
    Ok(())
}

/// Whether `parent` may be the parent of `task` (`None`: a task being created) in `project_id`:
/// the field error on `parent_id` that says why not, if it may not. The caller holds the
/// project's tree lock.
pub async fn check_parent(
    db: &impl Exec,
    project_id: Uuid,
    task: Option<Uuid>,
    parent: Uuid,
) -> DbResult<Option<FieldError>> {
    if task == Some(parent) {
        return Ok(Some(cycle()));
    }
    // The parent's ancestors, the parent first: its level is how many there are.
    static UP: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH RECURSIVE up(id, parent_id, project_id, level) AS ( \
                 SELECT id, parent_id, project_id, 1 FROM tasks WHERE id = $1 \
                 UNION ALL \
                 SELECT t.id, t.parent_id, t.project_id, up.level + 1 \
                 FROM tasks t JOIN up ON t.id = up.parent_id WHERE up.level < {WALK_LIMIT}) \
             SELECT count(*)::int AS level, \
                 coalesce(bool_or(id = $2), false) AS cycle, \
                 coalesce(bool_or(level = 1 AND project_id = $3), false) AS found \
             FROM up"
        )
    });
    let row = db.query_one(&UP, params![parent, task, project_id]).await?;
    if !get::<bool>(&row, "found")? {
        return Ok(Some(FieldError::new(
            "parent_id",
            "not_found",
            "no such task in this project",
        )));
    }
    if get::<bool>(&row, "cycle")? {
        return Ok(Some(cycle()));
    }
    let level: i32 = get(&row, "level")?;
    let height = match task {
        Some(task) => height(db, task).await?,
        None => 1,
    };
    if level + height > MAX_DEPTH {
        return Ok(Some(FieldError::new(
            "parent_id",
            "too_deep",
            format!("subtasks go at most {MAX_DEPTH} levels deep"),
        )));
    }
    Ok(None)
}

fn cycle() -> FieldError {
    FieldError::new(
        "parent_id",
        "cycle",
        "a task cannot be a subtask of itself or of one of its subtasks",
    )
}

/// How many levels `task`'s subtree spans (1: it has no subtasks).
async fn height(db: &impl Exec, task: Uuid) -> DbResult<i32> {
    static DOWN: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH RECURSIVE down(id, level) AS ( \
                 SELECT id, 1 FROM tasks WHERE id = $1 \
                 UNION ALL \
                 SELECT t.id, d.level + 1 FROM tasks t JOIN down d ON t.parent_id = d.id \
                 WHERE d.level < {WALK_LIMIT}) \
             SELECT coalesce(max(level), 1) AS height FROM down"
        )
    });
    let row = db.query_one(&DOWN, params![task]).await?;
    get(&row, "height")
}

/// `task` and its descendants, locked deepest first (the task itself last) and returned in
/// that order. Deepest first because a subtask's write locks the subtask and then, through the
/// counting trigger, its parent: taking the parent first would let the two wait for each other.
pub async fn lock_subtree(tx: &Tx, task: Uuid) -> DbResult<Vec<Task>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH RECURSIVE down(id, level) AS ( \
                 SELECT id, 1 FROM tasks WHERE id = $1 \
                 UNION ALL \
                 SELECT t.id, d.level + 1 FROM tasks t JOIN down d ON t.parent_id = d.id \
                 WHERE d.level < {WALK_LIMIT}) \
             SELECT {TASK_COLUMNS} FROM tasks t JOIN down d ON d.id = t.id \
             ORDER BY d.level DESC, t.position DESC, t.id DESC FOR UPDATE OF t"
        )
    });
    tx.fetch_all(&SQL, params![task]).await
}

/// `lock_subtree` without the task itself: its descendants, by depth, the shallowest first.
pub async fn lock_descendants(tx: &Tx, task: Uuid) -> DbResult<Vec<Task>> {
    let mut tree = lock_subtree(tx, task).await?;
    tree.retain(|t| t.id != task);
    tree.reverse();
    Ok(tree)
}
