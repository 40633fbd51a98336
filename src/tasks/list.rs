//! Task list endpoints: the query string parsed into the list store's filters and sort, and
//! keyset cursors. The statement itself is `store::list`.

use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::domain::{normalise_label, parse_date, Status};
use super::store::list::{
    Assignee, CountGroup, FieldFilter, FieldSort, Filters, ListError, ListOf, ListSpec, Parent,
    Position, Sort, SortKey,
};
use super::store::Task;
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::fields::{Field, FieldKind};
use crate::http::extract::{Path, Query};
use crate::http::json::FastJson;
use crate::pagination::CursorKey;
use crate::pagination::{CursorScope, Page, PageQuery};
use crate::projects::access::Action;
use crate::projects::guard;

/// The filters of a task list's query string, shared by the lists and their counts (API.md §4,
/// §17; the custom field filters `field.<id>` are read from the raw query, `field_params`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskFilterQuery {
    /// Comma-separated statuses.
    #[param(
        pattern = r"^\s*(todo|in_progress|done|canceled)\s*(,\s*(todo|in_progress|done|canceled)\s*)*$"
    )]
    pub status: Option<String>,
    /// Comma-separated state ids (API.md §17).
    #[param(
        pattern = r"^\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*(,\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*)*$"
    )]
    pub state: Option<String>,
    /// `none` for top-level tasks, or a task id for its subtasks.
    #[param(
        pattern = r"^(none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub parent: Option<String>,
    /// `me`, `none` or a user id.
    #[param(
        pattern = r"^(me|none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub assignee: Option<String>,
    #[param(pattern = r"^[^\x00]*$")]
    pub label: Option<String>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4)]
    pub priority_min: Option<String>,
    #[param(format = Date)]
    pub due_before: Option<String>,
    #[param(format = Date)]
    pub due_after: Option<String>,
    /// Full-text search (web-search syntax, English stemming).
    #[param(pattern = r"^[^\x00]*$")]
    pub q: Option<String>,
    /// The task numbered so (one per project).
    #[param(value_type = Option<i64>, minimum = 1)]
    pub number: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// Documented apart (`TaskFilterQuery` in each operation's parameters).
    #[serde(flatten)]
    #[param(ignore)]
    pub filters: TaskFilterQuery,
    /// A built-in key, or `field.<field_id>` (API.md §18; nulls last, ties by id).
    #[param(
        pattern = r"^-?(created_at|updated_at|due_date|priority|position|field\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    pub sort: Option<String>,
    /// Only on `GET /api/v1/tasks` (documented there).
    #[param(ignore)]
    pub project_id: Option<String>,
    /// Items per page (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page of the same list.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// The filters of `GET /api/v1/projects/{id}/tasks/counts`: a list's, without its sort and
/// pages, and what to group by.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskCountQuery {
    /// Documented apart (`TaskFilterQuery` in each operation's parameters).
    #[serde(flatten)]
    #[param(ignore)]
    pub filters: TaskFilterQuery,
    /// What to count per: `status` (the default) or `state` (the project's workflow states,
    /// API.md §17).
    #[param(pattern = "^(status|state)$")]
    pub group_by: Option<String>,
}

/// How many tasks pass a list's filters, in all and per group.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskCounts {
    /// What `groups` are: `status` or `state`.
    #[schema(pattern = "^(status|state)$")]
    pub group_by: &'static str,
    /// Every task that passes the filters.
    pub total: i64,
    /// By status: one group per status, in the workflow's order (`todo`, `in_progress`,
    /// `done`, `canceled`), groups without tasks included. By state: one group per state id
    /// that has tasks (a state without tasks counts 0), ordered by id.
    pub groups: Vec<TaskCount>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskCount {
    /// The group: a status, or a state id.
    pub key: String,
    pub count: i64,
}

fn parse_group(raw: Option<&str>) -> Result<CountGroup, ApiError> {
    match raw.unwrap_or("status") {
        "status" => Ok(CountGroup::Status),
        "state" => Ok(CountGroup::State),
        _ => Err(invalid("group_by must be status or state")),
    }
}

fn parse_sort(raw: Option<&str>, fields: &[Field]) -> Result<Sort, ApiError> {
    let raw = raw.unwrap_or("created_at");
    let (descending, name) = match raw.strip_prefix('-') {
        Some(name) => (true, name),
        None => (false, raw),
    };
    if let Some(id) = name.strip_prefix("field.") {
        let field = field_named(fields, id)?;
        let key = SortKey::Field(FieldSort {
            id: field.id,
            kind: field.kind,
            options: field.options().iter().map(|o| o.id).collect(),
        });
        return Ok(Sort { key, descending });
    }
    let key = match name {
        "created_at" => SortKey::CreatedAt,
        "updated_at" => SortKey::UpdatedAt,
        "due_date" => SortKey::DueDate,
        "priority" => SortKey::Priority,
        "position" => SortKey::Position,
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "sort must be one of created_at, updated_at, due_date, priority, position, \
                 field.<field id>, each optionally prefixed with -",
            ))
        }
    };
    Ok(Sort { key, descending })
}

/// The field of the listed project with this id (as a query parameter writes it).
fn field_named<'a>(fields: &'a [Field], id: &str) -> Result<&'a Field, ApiError> {
    id.parse::<Uuid>()
        .ok()
        .and_then(|id| fields.iter().find(|f| f.id == id))
        .ok_or_else(|| invalid(format!("field.{id} names no field of the listed project")))
}

/// At most this many `field.` parameters in one list's query (three per field of a project).
const FIELD_PARAMS_MAX: usize = 90;

/// The custom field parameters of a query string (`field.<id>`, `field.<id>.min`,
/// `field.<id>.max`), sorted: for the filters and for the cursor's scope.
fn field_params(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if key.starts_with("field.") {
            if params.len() == FIELD_PARAMS_MAX {
                return Err(invalid(format!(
                    "at most {FIELD_PARAMS_MAX} field filters in one list"
                )));
            }
            params.push((key.into_owned(), value.into_owned()));
        }
    }
    params.sort();
    Ok(params)
}

/// The field filters of `params` (API.md §18), each checked against the field it names.
fn parse_field_filters(
    params: &[(String, String)],
    fields: &[Field],
) -> Result<Vec<FieldFilter>, ApiError> {
    params
        .iter()
        .map(|(key, value)| {
            let name = &key["field.".len()..];
            let (id, bound) = match name.rsplit_once('.') {
                Some((id, "min")) => (id, Some(true)),
                Some((id, "max")) => (id, Some(false)),
                _ => (name, None),
            };
            let field = field_named(fields, id)?;
            field_filter(key, field, value, bound)
        })
        .collect()
}

fn field_filter(
    key: &str,
    field: &Field,
    value: &str,
    bound: Option<bool>,
) -> Result<FieldFilter, ApiError> {
    let bad = |what: &str| invalid(format!("{key} must be {what}"));
    let number = || {
        value
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| bad("a number"))
    };
    let date = || {
        parse_date(key, value)
            .map(|_| value.to_owned())
            .map_err(|_| bad("a date like 2026-01-31"))
    };
    if let Some(min) = bound {
        let value = match field.kind {
            FieldKind::Number => number()?.to_string(),
            FieldKind::Date => date()?,
            _ => {
                return Err(invalid(format!(
                    "{key}: only number and date fields take bounds"
                )))
            }
        };
        return Ok(FieldFilter::Bound {
            id: field.id,
            kind: field.kind,
            min,
            value,
        });
    }
    let option = || {
        value
            .parse::<Uuid>()
            .ok()
            .filter(|id| field.option(*id).is_some())
            .map(|id| id.to_string())
            .ok_or_else(|| bad("an option id of the field"))
    };
    let wanted = match field.kind {
        FieldKind::Text | FieldKind::Url => {
            return Ok(FieldFilter::Substring(field.id, value.to_owned()))
        }
        FieldKind::Number => serde_json::json!(number()?),
        FieldKind::Date => serde_json::json!(date()?),
        FieldKind::Checkbox => match value {
            "true" => serde_json::json!(true),
            "false" => serde_json::json!(false),
            _ => return Err(bad("true or false")),
        },
        FieldKind::Select => serde_json::json!(option()?),
        FieldKind::MultiSelect => serde_json::json!([option()?]),
        FieldKind::User => serde_json::json!(value
            .parse::<Uuid>()
            .map_err(|_| bad("a user id"))?
            .to_string()),
    };
    Ok(FieldFilter::Contains(serde_json::json!({
        field.id.to_string(): wanted
    })))
}

/// The project's fields, read only when the query names one.
async fn fields_for(
    db: &Db,
    project: Option<Uuid>,
    params: &[(String, String)],
    sort: Option<&str>,
) -> Result<Vec<Field>, ApiError> {
    let sorted_by_field = sort.is_some_and(|s| s.trim_start_matches('-').starts_with("field."));
    if params.is_empty() && !sorted_by_field {
        return Ok(Vec::new());
    }
    let Some(project) = project else {
        return Err(invalid(
            "field filters and sorts need one project: add project_id",
        ));
    };
    Ok(crate::fields::store::list(db, project).await?)
}

/// The problems of a saved view's `query` (API.md §18), each named `query.<parameter>`: every
/// parameter a list takes is checked as the list would check it (a field's against `project`'s
/// fields; on a view over every project, those of its `project_id`, if the caller is a member
/// there). Parameters a list does not know are kept (a list ignores them), `cursor` excepted.
pub async fn check_view_query(
    db: &Db,
    caller: Uuid,
    project: Option<Uuid>,
    query: &crate::views::ViewQuery,
) -> Result<Vec<crate::error::FieldError>, ApiError> {
    use crate::error::FieldError;
    let named = |key: &str, message: String| {
        FieldError::new(format!("query.{key}"), "invalid_value", message)
    };
    let mut errors = Vec::new();
    let scope = match (project, query.get("project_id")) {
        (Some(project), Some(_)) => {
            errors.push(named(
                "project_id",
                "a project's view lists its own project".into(),
            ));
            Some(project)
        }
        (Some(project), None) => Some(project),
        (None, Some(raw)) => match raw.parse::<Uuid>() {
            Ok(id)
                if crate::projects::store::role_of(db, id, caller)
                    .await?
                    .is_some() =>
            {
                Some(id)
            }
            _ => {
                errors.push(named("project_id", "must be a project of yours".into()));
                None
            }
        },
        (None, None) => None,
    };
    let fields = match scope {
        Some(project) => crate::fields::store::list(db, project).await?,
        None => Vec::new(),
    };
    for (key, value) in query {
        let one = format!(
            "{}={}",
            url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        );
        let result = match key.as_str() {
            "cursor" => Err(invalid("a view keeps no cursor")),
            "project_id" => Ok(()),
            "sort" => parse_sort(Some(value), &fields).map(|_| ()),
            "limit" => PageQuery {
                limit: Some(value.clone()),
                cursor: None,
            }
            .limit()
            .map(|_| ()),
            _ if key.starts_with("field.") => {
                parse_field_filters(&[(key.clone(), value.clone())], &fields).map(|_| ())
            }
            _ => crate::http::extract::parse_query::<TaskFilterQuery>(&one)
                .and_then(|filters| parse_filters(&filters))
                .map(|_| ()),
        };
        if let Err(error) = result {
            let message = error.detail.unwrap_or_else(|| "is not valid".to_owned());
            errors.push(named(key, message));
        }
    }
    Ok(errors)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidQuery, message)
}

fn parse_filters(query: &TaskFilterQuery) -> Result<Filters, ApiError> {
    let statuses = query
        .status
        .as_deref()
        .map(|raw| {
            raw.split(',')
                .map(|s| {
                    Status::parse(s.trim()).ok_or_else(|| {
                        invalid("status must be a comma-separated list of todo, in_progress, done, canceled")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let states = query
        .state
        .as_deref()
        .map(|raw| {
            raw.split(',')
                .map(|s| {
                    s.trim()
                        .parse::<Uuid>()
                        .map_err(|_| invalid("state must be a comma-separated list of state ids"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let parent = query
        .parent
        .as_deref()
        .map(|raw| match raw {
            "none" => Ok(Parent::None),
            other => other
                .parse()
                .map(Parent::Task)
                .map_err(|_| invalid("parent must be none or a task id")),
        })
        .transpose()?;
    let assignee = query
        .assignee
        .as_deref()
        .map(|raw| match raw {
            "me" => Ok(Assignee::Me),
            "none" => Ok(Assignee::Nobody),
            other => other
                .parse()
                .map(Assignee::User)
                .map_err(|_| invalid("assignee must be me, none or a user id")),
        })
        .transpose()?;
    let priority_min = query
        .priority_min
        .as_deref()
        .map(|raw| match raw.parse::<i16>() {
            Ok(n) if (0..=4).contains(&n) => Ok(n),
            _ => Err(invalid("priority_min must be a whole number from 0 to 4")),
        })
        .transpose()?;
    let date = |raw: Option<&str>, name: &str| {
        raw.map(|r| {
            parse_date(name, r)
                .map_err(|_| invalid(format!("{name} must be a date like 2026-01-31")))
        })
        .transpose()
    };
    Ok(Filters {
        statuses,
        states,
        parent,
        assignee,
        label: query.label.as_deref().map(normalise_label),
        priority_min,
        due_before: date(query.due_before.as_deref(), "due_before")?,
        due_after: date(query.due_after.as_deref(), "due_after")?,
        q: parse_search(query.q.as_deref())?,
        number: query
            .number
            .as_deref()
            .map(|raw| match raw.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(invalid("number must be a whole number from 1")),
            })
            .transpose()?,
        fields: Vec::new(),
    })
}

/// The longest `q` and the most terms it may have (API.md §9 "Bounded answers"): a search's
/// cost grows with both.
pub const SEARCH_MAX_CHARS: usize = 500;
pub const SEARCH_MAX_TERMS: usize = 30;

fn parse_search(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(q) = raw.filter(|q| !q.trim().is_empty()) else {
        return Ok(None);
    };
    // `nth`, not `count`: a 400 KiB `q` is refused after reading 501 characters.
    if q.chars().nth(SEARCH_MAX_CHARS).is_some() {
        return Err(invalid(format!(
            "q must be at most {SEARCH_MAX_CHARS} characters"
        )));
    }
    if search_terms(q) > SEARCH_MAX_TERMS {
        return Err(invalid(format!(
            "q must have at most {SEARCH_MAX_TERMS} terms"
        )));
    }
    Ok(Some(q.to_owned()))
}

/// Terms as `websearch_to_tsquery` sees them, near enough: words split at whitespace and at
/// the punctuation it treats as separators, a quoted phrase counting each of its words.
fn search_terms(q: &str) -> usize {
    q.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '_'))
        .filter(|word| !word.is_empty())
        .filter(|word| !word.eq_ignore_ascii_case("or"))
        .count()
}

/// Every filter and sort of a list, for its cursor scope, so that a cursor used on another
/// list is refused.
fn filters_key(query: &TaskListQuery, field_params: &[(String, String)]) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        query.filters.status,
        query.filters.state,
        query.filters.parent,
        query.filters.assignee,
        query.filters.label,
        query.filters.priority_min,
        query.filters.due_before,
        query.filters.due_after,
        query.filters.q,
        query.sort,
        query.project_id,
        query.filters.number,
        field_params
    )
}

async fn list(
    db: &Db,
    cursor_key: &CursorKey,
    principal: &Principal,
    of: ListOf,
    scope: impl FnOnce(String) -> CursorScope,
    (query, raw): (TaskListQuery, Option<String>),
) -> Result<Page<Task>, ApiError> {
    let page = PageQuery {
        limit: query.limit.clone(),
        cursor: query.cursor.clone(),
    };
    let limit = page.limit()?;
    let params = field_params(raw.as_deref())?;
    let project = match of {
        ListOf::Project(project) | ListOf::MemberOf(_, Some(project)) => Some(project),
        ListOf::MemberOf(_, None) => None,
    };
    let fields = fields_for(db, project, &params, query.sort.as_deref()).await?;
    let sort = parse_sort(query.sort.as_deref(), &fields)?;
    let mut filters = parse_filters(&query.filters)?;
    filters.fields = parse_field_filters(&params, &fields)?;
    let scope = scope(filters_key(&query, &params));
    let after: Option<Position> = page.position(cursor_key, &scope)?;

    let listed = super::store::list::list(
        db,
        ListSpec {
            of,
            filters,
            sort: sort.clone(),
            after,
            limit,
            caller: principal.id(),
        },
    )
    .await
    .map_err(|error| match error {
        ListError::CursorMismatch => invalid("cursor is not valid for this list"),
        ListError::Db(error) => error.into(),
    })?;
    Ok(Page::from_rows(listed.tasks, limit, |last| {
        let position = sort.position_of(last, listed.position_epoch);
        cursor_key.encode(&scope, &position)
    }))
}

/// The tasks of a project, filtered and sorted.
#[utoipa::path(get, path = "/api/v1/projects/{id}/tasks", tag = "tasks",
    params(("id" = Uuid, Path), TaskFilterQuery, TaskListQuery),
    responses((status = 200, body = Page<Task>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_project_tasks(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Query(query): Query<TaskListQuery>,
    RawQuery(raw): RawQuery,
) -> Result<FastJson<Page<Task>>, ApiError> {
    guard::authorize(&db.reads(), &principal, project_id, Action::Read).await?;
    if query.project_id.is_some() {
        return Err(invalid("project_id is a filter of GET /api/v1/tasks only"));
    }
    Ok(FastJson(
        list(
            &db,
            &cursor_key,
            &principal,
            ListOf::Project(project_id),
            |filters| CursorScope::ProjectTasks {
                project: project_id,
                filters,
            },
            (query, raw),
        )
        .await?,
    ))
}

/// How many of a project's tasks pass the filters of its list, per status or per workflow state: exact counts for
/// a board's columns and a list's header, however many tasks the pages have not loaded.
#[utoipa::path(get, path = "/api/v1/projects/{id}/tasks/counts", tag = "tasks",
    params(("id" = Uuid, Path), TaskFilterQuery, TaskCountQuery),
    responses((status = 200, body = TaskCounts)),
    security(("bearer" = []), ("session" = [])))]
pub async fn count_project_tasks(
    State(db): State<Db>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Query(query): Query<TaskCountQuery>,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<TaskCounts>, ApiError> {
    guard::authorize(&db.reads(), &principal, project_id, Action::Read).await?;
    let group = parse_group(query.group_by.as_deref())?;
    let mut filters = parse_filters(&query.filters)?;
    let params = field_params(raw.as_deref())?;
    let fields = fields_for(&db, Some(project_id), &params, None).await?;
    filters.fields = parse_field_filters(&params, &fields)?;
    let counted =
        super::store::list::count(&db, project_id, &filters, group, principal.id()).await?;
    let groups: Vec<TaskCount> = match group {
        CountGroup::Status => Status::ALL
            .iter()
            .map(|status| TaskCount {
                key: status.as_str().to_owned(),
                count: counted
                    .iter()
                    .find(|(key, _)| key == status.as_str())
                    .map_or(0, |(_, n)| *n),
            })
            .collect(),
        CountGroup::State => {
            let mut groups: Vec<TaskCount> = counted
                .into_iter()
                .map(|(key, count)| TaskCount { key, count })
                .collect();
            groups.sort_by(|a, b| a.key.cmp(&b.key));
            groups
        }
    };
    Ok(axum::Json(TaskCounts {
        group_by: match group {
            CountGroup::Status => "status",
            CountGroup::State => "state",
        },
        total: groups.iter().map(|g| g.count).sum(),
        groups,
    }))
}

/// Tasks across every project the caller is a member of.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks",
    params(TaskFilterQuery, TaskListQuery, ("project_id" = Option<Uuid>, Query, description = "Only tasks of this project")),
    responses((status = 200, body = Page<Task>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_my_tasks(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Query(query): Query<TaskListQuery>,
    RawQuery(raw): RawQuery,
) -> Result<FastJson<Page<Task>>, ApiError> {
    let project_id = query
        .project_id
        .as_deref()
        .map(|raw| {
            raw.parse::<Uuid>()
                .map_err(|_| invalid("project_id must be a project id"))
        })
        .transpose()?;
    let user = principal.id();
    Ok(FastJson(
        list(
            &db,
            &cursor_key,
            &principal,
            ListOf::MemberOf(user, project_id),
            |filters| CursorScope::MyTasks { user, filters },
            (query, raw),
        )
        .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_bounded_in_length_and_terms() {
        assert_eq!(parse_search(Some("  ")).unwrap(), None);
        assert!(parse_search(Some(&"a".repeat(500))).is_ok());
        assert!(parse_search(Some(&"a".repeat(501))).is_err());
        let thirty = vec!["w"; 30].join(" ");
        assert!(parse_search(Some(&thirty)).is_ok());
        assert!(parse_search(Some(&format!("{thirty} x"))).is_err());
        assert!(parse_search(Some(&vec!["w"; 31].join("-"))).is_err());
        assert_eq!(search_terms(r#""deploy the app" -staging or prod"#), 5);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Text shaped like searches: words, quotes, minus signs, `or`, punctuation, spaces.
        fn search() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    "[a-z]{1,8}",
                    Just("or".to_owned()),
                    Just("\"".to_owned()),
                    Just("-".to_owned()),
                    "[ \t,.;:()]{1,3}",
                    ".{1,4}",
                ],
                0..80,
            )
            .prop_map(|parts| parts.join(" "))
        }

        proptest! {
            /// API.md §9: whatever `q` is, it is refused or it has at most 500 characters and
            /// 30 terms; blank means no search.
            #[test]
            fn a_search_is_within_its_limits_or_refused(q in prop_oneof![search(), ".{0,600}"]) {
                match parse_search(Some(&q)) {
                    Ok(None) => prop_assert!(q.trim().is_empty()),
                    Ok(Some(kept)) => {
                        prop_assert_eq!(&kept, &q);
                        prop_assert!(q.chars().count() <= SEARCH_MAX_CHARS);
                        prop_assert!(search_terms(&q) <= SEARCH_MAX_TERMS);
                    }
                    Err(error) => {
                        prop_assert_eq!(error.code, ErrorCode::InvalidQuery);
                        prop_assert!(q.chars().count() > SEARCH_MAX_CHARS
                            || search_terms(&q) > SEARCH_MAX_TERMS);
                    }
                }
            }
        }

        /// A `q` as long as a request line can be is refused in time linear in it (in fact
        /// after its first 501 characters), whitespace, words or multi-byte characters.
        #[test]
        fn a_huge_search_is_refused_in_linear_time() {
            let blank_ended = format!("{}{}", "a".repeat(1000), " ".repeat(399 * 1024));
            for q in [
                "a".repeat(400 * 1024),
                "a ".repeat(200 * 1024),
                "é".repeat(200 * 1024),
                blank_ended,
            ] {
                let start = std::time::Instant::now();
                assert!(parse_search(Some(&q)).is_err());
                let per_byte = start.elapsed().as_nanos() as f64 / q.len() as f64;
                assert!(per_byte < 4_000.0, "{per_byte} ns a byte");
            }
        }
    }
}
