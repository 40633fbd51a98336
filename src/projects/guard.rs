//! Authorization, the guard: the one way into a project. A handler calls `authorize` (or
//! `authorize_locked` inside a transaction that changes the project or its members, or
//! `enter_task`/`enter_comment` for a task or comment by id, `enter_state_locked` for a
//! workflow state); each reads the caller's role from the database, checks the action against
//! API.md §3's table (`access`), and hands back a `ProjectAccess`. The guard sits above the
//! stores it reads; the proof sits below them.

use uuid::Uuid;

use super::access::{Action, ProjectAccess, Role};
use super::store;
use crate::attachments::store::Attachment;
use crate::auth::principal::Principal;
use crate::comments::store::Comment;
use crate::db::{Exec, Tx};
use crate::error::ApiError;
use crate::fields::Field;
use crate::states::store::Hold;
use crate::states::State;
use crate::tasks::store::{Lock, Task};
use crate::views::View;

/// Enters a project for `action`.
pub async fn authorize(
    db: &impl Exec,
    principal: &Principal,
    project_id: Uuid,
    action: Action,
) -> Result<ProjectAccess, ApiError> {
    authorize_user(db, principal.id(), project_id, action).await
}

/// `authorize` for a user known by another credential than a `Principal` (the calendar
/// feed's secret): the same role read and rule.
pub async fn authorize_user(
    db: &impl Exec,
    user_id: Uuid,
    project_id: Uuid,
    action: Action,
) -> Result<ProjectAccess, ApiError> {
    let role = store::role_of(db, project_id, user_id).await?;
    ProjectAccess::checked(user_id, project_id, role, action)
}

/// Enters a project by an invitation `tx` has just taken (`invitations::store::take`): the
/// token was the permission, so the invitee acts with the invited role. The caller locked the
/// project row.
pub fn invited(user_id: Uuid, project_id: Uuid, role: Role) -> ProjectAccess {
    ProjectAccess::checked(user_id, project_id, Some(role), Action::Read)
        .expect("every role may read")
}

/// Enters a project for a change of the project or its members: locks the project row first,
/// so that concurrent changes queue and each decides on the roles as they are, not as they
/// were before the other committed. Returns what the lock read.
pub async fn authorize_locked(
    tx: &Tx,
    principal: &Principal,
    project_id: Uuid,
    action: Action,
) -> Result<(ProjectAccess, store::Locked), ApiError> {
    let locked = store::lock(tx, project_id).await?;
    let role = store::role_of(tx, project_id, principal.id()).await?;
    let access = ProjectAccess::checked(principal.id(), project_id, role, action)?;
    // A member of a project that exists: the lock found it.
    Ok((access, locked.ok_or_else(ApiError::not_found)?))
}

/// Enters the project of a task for `action`: one query reads the task and the caller's role.
/// No such task, or not a member: 404.
pub async fn enter_task(
    db: &impl Exec,
    principal: &Principal,
    task_id: Uuid,
    action: Action,
) -> Result<(Task, ProjectAccess), ApiError> {
    task_entered(db, principal, task_id, action, Lock::Nothing).await
}

/// `enter_task` that also locks the task row, for a change of the task in `tx`.
pub async fn enter_task_locked(
    tx: &Tx,
    principal: &Principal,
    task_id: Uuid,
    action: Action,
) -> Result<(Task, ProjectAccess), ApiError> {
    task_entered(tx, principal, task_id, action, Lock::Task).await
}

/// `enter_task_locked` that first locks the row of `project_id`, the task's project when the
/// caller read it, in the same round trip (the caller checks that the task is still there).
/// No such project any more: 404.
pub async fn enter_task_in_locked_project(
    tx: &Tx,
    principal: &Principal,
    task_id: Uuid,
    project_id: Uuid,
    action: Action,
) -> Result<(Task, ProjectAccess), ApiError> {
    let lock = Lock::ProjectThenTask(project_id);
    task_entered(tx, principal, task_id, action, lock).await
}

async fn task_entered(
    db: &impl Exec,
    principal: &Principal,
    task_id: Uuid,
    action: Action,
    lock: Lock,
) -> Result<(Task, ProjectAccess), ApiError> {
    let (task, role) = crate::tasks::store::find_visible(db, task_id, principal.id(), lock)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let access = ProjectAccess::checked(principal.id(), task.project_id, Some(role), action)?;
    Ok((task, access))
}

/// Enters the project of a comment's task for `action`. No such comment, or not a member: 404.
pub async fn enter_comment(
    db: &impl Exec,
    principal: &Principal,
    comment_id: Uuid,
    action: Action,
) -> Result<(Comment, ProjectAccess), ApiError> {
    comment_entered(db, principal, comment_id, action, false).await
}

/// `enter_comment` that also locks the comment row, for a change of the comment in `tx`.
pub async fn enter_comment_locked(
    tx: &Tx,
    principal: &Principal,
    comment_id: Uuid,
    action: Action,
) -> Result<(Comment, ProjectAccess), ApiError> {
    comment_entered(tx, principal, comment_id, action, true).await
}

async fn comment_entered(
    db: &impl Exec,
    principal: &Principal,
    comment_id: Uuid,
    action: Action,
    lock: bool,
) -> Result<(Comment, ProjectAccess), ApiError> {
    let (comment, project_id, role) =
        crate::comments::store::find_visible(db, comment_id, principal.id(), lock)
            .await?
            .ok_or_else(ApiError::not_found)?;
    let access = ProjectAccess::checked(principal.id(), project_id, Some(role), action)?;
    Ok((comment, access))
}

/// Enters the project of a workflow state for a change of it: reads the state (no such state,
/// or not a member: 404), then locks the project row as `authorize_locked` does and reads the
/// state again under the lock (and holds its row: task writes naming it finish first), so that
/// the project's states change one request at a time.
pub async fn enter_state_locked(
    tx: &Tx,
    principal: &Principal,
    state_id: Uuid,
    action: Action,
) -> Result<(State, ProjectAccess), ApiError> {
    let (state, _) = crate::states::store::find_visible(tx, state_id, principal.id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (access, _) = authorize_locked(tx, principal, state.project_id, action).await?;
    let state = crate::states::store::find_in(tx, state.project_id, state_id, Hold::Update)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((state, access))
}

/// Enters the project of a custom field for a change of it: reads the field (no such field, or
/// not a member: 404), then locks the project row as `authorize_locked` does and reads the
/// field again under the lock, so that the project's fields change one request at a time.
pub async fn enter_field_locked(
    tx: &Tx,
    principal: &Principal,
    field_id: Uuid,
    action: Action,
) -> Result<(Field, ProjectAccess), ApiError> {
    let (field, _) = crate::fields::store::find_visible(tx, field_id, principal.id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (access, _) = authorize_locked(tx, principal, field.project_id, action).await?;
    let field = crate::fields::store::find_in(tx, field.project_id, field_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((field, access))
}

/// A saved view by id, for reading (`change` false) or changing. A personal view is its
/// owner's alone, and one in a project needs them to be a member still; a shared view is seen
/// by the project's members and changed by its admins. Anyone else: 404 (a member without the
/// right: 403). Changing holds the view's row.
pub async fn enter_view(
    db: &impl Exec,
    principal: &Principal,
    view_id: Uuid,
    change: bool,
) -> Result<View, ApiError> {
    let (view, role) = crate::views::store::find(db, view_id, principal.id(), change)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if view.project_id.is_some() {
        super::access::check(role, Action::Read)?;
    }
    if view.shared {
        if change {
            super::access::check(role, Action::EditProject)?;
        }
    } else if view.owner_id != principal.id() {
        return Err(ApiError::not_found());
    }
    Ok(view)
}

/// Enters the project of an attachment for `action`. No such attachment, or not a member: 404
/// (so a member removed from the project loses its files at once).
pub async fn enter_attachment(
    db: &impl Exec,
    principal: &Principal,
    attachment_id: Uuid,
    action: Action,
) -> Result<(Attachment, ProjectAccess), ApiError> {
    attachment_entered(db, principal, attachment_id, action, false).await
}

/// `enter_attachment` that also locks the attachment row, for a change of it in `tx`.
pub async fn enter_attachment_locked(
    tx: &Tx,
    principal: &Principal,
    attachment_id: Uuid,
    action: Action,
) -> Result<(Attachment, ProjectAccess), ApiError> {
    attachment_entered(tx, principal, attachment_id, action, true).await
}

async fn attachment_entered(
    db: &impl Exec,
    principal: &Principal,
    attachment_id: Uuid,
    action: Action,
    lock: bool,
) -> Result<(Attachment, ProjectAccess), ApiError> {
    let (attachment, role) =
        crate::attachments::store::find_visible(db, attachment_id, principal.id(), lock)
            .await?
            .ok_or_else(ApiError::not_found)?;
    let access = ProjectAccess::checked(principal.id(), attachment.project_id, Some(role), action)?;
    Ok((attachment, access))
}

/// The role another user has in the project the caller entered (for member management).
pub async fn role_of_member(
    db: &impl Exec,
    access: &ProjectAccess,
    user_id: Uuid,
) -> Result<Option<Role>, ApiError> {
    Ok(store::role_of(db, access.project_id(), user_id).await?)
}
