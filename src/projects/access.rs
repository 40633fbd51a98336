//! Authorization, the proof: roles, actions, API.md §3's table, and `ProjectAccess` — the proof
//! that the store functions which change a project's contents require. Only the guard
//! (`super::guard`, above the stores) makes one, after reading the caller's role. Nothing else
//! compares roles.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    /// Register, change and remove webhooks, read their deliveries.
    ManageWebhooks,
    /// Delete other people's comments.
    ModerateComments,
    /// Delete other people's attachments.
    ModerateAttachments,
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
            | Action::ManageWebhooks
            | Action::ModerateComments
            | Action::ModerateAttachments => Role::Admin,
            Action::ManageAdmins | Action::DeleteProject | Action::TransferOwnership => Role::Owner,
        }
    }
}

impl Action {
    /// What giving a member role `new` needs, `old` being their role now (`None`: not a member
    /// yet): anything touching admin or owner is the owner's.
    pub fn to_set_role(old: Option<Role>, new: Role) -> Action {
        if new == Role::Owner {
            Action::TransferOwnership
        } else if new == Role::Admin || matches!(old, Some(Role::Admin | Role::Owner)) {
            Action::ManageAdmins
        } else {
            Action::ManageMembers
        }
    }

    /// What removing another member whose role is `target` needs (anyone may leave).
    pub fn to_remove(target: Role) -> Action {
        if target >= Role::Admin {
            Action::ManageAdmins
        } else {
            Action::ManageMembers
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

/// Proof that a user may do an action on a project, with their role there. Only the guard makes
/// one.
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

    /// The proof, when `role` (the user's role read from the database, `None` for a
    /// non-member) allows `action`: 404 for a non-member, 403 for a role that is too weak.
    pub(super) fn checked(
        user_id: Uuid,
        project_id: Uuid,
        role: Option<Role>,
        action: Action,
    ) -> Result<Self, ApiError> {
        let role = check(role, action)?;
        Ok(Self {
            project_id,
            user_id,
            role,
        })
    }
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
            (ModerateAttachments, [false, false, true, true]),
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
        assert_eq!(Action::to_set_role(None, Role::Owner), TransferOwnership);
        assert_eq!(Action::to_set_role(None, Role::Admin), ManageAdmins);
        assert_eq!(
            Action::to_set_role(Some(Role::Admin), Role::Editor),
            ManageAdmins
        );
        assert_eq!(
            Action::to_set_role(Some(Role::Viewer), Role::Editor),
            ManageMembers
        );
        assert_eq!(Action::to_remove(Role::Admin), ManageAdmins);
        assert_eq!(Action::to_remove(Role::Editor), ManageMembers);
        assert!(check(Some(Role::Viewer), EditTasks).unwrap_err().status == 403);
    }
}
