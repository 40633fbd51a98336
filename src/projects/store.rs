//! SQL owned by projects and memberships.

use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

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
    sqlx::query("INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, 'owner')")
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(project_id)
}
