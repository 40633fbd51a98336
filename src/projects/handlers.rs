//! Project endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::access::Action;
use super::guard;
use super::store::{self, Project};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{non_null, JsonPatch, Path, Query, ReadOnlyFields};
use crate::http::preconditions::{read_versioned, versioned, IfMatch, IfNoneMatch};
use crate::pagination::CursorKey;
use crate::pagination::{Page, PageQuery};

pub const NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 2000;

pub(crate) fn check_name(name: &str, errors: &mut Vec<FieldError>) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        errors.push(FieldError::new(
            "name",
            if name.is_empty() {
                "required"
            } else {
                "too_long"
            },
            format!("must be 1 to {NAME_MAX} characters"),
        ));
    } else if name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "invalid",
            "must not contain control characters",
        ));
    }
    name.to_owned()
}

pub(crate) fn check_description(description: &str, errors: &mut Vec<FieldError>) {
    if description.chars().count() > DESCRIPTION_MAX {
        errors.push(FieldError::new(
            "description",
            "too_long",
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
}

/// The transaction that creates a project for `user_id` (from scratch, a template or an
/// import): it holds the user's project-creation lock, so the quota stays true until it commits,
/// and refuses a user who already owns their quota of projects.
pub(crate) async fn begin_creation(db: &Db, user_id: Uuid) -> Result<crate::db::Tx, ApiError> {
    let tx = db.begin().await?;
    if store::owned_count_locked(&tx, user_id).await? >= crate::quotas::PROJECTS_PER_USER {
        return Err(crate::quotas::exceeded(
            "projects per user",
            crate::quotas::PROJECTS_PER_USER,
        ));
    }
    Ok(tx)
}

pub fn project_response(status: StatusCode, project: &Project) -> Response {
    versioned(status, project, project.version, || {
        format!("/api/v1/projects/{}", project.id)
    })
}

/// `GET /api/v1/projects`' own filter.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectListQuery {
    /// `true`: only the projects marked as templates; `false`: only the others.
    #[param(value_type = Option<bool>)]
    pub is_template: Option<String>,
}

impl ProjectListQuery {
    fn is_template(&self) -> Result<Option<bool>, ApiError> {
        match self.is_template.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "is_template must be true or false",
            )),
        }
    }
}

/// The projects the caller is a member of, in order of creation (`is_template=true`: the
/// templates among them).
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects",
    params(PageQuery, ProjectListQuery),
    responses((status = 200, body = Page<Project>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_projects(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(filter): Query<ProjectListQuery>,
) -> Result<axum::Json<Page<Project>>, ApiError> {
    let is_template = filter.is_template()?;
    let limit = page.limit()?;
    let scope = crate::pagination::CursorScope::Projects {
        user: principal.id(),
    };
    let after: Option<(DateTime<Utc>, Uuid)> = page.position(&cursor_key, &scope)?;
    let rows = store::list_for_member(&db, principal.id(), is_template, after, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(&scope, &(last.created_at, last.id))
    })))
}

/// One project.
#[utoipa::path(get, path = "/api/v1/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path), ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, body = Project, headers(("ETag" = String))),
        (status = 304, description = "Not modified")),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_project(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let project = store::find(&db, id, principal.id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(read_versioned(&if_none_match, &project, project.version))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    /// 1–100 characters once trimmed, no control characters.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        nullable = false
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(max_length = 2000, pattern = r"^[^\x00]*$", nullable = false)]
    pub description: Option<String>,
    /// Listed under "Templates" when a project is created (API.md §18).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub is_template: Option<bool>,
}

impl ReadOnlyFields for UpdateProjectRequest {
    const READ_ONLY: &'static [&'static str] = &[
        "id",
        "is_inbox",
        "my_role",
        "version",
        "created_at",
        "updated_at",
    ];
}

/// Change a project's name, description or whether it is a template (admin or owner).
#[utoipa::path(patch, path = "/api/v1/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = UpdateProjectRequest,
    responses((status = 200, body = Project, headers(("ETag" = String)))),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_project(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    JsonPatch(body): JsonPatch<UpdateProjectRequest>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let name = body.name.as_deref().map(|n| check_name(n, &mut errors));
    if let Some(description) = &body.description {
        check_description(description, &mut errors);
    }
    let tx = db.begin().await?;
    // Locked before the role is read: a concurrent transfer or demotion is then seen.
    let (access, locked) =
        guard::authorize_locked(&tx, &principal, id, Action::EditProject).await?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if_match.check(locked.version)?;
    let changes = store::ProjectChanges {
        name: name.as_deref(),
        description: body.description.as_deref(),
        is_template: body.is_template,
    };
    store::update(&tx, &access, changes).await?;
    let project = store::find(&tx, id, principal.id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(project_response(StatusCode::OK, &project))
}

/// Delete a project and its tasks (owner only; never an Inbox).
#[utoipa::path(delete, path = "/api/v1/projects/{id}", tag = "projects",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_project(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    // Locked before the role is read: an owner who has just handed the project over is an
    // admin by now and may not delete it.
    let (access, locked) =
        guard::authorize_locked(&tx, &principal, id, Action::DeleteProject).await?;
    if locked.is_inbox {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "an Inbox cannot be deleted",
        ));
    }
    if_match.check(locked.version)?;
    // Relations to other projects' tasks go with the project's tasks: those tasks' histories
    // say so, with their `blocked` as it is after.
    let crossing = crate::tasks::store::relations::crossing_project(&tx, id).await?;
    store::delete(&tx, &access).await?;
    crate::tasks::store::relations::record_removed(&tx, Some(principal.id()), &crossing).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
