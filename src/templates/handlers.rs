//! `POST /api/v1/projects`: a new project, empty or copied from another (a template).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::{Include, Part};
use crate::auth::principal::Principal;
use crate::db::{Db, IdMap, Tx};
use crate::error::{ApiError, FieldError};
use crate::http::extract::Json;
use crate::projects::access::{Action, ProjectAccess};
use crate::projects::handlers::{begin_creation, check_description, check_name, project_response};
use crate::projects::{guard, store as projects};
use crate::views::{remap_query, QueryIds};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// 1–100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    #[schema(max_length = 2000, pattern = r"^[^\x00]*$")]
    pub description: Option<String>,
    /// A project of the caller's to copy (API.md §18 templates); not a member → 404.
    pub from_project_id: Option<Uuid>,
    /// The parts of `from_project_id` to copy (every part when absent). Tasks without states
    /// go to the new project's default state of their state's category.
    #[schema(value_type = Option<Vec<Part>>, max_items = 4)]
    pub include: Option<Vec<String>>,
}

/// Create a project; the caller becomes its owner. With `from_project_id`, the parts `include`
/// names are copied from that project (states, fields, tasks with their subtasks, relations
/// among them and field values, shared views): not its comments, history, members,
/// assignees or values of `user` fields.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects",
    request_body = CreateProjectRequest,
    params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    responses((status = 201, body = crate::projects::store::Project, headers(("ETag" = String), ("Location" = String)),
        links(
            ("GetProject" = (operation_id = "get_project", parameters(("id" = "$response.body#/id")))),
            ("UpdateProject" = (operation_id = "update_project", parameters(("id" = "$response.body#/id")))),
            ("ListTasks" = (operation_id = "list_project_tasks", parameters(("id" = "$response.body#/id")))),
            ("CountTasks" = (operation_id = "count_project_tasks", parameters(("id" = "$response.body#/id")))),
            ("CreateTask" = (operation_id = "create_task", parameters(("id" = "$response.body#/id")))),
            ("ListMembers" = (operation_id = "list_members", parameters(("id" = "$response.body#/id")))),
            ("GetGithubLink" = (operation_id = "get_link", parameters(("id" = "$response.body#/id")))),
            ("ProjectActivity" = (operation_id = "project_activity", parameters(("id" = "$response.body#/id")))),
            ("ListStates" = (operation_id = "list_states", parameters(("id" = "$response.body#/id")))),
            ("CreateState" = (operation_id = "create_state", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 404, description = "`from_project_id` is not a project of the caller's")),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_project(
    State(db): State<Db>,
    principal: Principal,
    Json(body): Json<CreateProjectRequest>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let name = check_name(&body.name, &mut errors);
    let description = body.description.unwrap_or_default();
    check_description(&description, &mut errors);
    let include = match (&body.include, body.from_project_id) {
        (Some(raw), Some(_)) => Include::parse(raw, &mut errors),
        (None, _) => Include::EVERYTHING,
        (Some(_), None) => {
            errors.push(FieldError::new(
                "include",
                "invalid_value",
                "only with from_project_id",
            ));
            Include::default()
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let tx = begin_creation(&db, principal.id()).await?;
    let source = match body.from_project_id {
        Some(from) => Some(guard::authorize(&tx, &principal, from, Action::Read).await?),
        None => None,
    };
    let project = projects::create(&tx, principal.id(), &name, &description).await?;
    if let Some(source) = source {
        let access = guard::authorize(&tx, &principal, project.id, Action::EditTasks).await?;
        copy(&tx, &source, &access, include).await?;
    }
    let project = projects::find(&tx, project.id, principal.id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(project_response(StatusCode::CREATED, &project))
}

/// Copies the parts `include` names of the project `source` entered into the new project
/// `access` entered. States first (tasks need them), then fields (tasks' values and the
/// fields' sort keys need them), tasks, their relations, views (whose queries name all of
/// these).
async fn copy(
    tx: &Tx,
    source: &ProjectAccess,
    access: &ProjectAccess,
    include: Include,
) -> Result<(), ApiError> {
    use crate::{fields, states, tasks, views};
    let from = source.project_id();
    let next_number = projects::hold_for_copy(tx, from).await?;
    let states = states::store::copy_for_template(tx, access, from, include.states).await?;
    let (fields, values) = if include.fields {
        fields::store::copy_for_template(tx, access, from).await?
    } else {
        (IdMap::default(), IdMap::default())
    };
    let tasks = if include.tasks {
        let tasks = IdMap::fresh(tasks::store::copies::ids_of(tx, from).await?);
        tasks::store::copies::copy_for_template(
            tx,
            access,
            from,
            next_number,
            [&tasks, &states, &values],
        )
        .await?;
        tasks::store::relations::copy_for_template(tx, access.user_id(), &tasks).await?;
        tasks
    } else {
        IdMap::default()
    };
    if include.views {
        let ids = QueryIds {
            states: &states,
            fields: &fields,
            tasks: &tasks,
        };
        views::store::copy_shared(tx, from, access.project_id(), access.user_id(), |q| {
            remap_query(q, &ids)
        })
        .await?;
    }
    Ok(())
}
