//! Task endpoints: create, read, merge-patch (including moves), delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::domain::{Description, DueDate, Labels, Priority, Status, TaskTitle, LABEL_MAX};
use super::store::{self, tree, Destination, Task, TaskFields};
use crate::auth::principal::Principal;
use crate::db::{Db, Exec, Tx};
use crate::error::{ApiError, FieldError};
use crate::http::extract::{non_null, Json, JsonPatch, Patch, Path, ReadOnlyFields};
use crate::http::preconditions::{read_versioned, versioned, IfMatch, IfNoneMatch};
use crate::projects::access::{Action, ProjectAccess};
use crate::projects::guard;
use crate::states::store::Hold;

pub fn task_response(status: StatusCode, task: &Task) -> Response {
    versioned(status, task, task.version, || {
        format!("/api/v1/tasks/{}", task.id)
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// 1–200 characters once trimmed, no control characters.
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub title: TaskTitle,
    #[schema(value_type = Option<String>, max_length = 20000, pattern = r"^[^\x00]*$")]
    pub description: Option<Description>,
    pub status: Option<Status>,
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4)]
    pub priority: Option<Priority>,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<DueDate>,
    /// At most 20 distinct labels (after trimming and lower-casing) of 1–50 characters.
    #[schema(schema_with = nullable_labels_schema)]
    pub labels: Option<Labels>,
    pub assignee_id: Option<Uuid>,
    /// A state of the project (its category becomes the status; a `status` that disagrees is
    /// refused). Absent: the default state of `status`'s category.
    pub state_id: Option<Uuid>,
    /// Makes it a subtask of this task of the project (at most 5 levels deep).
    pub parent_id: Option<Uuid>,
}

/// Labels as a request gives them: each 1–50 characters once trimmed, no control characters;
/// at most 20 distinct ones once trimmed and lower-cased (not expressible in the schema).
fn labels_schema() -> utoipa::openapi::schema::Array {
    labels_array(false)
}

fn nullable_labels_schema() -> utoipa::openapi::schema::Array {
    labels_array(true)
}

fn labels_array(nullable: bool) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let types = if nullable {
        SchemaType::from_iter([Type::Array, Type::Null])
    } else {
        SchemaType::new(Type::Array)
    };
    ArrayBuilder::new()
        .schema_type(types)
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(LABEL_MAX))
                .pattern(Some(
                    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
                )),
        )
        .build()
}

/// The assignee must be a member of the task's project.
async fn check_assignee(
    db: &impl Exec,
    project_id: Uuid,
    assignee: Option<Uuid>,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    if let Some(assignee) = assignee {
        if !is_member(db, project_id, assignee).await? {
            errors.push(FieldError::new(
                "assignee_id",
                "not_a_member",
                "must be a member of the task's project",
            ));
        }
    }
    Ok(())
}

/// The status and state a write sets (API.md §17): a `state_id` of the task's project decides
/// the status (a `status` that disagrees is refused) and is held until the transaction ends,
/// so that its deletion waits; a `status` alone is left to the database (the category's
/// default state, or the task's own while the category stays). `current`: the status when
/// the request names neither.
pub async fn resolve_state(
    tx: &Tx,
    project_id: Uuid,
    status: Option<Status>,
    state_id: Option<Uuid>,
    current: Status,
    errors: &mut Vec<FieldError>,
) -> Result<(Status, Option<Uuid>), ApiError> {
    let Some(state_id) = state_id else {
        return Ok((status.unwrap_or(current), None));
    };
    match crate::states::store::find_in(tx, project_id, state_id, Hold::Share).await? {
        None => {
            errors.push(FieldError::new(
                "state_id",
                "not_found",
                "no such state in the task's project",
            ));
            Ok((status.unwrap_or(current), None))
        }
        Some(state) => {
            if status.is_some_and(|s| s != state.category) {
                errors.push(FieldError::new(
                    "status",
                    "invalid_value",
                    format!(
                        "must be the category of state_id ({}), or left out",
                        state.category.as_str()
                    ),
                ));
            }
            Ok((state.category, Some(state.id)))
        }
    }
}

async fn is_member(db: &impl Exec, project_id: Uuid, user_id: Uuid) -> Result<bool, ApiError> {
    Ok(crate::projects::store::role_of(db, project_id, user_id)
        .await?
        .is_some())
}

/// Create a task (editor or above).
#[utoipa::path(post, path = "/api/v1/projects/{id}/tasks", tag = "tasks",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = CreateTaskRequest,
    responses((status = 201, body = Task, headers(("ETag" = String), ("Location" = String)),
        links(
            ("GetTask" = (operation_id = "get_task", parameters(("id" = "$response.body#/id")))),
            ("UpdateTask" = (operation_id = "update_task", parameters(("id" = "$response.body#/id")))),
            ("DeleteTask" = (operation_id = "delete_task", parameters(("id" = "$response.body#/id")))),
            ("CreateComment" = (operation_id = "create_comment", parameters(("id" = "$response.body#/id")))),
            ("ListComments" = (operation_id = "list_comments", parameters(("id" = "$response.body#/id")))),
            ("TaskActivity" = (operation_id = "task_activity", parameters(("id" = "$response.body#/id")))),
            ("ListRelations" = (operation_id = "list_relations", parameters(("id" = "$response.body#/id")))),
            ("CreateRelation" = (operation_id = "create_relation", parameters(("id" = "$response.body#/id")))),
        ))),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_task(
    State(db): State<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Json(body): Json<CreateTaskRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let access = guard::authorize(&tx, &principal, project_id, Action::EditTasks).await?;
    if body.parent_id.is_some() {
        tree::lock(&tx, &[project_id]).await?;
    }
    let mut errors = Vec::new();
    check_assignee(&tx, project_id, body.assignee_id, &mut errors).await?;
    let (status, state_id) = resolve_state(
        &tx,
        project_id,
        body.status,
        body.state_id,
        Status::Todo,
        &mut errors,
    )
    .await?;
    if let Some(parent) = body.parent_id {
        errors.extend(tree::check_parent(&tx, project_id, None, parent).await?);
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let fields = TaskFields {
        title: body.title.as_str().to_owned(),
        description: body
            .description
            .as_ref()
            .map_or("", Description::as_str)
            .to_owned(),
        status,
        state_id,
        priority: body.priority.map_or(0, Priority::get),
        due_date: body.due_date.map(|d| d.0),
        labels: body
            .labels
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_default(),
        assignee_id: body.assignee_id,
        parent_id: body.parent_id,
    };
    let task = store::insert(&tx, &access, &fields).await?;
    tx.commit().await?;
    Ok(task_response(StatusCode::CREATED, &task))
}

/// One task.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path), ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, body = Task, headers(("ETag" = String))),
        (status = 304, description = "Not modified")),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_task(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let (task, _) = guard::enter_task(&db.reads(), &principal, id, Action::Read).await?;
    Ok(read_versioned(&if_none_match, &task, task.version))
}

/// A task patch: JSON merge-patch semantics (absent = unchanged, `null` = cleared where a
/// field may be empty). The handler parses exactly this type, so the document shows what is
/// accepted.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskRequest {
    /// 1–200 characters once trimmed, no control characters.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(
        value_type = Option<String>,
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: Option<TaskTitle>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 20000, pattern = r"^[^\x00]*$")]
    pub description: Option<Description>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub status: Option<Status>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<i64>, nullable = false, minimum = 0, maximum = 4)]
    pub priority: Option<Priority>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, nullable)]
    pub due_date: Patch<DueDate>,
    /// At most 20 distinct labels (after trimming and lower-casing) of 1–50 characters.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = labels_schema)]
    pub labels: Option<Labels>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assignee_id: Patch<Uuid>,
    /// Moves the task (editor in both projects); it gets a new number, and its subtasks go
    /// with it.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub project_id: Option<Uuid>,
    /// A state of the task's project (of the target project, with `project_id`); its category
    /// becomes the status.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub state_id: Option<Uuid>,
    /// Makes it a subtask of this task of the same project; `null`: a top-level task.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub parent_id: Patch<Uuid>,
}

impl ReadOnlyFields for UpdateTaskRequest {
    const READ_ONLY: &'static [&'static str] = &[
        "id",
        "number",
        "created_by",
        "completed_at",
        "source",
        "position",
        "comment_count",
        "subtasks",
        "blocked",
        "attachment_count",
        "version",
        "created_at",
        "updated_at",
    ];
}

/// Change a task (editor or above). JSON merge-patch semantics; `project_id` moves it.
#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = UpdateTaskRequest,
    responses((status = 200, body = Task, headers(("ETag" = String)))),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_task(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    JsonPatch(patch): JsonPatch<UpdateTaskRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let before = lock_trees_first(&tx, &principal, id, &patch).await?;
    let (task, access) = guard::enter_task_locked(&tx, &principal, id, Action::EditTasks).await?;
    if before.is_some_and(|project| project != task.project_id) {
        return Err(moved_meanwhile());
    }
    if_match.check(task.version)?;

    let mut errors = Vec::new();
    let mut target: Option<ProjectAccess> = None;
    if let Some(to) = patch.project_id.filter(|p| *p != task.project_id) {
        match guard::authorize(&tx, &principal, to, Action::EditTasks).await {
            Ok(entered) => target = Some(entered),
            // Not a member of the target (or no such project): a field error, not a 404.
            Err(error) if error.status == StatusCode::NOT_FOUND => errors.push(FieldError::new(
                "project_id",
                "not_found",
                "no such project among yours",
            )),
            Err(error) => return Err(error),
        }
    }
    let project_id = target.as_ref().map_or(task.project_id, |t| t.project_id());
    let assignee_id = match patch.assignee_id {
        Patch::Absent => match task.assignee_id {
            // A moved task keeps its assignee only if they are in the new project too.
            Some(a) if target.is_some() && !is_member(&tx, project_id, a).await? => None,
            other => other,
        },
        explicit => {
            let explicit = explicit.apply(None);
            check_assignee(&tx, project_id, explicit, &mut errors).await?;
            explicit
        }
    };
    let (status, state_id) = resolve_state(
        &tx,
        project_id,
        patch.status,
        patch.state_id,
        task.status,
        &mut errors,
    )
    .await?;
    let parent_id = match patch.parent_id {
        // A moved task leaves its parent behind.
        Patch::Absent if target.is_some() => None,
        Patch::Absent => task.parent_id,
        Patch::Null => None,
        Patch::Value(parent) => {
            errors.extend(tree::check_parent(&tx, project_id, Some(task.id), parent).await?);
            Some(parent)
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let fields = TaskFields {
        title: patch
            .title
            .map(|t| t.as_str().to_owned())
            .unwrap_or_else(|| task.title.clone()),
        description: patch
            .description
            .map(|d| d.as_str().to_owned())
            .unwrap_or_else(|| task.description.clone()),
        status,
        state_id,
        priority: patch.priority.map(Priority::get).unwrap_or(task.priority),
        due_date: patch.due_date.map_value(|d| d.0).apply(task.due_date),
        labels: patch
            .labels
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_else(|| task.labels.clone()),
        assignee_id,
        parent_id,
    };
    let destination = match &target {
        Some(target) => Destination::MoveTo(target),
        None => Destination::Stay {
            number: task.number,
        },
    };
    let updated = store::update(&tx, &access, &task, destination, &fields).await?;
    tx.commit().await?;
    Ok(task_response(StatusCode::OK, &updated))
}

/// A patch that changes the task's parent or project changes the trees of its project (and of
/// the target): their locks come before any row's (`tree`), so the task is entered first
/// without one. Returns the project it was in then, to compare with the locked task's.
async fn lock_trees_first(
    tx: &Tx,
    principal: &Principal,
    id: Uuid,
    patch: &UpdateTaskRequest,
) -> Result<Option<Uuid>, ApiError> {
    if matches!(patch.parent_id, Patch::Absent) && patch.project_id.is_none() {
        return Ok(None);
    }
    let (peek, _) = guard::enter_task(tx, principal, id, Action::EditTasks).await?;
    let projects: Vec<Uuid> = [Some(peek.project_id), patch.project_id]
        .into_iter()
        .flatten()
        .collect();
    tree::lock(tx, &projects).await?;
    Ok(Some(peek.project_id))
}

fn moved_meanwhile() -> ApiError {
    ApiError::conflict(
        crate::error::ErrorCode::Conflict,
        "the task moved to another project meanwhile",
    )
}

/// Delete a task and its subtasks (editor or above).
#[utoipa::path(delete, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_task(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    // Its subtasks go with it: the project's tree lock first, then the rows, deepest first.
    let (peek, _) = guard::enter_task(&tx, &principal, id, Action::EditTasks).await?;
    tree::lock(&tx, &[peek.project_id]).await?;
    let subtree = tree::lock_subtree(&tx, id).await?;
    let (task, access) = guard::enter_task_locked(&tx, &principal, id, Action::EditTasks).await?;
    if task.project_id != peek.project_id {
        return Err(moved_meanwhile());
    }
    if_match.check(task.version)?;
    store::delete(&tx, &access, &subtree).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
