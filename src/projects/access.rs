//! Authorization: the one function that decides whether a principal may do an action on a
//! project. Every project and task handler calls `authorize`; nothing checks roles inline.

use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::auth::principal::Principal;
use crate::error::ApiError;

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

impl TryFrom<String> for Role {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(format!("unknown project role {other:?}")),
        }
    }
}

/// What a member may want to do to a project or what is in it (API.md §3's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    EditTasks,
    EditProject,
    /// Add, change or remove members below admin; link GitHub.
    ManageMembers,
    LinkGithub,
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
            Action::EditProject | Action::ManageMembers | Action::LinkGithub => Role::Admin,
            Action::ManageAdmins | Action::DeleteProject | Action::TransferOwnership => Role::Owner,
        }
    }
}

pub fn allows(role: Role, action: Action) -> bool {
    role >= action.least_role()
}

/// The caller's role in a project, read from the database on every request (a demoted member
/// loses rights at once, whatever tokens they hold).
pub async fn role_in(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    project_id: Uuid,
) -> Result<Option<Role>, ApiError> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    role.map(Role::try_from)
        .transpose()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))
}

/// Not a member: 404, so that nobody learns what exists. A member without the right: 403.
pub fn check(role: Option<Role>, action: Action) -> Result<Role, ApiError> {
    let role = role.ok_or_else(ApiError::not_found)?;
    if allows(role, action) {
        Ok(role)
    } else {
        Err(ApiError::forbidden(
            "forbidden",
            format!(
                "your role in this project ({}) does not allow this",
                role.as_str()
            ),
        ))
    }
}

pub async fn authorize(
    db: impl PgExecutor<'_>,
    principal: &Principal,
    project_id: Uuid,
    action: Action,
) -> Result<Role, ApiError> {
    check(role_in(db, principal.id(), project_id).await?, action)
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
