//! SQL owned by projects and memberships.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use super::access::Role;

/// A project as its member sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub is_inbox: bool,
    #[sqlx(try_from = "String")]
    pub my_role: Role,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const PROJECT_COLUMNS: &str = "p.id, p.name, p.description, p.inbox_of IS NOT NULL AS is_inbox, \
     m.role AS my_role, p.version, p.created_at, p.updated_at";

/// Creates a user's Inbox, owned by them.
pub async fn create_inbox(
    tx: &mut Transaction<'_, Postgres>,
    user_id: Uuid,
) -> Result<Uuid, sqlx::Error> {
    let conn: &mut PgConnection = tx;
    let project_id = Uuid::now_v7();
    sqlx::query("INSERT INTO projects (id, name, inbox_of) VALUES ($1, 'Inbox', $2)")
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    add_member(&mut *conn, project_id, user_id, Role::Owner).await?;
    Ok(project_id)
}

pub async fn create(
    tx: &mut Transaction<'_, Postgres>,
    owner: Uuid,
    name: &str,
    description: &str,
) -> Result<Project, sqlx::Error> {
    let conn: &mut PgConnection = tx;
    let project_id = Uuid::now_v7();
    sqlx::query("INSERT INTO projects (id, name, description) VALUES ($1, $2, $3)")
        .bind(project_id)
        .bind(name)
        .bind(description)
        .execute(&mut *conn)
        .await?;
    add_member(&mut *conn, project_id, owner, Role::Owner).await?;
    Ok(find(&mut *conn, project_id, owner)
        .await?
        .expect("just created"))
}

pub async fn find(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Project>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p \
         JOIN memberships m ON m.project_id = p.id AND m.user_id = $2 WHERE p.id = $1"
    ))
    .bind(project_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The projects a user is a member of, by creation, after the keyset position `after`.
pub async fn list_for_member(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Project>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM memberships m JOIN projects p ON p.id = m.project_id \
         WHERE m.user_id = $1 AND ($2::timestamptz IS NULL OR (p.created_at, p.id) > ($2, $3)) \
         ORDER BY p.created_at, p.id LIMIT $4"
    ))
    .bind(user_id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Locks the project row for a read-modify-write and returns its version.
pub async fn lock(
    conn: &mut PgConnection,
    project_id: Uuid,
) -> Result<Option<(i64, bool)>, sqlx::Error> {
    sqlx::query_as("SELECT version, inbox_of IS NOT NULL FROM projects WHERE id = $1 FOR UPDATE")
        .bind(project_id)
        .fetch_optional(conn)
        .await
}

pub async fn update(
    conn: &mut PgConnection,
    project_id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projects SET name = coalesce($2, name), description = coalesce($3, description), \
         version = version + 1, updated_at = now() WHERE id = $1",
    )
    .bind(project_id)
    .bind(name)
    .bind(description)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, project_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(project_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user: MemberUser,
    pub role: Role,
    pub added_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: Uuid,
    email: String,
    name: String,
    #[sqlx(try_from = "String")]
    role: Role,
    added_at: DateTime<Utc>,
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Member {
            user: MemberUser {
                id: row.user_id,
                email: row.email,
                name: row.name,
            },
            role: row.role,
            added_at: row.added_at,
        }
    }
}

const MEMBER_COLUMNS: &str = "m.user_id, u.email, u.name, m.role, m.added_at";

pub async fn find_member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Member>, sqlx::Error> {
    let row: Option<MemberRow> = sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.project_id = $1 AND m.user_id = $2"
    ))
    .bind(project_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Member::from))
}

pub async fn list_members(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Member>, sqlx::Error> {
    let rows: Vec<MemberRow> = sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.project_id = $1 AND ($2::timestamptz IS NULL OR (m.added_at, m.user_id) > ($2, $3)) \
         ORDER BY m.added_at, m.user_id LIMIT $4"
    ))
    .bind(project_id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Member::from).collect())
}

pub async fn add_member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, $3)")
        .bind(project_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_role(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE memberships SET role = $3 WHERE project_id = $1 AND user_id = $2")
        .bind(project_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// Removes a member; their tasks in the project become unassigned.
pub async fn remove_member(
    conn: &mut PgConnection,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM memberships WHERE project_id = $1 AND user_id = $2")
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE tasks SET assignee_id = NULL, version = version + 1, updated_at = now() \
         WHERE project_id = $1 AND assignee_id = $2",
    )
    .bind(project_id)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn user_id_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
        .bind(email.trim())
        .fetch_optional(db)
        .await
}

pub async fn user_exists(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(user_id)
        .fetch_one(db)
        .await
}
