//! SQL owned by projects and memberships.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::access::{ProjectAccess, Role};
use crate::activity::{self, Change, Kind, Record};
use crate::db::{get, DbResult, Exec, FromRow, Row, Tx};
use crate::params;

/// A project as its member sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub is_inbox: bool,
    /// Listed under "Templates" when a project is created (API.md §18); otherwise ordinary.
    pub is_template: bool,
    pub my_role: Role,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FromRow for Project {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            name: get(row, "name")?,
            description: get(row, "description")?,
            is_inbox: get(row, "is_inbox")?,
            is_template: get(row, "is_template")?,
            my_role: get(row, "my_role")?,
            version: get(row, "version")?,
            created_at: get(row, "created_at")?,
            updated_at: get(row, "updated_at")?,
        })
    }
}

const PROJECT_COLUMNS: &str = "p.id, p.name, p.description, p.inbox_of IS NOT NULL AS is_inbox, \
     p.is_template, m.role AS my_role, p.version, p.created_at, p.updated_at";

/// Creates a user's Inbox, owned by them.
pub async fn create_inbox(tx: &Tx, user_id: Uuid) -> DbResult<Uuid> {
    let project_id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO projects (id, name, inbox_of) VALUES ($1, 'Inbox', $2)",
        params![project_id, user_id],
    )
    .await?;
    insert_membership(tx, project_id, user_id, Role::Owner).await?;
    Ok(project_id)
}

pub async fn create(tx: &Tx, owner: Uuid, name: &str, description: &str) -> DbResult<Project> {
    let project_id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO projects (id, name, description) VALUES ($1, $2, $3)",
        params![project_id, name, description],
    )
    .await?;
    insert_membership(tx, project_id, owner, Role::Owner).await?;
    Ok(find(tx, project_id, owner).await?.expect("just created"))
}

pub async fn find(db: &impl Exec, project_id: Uuid, user_id: Uuid) -> DbResult<Option<Project>> {
    db.fetch_opt(
        &format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p \
             JOIN memberships m ON m.project_id = p.id AND m.user_id = $2 WHERE p.id = $1"
        ),
        params![project_id, user_id],
    )
    .await
}

/// The projects a user is a member of (only templates, or only the others, when
/// `is_template` says), by creation, after the keyset position `after`.
pub async fn list_for_member(
    db: &impl Exec,
    user_id: Uuid,
    is_template: Option<bool>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> DbResult<Vec<Project>> {
    db.fetch_all(
        &format!(
            "SELECT {PROJECT_COLUMNS} FROM memberships m JOIN projects p ON p.id = m.project_id \
             WHERE m.user_id = $1 AND ($2::timestamptz IS NULL OR (p.created_at, p.id) > ($2, $3)) \
               AND ($5::boolean IS NULL OR p.is_template = $5) \
             ORDER BY p.created_at, p.id LIMIT $4"
        ),
        params![
            user_id,
            after.map(|a| a.0),
            after.map(|a| a.1),
            limit,
            is_template
        ],
    )
    .await
}

/// Holds a project a copy is being made from (API.md §18 templates) until the transaction
/// ends: its task numbers, states and fields cannot change meanwhile (their writers lock the
/// row), so the copy is of one moment. Returns its next task number.
pub async fn hold_for_copy(tx: &Tx, project_id: Uuid) -> DbResult<i64> {
    let row = tx
        .query_one(
            "SELECT next_task_number FROM projects WHERE id = $1 FOR SHARE",
            params![project_id],
        )
        .await?;
    get(&row, "next_task_number")
}

/// `n` tasks were copied into a new project with their numbers (the highest below
/// `next_number`): the project's next number follows the copy's. Returns the tasks it holds.
pub async fn tasks_copied(tx: &Tx, project_id: Uuid, next_number: i64, n: i64) -> DbResult<i64> {
    let row = tx
        .query_one(
            "UPDATE projects SET next_task_number = greatest(next_task_number, $2), \
                 task_count = task_count + $3 WHERE id = $1 RETURNING task_count",
            params![project_id, next_number, n],
        )
        .await?;
    get(&row, "task_count")
}

/// Takes the project's next `n` task numbers and counts the tasks being added: `(the first
/// number, tasks in the project with them)`. The row lock it takes makes concurrent creates
/// queue here, so numbers are unique and, because a failed transaction rolls the counter back
/// too, gap-free.
pub async fn take_task_numbers(tx: &Tx, project_id: Uuid, n: i64) -> DbResult<(i64, i64)> {
    let row = tx
        .query_one(
            "UPDATE projects SET next_task_number = next_task_number + $2, \
                 task_count = task_count + $2 WHERE id = $1 \
             RETURNING next_task_number - $2 AS number, task_count",
            params![project_id, n],
        )
        .await?;
    Ok((get(&row, "number")?, get(&row, "task_count")?))
}

/// The project's tasks are given new manual-order keys (`tasks::store::renumber_positions`):
/// counts the renumbering, so that cursors handed out before it can tell, and returns its
/// number.
pub async fn renumbered(tx: &Tx, project_id: Uuid) -> DbResult<i64> {
    let row = tx
        .query_one(
            "UPDATE projects SET position_epoch = position_epoch + 1 WHERE id = $1 \
             RETURNING position_epoch",
            params![project_id],
        )
        .await?;
    get(&row, "position_epoch")
}

/// `n` tasks left the project (deleted or moved away).
pub async fn tasks_removed(tx: &Tx, project_id: Uuid, n: i64) -> DbResult<()> {
    tx.execute(
        "UPDATE projects SET task_count = task_count - $2 WHERE id = $1",
        params![project_id, n],
    )
    .await?;
    Ok(())
}

/// How many projects a user owns, besides their Inbox. Serialises that user's project creations
/// for the rest of the transaction, so that the count stays true until it commits.
pub async fn owned_count_locked(tx: &Tx, user_id: Uuid) -> DbResult<i64> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('docket.projects.owned:' || $1::text))",
        params![user_id],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT count(*) AS count FROM memberships m JOIN projects p ON p.id = m.project_id \
             WHERE m.user_id = $1 AND m.role = 'owner' AND p.inbox_of IS NULL",
            params![user_id],
        )
        .await?;
    get(&row, "count")
}

/// What a lock of the project row tells.
#[derive(Debug, Clone, Copy)]
pub struct Locked {
    pub version: i64,
    pub is_inbox: bool,
}

/// Locks the project row for a read-modify-write.
pub async fn lock(tx: &Tx, project_id: Uuid) -> DbResult<Option<Locked>> {
    let row = tx
        .query_opt(
            "SELECT version, inbox_of IS NOT NULL AS is_inbox FROM projects WHERE id = $1 FOR UPDATE",
            params![project_id],
        )
        .await?;
    row.map(|row| {
        Ok(Locked {
            version: get(&row, "version")?,
            is_inbox: get(&row, "is_inbox")?,
        })
    })
    .transpose()
}

/// A change of a project (absent parts stay).
#[derive(Debug, Default)]
pub struct ProjectChanges<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub is_template: Option<bool>,
}

pub async fn update(tx: &Tx, access: &ProjectAccess, changes: ProjectChanges<'_>) -> DbResult<()> {
    let project_id = access.project_id();
    // The row is locked (the caller entered with `authorize_locked`): `old` is what it was.
    let row = tx
        .query_one(
            "UPDATE projects p SET name = coalesce($2, p.name), \
                 description = coalesce($3, p.description), \
                 is_template = coalesce($4, p.is_template), \
                 version = p.version + 1, updated_at = now() \
             FROM projects old WHERE p.id = $1 AND old.id = p.id \
             RETURNING old.name AS old_name, old.description AS old_description, \
                 old.is_template AS old_is_template, p.name, p.description, p.is_template",
            params![
                project_id,
                changes.name,
                changes.description,
                changes.is_template
            ],
        )
        .await?;
    let (old_template, new_template): (bool, bool) =
        (get(&row, "old_is_template")?, get(&row, "is_template")?);
    let (old_name, new_name): (String, String) = (get(&row, "old_name")?, get(&row, "name")?);
    let (old_description, new_description): (String, String) =
        (get(&row, "old_description")?, get(&row, "description")?);
    let changes: Vec<Change> = [
        Change::of("name", &old_name, &new_name),
        activity::length_change("description", &old_description, &new_description),
        Change::of("is_template", &old_template, &new_template),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !changes.is_empty() {
        activity::record(
            tx,
            Record::new(Kind::ProjectUpdated, project_id, Some(access.user_id())).changes(changes),
        );
    }
    Ok(())
}

pub async fn delete(tx: &Tx, access: &ProjectAccess) -> DbResult<()> {
    tx.execute(
        "DELETE FROM projects WHERE id = $1",
        params![access.project_id()],
    )
    .await?;
    crate::activity::store::forget_project(tx, access.project_id()).await
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

impl FromRow for Member {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Member {
            user: MemberUser {
                id: get(row, "user_id")?,
                email: get(row, "email")?,
                name: get(row, "name")?,
            },
            role: get(row, "role")?,
            added_at: get(row, "added_at")?,
        })
    }
}

const MEMBER_COLUMNS: &str = "m.user_id, u.email, u.name, m.role, m.added_at";

pub async fn find_member(
    db: &impl Exec,
    project_id: Uuid,
    user_id: Uuid,
) -> DbResult<Option<Member>> {
    db.fetch_opt(
        &format!(
            "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.project_id = $1 AND m.user_id = $2"
        ),
        params![project_id, user_id],
    )
    .await
}

pub async fn list_members(
    db: &impl Exec,
    project_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> DbResult<Vec<Member>> {
    db.fetch_all(
        &format!(
            "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.project_id = $1 AND ($2::timestamptz IS NULL OR (m.added_at, m.user_id) > ($2, $3)) \
             ORDER BY m.added_at, m.user_id LIMIT $4"
        ),
        params![project_id, after.map(|a| a.0), after.map(|a| a.1), limit],
    )
    .await
}

/// The caller's role in a project, read from the database on every request (a demoted member
/// loses rights at once, whatever tokens they hold). The one membership query.
pub async fn role_of(db: &impl Exec, project_id: Uuid, user_id: Uuid) -> DbResult<Option<Role>> {
    let row = db
        .query_opt(
            "SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2",
            params![project_id, user_id],
        )
        .await?;
    row.map(|row| get(&row, "role")).transpose()
}

/// The members of a project among these users.
pub async fn members_among(
    db: &impl Exec,
    project_id: Uuid,
    user_ids: &[Uuid],
) -> DbResult<Vec<Uuid>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db
        .query(
            "SELECT user_id FROM memberships WHERE project_id = $1 AND user_id = ANY($2)",
            params![project_id, user_ids.to_vec()],
        )
        .await?;
    rows.iter().map(|row| get(row, "user_id")).collect()
}

/// The members of a project among these (lower-cased) emails, as user ids.
pub async fn members_by_email(
    db: &impl Exec,
    project_id: Uuid,
    emails: &[String],
) -> DbResult<Vec<Uuid>> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db
        .query(
            "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.project_id = $1 AND lower(u.email) = ANY($2) ORDER BY m.user_id",
            params![project_id, emails.to_vec()],
        )
        .await?;
    rows.iter().map(|row| get(row, "user_id")).collect()
}

/// The members of each of these projects, as `(project_id, user_id)` pairs: the live event
/// stream reads them after each batch of entries, so that an entry reaches exactly the users who
/// are members when it is delivered.
pub async fn members_of(db: &impl Exec, project_ids: &[Uuid]) -> DbResult<Vec<(Uuid, Uuid)>> {
    let rows = db
        .query(
            "SELECT project_id, user_id FROM memberships WHERE project_id = ANY($1)",
            params![project_ids.to_vec()],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((get(row, "project_id")?, get(row, "user_id")?)))
        .collect()
}

/// Adds a member to the project `access` entered (the caller's rights were checked there).
pub async fn add_member(
    tx: &Tx,
    access: &ProjectAccess,
    user_id: Uuid,
    role: Role,
) -> DbResult<()> {
    insert_membership(tx, access.project_id(), user_id, role).await?;
    activity::record(
        tx,
        Record::new(
            Kind::MemberAdded,
            access.project_id(),
            Some(access.user_id()),
        )
        .member(user_id)
        .changes(vec![Change::new("role", (), role)]),
    );
    Ok(())
}

async fn insert_membership(tx: &Tx, project_id: Uuid, user_id: Uuid, role: Role) -> DbResult<()> {
    tx.execute(
        "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, $3)",
        params![project_id, user_id, role],
    )
    .await?;
    Ok(())
}

pub async fn set_role(tx: &Tx, access: &ProjectAccess, user_id: Uuid, role: Role) -> DbResult<()> {
    let old = tx
        .query_opt(
            "UPDATE memberships m SET role = $3 FROM memberships old \
             WHERE m.project_id = $1 AND m.user_id = $2 \
               AND old.project_id = m.project_id AND old.user_id = m.user_id \
             RETURNING old.role AS old_role",
            params![access.project_id(), user_id, role],
        )
        .await?;
    if let Some(old) = old {
        let old: Role = get(&old, "old_role")?;
        if let Some(change) = Change::of("role", &old, &role) {
            activity::record(
                tx,
                Record::new(
                    Kind::MemberUpdated,
                    access.project_id(),
                    Some(access.user_id()),
                )
                .member(user_id)
                .changes(vec![change]),
            );
        }
    }
    Ok(())
}

/// Removes a member (the caller then unassigns their tasks: `tasks::store::unassign_all`).
pub async fn remove_member(tx: &Tx, access: &ProjectAccess, user_id: Uuid) -> DbResult<()> {
    let removed = tx
        .query_opt(
            "DELETE FROM memberships WHERE project_id = $1 AND user_id = $2 RETURNING role",
            params![access.project_id(), user_id],
        )
        .await?;
    if let Some(removed) = removed {
        let role: Role = get(&removed, "role")?;
        activity::record(
            tx,
            Record::new(
                Kind::MemberRemoved,
                access.project_id(),
                Some(access.user_id()),
            )
            .member(user_id)
            .changes(vec![Change::new("role", role, ())]),
        );
    }
    Ok(())
}

/// One of a project's admins or owner to tell about the project's own troubles.
pub struct AdminToTell {
    pub user_id: Uuid,
    pub project: String,
    pub email: String,
    pub name: String,
}

/// The project's admins and owner whose accounts are not disabled, with the project's name.
pub async fn admins_to_tell(db: &impl Exec, project_id: Uuid) -> DbResult<Vec<AdminToTell>> {
    let rows = db
        .query(
            "SELECT u.id, p.name AS project, u.email, u.name FROM memberships m \
             JOIN users u ON u.id = m.user_id JOIN projects p ON p.id = m.project_id \
             WHERE m.project_id = $1 AND m.role IN ('admin', 'owner') AND NOT u.disabled \
             ORDER BY u.email",
            params![project_id],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(AdminToTell {
                user_id: get(row, "id")?,
                project: get(row, "project")?,
                email: get(row, "email")?,
                name: get(row, "name")?,
            })
        })
        .collect()
}
