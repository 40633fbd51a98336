//! Task endpoints: create, read, merge-patch (including moves), delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::domain::{Description, DueDate, Labels, Priority, Status, TaskTitle, LABEL_MAX};
use super::store::{self, Destination, Task, TaskFields};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::db::Exec;
use crate::error::{ApiError, FieldError};
use crate::http::extract::{non_null, Json, JsonPatch, Patch, Path, ReadOnlyFields};
use crate::http::preconditions::{read_versioned, versioned, IfMatch, IfNoneMatch};
use crate::projects::access::{Action, ProjectAccess};
use crate::projects::guard;

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
        ))),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_task(
    State(db): State<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Json(body): Json<CreateTaskRequest>,
) -> Result<Response, ApiError> {
    let access = guard::authorize(&db, &principal, project_id, Action::EditTasks).await?;
    let mut errors = Vec::new();
    check_assignee(&db, project_id, body.assignee_id, &mut errors).await?;
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
        status: body.status.unwrap_or(Status::Todo),
        priority: body.priority.map_or(0, Priority::get),
        due_date: body.due_date.map(|d| d.0),
        labels: body
            .labels
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_default(),
        assignee_id: body.assignee_id,
    };
    let tx = db.begin().await?;
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
    /// Moves the task (editor in both projects); it gets a new number.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub project_id: Option<Uuid>,
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
    let (task, access) = guard::enter_task_locked(&tx, &principal, id, Action::EditTasks).await?;
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
        status: patch.status.unwrap_or(task.status),
        priority: patch.priority.map(Priority::get).unwrap_or(task.priority),
        due_date: patch.due_date.map_value(|d| d.0).apply(task.due_date),
        labels: patch
            .labels
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_else(|| task.labels.clone()),
        assignee_id,
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

/// Delete a task (editor or above).
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
    let (task, access) = guard::enter_task_locked(&tx, &principal, id, Action::EditTasks).await?;
    if_match.check(task.version)?;
    store::delete(&tx, &access, &task).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
