//! Users: the row, its SQL (this module owns the `users` table), and creating one (with its
//! Inbox).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::domain::{Email, Password, UserName, UserRole};
use crate::db::{get, Db, DbError, DbResult, Exec, FromRow, Row, Tx};
use crate::error::{ApiError, ErrorCode};
use crate::params;

/// The user as every endpoint shows it. The password hash is not part of it on purpose.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub disabled: bool,
    /// Whether the user wants notifications by email too (API.md §12, §14); default true.
    pub email_notifications: bool,
    /// Whether the user has a second factor: a confirmed TOTP or a passkey (API.md §21).
    pub second_factor: bool,
    pub created_at: DateTime<Utc>,
}

impl FromRow for User {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            email: get(row, "email")?,
            name: get(row, "name")?,
            role: get(row, "role")?,
            disabled: get(row, "disabled")?,
            email_notifications: get(row, "email_notifications")?,
            second_factor: get(row, "second_factor")?,
            created_at: get(row, "created_at")?,
        })
    }
}

/// The columns [`User::from_row`] reads, qualified so that they can be joined.
pub const USER_COLUMNS: &str = "users.id, users.email, users.name, users.role, users.disabled, \
     users.email_notifications, users.second_factor, users.created_at";

pub async fn find_by_id(db: &impl Exec, id: Uuid) -> DbResult<Option<User>> {
    db.fetch_opt(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
        params![id],
    )
    .await
}

/// The id of the user with this email (compared trimmed and case-insensitively).
pub async fn id_by_email(db: &impl Exec, email: &str) -> DbResult<Option<Uuid>> {
    let row = db
        .query_opt(
            "SELECT id FROM users WHERE lower(email) = lower($1)",
            params![email.trim()],
        )
        .await?;
    row.map(|row| get(&row, "id")).transpose()
}

pub async fn exists(db: &impl Exec, user_id: Uuid) -> DbResult<bool> {
    let row = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS exists",
            params![user_id],
        )
        .await?;
    get(&row, "exists")
}

/// The user with this email and their password hash (`None`: an account single sign-on made,
/// which has no password), for logging in.
pub async fn find_credentials(
    db: &impl Exec,
    email: &str,
) -> DbResult<Option<(User, Option<String>)>> {
    let row = db
        .query_opt(
            &format!(
                "SELECT {USER_COLUMNS}, users.password_hash FROM users \
                 WHERE lower(email) = lower($1)"
            ),
            params![email],
        )
        .await?;
    row.map(|row| Ok((User::from_row(&row)?, get(&row, "password_hash")?)))
        .transpose()
}

/// Locks the user's row for the rest of the transaction: changes to how a user signs in
/// (removing a passkey or an identity) are serialised, so that two cannot remove the last two
/// ways at once.
pub async fn lock(tx: &Tx, user_id: Uuid) -> DbResult<()> {
    tx.execute(
        "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
        params![user_id],
    )
    .await?;
    Ok(())
}

/// The user with this email, whatever its case.
pub async fn find_by_email(db: &impl Exec, email: &str) -> DbResult<Option<User>> {
    db.fetch_opt(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)"),
        params![email.trim()],
    )
    .await
}

/// Whether the user has a password (an account single sign-on made may have none).
pub async fn has_password(db: &impl Exec, user_id: Uuid) -> DbResult<bool> {
    let row = db
        .query_one(
            "SELECT password_hash IS NOT NULL AS has FROM users WHERE id = $1",
            params![user_id],
        )
        .await?;
    get(&row, "has")
}

pub async fn set_password_hash(db: &impl Exec, user_id: Uuid, hash: &str) -> DbResult<()> {
    db.execute(
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        params![user_id, hash],
    )
    .await?;
    Ok(())
}

pub struct NewUser {
    pub email: Email,
    pub name: UserName,
    pub password: Password,
}

/// Who an account is, without how they sign in.
pub struct Account<'a> {
    pub email: &'a Email,
    pub name: &'a UserName,
    /// `None` for an account that signs in only by single sign-on or passkeys.
    pub password_hash: Option<&'a str>,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl crate::error::DomainError for CreateUserError {
    fn into_api_error(self) -> ApiError {
        match self {
            CreateUserError::EmailTaken => ApiError::conflict(
                ErrorCode::EmailTaken,
                "an account with this email already exists",
            ),
            CreateUserError::Db(error) => error.into(),
        }
    }
}

/// Creates a user in `tx` (`account::open_account` adds their Inbox). The first user of the
/// instance becomes an admin; `force_admin` makes this one an admin regardless.
pub async fn create_user(
    tx: &Tx,
    account: Account<'_>,
    force_admin: bool,
) -> Result<User, CreateUserError> {
    // Serialises registrations so that exactly one can be the first.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('docket.users.register'))",
        params![],
    )
    .await?;
    let row = tx
        .query_one("SELECT EXISTS (SELECT 1 FROM users) AS exists", params![])
        .await?;
    let any_user: bool = get(&row, "exists")?;
    let role = if force_admin || !any_user {
        UserRole::Admin
    } else {
        UserRole::User
    };
    let inserted = tx
        .fetch_one::<User>(
            &format!(
                "INSERT INTO users (id, email, name, password_hash, role) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
            ),
            params![
                Uuid::now_v7(),
                account.email.as_str(),
                account.name.as_str(),
                account.password_hash,
                role
            ],
        )
        .await;
    match inserted {
        Ok(user) => Ok(user),
        Err(error) if error.unique_violation().is_some() => Err(CreateUserError::EmailTaken),
        Err(error) => Err(error.into()),
    }
}

/// Changes a user's own settings, each only when given; `None` when there is no such user.
pub async fn update_profile(
    db: &impl Exec,
    user_id: Uuid,
    name: Option<&UserName>,
    email_notifications: Option<bool>,
) -> DbResult<Option<User>> {
    db.fetch_opt(
        &format!(
            "UPDATE users SET name = coalesce($2, name), \
                 email_notifications = coalesce($3, email_notifications) \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        ),
        params![user_id, name.map(UserName::as_str), email_notifications],
    )
    .await
}

/// Every user, oldest first, after the keyset position `after`.
pub async fn list(
    db: &impl Exec,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> DbResult<Vec<User>> {
    db.fetch_all(
        &format!(
            "SELECT {USER_COLUMNS} FROM users \
             WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2)) \
             ORDER BY created_at, id LIMIT $3"
        ),
        params![after.map(|a| a.0), after.map(|a| a.1), limit],
    )
    .await
}

/// The outcome of an administrative change to a user.
#[derive(Debug)]
pub enum AdminUpdate {
    Updated(User),
    NotFound,
    /// The change would leave no active admin; nothing was changed.
    LastAdmin,
}

/// Changes a user's role and/or disabled flag (`None` keeps it), unless that would leave the
/// instance without an active admin.
pub async fn update_role_and_disabled(
    db: &Db,
    user_id: Uuid,
    role: Option<UserRole>,
    disabled: Option<bool>,
) -> DbResult<AdminUpdate> {
    let tx = db.begin().await?;
    // Serialises admin changes so that two admins cannot demote each other at once.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('docket.users.admins'))",
        params![],
    )
    .await?;
    let user = tx
        .fetch_opt::<User>(
            &format!(
                "UPDATE users SET role = coalesce($2, role), disabled = coalesce($3, disabled) \
                 WHERE id = $1 RETURNING {USER_COLUMNS}"
            ),
            params![user_id, role, disabled],
        )
        .await?;
    let Some(user) = user else {
        return Ok(AdminUpdate::NotFound);
    };
    let row = tx
        .query_one(
            "SELECT count(*) AS count FROM users WHERE role = 'admin' AND NOT disabled",
            params![],
        )
        .await?;
    let active_admins: i64 = get(&row, "count")?;
    if active_admins == 0 {
        tx.rollback().await?;
        return Ok(AdminUpdate::LastAdmin);
    }
    tx.commit().await?;
    Ok(AdminUpdate::Updated(user))
}
