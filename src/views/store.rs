//! The saved_views table.

use std::sync::LazyLock;

use uuid::Uuid;

use super::{View, ViewKind, ViewQuery};
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;
use crate::projects::access::Role;

impl FromRow for View {
    fn from_row(row: &Row) -> DbResult<Self> {
        let query: serde_json::Value = get(row, "query")?;
        Ok(Self {
            id: get(row, "id")?,
            project_id: get(row, "project_id")?,
            owner_id: get(row, "owner_id")?,
            name: get(row, "name")?,
            shared: get(row, "shared")?,
            kind: get(row, "kind")?,
            query: serde_json::from_value(query).unwrap_or_default(),
            position: get(row, "position")?,
        })
    }
}

const VIEW_COLUMNS: &str =
    "v.id, v.project_id, v.owner_id, v.name, v.shared, v.kind, v.query, v.position";

fn query_json(query: &ViewQuery) -> serde_json::Value {
    serde_json::to_value(query).unwrap_or_else(|_| serde_json::json!({}))
}

/// A project's shared views and `user`'s personal ones there, in order.
pub async fn list_in_project(db: &impl Exec, project_id: Uuid, user: Uuid) -> DbResult<Vec<View>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {VIEW_COLUMNS} FROM saved_views v WHERE v.project_id = $1 \
               AND (v.shared OR v.owner_id = $2) ORDER BY v.position, v.id"
        )
    });
    db.fetch_all(&SQL, params![project_id, user]).await
}

/// Every personal view of `user`: those over every project, and those in projects they are
/// still a member of.
pub async fn list_personal(db: &impl Exec, user: Uuid) -> DbResult<Vec<View>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {VIEW_COLUMNS} FROM saved_views v WHERE v.owner_id = $1 AND NOT v.shared \
               AND (v.project_id IS NULL OR EXISTS (SELECT 1 FROM memberships m \
                   WHERE m.project_id = v.project_id AND m.user_id = $1)) \
             ORDER BY v.position, v.id"
        )
    });
    db.fetch_all(&SQL, params![user]).await
}

/// A view and `user`'s role in its project (`None` for none, or no project).
pub async fn find(
    db: &impl Exec,
    view_id: Uuid,
    user: Uuid,
    lock: bool,
) -> DbResult<Option<(View, Option<Role>)>> {
    static SQL: LazyLock<[String; 2]> = LazyLock::new(|| {
        let sql = format!(
            "SELECT {VIEW_COLUMNS}, m.role AS my_role FROM saved_views v \
             LEFT JOIN memberships m ON m.project_id = v.project_id AND m.user_id = $2 \
             WHERE v.id = $1"
        );
        [sql.clone(), format!("{sql} FOR UPDATE OF v")]
    });
    let row = db
        .query_opt(&SQL[usize::from(lock)], params![view_id, user])
        .await?;
    row.map(|row| Ok((View::from_row(&row)?, get(&row, "my_role")?)))
        .transpose()
}

/// What a new view is.
pub struct NewView<'a> {
    pub project_id: Option<Uuid>,
    pub owner_id: Uuid,
    pub name: &'a str,
    pub shared: bool,
    pub kind: ViewKind,
    pub query: &'a ViewQuery,
}

/// Adds a view after the owner's (or the project's) last.
pub async fn insert(tx: &Tx, new: NewView<'_>) -> DbResult<View> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO saved_views AS v (id, project_id, owner_id, name, shared, kind, query, \
                 position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT coalesce(max(position) + 1, 0) \
                 FROM saved_views WHERE project_id IS NOT DISTINCT FROM $2 \
                 AND (shared OR owner_id = $3))) \
             RETURNING {VIEW_COLUMNS}"
        )
    });
    tx.fetch_one(
        &SQL,
        params![
            Uuid::now_v7(),
            new.project_id,
            new.owner_id,
            new.name,
            new.shared,
            new.kind,
            query_json(new.query)
        ],
    )
    .await
}

/// A change of a view (absent parts stay).
#[derive(Default)]
pub struct ViewChanges {
    pub name: Option<String>,
    pub kind: Option<ViewKind>,
    pub query: Option<ViewQuery>,
    pub position: Option<i32>,
}

pub async fn update(tx: &Tx, view_id: Uuid, changes: ViewChanges) -> DbResult<View> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE saved_views AS v SET name = coalesce($2, v.name), kind = coalesce($3, v.kind), \
                 query = coalesce($4, v.query), position = coalesce($5, v.position) \
             WHERE v.id = $1 RETURNING {VIEW_COLUMNS}"
        )
    });
    tx.fetch_one(
        &SQL,
        params![
            view_id,
            changes.name,
            changes.kind,
            changes.query.as_ref().map(query_json),
            changes.position
        ],
    )
    .await
}

pub async fn delete(tx: &Tx, view_id: Uuid) -> DbResult<()> {
    tx.execute("DELETE FROM saved_views WHERE id = $1", params![view_id])
        .await?;
    Ok(())
}

/// Copies the shared views of `from` into `to` (API.md §18 templates), owned by `owner` (the
/// copier), each query rewritten by `remap`, in their order. Personal views are not copied.
pub async fn copy_shared(
    tx: &Tx,
    from: Uuid,
    to: Uuid,
    owner: Uuid,
    remap: impl Fn(&ViewQuery) -> ViewQuery,
) -> DbResult<usize> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {VIEW_COLUMNS} FROM saved_views v WHERE v.project_id = $1 AND v.shared \
             ORDER BY v.position, v.id"
        )
    });
    let views: Vec<View> = tx.fetch_all(&SQL, params![from]).await?;
    if views.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = views.iter().map(|_| Uuid::now_v7()).collect();
    let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
    let kinds: Vec<&str> = views.iter().map(|v| v.kind.as_str()).collect();
    let queries: Vec<String> = views
        .iter()
        .map(|v| query_json(&remap(&v.query)).to_string())
        .collect();
    let positions: Vec<i32> = views.iter().map(|v| v.position).collect();
    tx.execute(
        "INSERT INTO saved_views (id, project_id, owner_id, name, shared, kind, query, position) \
         SELECT k.id, $1, $2, k.name, true, k.kind, k.query::jsonb, k.position \
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::int4[]) \
             AS k(id, name, kind, query, position)",
        params![to, owner, ids, names, kinds, queries, positions],
    )
    .await?;
    Ok(views.len())
}
