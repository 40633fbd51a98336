//! The task_relations table (API.md §17, relations). A relation is one row, `source` →
//! `target`: `blocks`, `duplicates` or `relates_to` (symmetric); each task sees it from its
//! own side (`blocked_by`, `duplicated_by`). One relation per pair of tasks, either way round
//! (a unique index). Tasks may be in different projects: every read that names the other
//! task joins the caller's memberships, so a relation never shows a task the caller cannot
//! see, and the history entries of each side name the other task only when it is in the same
//! project (whose members see both).
//!
//! Writers lock the two tasks' rows, source first (the order a status change takes: the task,
//! then through the counting trigger the tasks it blocks), so the quota of relations per task
//! is exact; a new `blocks` relation also takes the blocks graph's lock first, so the cycle
//! check sees every committed edge and none is added beside it.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::activity::{self, Change, Kind, Record};
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;
use crate::tasks::domain::Status;

/// How a stored relation reads from one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = RelationKind)]
pub enum RelationKind {
    Blocks,
    BlockedBy,
    RelatesTo,
    Duplicates,
    DuplicatedBy,
}

/// What is stored: `source` `Stored` `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Blocks,
    RelatesTo,
    Duplicates,
}

impl Stored {
    pub fn as_str(self) -> &'static str {
        match self {
            Stored::Blocks => "blocks",
            Stored::RelatesTo => "relates_to",
            Stored::Duplicates => "duplicates",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "blocks" => Some(Stored::Blocks),
            "relates_to" => Some(Stored::RelatesTo),
            "duplicates" => Some(Stored::Duplicates),
            _ => None,
        }
    }

    /// How the relation reads from its source (`true`) or its target.
    pub fn seen_from(self, source: bool) -> RelationKind {
        match (self, source) {
            (Stored::Blocks, true) => RelationKind::Blocks,
            (Stored::Blocks, false) => RelationKind::BlockedBy,
            (Stored::RelatesTo, _) => RelationKind::RelatesTo,
            (Stored::Duplicates, true) => RelationKind::Duplicates,
            (Stored::Duplicates, false) => RelationKind::DuplicatedBy,
        }
    }
}

crate::text_enum!(Stored, Stored::parse);

impl RelationKind {
    /// The stored kind, and whether the task asked about is the target (`blocked_by`,
    /// `duplicated_by`: the same record the other way round).
    pub fn stored(self) -> (Stored, bool) {
        match self {
            RelationKind::Blocks => (Stored::Blocks, false),
            RelationKind::BlockedBy => (Stored::Blocks, true),
            RelationKind::RelatesTo => (Stored::RelatesTo, false),
            RelationKind::Duplicates => (Stored::Duplicates, false),
            RelationKind::DuplicatedBy => (Stored::Duplicates, true),
        }
    }
}

/// The other task of a relation, as the caller may see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RelatedTask)]
pub struct RelatedTask {
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i64,
    pub title: String,
    pub status: Status,
}

/// A relation from the point of view of the task asked about.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Relation {
    /// The same for both tasks.
    pub id: Uuid,
    pub kind: RelationKind,
    pub task: RelatedTask,
    pub created_at: DateTime<Utc>,
    /// `null` once its creator's account is gone.
    #[schema(required = true)]
    pub created_by: Option<Uuid>,
}

/// A relation with both of its ends, as the writers need it.
#[derive(Debug, Clone)]
pub struct Edge {
    pub id: Uuid,
    pub kind: Stored,
    pub source: End,
    pub target: End,
    /// A `blocks` relation whose source is open: it counts in the target's `blocked`.
    pub counted: bool,
}

/// One task of a relation: its id and project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub task_id: Uuid,
    pub project_id: Uuid,
}

impl FromRow for Edge {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            kind: get(row, "kind")?,
            source: End {
                task_id: get(row, "source_id")?,
                project_id: get(row, "source_project")?,
            },
            target: End {
                task_id: get(row, "target_id")?,
                project_id: get(row, "target_project")?,
            },
            counted: get(row, "counted")?,
        })
    }
}

const EDGE_COLUMNS: &str = "r.id, r.kind, r.source_id, s.project_id AS source_project, \
     r.target_id, t.project_id AS target_project, (r.kind = 'blocks' AND r.source_open) AS counted";

impl Relation {
    fn from_row(row: &Row, task_id: Uuid) -> DbResult<Self> {
        let kind: Stored = get(row, "kind")?;
        let source: Uuid = get(row, "source_id")?;
        Ok(Self {
            id: get(row, "id")?,
            kind: kind.seen_from(source == task_id),
            task: RelatedTask {
                id: get(row, "other_id")?,
                project_id: get(row, "other_project")?,
                number: get(row, "other_number")?,
                title: get(row, "other_title")?,
                status: get(row, "other_status")?,
            },
            created_at: get(row, "created_at")?,
            created_by: get(row, "created_by")?,
        })
    }
}

/// A task's relations whose other task `user_id` can see: `$1` the task, `$2` the user.
const VISIBLE_SQL: &str = "SELECT r.id, r.kind, r.source_id, r.created_at, r.created_by, \
         o.id AS other_id, o.project_id AS other_project, o.number AS other_number, \
         o.title AS other_title, o.status AS other_status \
     FROM task_relations r \
     JOIN tasks o ON o.id = CASE WHEN r.source_id = $1 THEN r.target_id ELSE r.source_id END \
     JOIN memberships m ON m.project_id = o.project_id AND m.user_id = $2 \
     WHERE (r.source_id = $1 OR r.target_id = $1)";

/// A task's relations to tasks `user_id` can see, oldest first (at most the quota's many).
pub async fn list(db: &impl Exec, task_id: Uuid, user_id: Uuid) -> DbResult<Vec<Relation>> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("{VISIBLE_SQL} ORDER BY r.created_at, r.id"));
    let rows = db.query(&SQL, params![task_id, user_id]).await?;
    rows.iter()
        .map(|row| Relation::from_row(row, task_id))
        .collect()
}

/// One relation of a task, if `user_id` can see its other task.
pub async fn find(
    db: &impl Exec,
    task_id: Uuid,
    relation_id: Uuid,
    user_id: Uuid,
) -> DbResult<Option<Relation>> {
    static SQL: LazyLock<String> = LazyLock::new(|| format!("{VISIBLE_SQL} AND r.id = $3"));
    let row = db
        .query_opt(&SQL, params![task_id, user_id, relation_id])
        .await?;
    row.map(|row| Relation::from_row(&row, task_id)).transpose()
}

/// A relation with both ends, as it is now.
pub async fn edge(db: &impl Exec, relation_id: Uuid) -> DbResult<Option<Edge>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {EDGE_COLUMNS} FROM task_relations r \
             JOIN tasks s ON s.id = r.source_id JOIN tasks t ON t.id = r.target_id \
             WHERE r.id = $1"
        )
    });
    db.fetch_opt(&SQL, params![relation_id]).await
}

/// Serialises new `blocks` relations (across projects, so no project's lock would do): the
/// cycle check must see every edge, and none may be added beside it.
pub async fn lock_blocks_graph(tx: &Tx) -> DbResult<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('docket.tasks.blocks', 0))",
        params![],
    )
    .await?;
    Ok(())
}

/// Locks the two tasks of a relation, source first, for the rest of the transaction.
pub async fn lock_ends(tx: &Tx, source: Uuid, target: Uuid) -> DbResult<()> {
    for task in [source, target] {
        tx.execute(
            "SELECT 1 FROM tasks WHERE id = $1 FOR NO KEY UPDATE",
            params![task],
        )
        .await?;
    }
    Ok(())
}

/// How many relations a task takes part in (either side).
pub async fn count_of(db: &impl Exec, task_id: Uuid) -> DbResult<i64> {
    let row = db
        .query_one(
            "SELECT count(*) AS n FROM task_relations WHERE source_id = $1 OR target_id = $1",
            params![task_id],
        )
        .await?;
    get(&row, "n")
}

/// Whether the two tasks are related already, either way round.
pub async fn exists_between(db: &impl Exec, a: Uuid, b: Uuid) -> DbResult<bool> {
    let row = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM task_relations \
                 WHERE least(source_id, target_id) = least($1, $2) \
                   AND greatest(source_id, target_id) = greatest($1, $2)) AS related",
            params![a, b],
        )
        .await?;
    get(&row, "related")
}

/// Whether `source` blocks `target` would close a cycle: `target` already blocks, through a
/// chain of `blocks` relations, `source`.
pub async fn would_cycle(db: &impl Exec, source: Uuid, target: Uuid) -> DbResult<bool> {
    let row = db
        .query_one(
            "WITH RECURSIVE reach(id) AS ( \
                 SELECT $1::uuid \
                 UNION \
                 SELECT r.target_id FROM task_relations r JOIN reach ON r.source_id = reach.id \
                 WHERE r.kind = 'blocks') \
             SELECT EXISTS (SELECT 1 FROM reach WHERE id = $2) AS cycle",
            params![target, source],
        )
        .await?;
    get(&row, "cycle")
}

/// Stores `source` `kind` `target` by `actor`; `None` when the two are related already (the
/// unique index, should a concurrent writer have got there between the check and this).
pub async fn insert(
    tx: &Tx,
    actor: Uuid,
    kind: Stored,
    source: End,
    target: End,
) -> DbResult<Option<(Edge, DateTime<Utc>)>> {
    let row = tx
        .query_opt(
            "INSERT INTO task_relations (id, kind, source_id, target_id, created_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING \
             RETURNING id, source_open, created_at",
            params![Uuid::now_v7(), kind, source.task_id, target.task_id, actor],
        )
        .await?;
    row.map(|row| {
        let counted = kind == Stored::Blocks && get::<bool>(&row, "source_open")?;
        Ok((
            Edge {
                id: get(&row, "id")?,
                kind,
                source,
                target,
                counted,
            },
            get(&row, "created_at")?,
        ))
    })
    .transpose()
}

/// Removes a relation; false when it was gone already.
pub async fn delete(tx: &Tx, relation_id: Uuid) -> DbResult<bool> {
    Ok(tx
        .execute(
            "DELETE FROM task_relations WHERE id = $1",
            params![relation_id],
        )
        .await?
        > 0)
}

/// The relations between these tasks and tasks outside them (a subtree about to be deleted:
/// they go with it).
pub async fn crossing(db: &impl Exec, tasks: &[Uuid]) -> DbResult<Vec<Edge>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {EDGE_COLUMNS} FROM task_relations r \
             JOIN tasks s ON s.id = r.source_id JOIN tasks t ON t.id = r.target_id \
             WHERE (r.source_id = ANY($1)) <> (r.target_id = ANY($1)) \
               AND (r.source_id = ANY($1) OR r.target_id = ANY($1)) \
             ORDER BY r.id"
        )
    });
    db.fetch_all(&SQL, params![tasks.to_vec()]).await
}

/// The relations between the project's tasks and tasks of other projects (the project is
/// about to be deleted).
pub async fn crossing_project(db: &impl Exec, project_id: Uuid) -> DbResult<Vec<Edge>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {EDGE_COLUMNS} FROM task_relations r \
             JOIN tasks s ON s.id = r.source_id JOIN tasks t ON t.id = r.target_id \
             WHERE r.id IN ( \
                 SELECT r2.id FROM tasks p \
                 JOIN task_relations r2 ON r2.source_id = p.id OR r2.target_id = p.id \
                 WHERE p.project_id = $1) \
               AND (s.project_id = $1) <> (t.project_id = $1) \
             ORDER BY r.id"
        )
    });
    db.fetch_all(&SQL, params![project_id]).await
}

/// The `relations` change of one side's entry: the relation as that side sees it, naming the
/// other task only when it is in the same project (whose members see both).
fn seen_from(edge: &Edge, source: bool) -> Value {
    let (this, other) = if source {
        (edge.source, edge.target)
    } else {
        (edge.target, edge.source)
    };
    let mut relation = json!({"id": edge.id, "kind": edge.kind.seen_from(source)});
    if this.project_id == other.project_id {
        relation["task_id"] = json!(other.task_id);
    }
    relation
}

/// Records a relation made (`added`) or removed, on the sides that still exist, each in its
/// own project. `unblocked`/`blocked`: the target's `blocked` flipped with it.
pub fn record(tx: &Tx, actor: Option<Uuid>, edge: &Edge, added: bool, sides: Sides) {
    let kind = if added {
        Kind::TaskRelated
    } else {
        Kind::TaskUnrelated
    };
    for (source, end) in [(true, edge.source), (false, edge.target)] {
        if !(if source { sides.source } else { sides.target }) {
            continue;
        }
        let relation = seen_from(edge, source);
        let mut changes = vec![if added {
            Change::new("relations", (), relation)
        } else {
            Change::new("relations", relation, ())
        }];
        if !source && sides.flipped {
            changes.push(Change::new("blocked", !added, added));
        }
        activity::record(
            tx,
            Record::new(kind, end.project_id, actor)
                .task(end.task_id)
                .changes(changes),
        );
    }
}

/// Which sides of a relation get an entry, and whether the target's `blocked` flipped.
#[derive(Debug, Clone, Copy)]
pub struct Sides {
    pub source: bool,
    pub target: bool,
    pub flipped: bool,
}

/// After the tasks on one side of `edges` were deleted (and the relations with them): the
/// entries of the sides that remain, with the `blocked` flips the deletion made.
pub async fn record_removed(tx: &Tx, actor: Option<Uuid>, edges: &[Edge]) -> DbResult<()> {
    let survivors: Vec<Uuid> = edges
        .iter()
        .flat_map(|e| [e.source.task_id, e.target.task_id])
        .collect();
    let counts = super::blockers::open_blockers(tx, &survivors).await?;
    let remaining: std::collections::HashMap<Uuid, i16> = counts.into_iter().collect();
    let mut flipped_already = std::collections::HashSet::new();
    for edge in edges {
        let source = remaining.contains_key(&edge.source.task_id);
        let target = remaining.contains_key(&edge.target.task_id);
        // The target lost an open blocker; its flag flipped if none is left (said once).
        let flipped = target
            && edge.counted
            && remaining.get(&edge.target.task_id) == Some(&0)
            && flipped_already.insert(edge.target.task_id);
        record(
            tx,
            actor,
            edge,
            false,
            Sides {
                source,
                target,
                flipped,
            },
        );
    }
    Ok(())
}

/// Copies the relations among the tasks `tasks` maps (both ends in it) between their copies
/// (API.md §18 templates), made by `actor`. The copies are new and the graph among them is the
/// originals', so no cycle and no quota can be broken. Returns how many were copied.
pub async fn copy_for_template(tx: &Tx, actor: Uuid, tasks: &crate::db::IdMap) -> DbResult<u64> {
    if tasks.is_empty() {
        return Ok(0);
    }
    tx.execute(
        "WITH m AS (SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS m(old, new)) \
         INSERT INTO task_relations (id, kind, source_id, target_id, created_by) \
         SELECT docket_uuid_v7(), r.kind, ms.new, mt.new, $3 FROM task_relations r \
         JOIN m ms ON ms.old = r.source_id JOIN m mt ON mt.old = r.target_id",
        params![tasks.old().to_vec(), tasks.new_ids().to_vec(), actor],
    )
    .await
}
