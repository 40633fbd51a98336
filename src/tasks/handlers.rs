//! Task endpoints: create, read, merge-patch (including moves), delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use chrono::{NaiveDate, NaiveTime};

use super::domain::{
    Description, DueDate, DueTime, Labels, Priority, Recurrence, StartDate, Status, TaskTitle,
    LABEL_MAX,
};
use super::recurrence::Rule;
use super::reminders::{Reminders, Schedule};
use super::store::{self, tree, Destination, Task, TaskFields};
use crate::auth::principal::Principal;
use crate::db::{Db, Exec, Tx};
use crate::error::{ApiError, FieldError};
use crate::fields::values::{self, Carry, FieldValue, Values};
use crate::fields::Field;
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
    /// Not after `due_date`.
    #[schema(value_type = Option<String>, format = Date)]
    pub start_date: Option<StartDate>,
    /// `HH:MM` in the user's time zone; only with a `due_date`.
    #[schema(value_type = Option<String>, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub due_time: Option<DueTime>,
    /// Only with a `due_date`; the rule must have a date after it.
    pub recurrence: Option<Recurrence>,
    /// At most 5, each `{"before_minutes"}` (needs a `due_date`) or `{"at"}`, no two the same.
    #[schema(value_type = Option<Vec<super::reminders::ReminderInput>>, max_items = 5)]
    pub reminders: Option<Reminders>,
    /// At most 20 distinct labels (after trimming and lower-casing) of 1–50 characters.
    #[schema(schema_with = nullable_labels_schema)]
    pub labels: Option<Labels>,
    pub assignee_id: Option<Uuid>,
    /// A state of the project (its category becomes the status; a `status` that disagrees is
    /// refused). Absent: the default state of `status`'s category.
    pub state_id: Option<Uuid>,
    /// Makes it a subtask of this task of the project (at most 5 levels deep).
    pub parent_id: Option<Uuid>,
    /// Custom field values by field id (API.md §18); every `required` field needs one.
    #[schema(value_type = Option<std::collections::HashMap<String, FieldValue>>)]
    pub fields: Option<Values>,
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

/// The rules between a task's dates (API.md §19): the start not after the due date, a due time
/// and a recurrence only with a due date, a rule with a date after the due date.
fn check_dates(
    due: Option<NaiveDate>,
    start: Option<NaiveDate>,
    due_time: Option<NaiveTime>,
    recurrence: Option<&Recurrence>,
    rule_changed: bool,
    errors: &mut Vec<FieldError>,
) {
    if let (Some(start), Some(due)) = (start, due) {
        if start > due {
            errors.push(FieldError::new(
                "start_date",
                "after_due_date",
                "must not be after due_date",
            ));
        }
    }
    if due_time.is_some() && due.is_none() {
        errors.push(FieldError::new(
            "due_time",
            "requires_due_date",
            "needs a due_date",
        ));
    }
    let Some(recurrence) = recurrence else {
        return;
    };
    let Some(due) = due else {
        errors.push(FieldError::new(
            "recurrence",
            "requires_due_date",
            "a recurring task needs a due_date",
        ));
        return;
    };
    // A rule kept as it was is not judged again (its series may have ended since).
    if !rule_changed {
        return;
    }
    let problem = match Rule::parse(&recurrence.rule) {
        Err(message) => Some(message),
        Ok(rule) => match rule.next_after(due) {
            Err(message) => Some(message),
            Ok(None) => Some("has no occurrence after the due date".to_owned()),
            Ok(Some(_)) => None,
        },
    };
    if let Some(message) = problem {
        errors.push(FieldError::new("recurrence.rule", "invalid", message));
    }
}

/// A recurrence as stored: its rule in the form `Rule` keeps (trimmed, no `RRULE:` prefix).
fn normalised(recurrence: Option<Recurrence>) -> Option<Recurrence> {
    recurrence.map(|r| Recurrence {
        rule: Rule::parse(&r.rule).map_or(r.rule, |rule| rule.as_str().to_owned()),
        from: r.from,
    })
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

/// `current` with the field values of a request applied (`patch`: `{field_id: value | null}`),
/// each valid for `fields`, each `user` value set a member of the project; every invalid one is
/// pushed to `errors`. `new_task`: required fields must have a value.
async fn field_values(
    db: &impl Exec,
    project_id: Uuid,
    fields: &[Field],
    current: &Values,
    patch: Option<&Values>,
    new_task: bool,
    errors: &mut Vec<FieldError>,
) -> Result<Values, ApiError> {
    let empty = Values::new();
    let patch = patch.unwrap_or(&empty);
    // The users the patch sets must be members, whatever else is wrong with it.
    let set: Vec<(String, Uuid)> = values::users(fields, patch);
    let users: Vec<Uuid> = set.iter().map(|(_, user)| *user).collect();
    let members = crate::projects::store::members_among(db, project_id, &users).await?;
    let strangers = set.into_iter().filter(|(_, user)| !members.contains(user));
    errors.extend(strangers.map(|(key, _)| {
        FieldError::new(
            format!("fields.{key}"),
            "not_a_member",
            "must be a member of the task's project",
        )
    }));
    let values = match values::apply(fields, current, patch) {
        Ok(values) => values,
        Err(invalid) => {
            errors.extend(invalid.into_parts().0);
            return Ok(current.clone());
        }
    };
    if new_task {
        errors.extend(values::missing_required(fields, &values));
    }
    Ok(values)
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
    let due_date = body.due_date.map(|d| d.0);
    let start_date = body.start_date.map(|d| d.0);
    let due_time = body.due_time.map(|t| t.0);
    check_dates(
        due_date,
        start_date,
        due_time,
        body.recurrence.as_ref(),
        true,
        &mut errors,
    );
    let reminders = body.reminders.unwrap_or_default();
    reminders.check_due(due_date, &mut errors);

    let definitions = crate::fields::store::list(&tx, project_id).await?;
    let values = field_values(
        &tx,
        project_id,
        &definitions,
        &Values::new(),
        body.fields.as_ref(),
        true,
        &mut errors,
    )
    .await?;
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
        due_date,
        start_date,
        due_time,
        recurrence: normalised(body.recurrence),
        labels: body
            .labels
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_default(),
        assignee_id: body.assignee_id,
        parent_id: body.parent_id,
        fields: values,
    };
    let mut task = store::insert(&tx, &access, &fields).await?;
    if !reminders.is_empty() {
        let recipient = task.assignee_id.unwrap_or(task.created_by);
        let schedule = Schedule {
            due_date: task.due_date,
            due_time: task.due_time,
            zone: store::reminders::recipient_zone(&tx, recipient).await?,
        };
        task.reminders = store::reminders::write(&tx, task.id, &reminders, &schedule).await?;
    }
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
    /// Not after `due_date`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, nullable)]
    pub start_date: Patch<StartDate>,
    /// `HH:MM` in the user's time zone; only with a `due_date` (clearing the date clears it).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", nullable)]
    pub due_time: Patch<DueTime>,
    /// Only with a `due_date`; `null` ends the series.
    #[serde(default)]
    #[schema(value_type = Option<Recurrence>, nullable)]
    pub recurrence: Patch<Recurrence>,
    /// Replaces the list (`null` or `[]` empties it); at most 5. Left out, the list stays —
    /// but for its relative reminders when the due date is cleared.
    #[serde(default)]
    #[schema(value_type = Option<Vec<super::reminders::ReminderInput>>, max_items = 5, nullable)]
    pub reminders: Patch<Reminders>,
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
    /// Custom field values by field id, a partial update: `null` clears a field, fields left
    /// out keep their values. With `project_id`, fields of the target project.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = values::patch_schema)]
    pub fields: Option<Values>,
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
        "time_spent_minutes",
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
    let due_date = patch.due_date.map_value(|d| d.0).apply(task.due_date);
    let start_date = patch.start_date.map_value(|d| d.0).apply(task.start_date);
    let due_time = match patch.due_time {
        // A time of a date that is gone goes with it.
        Patch::Absent if due_date.is_none() => None,
        explicit => explicit.map_value(|t| t.0).apply(task.due_time),
    };
    let rule_changed = !matches!(patch.recurrence, Patch::Absent) || due_date != task.due_date;
    let recurrence = match patch.recurrence {
        Patch::Absent => task.recurrence.clone(),
        explicit => normalised(explicit.apply(None)),
    };
    check_dates(
        due_date,
        start_date,
        due_time,
        recurrence.as_ref(),
        rule_changed,
        &mut errors,
    );
    let reminders_given = !matches!(patch.reminders, Patch::Absent);
    let reminders = match patch.reminders {
        // Relative reminders of a date that is gone go with it.
        Patch::Absent if due_date.is_none() => Reminders::of(&task.reminders).absolute_only(),
        Patch::Absent => Reminders::of(&task.reminders),
        Patch::Null => Reminders::default(),
        Patch::Value(reminders) => reminders,
    };
    if reminders_given {
        reminders.check_due(due_date, &mut errors);
    }

    let (values, carry) = patched_values(
        &tx,
        &task,
        target.as_ref(),
        patch.fields.as_ref(),
        &mut errors,
    )
    .await?;
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
        due_date,
        start_date,
        due_time,
        recurrence,
        labels: patch
            .labels
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_else(|| task.labels.clone()),
        assignee_id,
        parent_id,
        fields: values,
    };
    let destination = match (&target, &carry) {
        (Some(target), Some(carry)) => Destination::MoveTo(target, carry),
        _ => Destination::Stay {
            number: task.number,
        },
    };
    // Before the task's own write, whose RETURNING then shows them.
    let moved = fields.due_date != task.due_date
        || fields.due_time != task.due_time
        || fields.assignee_id != task.assignee_id;
    if reminders_given || (moved && !task.reminders.is_empty()) {
        let schedule = Schedule {
            due_date: fields.due_date,
            due_time: fields.due_time,
            zone: store::reminders::recipient_zone(
                &tx,
                fields.assignee_id.unwrap_or(task.created_by),
            )
            .await?,
        };
        store::reminders::write(&tx, task.id, &reminders, &schedule).await?;
    }
    let updated = store::update(&tx, &access, &task, destination, &fields).await?;
    tx.commit().await?;
    Ok(task_response(StatusCode::OK, &updated))
}

/// The field values a patch leaves the task with, and for a move, how its values go to the
/// target's fields (those kept there, then the patch's values, which are the target's).
async fn patched_values(
    tx: &Tx,
    task: &Task,
    target: Option<&ProjectAccess>,
    patch: Option<&Values>,
    errors: &mut Vec<FieldError>,
) -> Result<(Values, Option<Carry>), ApiError> {
    let Some(target) = target else {
        if patch.is_none() {
            return Ok((task.fields.clone(), None));
        }
        let fields = crate::fields::store::list(tx, task.project_id).await?;
        let values = field_values(
            tx,
            task.project_id,
            &fields,
            &task.fields,
            patch,
            false,
            errors,
        )
        .await?;
        return Ok((values, None));
    };
    let source = crate::fields::store::list(tx, task.project_id).await?;
    let fields = crate::fields::store::list(tx, target.project_id()).await?;
    let carry = Carry::between(&source, &fields);
    let (kept, _) = store::carried(tx, target.project_id(), &carry, &task.fields).await?;
    let values = field_values(
        tx,
        target.project_id(),
        &fields,
        &kept,
        patch,
        false,
        errors,
    )
    .await?;
    Ok((values, Some(carry)))
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
