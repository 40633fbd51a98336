//! Users: the row, its SQL, and creating one (with its Inbox).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::domain::{Email, Password, UserName, UserRole};
use crate::error::{unique_violation, ApiError};

/// The user as every endpoint shows it. The password hash is not part of it on purpose.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: UserRole,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

pub const USER_COLUMNS: &str =
    "users.id, users.email, users.name, users.role, users.disabled, users.created_at";

pub async fn find_by_id(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The user with this email and their password hash, for logging in.
pub async fn find_credentials(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: User,
        password_hash: String,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS}, users.password_hash FROM users WHERE lower(email) = lower($1)"
    ))
    .bind(email)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(db)
        .await?;
    Ok(())
}

pub struct NewUser {
    pub email: Email,
    pub name: UserName,
    pub password: Password,
}

/// Creates a user and their Inbox in one transaction. The first user of the instance becomes
/// an admin; `force_admin` makes this one an admin regardless.
pub async fn create_user(
    pool: &PgPool,
    password_hash: String,
    new_user: NewUser,
    force_admin: bool,
) -> Result<User, ApiError> {
    let mut tx = pool.begin().await?;
    // Serialises registrations so that exactly one can be the first.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('docket.users.register'))")
        .execute(&mut *tx)
        .await?;
    let any_user: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
        .fetch_one(&mut *tx)
        .await?;
    let role = if force_admin || !any_user {
        UserRole::Admin
    } else {
        UserRole::User
    };
    let inserted = sqlx::query_as::<_, User>(&format!(
        "INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(new_user.email.as_str())
    .bind(new_user.name.as_str())
    .bind(&password_hash)
    .bind(role.as_str())
    .fetch_one(&mut *tx)
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(error) if unique_violation(&error).is_some() => {
            return Err(ApiError::conflict(
                "email_taken",
                "an account with this email already exists",
            ))
        }
        Err(error) => return Err(error.into()),
    };
    crate::projects::store::create_inbox(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn update_name(pool: &PgPool, user_id: Uuid, name: &UserName) -> Result<User, ApiError> {
    sqlx::query_as(&format!(
        "UPDATE users SET name = $2 WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user_id)
    .bind(name.as_str())
    .fetch_optional(pool)
    .await?
    .ok_or_else(ApiError::not_found)
}
