//! Workflow state endpoints (API.md §17): list (any member), create, change and delete (admin
//! or owner). Writes hold the project's row lock, so a project's states change one request at a
//! time.

use axum::extract::State as Part;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::store::{self, Hold, NewState, StateChanges};
use super::{Color, Placement, State, StateList, StateName};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{non_null, Json, JsonPatch, Patch, Path, Query, ReadOnlyFields};
use crate::projects::access::Action;
use crate::projects::guard;
use crate::tasks::domain::Status;

type P = crate::error::Problem;

fn placement(after_id: Patch<Uuid>, absent: Option<Placement>) -> Option<Placement> {
    match after_id {
        Patch::Absent => absent,
        Patch::Null => Some(Placement::First),
        Patch::Value(id) => Some(Placement::After(id)),
    }
}

/// The states of a project, in the board's order.
#[utoipa::path(get, path = "/api/v1/projects/{id}/states", tag = "states",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = StateList)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_states(
    Part(db): Part<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
) -> Result<axum::Json<StateList>, ApiError> {
    guard::authorize(&db.reads(), &principal, project_id, Action::Read).await?;
    let items = store::list(&db, project_id).await?;
    Ok(axum::Json(StateList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStateRequest {
    /// 1–50 characters once trimmed, no control characters; unique in the project
    /// (case-insensitively).
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: StateName,
    /// The status of the tasks in it; fixed once created.
    pub category: Status,
    /// `#rrggbb` (absent or `null`: the category's colour).
    #[schema(value_type = Option<String>, pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<Color>,
    /// The state it goes after; `null`: first; absent: last.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub after_id: Patch<Uuid>,
}

/// Add a state to a project's workflow (admin or owner). It is not the default of its
/// category until made so.
#[utoipa::path(post, path = "/api/v1/projects/{id}/states", tag = "states",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = CreateStateRequest,
    responses((status = 201, body = State,
        links(
            ("UpdateState" = (operation_id = "update_state", parameters(("id" = "$response.body#/id")))),
            ("DeleteState" = (operation_id = "delete_state", parameters(("id" = "$response.body#/id")))),
        ))),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_state(
    Part(db): Part<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Json(body): Json<CreateStateRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let (access, _) =
        guard::authorize_locked(&tx, &principal, project_id, Action::EditProject).await?;
    let color = body
        .color
        .unwrap_or_else(|| Color::default_for(body.category));
    let state = store::insert(
        &tx,
        &access,
        NewState {
            name: &body.name,
            category: body.category,
            color: &color,
            placement: placement(body.after_id, Some(Placement::Last)).unwrap_or(Placement::Last),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(state)).into_response())
}

/// `is_default` takes only `true`: a category always has one default, so it is moved, never
/// cleared.
fn only_true() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .description(Some(
            "`true` makes this state its category's default (the previous default stops being \
             one); `false` is refused: a category always has one default",
        ))
        .build()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStateRequest {
    /// 1–50 characters once trimmed, no control characters; unique in the project.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<StateName>,
    /// `#rrggbb`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<String>, nullable = false, pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<Color>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = only_true)]
    pub is_default: Option<bool>,
    /// Reorders: the state it goes after; `null`: first.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub after_id: Patch<Uuid>,
}

impl ReadOnlyFields for UpdateStateRequest {
    // A state's category is fixed: delete it and move its tasks instead.
    const READ_ONLY: &'static [&'static str] = &["id", "project_id", "category", "position"];
}

/// Rename, recolour, reorder a state or make it its category's default (admin or owner).
#[utoipa::path(patch, path = "/api/v1/states/{id}", tag = "states",
    params(("id" = Uuid, Path)),
    request_body = UpdateStateRequest,
    responses((status = 200, body = State)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_state(
    Part(db): Part<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonPatch(body): JsonPatch<UpdateStateRequest>,
) -> Result<axum::Json<State>, ApiError> {
    let tx = db.begin().await?;
    let (state, access) =
        guard::enter_state_locked(&tx, &principal, id, Action::EditProject).await?;
    if body.is_default == Some(false) {
        return Err(ApiError::validation(vec![FieldError::new(
            "is_default",
            "invalid_value",
            "a category always has one default: make another state the default instead",
        )]));
    }
    if matches!(body.after_id, Patch::Value(after) if after == id) {
        return Err(ApiError::field(
            "after_id",
            "invalid_value",
            "must be another state",
        ));
    }
    let changes = StateChanges {
        name: body.name,
        color: body.color,
        make_default: body.is_default == Some(true),
        placement: placement(body.after_id, None),
    };
    let state = store::update(&tx, &access, &state, changes).await?;
    tx.commit().await?;
    Ok(axum::Json(state))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteStateQuery {
    /// Where the state's tasks go: another state of the project (required when it has tasks).
    #[param(value_type = Option<Uuid>)]
    pub move_to: Option<String>,
}

/// The state `move_to` names, or the field error that says why it cannot take the tasks.
async fn destination(
    tx: &crate::db::Tx,
    deleted: &State,
    move_to: Option<Uuid>,
    has_tasks: bool,
) -> Result<Option<State>, ApiError> {
    let Some(move_to) = move_to else {
        if has_tasks {
            return Err(ApiError::field(
                "move_to",
                "required",
                "the state has tasks: name the state they move to",
            ));
        }
        return Ok(None);
    };
    if move_to == deleted.id {
        return Err(ApiError::field(
            "move_to",
            "invalid_value",
            "must be another state",
        ));
    }
    match store::find_in(tx, deleted.project_id, move_to, Hold::No).await? {
        Some(state) => Ok(Some(state)),
        None => Err(ApiError::field(
            "move_to",
            "not_found",
            "no such state in this project",
        )),
    }
}

/// Delete a state (admin or owner); its tasks move to `move_to`. A category's default state
/// (and so its last one) cannot be deleted: make another state the default first.
#[utoipa::path(delete, path = "/api/v1/states/{id}", tag = "states",
    params(("id" = Uuid, Path), DeleteStateQuery),
    responses((status = 204, description = "Deleted"),
        (status = 409, body = P, content_type = "application/problem+json"),
        (status = 422, description = "`move_to` names no other state of this project, or is \
            missing while the state has tasks", body = P, content_type = "application/problem+json")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_state(
    Part(db): Part<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(query): Query<DeleteStateQuery>,
) -> Result<StatusCode, ApiError> {
    let move_to = query
        .move_to
        .as_deref()
        .map(|raw| {
            raw.parse::<Uuid>().map_err(|_| {
                ApiError::bad_request(ErrorCode::InvalidQuery, "move_to must be a state id")
            })
        })
        .transpose()?;
    let tx = db.begin().await?;
    let (state, access) =
        guard::enter_state_locked(&tx, &principal, id, Action::EditProject).await?;
    if state.is_default {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "a category's default state cannot be deleted: make another state of the \
             category the default first (a category's last state is its default)",
        ));
    }
    let has_tasks = crate::tasks::store::workflow::state_has_tasks(&tx, &state).await?;
    if let Some(to) = destination(&tx, &state, move_to, has_tasks).await? {
        crate::tasks::store::workflow::move_state_tasks(&tx, &access, &state, &to).await?;
    }
    store::delete(&tx, &access, &state).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
