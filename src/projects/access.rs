//! Authorization: the one way into a project. A handler calls `authorize` (or `authorize_locked`
//! inside a transaction that changes the project or its members, or `enter_task` for a task by
//! id); each reads the caller's role from the database, checks the action against API.md §3's
//! table, and hands back a `ProjectAccess` — the proof that the store functions which change a
//! project's contents require. Nothing else compares roles.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::store;
use crate::auth::principal::Principal;
use crate::db::{Exec, Tx};
use crate::error::{ApiError, ErrorCode};

/// Project roles, weakest first (the order is used for "at least").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl Role {
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

crate::text_enum!(Role, Role::parse);

/// What a member may want to do to a project or what is in it (API.md §3's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    EditTasks,
    EditProject,
    /// Add, change or remove members below admin; link GitHub.
    ManageMembers,
    LinkGithub,
    /// Delete other people's comments.
    ModerateComments,
    /// Make or remove admins, delete the project, transfer ownership.
    ManageAdmins,
    DeleteProject,
    TransferOwnership,
}

impl Action {
    fn least_role(self) -> Role {
        match self {
            Action::Read => Role::Viewer,
            Action::EditTasks => Role::Editor,
            Action::EditProject
            | Action::ManageMembers
            | Action::LinkGithub
            | Action::ModerateComments => Role::Admin,
            Action::ManageAdmins | Action::DeleteProject | Action::TransferOwnership => Role::Owner,
        }
    }
}

pub fn allows(role: Role, action: Action) -> bool {
    role >= action.least_role()
}

/// Not a member: 404, so that nobody learns what exists. A member without the right: 403.
pub fn check(role: Option<Role>, action: Action) -> Result<Role, ApiError> {
    let role = role.ok_or_else(ApiError::not_found)?;
    if allows(role, action) {
        Ok(role)
    } else {
        Err(ApiError::forbidden(
            ErrorCode::Forbidden,
            format!(
                "your role in this project ({}) does not allow this",
                role.as_str()
            ),
        ))
    }
}

/// Proof that a principal may do an action on a project, with their role there. Only this
/// module makes one.
#[derive(Debug, Clone, Copy)]
pub struct ProjectAccess {
    project_id: Uuid,
    user_id: Uuid,
    role: Role,
}

impl ProjectAccess {
    pub fn project_id(&self) -> Uuid {
        self.project_id
    }

    /// Who is acting.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn allows(&self, action: Action) -> bool {
        allows(self.role, action)
    }

    /// A further action on the same project (403 when the role does not allow it).
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        check(Some(self.role), action).map(|_| ())
    }

    fn checked(
        principal: &Principal,
        project_id: Uuid,
        role: Option<Role>,
        action: Action,
    ) -> Result<Self, ApiError> {
        let role = check(role, action)?;
        Ok(Self {
            project_id,
            user_id: principal.id(),
            role,
        })
    }
}

/// Enters a project for `action`.
pub async fn authorize(
    db: &impl Exec,
    principal: &Principal,
    project_id: Uuid,
    action: Action,
) -> Result<ProjectAccess, ApiError> {
    let role = store::role_of(db, project_id, principal.id()).await?;
    ProjectAccess::checked(principal, project_id, role, action)
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
    let access = ProjectAccess::checked(principal, project_id, role, action)?;
    // A member of a project that exists: the lock found it.
    Ok((access, locked.ok_or_else(ApiError::not_found)?))
}

/// Enters the project of a task for `action`: one query reads the task and the caller's role
/// (`lock` also locks the task row). No such task, or not a member: 404.
pub async fn enter_task(
    db: &impl Exec,
    principal: &Principal,
    task_id: Uuid,
    action: Action,
    lock: bool,
) -> Result<(crate::tasks::store::Task, ProjectAccess), ApiError> {
    let (task, role) = crate::tasks::store::find_visible(db, task_id, principal.id(), lock)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let access = ProjectAccess::checked(principal, task.project_id, Some(role), action)?;
    Ok((task, access))
}

/// Enters the project of a comment's task for `action` (`lock` also locks the comment row).
/// No such comment, or not a member: 404.
pub async fn enter_comment(
    db: &impl Exec,
    principal: &Principal,
    comment_id: Uuid,
    action: Action,
    lock: bool,
) -> Result<(crate::comments::store::Comment, ProjectAccess), ApiError> {
    let (comment, project_id, role) =
        crate::comments::store::find_visible(db, comment_id, principal.id(), lock)
            .await?
            .ok_or_else(ApiError::not_found)?;
    let access = ProjectAccess::checked(principal, project_id, Some(role), action)?;
    Ok((comment, access))
}

/// The role another user has in the project the caller entered (for member management).
pub async fn role_of_member(
    db: &impl Exec,
    access: &ProjectAccess,
    user_id: Uuid,
) -> Result<Option<Role>, ApiError> {
    Ok(store::role_of(db, access.project_id, user_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_table() {
        use Action::*;
        let expected = [
            (Read, [true, true, true, true]),
            (EditTasks, [false, true, true, true]),
            (EditProject, [false, false, true, true]),
            (ManageMembers, [false, false, true, true]),
            (LinkGithub, [false, false, true, true]),
            (ModerateComments, [false, false, true, true]),
            (ManageAdmins, [false, false, false, true]),
            (DeleteProject, [false, false, false, true]),
            (TransferOwnership, [false, false, false, true]),
        ];
        for (action, allowed) in expected {
            for (role, allowed) in [Role::Viewer, Role::Editor, Role::Admin, Role::Owner]
                .into_iter()
                .zip(allowed)
            {
                assert_eq!(allows(role, action), allowed, "{role:?} {action:?}");
            }
        }
        assert!(check(None, Read).unwrap_err().status == 404);
        assert!(check(Some(Role::Viewer), EditTasks).unwrap_err().status == 403);
    }
}
