//! Saved view endpoints (API.md §18): a project's views (its shared ones and the caller's
//! personal ones there), the caller's personal views, and one view's change and deletion.

use axum::extract::State as Part;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::store::{self, NewView, ViewChanges};
use super::{View, ViewKind, ViewList, ViewQuery, QUERY_PARAMS_MAX, QUERY_VALUE_MAX};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, FieldError};
use crate::fields::FieldName;
use crate::http::extract::{non_null, Integer, Json, JsonPatch, Path, ReadOnlyFields};
use crate::projects::access::Action;
use crate::projects::guard;

/// A view's name and query, checked: every problem named.
async fn checked(
    db: &Db,
    principal: &Principal,
    project: Option<Uuid>,
    query: Option<&ViewQuery>,
) -> Result<(), ApiError> {
    let Some(query) = query else {
        return Ok(());
    };
    if query.len() > QUERY_PARAMS_MAX {
        return Err(ApiError::field(
            "query",
            "too_many",
            format!("must have at most {QUERY_PARAMS_MAX} parameters"),
        ));
    }
    let mut errors: Vec<FieldError> = query
        .iter()
        .filter(|(_, value)| value.chars().count() > QUERY_VALUE_MAX)
        .map(|(key, _)| {
            FieldError::new(
                format!("query.{key}"),
                "too_long",
                format!("must be at most {QUERY_VALUE_MAX} characters"),
            )
        })
        .collect();
    if errors.is_empty() {
        errors = crate::tasks::list::check_view_query(db, principal.id(), project, query).await?;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateViewRequest {
    /// 1–50 characters once trimmed, no control characters.
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: FieldName,
    /// `list` (the default) or `board`.
    pub kind: Option<ViewKind>,
    /// The list's query parameters as strings, as a list URL carries them; checked like a list
    /// request (422 naming `query.<parameter>`).
    #[serde(default)]
    #[schema(schema_with = super::query_schema)]
    pub query: ViewQuery,
    /// Visible to every member of the project (admins and owners make them). Only for a
    /// project's views.
    #[serde(default)]
    pub shared: bool,
}

fn created(view: View) -> Response {
    (StatusCode::CREATED, axum::Json(view)).into_response()
}

/// Save a view of a project's list or board: personal, or shared (admin or owner).
#[utoipa::path(post, path = "/api/v1/projects/{id}/views", tag = "views",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = CreateViewRequest,
    responses((status = 201, body = View,
        links(
            ("UpdateView" = (operation_id = "update_view", parameters(("id" = "$response.body#/id")))),
            ("DeleteView" = (operation_id = "delete_view", parameters(("id" = "$response.body#/id")))),
        ))),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_project_view(
    Part(db): Part<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Json(body): Json<CreateViewRequest>,
) -> Result<Response, ApiError> {
    let action = if body.shared {
        Action::EditProject
    } else {
        Action::Read
    };
    guard::authorize(&db.reads(), &principal, project_id, action).await?;
    checked(&db, &principal, Some(project_id), Some(&body.query)).await?;
    let tx = db.begin().await?;
    let access = guard::authorize(&tx, &principal, project_id, action).await?;
    let view = store::insert(
        &tx,
        NewView {
            project_id: Some(access.project_id()),
            owner_id: principal.id(),
            name: body.name.as_str(),
            shared: body.shared,
            kind: body.kind.unwrap_or(ViewKind::List),
            query: &body.query,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(created(view))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePersonalViewRequest {
    /// 1–50 characters once trimmed, no control characters.
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: FieldName,
    /// `list` (the default) or `board`.
    pub kind: Option<ViewKind>,
    /// The query parameters of `GET /api/v1/tasks`, as strings.
    #[serde(default)]
    #[schema(schema_with = super::query_schema)]
    pub query: ViewQuery,
}

/// Save a personal view over every project (`GET /api/v1/tasks`).
#[utoipa::path(post, path = "/api/v1/me/views", tag = "views",
    params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = CreatePersonalViewRequest,
    responses((status = 201, body = View)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_personal_view(
    Part(db): Part<Db>,
    principal: Principal,
    Json(body): Json<CreatePersonalViewRequest>,
) -> Result<Response, ApiError> {
    checked(&db, &principal, None, Some(&body.query)).await?;
    let tx = db.begin().await?;
    let view = store::insert(
        &tx,
        NewView {
            project_id: None,
            owner_id: principal.id(),
            name: body.name.as_str(),
            shared: false,
            kind: body.kind.unwrap_or(ViewKind::List),
            query: &body.query,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(created(view))
}

/// A project's shared views and the caller's personal ones there, in order.
#[utoipa::path(get, path = "/api/v1/projects/{id}/views", tag = "views",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ViewList)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_project_views(
    Part(db): Part<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<axum::Json<ViewList>, ApiError> {
    guard::authorize(&db.reads(), &principal, project_id, Action::Read).await?;
    let items = store::list_in_project(&db, project_id, principal.id()).await?;
    Ok(axum::Json(ViewList { items }))
}

/// Every personal view of the caller (over every project, and in each project of theirs).
#[utoipa::path(get, path = "/api/v1/me/views", tag = "views",
    responses((status = 200, body = ViewList)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_personal_views(
    Part(db): Part<Db>,
    principal: Principal,
) -> Result<axum::Json<ViewList>, ApiError> {
    let items = store::list_personal(&db, principal.id()).await?;
    Ok(axum::Json(ViewList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateViewRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<FieldName>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub kind: Option<ViewKind>,
    /// The whole new query.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = super::query_schema)]
    pub query: Option<ViewQuery>,
    /// 0 to 1,000,000.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<i64>, nullable = false, minimum = 0, maximum = 1000000)]
    pub position: Option<Integer>,
}

impl ReadOnlyFields for UpdateViewRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "project_id", "owner_id", "shared"];
}

/// Rename, reorder or change a view's query (its owner; a shared view: a project admin).
#[utoipa::path(patch, path = "/api/v1/views/{id}", tag = "views",
    params(("id" = Uuid, Path)),
    request_body = UpdateViewRequest,
    responses((status = 200, body = View)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_view(
    Part(db): Part<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonPatch(body): JsonPatch<UpdateViewRequest>,
) -> Result<axum::Json<View>, ApiError> {
    let position = match body.position {
        Some(Integer(p)) if !(0..=1_000_000).contains(&p) => {
            return Err(ApiError::field(
                "position",
                "out_of_range",
                "must be from 0 to 1000000",
            ))
        }
        other => other.map(|Integer(p)| p as i32),
    };
    let view = guard::enter_view(&db.reads(), &principal, id, false).await?;
    checked(&db, &principal, view.project_id, body.query.as_ref()).await?;
    let tx = db.begin().await?;
    guard::enter_view(&tx, &principal, id, true).await?;
    let changes = ViewChanges {
        name: body.name.map(|n| n.as_str().to_owned()),
        kind: body.kind,
        query: body.query,
        position,
    };
    let view = store::update(&tx, id, changes).await?;
    tx.commit().await?;
    Ok(axum::Json(view))
}

/// Delete a view (its owner; a shared view: a project admin).
#[utoipa::path(delete, path = "/api/v1/views/{id}", tag = "views",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_view(
    Part(db): Part<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    guard::enter_view(&tx, &principal, id, true).await?;
    store::delete(&tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
