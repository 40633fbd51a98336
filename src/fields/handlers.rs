//! Custom field endpoints (API.md §18): list (any member), create, change and delete (admin or
//! owner). Writes hold the project's row lock, so a project's fields change one request at a
//! time; what a change does to the tasks' values (options removed, a field deleted) is done by
//! the tasks store in the same transaction.

use axum::extract::State as Part;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::store::{self, FieldChanges, NewField};
use super::{parse_options, Field, FieldKind, FieldList, FieldName, OptionInput};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{non_null, Json, JsonPatch, Patch, Path, Query, ReadOnlyFields};
use crate::projects::access::Action;
use crate::projects::guard;
use crate::states::Placement;
use crate::tasks::store::field_values;

type P = crate::error::Problem;

fn placement(after_id: Patch<Uuid>, absent: Option<Placement>) -> Option<Placement> {
    match after_id {
        Patch::Absent => absent,
        Patch::Null => Some(Placement::First),
        Patch::Value(id) => Some(Placement::After(id)),
    }
}

/// The custom fields of a project, in order.
#[utoipa::path(get, path = "/api/v1/projects/{id}/fields", tag = "fields",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = FieldList)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_fields(
    Part(db): Part<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<axum::Json<FieldList>, ApiError> {
    guard::authorize(&db.reads(), &principal, project_id, Action::Read).await?;
    let items = store::list(&db, project_id).await?;
    Ok(axum::Json(FieldList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFieldRequest {
    /// 1–50 characters once trimmed, no control characters; unique in the project
    /// (case-insensitively).
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: FieldName,
    /// Fixed once created.
    pub kind: FieldKind,
    /// For `select` and `multi_select` only: up to 100 options, without ids.
    pub options: Option<Vec<OptionInput>>,
    /// New tasks must have a value.
    #[serde(default)]
    pub required: bool,
    /// The field it goes after; `null`: first; absent: last.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub after_id: Patch<Uuid>,
}

fn options_of(
    kind: FieldKind,
    raw: Option<&[OptionInput]>,
    existing: &[super::FieldOption],
) -> Result<Option<Vec<super::FieldOption>>, ApiError> {
    match raw {
        None => Ok(None),
        Some(_) if !kind.has_options() => Err(ApiError::field(
            "options",
            "not_allowed",
            "only select and multi_select fields have options",
        )),
        Some(raw) => parse_options(raw, existing).map(Some).map_err(|errors| {
            let (listed, total) = errors.into_parts();
            ApiError::validation_of(listed, total)
        }),
    }
}

/// Add a custom field to a project (admin or owner).
#[utoipa::path(post, path = "/api/v1/projects/{id}/fields", tag = "fields",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = CreateFieldRequest,
    responses((status = 201, body = Field,
        links(
            ("UpdateField" = (operation_id = "update_field", parameters(("id" = "$response.body#/id")))),
            ("DeleteField" = (operation_id = "delete_field", parameters(("id" = "$response.body#/id")))),
        ))),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_field(
    Part(db): Part<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Json(body): Json<CreateFieldRequest>,
) -> Result<Response, ApiError> {
    let options = options_of(body.kind, body.options.as_deref(), &[])?.unwrap_or_default();
    let tx = db.begin().await?;
    let (access, _) =
        guard::authorize_locked(&tx, &principal, project_id, Action::EditProject).await?;
    let field = store::insert(
        &tx,
        &access,
        NewField {
            name: &body.name,
            kind: body.kind,
            options: &options,
            required: body.required,
            placement: placement(body.after_id, Some(Placement::Last)).unwrap_or(Placement::Last),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(field)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFieldRequest {
    /// 1–50 characters once trimmed, no control characters; unique in the project.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<FieldName>,
    /// New tasks must have a value (old tasks without one stay as they are).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub required: Option<bool>,
    /// The whole new list: existing options with their `id` (renamed, recoloured, reordered),
    /// new ones without. Leaving out an option a task holds is 409 unless `?force=true`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub options: Option<Vec<OptionInput>>,
    /// Reorders: the field it goes after; `null`: first.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub after_id: Patch<Uuid>,
}

impl ReadOnlyFields for UpdateFieldRequest {
    // A field's kind is fixed: its values were validated for it.
    const READ_ONLY: &'static [&'static str] = &["id", "project_id", "kind", "position"];
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpdateFieldQuery {
    /// `true`: options left out are removed even if tasks hold them (their values are cleared).
    #[param(value_type = Option<bool>)]
    pub force: Option<String>,
}

fn force(query: &UpdateFieldQuery) -> Result<bool, ApiError> {
    match query.force.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            "force must be true or false",
        )),
    }
}

/// Rename, reorder a field, make it required or not, or change its options (admin or owner).
#[utoipa::path(patch, path = "/api/v1/fields/{id}", tag = "fields",
    params(("id" = Uuid, Path), UpdateFieldQuery),
    request_body = UpdateFieldRequest,
    responses((status = 200, body = Field),
        (status = 409, description = "Another field has the name, or an option left out is \
            in use (without `force=true`)", body = P, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_field(
    Part(db): Part<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(query): Query<UpdateFieldQuery>,
    JsonPatch(body): JsonPatch<UpdateFieldRequest>,
) -> Result<axum::Json<Field>, ApiError> {
    let force = force(&query)?;
    let tx = db.begin().await?;
    let (field, access) =
        guard::enter_field_locked(&tx, &principal, id, Action::EditProject).await?;
    if matches!(body.after_id, Patch::Value(after) if after == id) {
        return Err(ApiError::field(
            "after_id",
            "invalid_value",
            "must be another field",
        ));
    }
    let options = options_of(field.kind, body.options.as_deref(), field.options())?;
    if let Some(options) = &options {
        let removed: Vec<Uuid> = field
            .options()
            .iter()
            .filter(|old| !options.iter().any(|new| new.id == old.id))
            .map(|old| old.id)
            .collect();
        if !removed.is_empty() {
            let project = field.project_id;
            if !force && field_values::options_in_use(&tx, project, id, &removed).await? {
                return Err(ApiError::conflict(
                    ErrorCode::Conflict,
                    "tasks hold an option this change leaves out: keep it, or send \
                     force=true to clear those values",
                ));
            }
            field_values::clear(&tx, project, id, Some(&removed)).await?;
        }
    }
    let changes = FieldChanges {
        name: body.name,
        required: body.required,
        options,
        placement: placement(body.after_id, None),
    };
    let field = store::update(&tx, &access, &field, changes).await?;
    tx.commit().await?;
    Ok(axum::Json(field))
}

/// Delete a field (admin or owner); its values are deleted with it.
#[utoipa::path(delete, path = "/api/v1/fields/{id}", tag = "fields",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_field(
    Part(db): Part<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    let (field, access) =
        guard::enter_field_locked(&tx, &principal, id, Action::EditProject).await?;
    field_values::clear(&tx, field.project_id, field.id, None).await?;
    store::delete(&tx, &access, &field).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
